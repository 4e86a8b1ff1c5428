#!/usr/bin/env bats
# A list keysrv reloads reaches the whole node at once (issue 12): keysrv
# tells portd (MX_OP_LIST_LOADED, the KEY holder only), portd reloads its
# own copies and tells namesrv (NS_LIST_CHANGED, a kernel message no task
# can send), namesrv asks keysrv for the rules. No registration is needed
# in between, and registrations made under the old list are checked again.

bats_require_minimum_version 1.5.0
load helpers
load authreg

setup() {
	D=$BATS_TEST_TMPDIR
}

lp() { timeout 30 "$W/listpoke" -R "$R" "$@"; }

# A node whose namesrv has taken keysrv's first rules (keysrv starts last).
start() {
	start_node
	wait_log 1 'lookups and registrations follow it now' "$R/namesrv.log"
}

# The binaries the rules name: msgrecv (the private server) and listpoke
# (the askers, listed for svc/*), world-readable for the test user.
copies() {
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/listpoke")
	HS=$(hash_of "$W/msgrecv")
	HL=$(hash_of "$W/listpoke")
	me=$(id -u)
}

# How many times namesrv took new rules from keysrv, and asked for them.
learned() { grep -c 'lookups and registrations follow it now' "$R/namesrv.log" || true; }
asked() { grep -c 'asking keysrv for the rules of its signature list' "$R/namesrv.log" || true; }

# The admin's list to the node, keysrv reloaded (SIGHUP only, as doc/trust.md
# says), then until namesrv has taken the new rules: nothing registers meanwhile.
push_and_learn() {
	local n
	n=$(learned)
	push_list
	wait_log $((n + 1)) 'lookups and registrations follow it now' "$R/namesrv.log"
}

# A session of listpoke holding service $1, commands written to fd 5.
session() {
	mkfifo "$D/in"
	bg sh -c 'exec "$0" -R "$1" -s "$2" session <"$3" >"$4" 2>&1' "$W/listpoke" "$R" "$1" "$D/in" "$D/out"
	exec 5>"$D/in"
	on_teardown 'exec 5>&-'
	wait_for grep -qx ready "$D/out"
}
has_lines() { [ "$(wc -l <"$2")" -ge "$1" ]; }
# Send one command to the session, print its answer: line $2 of its output.
ask_session() {
	echo "$1" >&5
	wait_for has_lines "$2" "$D/out"
	sed -n "${2}p" "$D/out"
}

@test "a name made private by a list change is hidden at once, with no registration in between" {
	start
	copies
	st -d "$A" add -u "$me" 'fs/internal/*' "$HS"
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	bg "$W/msgrecv" -R "$R" -x 'echo "internal: $(cat)"' fs/internal/db
	wait_name fs/internal/db
	run -0 msgsend -r fs/internal/db hi
	[ "$output" = "internal: hi" ]
	# the server of svc/fs registered before the change, and stays up across it
	session svc/fs
	[ "$(ask_session 'lookup fs/internal/db' 2)" = "fs/internal/db: found" ]
	# the admin makes the names private, seen by svc/fs only
	st -d "$A" remove fs/internal/'*'
	st -d "$A" add -u "$me" --seen-by svc/fs 'fs/internal/*' "$HS"
	r0=$(grep -c 'audit: register' "$R/namesrv.log")
	push_and_learn
	# (1) a task without a service: exactly what a missing name gets
	run -69 --separate-stderr msgsend fs/internal/db x
	[ "$stderr" = "msgsend: fs/internal/db: no such name" ]
	# (2) the service the rule admits still finds it, without registering again
	[ "$(ask_session 'lookup fs/internal/db' 3)" = "fs/internal/db: found" ]
	# nothing registered between the reload and these lookups
	[ "$(grep -c 'audit: register' "$R/namesrv.log")" = "$r0" ]
	# and back: the rule made open again, the name is found by everyone at once
	st -d "$A" remove fs/internal/'*'
	st -d "$A" add -u "$me" 'fs/internal/*' "$HS"
	push_and_learn
	run -0 msgsend -r fs/internal/db again
	[ "$output" = "internal: again" ]
}

