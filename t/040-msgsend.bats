#!/usr/bin/env bats
# msgsend and msgrecv together: the shell user's view.

load helpers

# Receive in the background into $MASIX_RUNDIR/$1.out; msgrecv args follow.
recv_to() {
	local out=$1; shift
	bg sh -c 'exec "$0" "$@" >"$OUT"' "$MASIX_BIN/msgrecv" "$@"
	RECV_PID=${BG_PIDS##* }
}

@test "msgsend -h and msgrecv -h print their usage lines; bad usage exits 64" {
	run -0 "$MASIX_BIN/msgsend" -h
	[ "$output" = "usage: msgsend [-hr] [-R DIR] [-t SECS] [-w SECS] NAME [WORD...]" ]
	run -0 "$MASIX_BIN/msgrecv" -h
	[ "$output" = "usage: msgrecv [-0h] [--raw] [--reconnect] [--exit-no-senders] [--from SERVICE] [-R DIR] [-n COUNT] [-t SECS] [-x CMD] NAME" ]
	run -64 --separate-stderr "$MASIX_BIN/msgsend"
	[ "$stderr" = "usage: msgsend [-hr] [-R DIR] [-t SECS] [-w SECS] NAME [WORD...]" ]
	run -64 --separate-stderr "$MASIX_BIN/msgsend" -t soon x
	[ "$stderr" = "msgsend: -t: not a number of seconds: 'soon'" ]
	run -64 --separate-stderr "$MASIX_BIN/msgrecv" -0 --raw x
	[ "$stderr" = "msgrecv: -0 and --raw exclude each other" ]
	run -64 --separate-stderr "$MASIX_BIN/msgrecv" -n 0 x
	[ "$stderr" = "msgrecv: -n: not a positive count: '0'" ]
}

@test "echo service: msgrecv -x cat answers msgsend -r" {
	node_start
	bg "$MASIX_BIN/msgrecv" -x cat echo
	run -0 msgsend -w 5 -r echo hi
	[ "$output" = "hi" ]
	run -0 msgsend -r echo two words
	[ "$output" = "two words" ]
	run -0 sh -c 'printf "from stdin\n" | "$0" -r echo' "$MASIX_BIN/msgsend"
	[ "$output" = "from stdin" ]
}

@test "messages print one per line by default" {
	node_start
	OUT=$MASIX_RUNDIR/lines.out recv_to lines -n 2 lines
	wait_name lines
	msgsend lines first
	msgsend lines second
	wait "$RECV_PID"
	run -0 cat "$MASIX_RUNDIR/lines.out"
	[ "$output" = "first
second" ]
}

@test "msgrecv -0 ends each message with a NUL" {
	node_start
	OUT=$MASIX_RUNDIR/nul.out recv_to nul -n 2 -0 nul
	wait_name nul
	msgsend nul a
	msgsend nul b
	wait "$RECV_PID"
	run -0 od -An -c "$MASIX_RUNDIR/nul.out"
	[ "$output" = "   a  \\0   b  \\0" ]
}

@test "msgrecv --raw -n 1 writes the exact bytes: a 16 MiB binary body round-trips" {
	node_start
	head -c 16777216 /dev/urandom >"$MASIX_RUNDIR/big.in"
	OUT=$MASIX_RUNDIR/big.out recv_to big --raw -n 1 big
	wait_name big
	run -0 msgsend big <"$MASIX_RUNDIR/big.in"
	wait "$RECV_PID"
	cmp "$MASIX_RUNDIR/big.in" "$MASIX_RUNDIR/big.out"
	# And back as a reply, through msgrecv -x.
	bg "$MASIX_BIN/msgrecv" -x cat bigecho
	wait_name bigecho
	msgsend -r bigecho <"$MASIX_RUNDIR/big.in" >"$MASIX_RUNDIR/big.reply"
	cmp "$MASIX_RUNDIR/big.in" "$MASIX_RUNDIR/big.reply"
}

@test "msgsend refuses a body over the limit with exit 65" {
	node_start
	run -65 --separate-stderr sh -c 'head -c 40000000 /dev/zero | "$0" nobody' "$MASIX_BIN/msgsend"
	[ "$stderr" = "msgsend: stdin: message too large (limit 33554424 bytes)" ]
}

@test "msgrecv -n COUNT exits after COUNT messages; -t exits 75 when nothing comes" {
	node_start
	run -75 --separate-stderr msgrecv -t 0.3 quiet
	[ "$stderr" = "msgrecv: quiet: timed out after 0.3 s without a message" ]
	OUT=$MASIX_RUNDIR/idle.out recv_to idle -t 0.5 idle
	wait_name idle
	msgsend idle only one
	rc=0; wait "$RECV_PID" || rc=$?
	[ "$rc" -eq 0 ]
	run -0 cat "$MASIX_RUNDIR/idle.out"
	[ "$output" = "only one" ]
}

@test "unknown name: exit 69 and the name in the error" {
	node_start
	run -69 --separate-stderr msgsend nosuch hi
	[ "$stderr" = "msgsend: nosuch: no such name" ]
	[ "$output" = "" ]
}

@test "no node: exit 69 naming the runtime directory" {
	d=$(new_rundir); RUNDIRS="$d"
	run -69 --separate-stderr msgsend -R "$d" echo hi
	[ "$stderr" = "msgsend: cannot reach portd in $d: portd is not running" ]
	run -69 --separate-stderr msgrecv -R "$d" echo
	[ "$stderr" = "msgrecv: cannot reach portd in $d: portd is not running" ]
}

@test "the receiver dies during a request: no reply will come, exit 69" {
	node_start
	# The command kills its own msgrecv, which holds the reply right.
	bg "$MASIX_BIN/msgrecv" -x 'kill -KILL $PPID' doomed
	wait_name doomed
	run -69 --separate-stderr msgsend -t 10 -r doomed are you there
	[ "$stderr" = "msgsend: doomed: no reply will come" ]
}

@test "a full queue blocks the sender until its timeout: exit 75" {
	node_start
	bg "$MASIX_TOOLS/mxtool" -R "$MASIX_RUNDIR" hold full 2
	wait_name full
	msgsend full one
	msgsend full two
	run -75 --separate-stderr msgsend -t 0.3 full three
	[ "$stderr" = "msgsend: full: timed out after 0.3 s (queue full)" ]
}

@test "a full queue blocks the sender until there is room, then delivers in order" {
	node_start
	OUT=$MASIX_RUNDIR/drain.out bg sh -c 'exec "$0" -R "$MASIX_RUNDIR" slow-drain slow 1 1000 3 >"$OUT"' \
		"$MASIX_TOOLS/mxtool"
	drain=${BG_PIDS##* }
	wait_name slow
	msgsend slow one
	start=$(date +%s%N)
	run -0 msgsend -t 10 slow two
	waited=$(( ($(date +%s%N) - start) / 1000000 ))
	msgsend slow three
	wait "$drain"
	run -0 cat "$MASIX_RUNDIR/drain.out"
	[ "$output" = "got: one
got: two
got: three" ]
	# It did wait for room (the drain starts after 1 s), not fail.
	[ "$waited" -ge 300 ]
}

@test "a request times out with exit 75 when the server does not answer" {
	node_start
	bg "$MASIX_BIN/msgrecv" -x 'sleep 5' slowpoke
	wait_name slowpoke
	run -75 --separate-stderr msgsend -t 0.3 -r slowpoke hello
	[ "$stderr" = "msgsend: slowpoke: timed out after 0.3 s" ]
}

@test "a failing command sends an error reply: its output, the reason, exit 1" {
	node_start
	bg "$MASIX_BIN/msgrecv" -x 'echo partial; exit 3' failing
	wait_name failing
	run -1 --separate-stderr msgsend -r failing x
	[ "$output" = "partial" ]
	[ "$stderr" = "msgsend: failing: server failed: command exited with status 3" ]
}

@test "the command sees the sender in MSG_SENDER_*" {
	node_start
	bg "$MASIX_BIN/msgrecv" -x 'echo "$MSG_SENDER_UID $MSG_SENDER_GID $MSG_SENDER_NODE"; cat' who
	wait_name who
	run -0 msgsend -r who body
	[ "$output" = "$(id -u) $(id -g) $(hostname)
body" ]
	# The pid is the sender's own: a shell prints its $$, then becomes
	# msgsend (exec keeps the pid); the receiver must report that pid.
	bg "$MASIX_BIN/msgrecv" -x 'echo "$MSG_SENDER_PID"' who-pid
	wait_name who-pid
	run -0 sh -c 'echo $$; exec "$0" -r who-pid x' "$MASIX_BIN/msgsend"
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^[0-9]+$ ]]
	[ "${lines[1]}" = "${lines[0]}" ]
	# A second sender is another process: another pid.
	first=${lines[0]}
	run -0 sh -c 'echo $$; exec "$0" -r who-pid x' "$MASIX_BIN/msgsend"
	[ "${lines[1]}" = "${lines[0]}" ]
	[ "${lines[1]}" != "$first" ]
}

@test "a one-way message to msgrecv -x goes to the command's stdout" {
	node_start
	OUT=$MASIX_RUNDIR/oneway.out recv_to oneway -n 1 -x 'tr a-z A-Z' oneway
	wait_name oneway
	msgsend oneway shout
	wait "$RECV_PID"
	run -0 cat "$MASIX_RUNDIR/oneway.out"
	[ "$output" = "SHOUT" ]
}

@test "msgrecv tells readiness to NOTIFY_SOCKET once its name is registered" {
	node_start
	bg timeout 10 socat -u UNIX-RECV:"$MASIX_RUNDIR/notify" OPEN:"$MASIX_RUNDIR/notified",creat
	wait_for test -S "$MASIX_RUNDIR/notify"
	NOTIFY_SOCKET=$MASIX_RUNDIR/notify bg "$MASIX_BIN/msgrecv" ready
	wait_name ready
	wait_for grep -q STATUS= "$MASIX_RUNDIR/notified"
	run -0 cat "$MASIX_RUNDIR/notified"
	[ "$output" = "READY=1
STATUS=receiving on ready" ]
}
