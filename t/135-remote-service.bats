#!/usr/bin/env bats
# A verified service identity across nodes (issue 12): a node sends, with
# each message of a task holding a service, the identity it verified that
# task with (uid, binary SHA-256, unit); the receiving node stamps the
# service only when its OWN copy of the admin's signed list gives that
# identity the service. Otherwise the field stays empty and an audit line
# (throttled) says why. Real nodes (t/cluster.bash: network namespaces as
# root, loopback ports otherwise) and a member node gone bad (t/rogue.bash).

load helpers
load cluster
load rogue
load authreg

@test "the listed server on node 2 sends to node 1: its service shows once node 1's own list allows it" {
	need_root "runs root's listed server"
	cluster_start 2
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	st -d "$CLUSTER_ADMIN" add -u 0 'svc/*' "$H"
	# node 2 has the list, node 1 not yet: node 2 stamps, node 1 does not believe it
	push_list -p "${NODE_DIR[2]}"
	sink_on_1 t.sink
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/teller t.sink hello
	[ "$output" = "none from n2: hello" ]
	grep -E "portd: node n2: audit: service 'svc/teller' claimed for uid 0 running $H unit $(unit_field): not vouched for: no rule of the signature list covers it$" \
	    "${NODE_DIR[1]}/portd.log"
	# node 1's copy of the list now gives that identity svc/*
	push_list -p "${NODE_DIR[1]}"
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/teller t.sink again
	[ "$output" = "svc/teller from n2: again" ]
	# the same on its own node
	run -0 --separate-stderr on 1 "$W/authreg" -R "${NODE_DIR[1]}" ask-as svc/local t.sink here
	[ "$output" = "svc/local from n1: here" ]
	# unlisted senders: msgsend, and another binary holding an open name
	run -0 --separate-stderr on 2 msgsend -r t.sink plain
	[ "$output" = "none from n2: plain" ]
	cp "$W/authreg" "$W/other"
	printf 'x' >>"$W/other"
	run -0 --separate-stderr on 2 "$W/other" -R "${NODE_DIR[2]}" ask-as open/me t.sink hi
	[ "$output" = "none from n2: hi" ]
}

