#!/usr/bin/env bats
# portd: the daemon itself, ports and rights, bad input.

load helpers

PORTD_USAGE="usage: portd [-dhnsv] [-b ADDR|off] [-c FILE] [-F FD] [-l [ADDR]:PORT]... [-N NODE] [-p HOST[:PORT]]...
             [-R DIR] [-S DIR] [-u UID]"

@test "portd -h prints the usage line and exits 0" {
	run -0 "$MASIX_BIN/portd" -h
	[ "$output" = "$PORTD_USAGE" ]
}

@test "portd rejects an unknown option with exit 64" {
	run -64 --separate-stderr "$MASIX_BIN/portd" -Z
	[[ "${stderr_lines[0]}" == *"portd: invalid option -- 'Z'" ]]
	[ "$(printf '%s\n' "${stderr_lines[@]:1}")" = "$PORTD_USAGE" ]
}

@test "portd -n checks the configuration" {
	d=$(new_rundir); RUNDIRS="$d"
	printf 'node = alpha\nqueue_limit = 8\n' >"$d/masix.conf"
	run -0 "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$output" = "configuration OK" ]
}

@test "portd quotes the bad line of a configuration file and exits 78" {
	d=$(new_rundir); RUNDIRS="$d"
	printf 'node = alpha\nfrobnicate = yes\n' >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:2: unknown key: 'frobnicate = yes'" ]
	printf 'node = -bad\n' >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:1: invalid node name: 'node = -bad'" ]
}

@test "portd -n checks the network keys and flags, quoting what is wrong" {
	d=$(new_rundir); RUNDIRS="$d"
	printf 'listen = :4170\npeer = peer.example\npeer = 10.0.0.2:9999\nbroadcast = 10.77.0.255\nnode_timeout = 2000\n' >"$d/masix.conf"
	run -0 "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$output" = "configuration OK" ]
	printf 'listen = 127.0.0.1\n' >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:1: '127.0.0.1': not [HOST]:PORT: 'listen = 127.0.0.1'" ]
	printf 'peer = [::1\n' >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:1: '[::1': not [HOST]:PORT: 'peer = [::1'" ]
	printf 'broadcast = lan.example\n' >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:1: not an IPv4 ADDR[:PORT] or off: 'broadcast = lan.example'" ]
	run -64 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -p 'host:0'
	[ "$stderr" = "portd: -p: 'host:0': not [HOST]:PORT: 'host:0'" ]
	for i in 1 2 3 4 5 6 7 8 9; do echo "listen = 127.0.0.1:$((4170 + i))"; done >"$d/masix.conf"
	run -78 --separate-stderr "$MASIX_BIN/portd" -n -R "$d" -c "$d/masix.conf"
	[ "$stderr" = "portd: $d/masix.conf:9: too many listen addresses (8 at most): 'listen = 127.0.0.1:4179'" ]
}

@test "a second portd on the same runtime directory refuses to start" {
	node_start
	run -1 --separate-stderr timeout 10 "$MASIX_BIN/portd" -R "$MASIX_RUNDIR"
	[ "$stderr" = "portd: $MASIX_RUNDIR/portd.sock: another portd is serving there" ]
}

@test "portd replaces a stale socket and removes it on SIGTERM" {
	d=$(new_rundir); RUNDIRS="$d"
	# A socket file nobody listens on, as left by a crash.
	bg socat UNIX-LISTEN:"$d/portd.sock" /dev/null
	wait_for test -S "$d/portd.sock"
	kill -KILL $!; wait $! 2>/dev/null || :
	[ -S "$d/portd.sock" ]
	bg timeout 10 "$MASIX_BIN/portd" -R "$d" 2>"$d/portd.log"
	pid=$!
	timeout 5 "$MASIX_TOOLS/mxtool" -R "$d" wait-socket
	kill -TERM "$pid"
	rc=0; wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	[ ! -e "$d/portd.sock" ]
	run -0 tail -n 1 "$d/portd.log"
	[ "$output" = "portd: stopped" ]
}

@test "a send right carried in a message lets the receiver answer" {
	node_start
	run -0 mxtool xfer-send
	[ "${lines[0]}" = "a got: here is my port" ]
	[ "${lines[1]}" = "a holds a send right" ]
	[ "${lines[2]}" = "b got: answer through the carried right" ]
	[ "${lines[3]}" = "sender pid matches" ]
	[ "${lines[4]}" = "sender uid matches" ]
}

@test "a receive right moves to another task with its queued messages" {
	node_start
	run -0 mxtool xfer-recv
	[ "${lines[0]}" = "b receives on the moved port: no such right" ]
	[ "${lines[1]}" = "a holds a receive right" ]
	[ "${lines[2]}" = "a got: queued before the move" ]
	[ "${lines[3]}" = "a got: sent after the move" ]
}

