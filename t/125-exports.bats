#!/usr/bin/env bats
# Rights between nodes: a node reaches only the ports of another whose
# rights were carried to it, and no-senders notifications follow send
# rights wherever they go, locally and across nodes (t/cluster.bash:
# network namespaces when root, loopback otherwise).

bats_require_minimum_version 1.5.0
load helpers
load cluster

# holder I NAME FD: "nstool hold NAME" on node I, its commands written to FD,
# its output in NODE_DIR[I]/NAME.out; its pid in HOLDER_PID.
holder() {
	local d=${NODE_DIR[$1]}
	mkfifo "$d/$2.in"
	bg sh -c 'exec timeout 60 "$0" -R "$1" hold "$2" <"$1/$2.in" >"$1/$2.out" 2>&1' \
		"$MASIX_TOOLS/nstool" "$d" "$2"
	HOLDER_PID=${BG_PIDS##* }
	eval "exec $3>\"\$d/\$2.in\""
	wait_for grep -qx "holding $2" "$d/$2.out"
}

# watcher I HOLDER: "nstool watch HOLDER" on node I; output in $WATCH, pid in WATCH_PID.
watcher() {
	WATCH=${NODE_DIR[$1]}/watch.out
	bg sh -c 'exec timeout 60 "$0" -R "$1" watch "$2" >"$1/watch.out" 2>&1' \
		"$MASIX_TOOLS/nstool" "${NODE_DIR[$1]}" "$2"
	WATCH_PID=${BG_PIDS##* }
}

is() { [ "$(cat "$1")" = "$2" ]; }

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
	wait "$WATCH_PID"
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
	on 1 bg "$MASIX_BIN/msgrecv" -x cat echo1
	on 1 wait_name echo1
	run -0 on 2 msgsend -r echo1@n1 after the release
	[ "$output" = "after the release" ]
	echo "send through n3" >&8
	wait_for grep -qx "got: through n3" "$WATCH"
	exec 8>&-
	wait "$WATCH_PID"
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
	wait "$WATCH_PID"
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