@test "a server on node 2 that exec'd another binary: node 1 sees its service before, none after" {
	need_root "runs root's listed server"
	cluster_start 2
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	cp "$W/authreg" "$W/other"
	printf 'x' >>"$W/other"
	st -d "$CLUSTER_ADMIN" add -u 0 'svc/*' "$H"
	push_list -p "${NODE_DIR[1]}"
	push_list -p "${NODE_DIR[2]}"
	on 1 bg "$MASIX_BIN/msgrecv" -n 2 -x "echo \"\${MSG_SENDER_SERVICE:-none} from \$MSG_SENDER_NODE: \$(cat)\" >>$BATS_TEST_TMPDIR/seen" t.sink
	on 1 wait_name t.sink
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" send-exec svc/ex t.sink "$W/other"
	[ "$output" = "sent before exec
sent after exec" ]
	wait_for sh -c '[ "$(wc -l <"$0")" = 2 ]' "$BATS_TEST_TMPDIR/seen"
	[ "$(cat "$BATS_TEST_TMPDIR/seen")" = "svc/ex from n2: before
none from n2: after" ]
	grep -E "portd: pid [0-9]+ no longer runs the binary it registered 'svc/ex' with" "${NODE_DIR[2]}/portd.log"
}

@test "msgrecv --from SERVICE on node 1 serves that service from node 2 and refuses others with \"not permitted\"" {
	need_root "runs root's listed server"
	cluster_start 2
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	st -d "$CLUSTER_ADMIN" add -u 0 'svc/*' "$H"
	push_list -p "${NODE_DIR[1]}"
	push_list -p "${NODE_DIR[2]}"
	on 1 bg sh -c 'exec "$0" --from svc/teller -n 1 -x "echo \"\$MSG_SENDER_SERVICE@\$MSG_SENDER_NODE says \$(cat)\"" vault 2>"$1/vault.err"' \
	    "$MASIX_BIN/msgrecv" "${NODE_DIR[1]}"
	on 1 wait_name vault
	run -1 --separate-stderr on 2 msgsend -r vault open-up
	[ "$stderr" = "msgsend: vault: server failed: not permitted" ]
	grep -E "msgrecv: vault: message from pid [0-9]+ \(service ''\) refused: not svc/teller" "${NODE_DIR[1]}/vault.err"
	run -1 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/other vault open-up
	[ "$stderr" = "authreg: request: server answered with an error: not permitted" ]
	grep -E "msgrecv: vault: message from pid [0-9]+ \(service 'svc/other'\) refused: not svc/teller" "${NODE_DIR[1]}/vault.err"
	run -0 --separate-stderr on 2 "$W/authreg" -R "${NODE_DIR[2]}" ask-as svc/teller vault open-up
	[ "$output" = "svc/teller@n2 says open-up" ]
}

@test "rogue: a member node claiming a service its identity is not listed for gets an empty field and an audit line (throttled); malformed claims are refused" {
	rogue_setup
	H=sha256:$(printf '%064x' 7)
	OTHER=sha256:$(printf '%064x' 8)
	st -d "$ADM/admin" add -u 0 'svc/*' "$H"
	push_list -p "$N1"
	bg msgrecv -x "echo \"\$(cat) \${MSG_SENDER_SERVICE:-none}\" >>$BATS_TEST_TMPDIR/seen" t.echo
	wait_name t.echo
	run -0 --separate-stderr rogue -e 'query t.echo' -e 'wait answer 1' \
	    -e "msg \$answer uid=0 service=svc/bank vouch=$OTHER str=wrong-hash" \
	    -e "msg \$answer uid=1001 service=svc/bank vouch=$H str=wrong-uid" \
	    -e "msg \$answer uid=0 service=svc/bank unit=x.service vouch=none str=no-hash" \
	    -e "msg \$answer uid=0 service=svc/bank str=no-vouch" \
	    -e "msg \$answer uid=0 service=open/x vouch=$H str=open-name" \
	    -e "msg \$answer uid=0 service=svc/bank vouch=$H str=listed" \
	    -e "msg \$answer uid=0 vouch=$H str=no-service" \
	    -e "msg \$answer uid=0 service=svc/bank vouch=$H unit=bad str=bad-unit" \
	    -e "msg \$answer uid=0 service=svc/bank vouch=$OTHER str=again count=20" \
	    -e sync
	[ "${lines[0]}" = "up n1" ]
	# with who registered it, as n1 vouches for it (doc/protocol.md, LF_ANSWER)
	[[ "${lines[2]}" =~ ^"answer t.echo n1:"[0-9]+" uid=" ]]
	[ "${lines[3]}" = "acked 28: ok 26 PROTO 2" ]
	wait_for sh -c '[ "$(wc -l <"$0")" = 26 ]' "$BATS_TEST_TMPDIR/seen"
	[ "$(head -n 7 "$BATS_TEST_TMPDIR/seen")" = "wrong-hash none
wrong-uid none
no-hash none
no-vouch none
open-name none
listed svc/bank
again none" ]
	[ "$(grep -c '^again none$' "$BATS_TEST_TMPDIR/seen")" = 20 ]
	L=$N1/portd.log
	grep -qxF "portd: node rogue: audit: service 'svc/bank' claimed for uid 0 running $OTHER unit -: not vouched for: uid 0 running $OTHER is not listed for svc/*" "$L"
	grep -qxF "portd: node rogue: audit: service 'svc/bank' claimed for uid 1001 running $H unit -: not vouched for: uid 1001 running $H is not listed for svc/*" "$L"
	grep -qxF "portd: node rogue: audit: service 'svc/bank' claimed for uid 0 running no hashed binary unit x.service: not vouched for: uid 0 running no hashed binary in x.service is not listed for svc/*" "$L"
	grep -qxF "portd: node rogue: audit: service 'open/x' claimed for uid 0 running $H unit -: not vouched for: no rule of the signature list covers it" "$L"
	# one line per refused claim, throttled: 10, then a count
	[ "$(grep -c 'portd: node rogue: audit: service ' "$L")" = 10 ]
	[ "$(grep -c 'portd: node rogue: malformed message frame' "$L")" = 2 ]
	# the node serves on
	run -0 --separate-stderr msgsend t.echo still
	wait_for grep -qx 'still none' "$BATS_TEST_TMPDIR/seen"
}

@test "rogue: with no signature list loaded, no service from another node is believed" {
	rogue_setup
	# a list that goes away keeps the one loaded in force: start n1 without one
	timeout 30 "$NODE" stop "$N1"
	rm "$N1/state/signatures.list" "$N1/state/signatures.list.sig" "$N1/portd.log"
	timeout 30 "$NODE" start "$N1"
	wait_log 1 'no service from another node is believed' "$N1/portd.log"
	grep -q "portd: no signature list ($N1/state/signatures.list: " "$N1/portd.log"
	bg msgrecv -x "echo \"\$(cat) \${MSG_SENDER_SERVICE:-none}\" >>$BATS_TEST_TMPDIR/seen" t.echo
	wait_name t.echo
	run -0 --separate-stderr rogue -e 'query t.echo' -e 'wait answer 1' \
	    -e "msg \$answer uid=0 service=svc/bank vouch=sha256:$(printf '%064x' 7) str=claim" -e sync
	[ "${lines[3]}" = "acked 1: ok 1" ]
	wait_for grep -qx 'claim none' "$BATS_TEST_TMPDIR/seen"
	grep -q "portd: node rogue: audit: service 'svc/bank' claimed for uid 0 running sha256:0*7 unit -: not vouched for: no signature list (" "$N1/portd.log"
}

@test "rogue: a list that does not verify on SIGHUP is refused and the previous one stays in force" {
	rogue_setup
	H=sha256:$(printf '%064x' 7)
	st -d "$ADM/admin" add -u 0 'svc/*' "$H"
	push_list -p "$N1"
	# a rule slipped in without the admin's signature
	printf 'svc/* sha256:%064x 1001\n' 9 >>"$N1/state/signatures.list"
	kill -HUP "$(cat "$N1/portd.pid")"
	wait_log 1 'refused, the previous signature list stays in force' "$N1/portd.log"
	grep -qxF "portd: $N1/state/signatures.list: signature does not verify with the admin key: refused, the previous signature list stays in force" "$N1/portd.log"
	bg msgrecv -x "echo \"\$(cat) \${MSG_SENDER_SERVICE:-none}\" >>$BATS_TEST_TMPDIR/seen" t.echo
	wait_name t.echo
	run -0 --separate-stderr rogue -e 'query t.echo' -e 'wait answer 1' \
	    -e "msg \$answer uid=0 service=svc/bank vouch=$H str=listed" \
	    -e "msg \$answer uid=1001 service=svc/bank vouch=sha256:$(printf '%064x' 9) str=slipped-in" -e sync
	[ "${lines[3]}" = "acked 2: ok 2" ]
	wait_for sh -c '[ "$(wc -l <"$0")" = 2 ]' "$BATS_TEST_TMPDIR/seen"
	[ "$(cat "$BATS_TEST_TMPDIR/seen")" = "listed svc/bank
slipped-in none" ]
}
