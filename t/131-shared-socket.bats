#!/usr/bin/env bats
# A registered server's connection written by another process (issue 12):
# a forked child (exec'ing another binary or not) or an unrelated process
# the connection was handed to over SCM_RIGHTS. portd knows the writer of
# every read (SO_PASSCRED): only what the process pinned at connect wrote
# carries the service; the server itself goes on being stamped.

load helpers
load authreg

setup() {
	D=$BATS_TEST_TMPDIR
}

# A node whose list gives svc/* to root running sharesock ($W/sharesock), a
# copy of it with one byte more ($W/other, not listed), and a sink that
# writes "SERVICE: TEXT" (or "none: TEXT") to $D/seen for $1 messages.
start_server_node() {
	need_root "runs root's listed server"
	start_node
	W=$(world_copy "$MASIX_TOOLS/sharesock")
	H=$(hash_of "$W/sharesock")
	cp "$W/sharesock" "$W/other"
	printf 'x' >>"$W/other"
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	bg "$MASIX_BIN/msgrecv" -R "$R" -n "$1" -x "echo \"\${MSG_SENDER_SERVICE:-none}: \$(cat)\" >>$D/seen" t.sink
	wait_name t.sink
}

seen_lines() { wait_for sh -c '[ "$(wc -l <"$0" 2>/dev/null)" = "$1" ]' "$D/seen" "$1"; }

# $output is the server's three lines, "pid N: sent TEXT", the middle one
# from another process: SP the server's pid, CP the other's.
split_pids() {
	[[ $output =~ ^"pid "([0-9]+)": sent server before"$'\n'"pid "([0-9]+)": sent $1"$'\n'"pid "([0-9]+)": sent server after"$ ]]
	SP=${BASH_REMATCH[1]}
	CP=${BASH_REMATCH[2]}
	[ "${BASH_REMATCH[3]}" = "$SP" ]
	[ "$CP" != "$SP" ]
}

# portd's one line for what CP wrote on SP's connection.
foreign_logged() {
	grep -E "^portd: pid $CP \(not the registered process $SP\) wrote on the connection of task [0-9]+ \('svc/x'\): its messages carry no service$" "$R/portd.log"
}

@test "a forked child that exec's another binary writes on the server's connection: no service; the server keeps its own" {
	start_server_node 3
	run -0 --separate-stderr "$W/sharesock" -R "$R" serve svc/x t.sink fork "$W/other"
	split_pids child
	seen_lines 3
	[ "$(cat "$D/seen")" = "svc/x: server before
none: child
svc/x: server after" ]
	run -0 foreign_logged
	[ "${#lines[@]}" = 1 ]
	# the server's binary is unchanged: no "no longer runs" line
	run -1 grep -q "no longer runs the binary" "$R/portd.log"
}

@test "a forked child running the same binary (no exec) writes on the server's connection: no service" {
	start_server_node 3
	run -0 --separate-stderr "$W/sharesock" -R "$R" serve svc/x t.sink fork-noexec
	split_pids child
	seen_lines 3
	[ "$(cat "$D/seen")" = "svc/x: server before
none: child
svc/x: server after" ]
	foreign_logged
}

@test "the connection handed over SCM_RIGHTS to an unrelated process: what it writes carries no service" {
	start_server_node 3
	# the taker: started by the test, no kin of the server
	"$W/other" take "$D/hand.sock" >"$D/taker.out" 2>"$D/taker.err" &
	tp=$!
	BG_PIDS="${BG_PIDS:-} $tp"
	wait_for test -S "$D/hand.sock"
	run -0 --separate-stderr "$W/sharesock" -R "$R" serve svc/x t.sink pass "$D/hand.sock"
	[[ $output =~ ^"pid "([0-9]+)": sent server before"$'\n'"pid "([0-9]+)": sent server after"$ ]]
	SP=${BASH_REMATCH[1]}
	CP=$tp
	wait "$tp"
	[ "$(cat "$D/taker.out")" = "pid $tp: sent taker" ]
	seen_lines 3
	[ "$(cat "$D/seen")" = "svc/x: server before
none: taker
svc/x: server after" ]
	foreign_logged
}

@test "a frame written half by the server and half by another process carries no service, whichever half comes first" {
	start_server_node 4
	run -0 --separate-stderr "$W/sharesock" -R "$R" serve svc/x t.sink split
	[[ $output =~ ^"pid "([0-9]+)": sent server before"$'\n'"pid "([0-9]+)": sent split-a in halves, pid "([0-9]+)" second"$'\n'"pid "([0-9]+)": sent split-b in halves, pid "([0-9]+)" first"$'\n'"pid "([0-9]+)": sent server after"$ ]]
	SP=${BASH_REMATCH[1]}
	ca=${BASH_REMATCH[3]}
	cb=${BASH_REMATCH[5]}
	seen_lines 4
	[ "$(cat "$D/seen")" = "svc/x: server before
none: split-a
none: split-b
svc/x: server after" ]
	CP=$ca foreign_logged
	CP=$cb foreign_logged
}
