#!/usr/bin/env bats
# Rights between nodes: a node reaches only the ports of another whose
# rights were carried to it, and no-senders notifications follow send
# rights wherever they go, locally and across nodes (t/cluster.bash:
# network namespaces when root, loopback otherwise).

bats_require_minimum_version 1.5.0
load helpers
load cluster
load rogue

# holder I NAME FD: "nstool hold NAME" on node I, its commands written to FD,
# its output in NODE_DIR[I]/NAME.out; its pid in HOLDER_PID. What runs in
# the background holds no writer of another holder's FIFO (7>&- 8>&-).
holder() {
	local d=${NODE_DIR[$1]}
	mkfifo "$d/$2.in"
	bg sh -c 'exec timeout 60 "$0" -R "$1" hold "$2" <"$1/$2.in" >"$1/$2.out" 2>&1' \
		"$MASIX_TOOLS/nstool" "$d" "$2" 7>&- 8>&-
	HOLDER_PID=${BG_PIDS##* }
	eval "exec $3>\"\$d/\$2.in\""
	wait_for grep -qx "holding $2" "$d/$2.out"
}

# watcher I HOLDER: "nstool watch HOLDER" on node I; output in $WATCH, pid in WATCH_PID.
watcher() {
	WATCH=${NODE_DIR[$1]}/watch.out
	bg sh -c 'exec timeout 60 "$0" -R "$1" watch "$2" >"$1/watch.out" 2>&1' \
		"$MASIX_TOOLS/nstool" "${NODE_DIR[$1]}" "$2" 7>&- 8>&-
	WATCH_PID=${BG_PIDS##* }
}

is() { [ "$(cat "$1")" = "$2" ]; }

# The watcher's end; on failure what it and the holders printed, for the log.
watch_ends() {
	wait "$WATCH_PID" || { tail -n 20 "$WATCH" "${NODE_DIR[2]}"/h*.out "${NODE_DIR[1]}/portd.log" >&2; false; }
}

@test "no-senders: the only holder of a right, on another node, lets go of it" {
	cluster_start 2
	holder 2 h2 7
	watcher 1 h2
	wait_for grep -qx "got a right" "${NODE_DIR[2]}/h2.out"
	echo "send through n2" >&7
	wait_for grep -qx "got: through n2" "$WATCH"
	is "$WATCH" "at first: no senders
gave a right to h2
got: through n2"
	exec 7>&-
	watch_ends
	is "$WATCH" "at first: no senders
gave a right to h2
got: through n2
no senders"
}

@test "no-senders: a right moved on to a third node counts there, not early, until released there" {
	cluster_start 3
	holder 2 h2 7
	h2=$HOLDER_PID
	holder 3 h3 8
	watcher 1 h2
	wait_for grep -qx "got a right" "${NODE_DIR[2]}/h2.out"
	echo "give h3" >&7
	wait_for grep -qx "got a right" "${NODE_DIR[3]}/h3.out"
	exec 7>&-
	wait "$h2"
	# A round trip from n2 to n1 comes after n2's release on their link.
	on 1 bg "$MASIX_BIN/msgrecv" -x cat echo1 8>&-
	on 1 wait_name echo1 || { cat "${NODE_DIR[1]}"/*.log >&2; false; }
	run -0 on 2 msgsend -r echo1@n1 after the release
	[ "$output" = "after the release" ]
	echo "send through n3" >&8
	wait_for grep -qx "got: through n3" "$WATCH"
	exec 8>&-
	watch_ends
	is "$WATCH" "at first: no senders
gave a right to h2
got: through n3
no senders"
}

@test "no-senders: the holder's node is killed, its rights go after node_timeout" {
	cluster_start 2
	holder 2 h2 7
	watcher 1 h2
	wait_for grep -qx "got a right" "${NODE_DIR[2]}/h2.out"
	kill -KILL "$(cat "${NODE_DIR[2]}/portd.pid")"
	wait_for -t 20 grep -qx "no senders" "$WATCH"
	# Told only once the node was given up, not when its link went down.
	log_has 1 "node n2: unreachable for 2 s: its ports are dead here" "${NODE_DIR[1]}/portd.log"
	watch_ends
	is "$WATCH" "at first: no senders
gave a right to h2
no senders"
}

@test "msgrecv --exit-no-senders: SIGTERM unregisters its name; it serves until the last holder lets go" {
	node_start
	mkfifo "$MASIX_RUNDIR/use.in"
	bg sh -c 'exec "$0" --exit-no-senders svc >"$1/recv.out" 2>"$1/recv.err"' "$MASIX_BIN/msgrecv" "$MASIX_RUNDIR"
	rpid=${BG_PIDS##* }
	wait_name svc
	bg sh -c 'exec timeout 60 "$0" -R "$1" use svc <"$1/use.in" >"$1/use.out" 2>&1' \
		"$MASIX_TOOLS/nstool" "$MASIX_RUNDIR"
	exec 7>"$MASIX_RUNDIR/use.in"
	wait_for grep -qx "holding a right to svc" "$MASIX_RUNDIR/use.out"
	run -0 msgsend svc one
	kill -TERM "$rpid"
	wait_for grep -qx "msgrecv: svc: unregistered; serving until no sender is left" "$MASIX_RUNDIR/recv.err"
	run -69 --separate-stderr msgsend svc late
	[ "$stderr" = "msgsend: svc: no such name" ]
	echo "send two" >&7
	wait_for grep -qx two "$MASIX_RUNDIR/recv.out"
	pid_alive "$rpid"
	exec 7>&-
	wait "$rpid"
	is "$MASIX_RUNDIR/recv.out" "one
two"
	is "$MASIX_RUNDIR/recv.err" "msgrecv: svc: unregistered; serving until no sender is left
msgrecv: svc: no sender left"
}

@test "msgrecv --exit-no-senders: nobody holds a right at SIGTERM, it exits at once" {
	node_start
	bg sh -c 'exec "$0" --exit-no-senders svc 2>"$1/recv.err"' "$MASIX_BIN/msgrecv" "$MASIX_RUNDIR"
	rpid=${BG_PIDS##* }
	wait_name svc
	kill -INT "$rpid"
	wait "$rpid"
	is "$MASIX_RUNDIR/recv.err" "msgrecv: svc: unregistered; serving until no sender is left
msgrecv: svc: no sender left"
}

# ---- a member node gone bad (t/tools/roguenode) against node n1 ----

rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$N1/portd.pid")/status"
}

@test "rogue: a message with uid 0 and a service name to ports never exported to it is refused; the receiver sees nothing" {
	rogue_setup
	bg sh -c 'exec "$0" -n 1 -x "echo \"uid=\$MSG_SENDER_UID node=\$MSG_SENDER_NODE \$(cat)\"" svc/root >"$1/recv.out"' \
	    "$MASIX_BIN/msgrecv" "$N1"
	local recv=$!
	wait_name svc/root
	# Port ids are small and the incarnation is in every HELLO: try them all.
	run -0 --separate-stderr rogue -e 'msg 1-64 uid=0 gid=0 service=admin/console str=forged' -e sync
	[ "${lines[0]}" = "up n1" ]
	[[ "${lines[2]}" =~ ^"acked 64: "(DEAD [0-9]+ )?"PERM "[0-9]+( DEAD [0-9]+)?$ ]]
	[[ "${lines[2]}" != *ok* ]]
	grep -Eq "node rogue: message to port [0-9]+ refused: a port never exported to it" "$N1/portd.log"
	# The first message the receiver sees is a real one.
	run -0 msgsend svc/root real
	wait "$recv"
	[ "$(cat "$N1/recv.out")" = "uid=$(id -u) node=n1 real" ]
}

@test "rogue: 600 send-once deliveries of 1 MiB on a port limited to 64: refused beyond the rights it was given" {
	rogue_setup
	local rss0 out=$BATS_TEST_TMPDIR/rogue.out
	rss0=$(rss_kb)
	# The rogue says its port 7 has a name; a local task asks it 3 times,
	# each with a send-once reply right to a port limited to 64 messages.
	bg sh -c 'exec timeout 60 "$0" -S "$1/state" -N rogue -c "n1@127.0.0.1:$2" -e "answer roguesvc 7" \
	    -e "wait msg 3" -e "msg \$reply so size=1048576 count=600" -e sync >"$3"' \
	    "$MASIX_TOOLS/roguenode" "$RG" "$PORT" "$out"
	local rg=$!
	wait_name roguesvc
	mkfifo "$N1/give.in"
	bg sh -c 'exec timeout 60 "$0" -R "$1" so-give roguesvc 3 <"$1/give.in" >"$1/give.out" 2>&1' \
	    "$MASIX_TOOLS/nstool" "$N1"
	exec 7>"$N1/give.in"
	wait "$rg"
	run -0 tail -n 1 "$out"
	[ "$output" = "acked 600: ok 3 PERM 597" ]
	grep -q "node rogue: message to port [0-9]* refused: a send-once right it does not hold" "$N1/portd.log"
	echo "portd RSS: start $rss0 kB, now $(rss_kb) kB" >&3
	[ -n "${MASIX_ASAN:-}" ] || [ "$(rss_kb)" -le $((rss0 + 64 * 1024)) ]
	exec 7>&-
	wait_for grep -qx "queued 3" "$N1/give.out"
	[ "$(cat "$N1/give.out")" = "gave 3 send-once rights
queued 3" ]
}

@test "rogue: a forged LF_SO_GONE is ignored; a pending msgsend -r still gets the real reply" {
	rogue_setup
	mkfifo "$N1/go"
	bg msgrecv -x "touch '$N1/started'; head -n 1 '$N1/go' >/dev/null; echo real reply" svc/slow
	wait_name svc/slow
	bg sh -c 'exec "$0" -t 20 -r svc/slow hi >"$1/ask.out" 2>&1' "$MASIX_BIN/msgsend" "$N1"
	local ask=$!
	wait_for test -e "$N1/started"
	# Every reply port id the client may have, then a round trip: n1 took them all.
	local args=() n
	for n in $(seq 1 200); do args+=(-e "sogone $n"); done
	run -0 --separate-stderr rogue "${args[@]}" -e 'special 1'
	echo "$output" | grep -Eqx 'special ok [0-9]+'
	grep -Eq "node rogue: SO_GONE for port [0-9]+ refused: a send-once right it does not hold" "$N1/portd.log"
	echo go >"$N1/go"
	wait "$ask"
	[ "$(cat "$N1/ask.out")" = "real reply" ]
}