@test "--seen-by widened by a list change: the newly admitted service finds the name at once" {
	start
	copies
	st -d "$A" add -u "$me" --seen-by svc/a 'fs/internal/*' "$HS"
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	bg "$W/msgrecv" -R "$R" -x cat fs/internal/db
	wait_log 1 "audit: register 'fs/internal/db'" "$R/namesrv.log"
	session svc/b
	[ "$(ask_session 'lookup fs/internal/db' 2)" = "fs/internal/db: no such name" ]
	st -d "$A" remove fs/internal/'*'
	st -d "$A" add -u "$me" --seen-by svc/a --seen-by svc/b 'fs/internal/*' "$HS"
	push_and_learn
	[ "$(ask_session 'lookup fs/internal/db' 3)" = "fs/internal/db: found" ]
	run -69 --separate-stderr msgsend fs/internal/db x
	[ "$stderr" = "msgsend: fs/internal/db: no such name" ]
}

@test "a name newly protected: an unlisted binary is refused, and with keysrv stopped it fails closed" {
	start
	copies
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	st -d "$A" add -u "$me" 'new/*' "$HL"
	push_and_learn
	run -77 --separate-stderr timeout 10 "$W/msgrecv" -R "$R" new/x
	[ "$stderr" = "msgrecv: new/x: not permitted: uid $me running $HS$(unit_suffix) is not listed for new/*" ]
	# namesrv itself knows new/* is protected now: without keysrv it fails closed
	stop_daemon keysrv
	run -69 --separate-stderr timeout 10 "$W/msgrecv" -R "$R" new/y
	[ "$stderr" = "msgrecv: new/y: cannot check who may register 'new/y': keysrv is not running" ]
	# and an open name still registers
	bg "$W/msgrecv" -R "$R" -x cat open/z
	wait_name open/z
}

@test "a forged list change notice from a local user changes nothing and costs namesrv no question" {
	start
	copies
	make_user
	st -d "$A" add -u "$me" 'fs/internal/*' "$HS"
	push_and_learn
	bg "$W/msgrecv" -R "$R" -x cat fs/internal/db
	wait_name fs/internal/db
	# the admin changes the files, but keysrv is not reloaded yet
	st -d "$A" remove fs/internal/'*'
	st -d "$A" add -u "$me" --private 'fs/internal/*' "$HS"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	a=$(asked)
	l=$(learned)
	p=$(grep -c 'keysrv loaded its signature list' "$R/portd.log")
	# the notice portd sends namesrv: no task may send that message id
	run -77 setpriv --reuid "$TUID" --regid "$TUID" --clear-groups "$W/listpoke" -R "$R" notice
	[ "$output" = "notice: not permitted" ]
	run -77 lp notice
	[ "$output" = "notice: not permitted" ]
	# what keysrv tells portd: only the task holding the KEY port may
	run -77 setpriv --reuid "$TUID" --regid "$TUID" --clear-groups "$W/listpoke" -R "$R" loaded 5
	[ "$output" = "loaded: not permitted" ]
	run -77 lp loaded 5
	[ "$output" = "loaded: not permitted" ]
	# a message the user may send to the NAME port is a request like any other
	run -0 msgsend -r fs/internal/db still
	[ "$output" = "still" ]
	[ "$(asked)" = "$a" ]
	[ "$(learned)" = "$l" ]
	[ "$(grep -c 'keysrv loaded its signature list' "$R/portd.log")" = "$p" ]
	# keysrv's reload, and only it, makes the change
	push_and_learn
	[ "$(asked)" = "$((a + 1))" ]
	run -69 --separate-stderr msgsend fs/internal/db x
	[ "$stderr" = "msgsend: fs/internal/db: no such name" ]
}