@test "a send-once right is used up by one send" {
	node_start
	run -0 mxtool send-once
	[ "${lines[0]}" = "first reply: success" ]
	[ "${lines[1]}" = "second reply: no such right" ]
	[ "${lines[2]}" = "b got: first answer" ]
}

@test "after its port dies a send right is a dead name and the name is gone" {
	node_start
	run -0 mxtool dead-name
	[ "$output" = "send before: success
send after: dead port
lookup after: no such name" ]
}

@test "a destroyed reply right answers the request with no reply will come" {
	node_start
	run -0 mxtool no-reply
	[ "$output" = "request: no reply will come" ]
}

@test "a server replies and receives in one step; a client gone or a one-way message is reported, the loop goes on" {
	node_start
	OUT=$BATS_TEST_TMPDIR/serve.out bg sh -c 'exec "$0" -R "$MASIX_RUNDIR" serve srv 4 300 >"$OUT"' "$MASIX_TOOLS/mxtool"
	pid=${BG_PIDS##* }
	wait_name srv
	run -75 --separate-stderr msgsend -t 0.1 -r srv gone
	[ "$stderr" = "msgsend: srv: timed out after 0.1 s" ]
	run -0 msgsend srv one-way
	[ "$output" = "" ]
	run -0 msgsend -r srv three
	[ "$output" = "answer 3: three" ]
	run -0 msgsend -r srv four
	[ "$output" = "answer 4: four" ]
	wait "$pid"
	run -0 cat "$BATS_TEST_TMPDIR/serve.out"
	[ "$output" = "reply 1: dead port
reply 2: invalid argument
reply 3: success
reply 4: success" ]
}

@test "messages from one sender arrive in order" {
	node_start
	run -0 mxtool fifo 20000
	[ "$output" = "20000 messages, 0 out of order" ]
}

@test "hundreds of tasks at once on one event loop" {
	node_start
	run -0 mxtool many 400
	[ "$output" = "400 tasks connected at once, 400 messages received" ]
}

@test "garbage on the socket closes that connection or gets an error reply; nothing queued is lost" {
	node_start
	run -0 mxtool garbage
	[ "$output" = "text instead of frames: connection closed
wrong version: connection closed
huge length: connection closed
unknown type: connection closed
truncated frame: sent, then hung up
wrong payload size: answer: protocol error
then a good request: answer: success
item past the end: answer: protocol error
send to a name it does not hold: answer: no such right
send carrying a right it does not hold: no such right
still queued: queued before the garbage" ]
	run -0 grep -c 'bad frame' "$MASIX_RUNDIR/portd.log"
	[ "$output" = 4 ]
	run -0 grep -c -e 'PORT_ALLOC: protocol error$' -e 'SEND: protocol error$' "$MASIX_RUNDIR/portd.log"
	[ "$output" = 2 ]
	# And the node still serves.
	bg "$MASIX_BIN/msgrecv" -x cat echo
	run -0 msgsend -w 5 -r echo still here
	[ "$output" = "still here" ]
}

@test "only root or the trusted uid may hold the NAME port" {
	need_root "runs a task as uid 65534"
	node_start
	chmod 0755 "$MASIX_RUNDIR"
	run -0 mxtool claim-name
	[ "$output" = "claim NAME: name already registered" ]
	# uid 65534 may not read the checkout (a 0700 home): it runs a copy.
	w=$(world_copy "$MASIX_TOOLS/mxtool")
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env ASAN_OPTIONS=detect_leaks=0 "$w/mxtool" -R "$MASIX_RUNDIR" claim-name
	[ "$output" = "claim NAME: not permitted" ]
	run -0 grep -c 'refused special port 1: not permitted' "$MASIX_RUNDIR/portd.log"
	[ "$output" = 1 ]
}

@test "portd sends READY=1 to NOTIFY_SOCKET and writes its readiness fd" {
	d=$(new_rundir); RUNDIRS="$d"
	bg timeout 10 socat -u UNIX-RECV:"$d/notify" OPEN:"$d/notified",creat
	wait_for test -S "$d/notify"
	NOTIFY_SOCKET="$d/notify" bg timeout 20 "$MASIX_BIN/portd" -R "$d" -F 3 3>"$d/readyfd" 2>"$d/portd.log"
	timeout 5 "$MASIX_TOOLS/mxtool" -R "$d" wait-socket
	wait_for grep -q STATUS= "$d/notified"
	wait_for test -s "$d/readyfd"
	run -0 cat "$d/notified"
	[ "${lines[0]}" = "READY=1" ]
	[ "${lines[1]}" = "STATUS=serving" ]
	run -0 od -An -c "$d/readyfd"
	[ "$output" = "  \n" ]
}
