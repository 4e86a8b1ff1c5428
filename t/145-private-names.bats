#!/usr/bin/env bats
# Private names (issue 12): a rule of the signed list may mark its names
# private; a lookup finds one only when the asking task holds a verified
# service (a protected name it registered, stamped by portd) that the rule
# admits: any verified service for "private", the listed ones for
# "private=SERVICE,...". Anyone else gets exactly what a name that does not
# exist gets. And namesrv reads the signed list itself at start, so that a
# protected name fails closed even when keysrv is not running.

load helpers
load cluster
load authreg

setup() {
	D=$BATS_TEST_TMPDIR
}

pa() { timeout 30 "$W/privask" -R "$R" "$@"; }

# The private server (a copy of msgrecv, listed for fs/internal/*) and the
# askers (privask, listed for svc/*), with the list LIST_PRIVATE says.
private_setup() {
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/privask")
	HS=$(hash_of "$W/msgrecv")
	HA=$(hash_of "$W/privask")
	me=$(id -u)
	st -d "$A" add -u "$me" "$@" 'fs/internal/*' "$HS"
	st -d "$A" add -u "$me" 'svc/*' "$HA"
	push_list
}

# Seconds (with microseconds) since the epoch.
now() { echo "${EPOCHREALTIME}"; }
elapsed_at_least() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { exit !(b - a >= s) }'; }