@test "names registered under the old list are checked again: a squatter is dropped, listed holders stay" {
	start
	copies
	make_user
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	# bank/main is open: an unprivileged user takes it first
	bg setpriv --reuid "$TUID" --regid "$TUID" --clear-groups "$W/msgrecv" -R "$R" -x 'echo FAKE' bank/main
	wait_name bank/main
	run -0 msgsend -r bank/main x
	[ "$output" = "FAKE" ]
	# a listed holder of a name that stays protected
	session svc/keep
	# the admin protects bank/* for the real server (root's msgrecv)
	st -d "$A" add -u 0 'bank/*' "$HS"
	push_and_learn
	wait_log 1 "list changed: 2 registered protected names checked again, 1 dropped" "$R/namesrv.log"
	grep -E "namesrv: audit: recheck 'bank/main' uid $TUID pid [0-9]+ exe $HS unit $(unit_field): dropped, rule bank/\*: uid $TUID running $HS" "$R/namesrv.log"
	run -69 --separate-stderr msgsend bank/main x
	[ "$stderr" = "msgsend: bank/main: no such name" ]
	# the real server takes it now
	bg "$W/msgrecv" -R "$R" -x 'echo REAL' bank/main
	wait_name bank/main
	run -0 msgsend -r bank/main x
	[ "$output" = "REAL" ]
	# svc/keep was allowed again: still registered
	[ "$(ask_session 'lookup svc/keep' 2)" = "svc/keep: found" ]
	# a rule removed: the name is open again, and stays registered
	st -d "$A" remove 'bank/*'
	push_and_learn
	run -0 msgsend -r bank/main x
	[ "$output" = "REAL" ]
}

@test "keysrv started again with another list: namesrv takes it, though no registration comes" {
	start
	copies
	bg "$W/msgrecv" -R "$R" -x cat fs/internal/db
	wait_name fs/internal/db
	# keysrv of the first list (generation of its life: never reloaded) goes
	stop_daemon keysrv
	st -d "$A" add -u "$me" --private 'fs/internal/*' "$HS"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	n=$(learned)
	bg sh -c 'exec "$0" -R "$1" -S "$2" -c "$1/masix.conf" >>"$1/keysrv.log" 2>&1' "$MASIX_BIN/keysrv" "$R" "$S"
	wait_log $((n + 1)) 'lookups and registrations follow it now' "$R/namesrv.log"
	run -69 --separate-stderr msgsend fs/internal/db x
	[ "$stderr" = "msgsend: fs/internal/db: no such name" ]
}

@test "the service stamp follows the list: a rule removed ends it, a rule added gives it to the holder checked again" {
	start
	copies
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	bg "$MASIX_BIN/msgrecv" -R "$R" -x 'echo "${MSG_SENDER_SERVICE:-none}: $(cat)"' open/sink
	wait_name open/sink
	session svc/x
	[ "$(ask_session 'ask open/sink a' 2)" = "svc/x: a" ]
	# no rule covers svc/x any more: an open name is no service
	st -d "$A" remove 'svc/*'
	push_and_learn
	[ "$(ask_session 'ask open/sink b' 3)" = "none: b" ]
	# covered again, and the holder is allowed: its service once checked again
	st -d "$A" add -u "$me" 'svc/*' "$HL"
	push_and_learn
	wait_log 1 "list changed: 1 registered protected name checked again, 0 dropped" "$R/namesrv.log"
	[ "$(ask_session 'ask open/sink c' 4)" = "svc/x: c" ]
}

@test "keysrv started with a list that does not verify: every name fails closed, none is taken for open" {
	start
	copies
	bg "$W/msgrecv" -R "$R" -x cat open/before
	wait_name open/before
	stop_daemon keysrv
	st -d "$A" add -u 0 'bank/*' "$HS"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	printf '# tampered\n' >>"$S/signatures.list"
	n=$(learned)
	bg sh -c 'exec "$0" -R "$1" -S "$2" -c "$1/masix.conf" >>"$1/keysrv.log" 2>&1' "$MASIX_BIN/keysrv" "$R" "$S"
	wait_log $((n + 1)) 'lookups and registrations follow it now' "$R/namesrv.log"
	grep -q 'namesrv: keysrv has no signature list in force: ' "$R/namesrv.log"
	# a squatter of the name the tampered list would protect, and any other name
	run -69 --separate-stderr timeout 10 "$W/msgrecv" -R "$R" bank/main
	[[ $stderr == "msgrecv: bank/main: cannot check who may register 'bank/main': $S/signatures.list: "* ]]
	run -69 --separate-stderr timeout 10 "$W/msgrecv" -R "$R" open/after
	[[ $stderr == "msgrecv: open/after: cannot check who may register 'open/after': $S/signatures.list: "* ]]
}
