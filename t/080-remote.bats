#!/usr/bin/env bats
# Remote transparency: three nodes linked by TLS 1.3 through static peers,
# each in its own network namespace on one bridge when root, on loopback
# ports otherwise (t/cluster.bash). Broadcast resolution, link cuts and
# captures are in 085-netns-remote.bats.

load helpers
load cluster

setup() {
	cluster_start 3
}

# says I EXPECTED CMD...: on node I, CMD's stderr and stdout are EXPECTED.
says() {
	local i=$1 want=$2
	shift 2
	[ "$(on "$i" "$@" 2>&1)" = "$want" ]
}

# directory_is I NAMES: node I's keysrv directory lists exactly NAMES.
directory_is() {
	[ "$(on "$1" timeout 10 "$MASIX_BIN/keysrv" -q directory | cut -d' ' -f1 | sort | tr '\n' ' ')" = "$2" ]
}

@test "a request to a name on another node, qualified or not; the receiver sees the sender's node" {
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo "$MSG_SENDER_NODE says $(cat)"' echo2
	on 2 wait_name echo2
	run -0 on 1 msgsend -r echo2@n2 hello
	[ "$output" = "n1 says hello" ]
	run -0 on 1 msgsend -r echo2 unqualified
	[ "$output" = "n1 says unqualified" ]
	run -0 on 3 msgsend -r echo2 from three
	[ "$output" = "n3 says from three" ]
	run -69 --separate-stderr on 1 msgsend -r nowhere@n2 hi
	[ "$stderr" = "msgsend: nowhere@n2: no such name" ]
	run -69 --separate-stderr on 1 msgsend -r echo2@n9 hi
	[ "$stderr" = "msgsend: echo2@n9: node unreachable" ]
}