@test "sigtool add --private / --seen-by: the list says private=SERVICE,...; bad ones are refused" {
	run -0 st -d "$D/a" init
	h=sha256:$(printf '%064x' 7)
	run -0 --separate-stderr st -d "$D/a" add --private -u 0 'fs/internal/*' "$h"
	run -0 --separate-stderr st -d "$D/a" add -u 0 --seen-by fs/server --seen-by 'ops/*' db/internal "$h"
	run -0 --separate-stderr st -d "$D/a" list
	[ "$output" = "fs/internal/* $h 0 private
db/internal $h 0 private=fs/server,ops/*" ]
	grep -qx "db/internal $h 0 private=fs/server,ops/\*" "$D/a/signatures.list"
	run -64 --separate-stderr st -d "$D/a" add --seen-by 'fs server' db/x "$h"
	[ "$stderr" = "sigtool: --seen-by: 'fs server': not a masix name or a prefix/* pattern" ]
	run -64 --separate-stderr st -d "$D/a" add --seen-by 'fs/*/x' db/x "$h"
	[ "$stderr" = "sigtool: --seen-by: 'fs/*/x': not a masix name or a prefix/* pattern" ]
	# a list whose private= names no valid service is refused whole
	printf 'version 2\ndb/y %s 0 private=a,,b\n' "$h" >"$D/a/signatures.list"
	openssl pkeyutl -sign -rawin -inkey "$D/a/admin.key" -in "$D/a/signatures.list" \
	    -out "$D/a/signatures.list.sig" 2>/dev/null || skip "openssl cannot sign raw Ed25519 here"
	run -65 --separate-stderr st -d "$D/a" list
	[ "$stderr" = "sigtool: $D/a/signatures.list: line 2: bad private= list 'a,,b' (names or PREFIX/* patterns, separated by ',')" ]
}

@test "a private name: an allowed service finds it; anyone else gets what a missing name gets, waits included" {
	start_node
	private_setup --private
	bg "$W/msgrecv" -R "$R" -x 'echo "internal: $(cat)"' fs/internal/db
	wait_for pa -s svc/a lookup fs/internal/db 0
	run -0 pa -s svc/a ask fs/internal/db hi
	[ "$output" = "internal: hi" ]
	# no service: exactly the answer of a name nobody registered
	run -69 --separate-stderr msgsend fs/internal/db x
	[ "$stderr" = "msgsend: fs/internal/db: no such name" ]
	run -69 --separate-stderr msgsend fs/internal/none x
	[ "$stderr" = "msgsend: fs/internal/none: no such name" ]
	run -69 pa lookup fs/internal/db 0
	[ "$output" = "fs/internal/db: no such name" ]
	# and a lookup that waits waits its whole time, as for a missing name
	t0=$(now)
	run -69 --separate-stderr msgsend -w 1 fs/internal/db x
	t1=$(now)
	[ "$stderr" = "msgsend: fs/internal/db: no such name (waited 1 s)" ]
	run -69 --separate-stderr msgsend -w 1 fs/internal/none x
	t2=$(now)
	[ "$stderr" = "msgsend: fs/internal/none: no such name (waited 1 s)" ]
	elapsed_at_least "$t0" "$t1" 1
	elapsed_at_least "$t1" "$t2" 1
	# open names are unchanged, for everyone
	bg "$W/msgrecv" -R "$R" -x 'echo "open: $(cat)"' open/echo
	wait_name open/echo
	run -0 msgsend -r open/echo hi
	[ "$output" = "open: hi" ]
}

@test "lookups waiting for a private name: the allowed one gets it when it comes, the other waits out its time" {
	start_node
	private_setup --private
	OUT=$D/seen
	bg sh -c 'exec "$0" -R "$1" -s svc/a wait fs/internal/late 5000 >"$2.svc" 2>&1' "$W/privask" "$R" "$OUT"
	bg sh -c 'exec "$0" -R "$1" wait fs/internal/late 3000 >"$2.none" 2>&1' "$W/privask" "$R" "$OUT"
	nonepid=${BG_PIDS##* }
	wait_for grep -qx asked "$OUT.svc"
	wait_for grep -qx asked "$OUT.none"
	t0=$(now)
	bg "$W/msgrecv" -R "$R" -x cat fs/internal/late
	wait_for grep -qx 'fs/internal/late: found' "$OUT.svc"
	st=0
	wait "$nonepid" || st=$?
	t1=$(now)
	[ "$st" = 69 ]
	[ "$(cat "$OUT.none")" = "asked
fs/internal/late: no such name" ]
	# it was answered at its deadline, not when the name came (3 s after it asked)
	elapsed_at_least "$t0" "$t1" 2
}

@test "--seen-by: only the listed services see the name" {
	start_node
	private_setup --seen-by 'svc/fs/*'
	bg "$W/msgrecv" -R "$R" -x 'echo "internal: $(cat)"' fs/internal/db
	wait_for pa -s svc/fs/server lookup fs/internal/db 0
	run -0 pa -s svc/fs/server ask fs/internal/db hi
	[ "$output" = "internal: hi" ]
	run -69 pa -s svc/other lookup fs/internal/db 0
	[ "$output" = "fs/internal/db: no such name" ]
	run -69 pa -s svc/other lookup fs/internal/db@alpha 0
	[ "$output" = "fs/internal/db@alpha: no such name" ]
}

@test "registering or unregistering a private name tells nobody else that it exists" {
	need_root "runs the askers as a user made for the test"
	make_user
	start_node
	private_setup --private
	bg "$W/msgrecv" -R "$R" -x cat fs/internal/db
	wait_for pa -s svc/a lookup fs/internal/db 0
	# someone the list does not allow: the same refusal for the taken name and a free one
	run -77 runuser -u "$TUSER" -- "$W/privask" -R "$R" reg fs/internal/db
	[ "$output" = "fs/internal/db: not permitted: uid $TUID running $HA is not listed for fs/internal/*" ]
	run -77 runuser -u "$TUSER" -- "$W/privask" -R "$R" reg fs/internal/free
	[ "$output" = "fs/internal/free: not permitted: uid $TUID running $HA is not listed for fs/internal/*" ]
	# the binary the list names learns that it is taken
	run -69 --separate-stderr "$W/msgrecv" -R "$R" fs/internal/db
	[ "$stderr" = "msgrecv: fs/internal/db: name already registered" ]
	# unregistering someone else's name: "no such name", as for a free one
	run -69 runuser -u "$TUSER" -- "$W/privask" -R "$R" unregister fs/internal/db
	[ "$output" = "fs/internal/db: no such name" ]
	run -69 runuser -u "$TUSER" -- "$W/privask" -R "$R" unregister fs/internal/free
	[ "$output" = "fs/internal/free: no such name" ]
	# an open name says "not permitted", as before
	bg "$W/msgrecv" -R "$R" -x cat open/echo
	wait_name open/echo
	run -77 runuser -u "$TUSER" -- "$W/privask" -R "$R" unregister open/echo
	[ "$output" = "open/echo: not permitted" ]
	# and the name is still there for whom may see it
	run -0 pa -s svc/a lookup fs/internal/db 0
}

@test "namesrv started with keysrv stopped reads the signed list: protected names fail closed, open ones register" {
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/privask")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -u "$(id -u)" 'svc/*' "$H"
	push_list
	stop_daemon keysrv
	stop_daemon namesrv
	# namesrv alone, as masix-node starts it (keysrv never answered it)
	"$MASIX_BIN/namesrv" -R "$R" -S "$S" -c "$R/masix.conf" 2>"$R/ns2.log" &
	echo $! >"$R/namesrv.pid"
	wait_log 1 'namesrv: serving names' "$R/ns2.log"
	grep -qx "namesrv: $S/signatures.list: signature verified, 1 rule" "$R/ns2.log"
	run -69 --separate-stderr "$W/msgrecv" -R "$R" svc/bank
	[ "$stderr" = "msgrecv: svc/bank: cannot check who may register 'svc/bank': keysrv is not running" ]
	grep -E "namesrv: audit: register 'svc/bank' uid $(id -u) pid [0-9]+ exe $H unit .*: failed closed, rule -: keysrv is not running" "$R/ns2.log"
	run -0 pa reg open/one
	[ "$output" = "open/one: ok" ]
}

@test "namesrv started with keysrv stopped and a list that does not verify: every registration fails closed" {
	start_node
	W=$(world_copy "$MASIX_TOOLS/privask")
	st -d "$A" add -u "$(id -u)" 'svc/*' "$(hash_of "$W/privask")"
	push_list
	stop_daemon keysrv
	stop_daemon namesrv
	printf 'open/* * 0\n' >>"$S/signatures.list"
	"$MASIX_BIN/namesrv" -R "$R" -S "$S" -c "$R/masix.conf" 2>"$R/ns2.log" &
	echo $! >"$R/namesrv.pid"
	wait_log 1 'namesrv: serving names' "$R/ns2.log"
	grep -qx "namesrv: $S/signatures.list: signature does not verify with the admin key: refused: every registration fails closed until keysrv answers" "$R/ns2.log"
	run -69 pa reg open/one
	[ "$output" = "open/one: cannot check who may register 'open/one': keysrv is not running" ]
}

@test "across nodes a private name is not found: neither announced, nor answered, nor handed out by NAME@NODE" {
	cluster_start 2
	A=$(echo $RUNDIRS | cut -d' ' -f1)/admin
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/privask")
	me=$(id -u)
	st -d "$A" add -u "$me" --private 'fs/internal/*' "$(hash_of "$W/msgrecv")"
	st -d "$A" add -u "$me" 'svc/*' "$(hash_of "$W/privask")"
	for i in 1 2; do push_list "${NODE_DIR[$i]}" "${NODE_DIR[$i]}/state"; done
	on 2 bg "$W/msgrecv" -x 'echo "n2: $(cat)"' fs/internal/db
	on 2 bg "$W/msgrecv" -x 'echo "n2: $(cat)"' open/echo
	R=${NODE_DIR[2]}
	wait_for pa -s svc/b lookup fs/internal/db 0
	wait_for pa lookup open/echo 0
	# on n1, a verified service the rule admits: found on n2 only, not from n1
	R=${NODE_DIR[1]}
	run -0 pa -s svc/a lookup open/echo 5000
	[ "$output" = "open/echo: found" ]
	run -69 pa -s svc/a lookup fs/internal/db 0
	[ "$output" = "fs/internal/db: no such name" ]
	run -69 pa -s svc/a lookup fs/internal/db@n2 0
	[ "$output" = "fs/internal/db@n2: no such name" ]
	run -0 pa -s svc/a lookup open/echo@n2 0
	[ "$output" = "open/echo@n2: found" ]
}
