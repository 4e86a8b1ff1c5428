#!/usr/bin/env bats
# A list keysrv reloads reaches portd's own copy too (issue 12): the copy
# portd checks other nodes' services against follows keysrv's SIGHUP, with
# no signal to portd. (t/146 covers namesrv's side on one node.)

bats_require_minimum_version 1.5.0
load helpers
load cluster
load authreg

@test "keysrv's SIGHUP alone: portd believes a service from node 2 as soon as the new list allows it" {
	need_root "runs root's listed server"
	cluster_start 2
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	st -d "$CLUSTER_ADMIN" add -u 0 'svc/*' "$H"
	push_list -p "${NODE_DIR[2]}"
	sink_on_1 t.sink
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/teller t.sink hello
	[ "$output" = "none from n2: hello" ]
	# node 1: the admin's procedure, SIGHUP to keysrv only
	p=$(grep -c 'services from other nodes are checked against it' "${NODE_DIR[1]}/portd.log")
	push_list "${NODE_DIR[1]}"
	wait_log $((p + 1)) 'services from other nodes are checked against it' "${NODE_DIR[1]}/portd.log"
	grep -q 'portd: keysrv loaded its signature list (generation [0-9]*): reloading the revocation list and the signature list' \
	    "${NODE_DIR[1]}/portd.log"
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/teller t.sink again
	[ "$output" = "svc/teller from n2: again" ]
}