@test "a one-way message to another node arrives once" {
	OUT=${NODE_DIR[3]}/got.out on 3 bg sh -c 'exec "$0" -n 2 inbox >"$OUT"' "$MASIX_BIN/msgrecv"
	pid=${BG_PIDS##* }
	on 3 wait_name inbox
	on 1 msgsend inbox first
	on 2 msgsend inbox second
	wait "$pid"
	run -0 cat "${NODE_DIR[3]}/got.out"
	[ "$output" = "first
second" ]
}

@test "a reply right crosses two nodes: n1 asks n2, n2 passes it to n3, n3 answers n1" {
	on 3 bg "$MASIX_BIN/msgrecv" -x 'echo "n3 answers: $(cat)"' final
	on 3 wait_name final
	on 2 bg "$MASIX_TOOLS/mxtool" -R "${NODE_DIR[2]}" forward relay final 1
	on 2 wait_name relay
	run -0 on 1 msgsend -t 10 -r relay hi
	[ "$output" = "n3 answers: hi" ]
}

@test "a server on another node replies and receives in one step; a reply to a client gone is reported" {
	OUT=${NODE_DIR[2]}/serve.out on 2 bg sh -c 'exec "$0" -R "$MASIX_RUNDIR" serve rsrv 4 300 >"$OUT"' "$MASIX_TOOLS/mxtool"
	pid=${BG_PIDS##* }
	on 2 wait_name rsrv
	run -75 --separate-stderr on 1 msgsend -t 0.1 -r rsrv gone
	[ "$stderr" = "msgsend: rsrv: timed out after 0.1 s" ]
	run -0 on 1 msgsend -r rsrv two
	[ "$output" = "answer 2: two" ]
	run -0 on 3 msgsend -r rsrv three
	[ "$output" = "answer 3: three" ]
	run -0 on 2 msgsend -r rsrv four
	[ "$output" = "answer 4: four" ]
	wait "$pid"
	run -0 cat "${NODE_DIR[2]}/serve.out"
	[ "$output" = "reply 1: dead port
reply 2: success
reply 3: success
reply 4: success" ]
}

@test "pipelined sends to another node arrive in order, waiting ones included, and each is acknowledged" {
	OUT=${NODE_DIR[2]}/fifo.out on 2 bg sh -c 'exec "$0" -R "$MASIX_RUNDIR" fifo-recv pipe 8 300 >"$OUT"' "$MASIX_TOOLS/mxtool"
	pid=${BG_PIDS##* }
	on 2 wait_name pipe
	# A queue of 8 that nobody reads for 300 ms: most of them wait on n2.
	run -0 on 1 mxtool fifo-send pipe 5000 4294967295
	[ "$output" = "sent 5000: success" ]
	wait "$pid"
	[ "$(cat "${NODE_DIR[2]}/fifo.out")" = "receiving on pipe
got 5000, in order" ]
}

@test "pipelined sends to a full queue on another node: those that fit arrive in order, the sender gets queue full" {
	OUT=${NODE_DIR[2]}/full.out on 2 bg sh -c 'exec "$0" -R "$MASIX_RUNDIR" fifo-recv full 4 1000 >"$OUT"' "$MASIX_TOOLS/mxtool"
	pid=${BG_PIDS##* }
	on 2 wait_name full
	run -0 on 1 mxtool fifo-send full 100 0
	[ "$output" = "sent 100: queue full" ]
	wait "$pid"
	[ "$(cat "${NODE_DIR[2]}/full.out")" = "receiving on full
got 4, in order" ]
}

@test "1 MiB binary bodies cross nodes both ways intact" {
	head -c 1048576 /dev/urandom >"${NODE_DIR[1]}/mib"
	on 2 bg "$MASIX_BIN/msgrecv" -x cat bigecho
	on 2 wait_name bigecho
	on 1 msgsend -r bigecho <"${NODE_DIR[1]}/mib" >"${NODE_DIR[1]}/mib.back"
	cmp "${NODE_DIR[1]}/mib" "${NODE_DIR[1]}/mib.back"
}

@test "a remote receiver dies during a request: no reply will come" {
	on 2 bg "$MASIX_BIN/msgrecv" -x 'kill -KILL $PPID' doomed
	on 2 wait_name doomed
	run -69 --separate-stderr on 1 msgsend -t 10 -r doomed are you there
	[ "$stderr" = "msgsend: doomed: no reply will come" ]
}

@test "answers are cached, and the cache drops a name when its port dies" {
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo cached' svc
	server=${BG_PIDS##* }
	on 2 wait_name svc
	run -0 on 1 msgsend -r svc x
	[ "$output" = "cached" ]
	# With n2's namesrv gone nobody can answer a query: only the cache can.
	kill "$(cat "${NODE_DIR[2]}/namesrv.pid")"
	run -0 on 1 msgsend -r svc y
	[ "$output" = "cached" ]
	kill "$server"; wait "$server" 2>/dev/null || :
	# n2 tells n1 that the port died (a send meanwhile finds a dead port).
	wait_for says 1 "msgsend: svc: no such name" msgsend -r svc z
	run -69 --separate-stderr on 1 msgsend -r svc z
	[ "$stderr" = "msgsend: svc: no such name" ]
}

@test "a restarted node is a new life: its old ports are dead, never rebound" {
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo first life' phoenix
	on 2 wait_name phoenix
	run -0 on 1 msgsend -r phoenix x
	[ "$output" = "first life" ]
	kill -KILL "$(cat "${NODE_DIR[2]}/portd.pid")"
	wait_log 1 "node n2: link down" "${NODE_DIR[1]}/portd.log"
	run -69 on 1 msgsend -r phoenix x
	node_ctl stop 2 || :
	node_ctl start 2
	wait_linked 1 2
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo second life' phoenix
	on 2 wait_name phoenix
	run -0 on 1 msgsend -w 5 -r phoenix x
	[ "$output" = "second life" ]
	grep -q 'node n2: restarted (new incarnation)' "${NODE_DIR[1]}/portd.log"
}

@test "a receive right does not leave its node" {
	on 2 bg "$MASIX_BIN/msgrecv" -n 1 taker
	on 2 wait_name taker
	run -0 on 1 env ASAN_OPTIONS=detect_leaks=0 "$MASIX_TOOLS/mxtool" -R "${NODE_DIR[1]}" move-recv-remote taker
	[ "$output" = "moving a receive right to taker: not supported
a send right to the same port: success" ]
}

@test "a TLS client without a CA-signed certificate gets nothing" {
	run net_on 2 timeout 10 openssl s_client -connect "${NODE_HOST[1]}:${NODE_PORT[1]}" -tls1_3 -quiet </dev/null
	[ "$status" -ne 0 ]
	[[ "$output" == *"alert certificate required"* ]]
	grep -q "TLS handshake failed: peer did not return a certificate" "${NODE_DIR[1]}/portd.log"
	run net_on 2 timeout 10 openssl s_client -connect "${NODE_HOST[1]}:${NODE_PORT[1]}" -tls1_2 </dev/null
	[ "$status" -ne 0 ]
	grep -q "TLS handshake failed: unsupported protocol" "${NODE_DIR[1]}/portd.log"
	# And the nodes still talk to each other.
	on 2 bg "$MASIX_BIN/msgrecv" -x cat after
	on 2 wait_name after
	run -0 on 1 msgsend -r after still linked
	[ "$output" = "still linked" ]
}

@test "linked nodes exchange certificates through keysrv: each one's directory lists the others" {
	run -0 on 1 timeout 10 "$MASIX_BIN/keysrv" -q directory
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "n1 SHA256:"* ]]
	run -0 sh -c "printf '%s\n' \"\$@\" | cut -d' ' -f1 | sort | tr '\n' ' '" _ "${lines[@]}"
	[ "$output" = "n1 n2 n3 " ]
	# The fingerprints are the nodes' own.
	run -0 on 2 timeout 10 "$MASIX_BIN/keysrv" -q node-cert
	n2fp=${lines[0]}
	run -0 on 1 timeout 10 "$MASIX_BIN/keysrv" -q directory
	[[ " ${lines[*]} " == *" $n2fp "* ]]
	# A keysrv started after the links came up learns them too.
	pid=$(cat "${NODE_DIR[3]}/keysrv.pid")
	kill "$pid"
	wait_gone "$pid"
	on 3 bg "$MASIX_BIN/keysrv" -R "${NODE_DIR[3]}" -S "${NODE_DIR[3]}/state"
	wait_for directory_is 3 "n1 n2 n3 "
}

# links_to I PORT: a connection from node I's host to PORT is established.
links_to() {
	net_on "$1" ss -Htn state established "( dport = :$2 )" | grep -q .
}

@test "portd listens on every listen line: a node that knows only the second one links through it" {
	local p2 h1=${NODE_HOST[1]} h3=${NODE_HOST[3]}
	p2=$(free_port)
	# n2 stays down: linked to both, it would tell n1 where n3 listens, and
	# n1's dial to n3 could then be the link instead of n3's to the second address.
	for i in 1 2 3; do node_ctl stop "$i"; rm -f "${NODE_DIR[$i]}/portd.log"; done
	echo "listen = $h1:$p2" >>"${NODE_DIR[1]}/masix.conf"
	# n1 no longer dials n3; n3 knows n1 only by its second address.
	sed -i "/^peer = $h3:${NODE_PORT[3]}\$/d" "${NODE_DIR[1]}/masix.conf"
	sed -i "s/^peer = $h1:${NODE_PORT[1]}\$/peer = $h1:$p2/" "${NODE_DIR[3]}/masix.conf"
	for i in 1 3; do node_ctl start "$i"; done
	[ "$(net_on 1 ss -Htln "( sport = :${NODE_PORT[1]} or sport = :$p2 )" | wc -l)" = 2 ]
	wait_linked 3 1
	wait_for links_to 3 "$p2"
	on 1 bg "$MASIX_BIN/msgrecv" -x 'echo "n1 got: $(cat)"' second
	on 1 wait_name second
	run -0 on 3 msgsend -r second@n1 via the second address
	[ "$output" = "n1 got: via the second address" ]
}

@test "a registration is announced: other nodes cache it unasked, and a lookup waiting there ends at once" {
	OUT=${NODE_DIR[1]}/later.out on 1 bg sh -c 'exec "$0" -w 10 -r later hi >"$OUT" 2>&1' "$MASIX_BIN/msgsend"
	pid=${BG_PIDS##* }
	# Time must pass: n1's lookup must be waiting, its network query
	# unanswered, before the name exists.
	sleep 0.5
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo "n2: $(cat)"' later
	wait "$pid"
	[ "$(cat "${NODE_DIR[1]}/later.out")" = "n2: hi" ]
	# n3 never asked, yet has it: with n2's namesrv gone nobody could answer.
	kill "$(cat "${NODE_DIR[2]}/namesrv.pid")"
	run -0 on 3 msgsend -r later from n3
	[ "$output" = "n2: from n3" ]
}

@test "announce = no: a registration is found by asking, a waiting lookup elsewhere is not told" {
	kill "$(cat "${NODE_DIR[2]}/namesrv.pid")"
	printf 'announce = no\n' >"${NODE_DIR[2]}/ns.conf"
	run -0 "$MASIX_BIN/namesrv" -n -c "${NODE_DIR[2]}/ns.conf"
	on 2 bg "$MASIX_BIN/namesrv" -R "${NODE_DIR[2]}" -c "${NODE_DIR[2]}/ns.conf"
	# Up when a registration works (msgrecv then times out).
	wait_for says 2 "msgrecv: probe: timed out after 0.1 s without a message" msgrecv -t 0.1 probe
	OUT=${NODE_DIR[1]}/quiet.out on 1 bg sh -c 'exec "$0" -w 2 -r quiet hi >"$OUT" 2>&1' "$MASIX_BIN/msgsend"
	pid=${BG_PIDS##* }
	# Time must pass: n1's lookup must be waiting before the name exists.
	sleep 0.5
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo "n2: $(cat)"' quiet
	on 2 wait_name quiet
	st=0
	wait "$pid" || st=$?
	[ "$st" = 69 ]
	run -0 cat "${NODE_DIR[1]}/quiet.out"
	[ "$output" = "msgsend: quiet: no such name (waited 2 s)" ]
	run -0 on 3 msgsend -r quiet asked
	[ "$output" = "n2: asked" ]
	printf 'announce = maybe\n' >"${NODE_DIR[2]}/ns.conf"
	run -78 --separate-stderr "$MASIX_BIN/namesrv" -n -c "${NODE_DIR[2]}/ns.conf"
	[ "$stderr" = "namesrv: ${NODE_DIR[2]}/ns.conf:1: announce must be yes or no: 'announce = maybe'" ]
}

@test "nodes that know only one node of the cluster link to all of them, without broadcast" {
	for i in 1 2 3; do node_ctl stop "$i"; rm -f "${NODE_DIR[$i]}/portd.log"; done
	# A star: n2 and n3 name n1 only; n1 names nobody.
	for i in 1 2 3; do sed -i '/^peer = /d' "${NODE_DIR[$i]}/masix.conf"; done
	for i in 2 3; do echo "peer = ${NODE_HOST[1]}:${NODE_PORT[1]}" >>"${NODE_DIR[$i]}/masix.conf"; done
	for i in 1 2 3; do node_ctl start "$i"; done
	wait_linked 2 3
	wait_linked 3 2
	on 3 bg "$MASIX_BIN/msgrecv" -x 'echo "n3: $(cat) from $MSG_SENDER_NODE"' edge
	on 3 wait_name edge
	run -0 on 2 msgsend -r edge hello
	[ "$output" = "n3: hello from n2" ]
}
