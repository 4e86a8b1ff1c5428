#!/usr/bin/env bats
# A member node gone bad: t/tools/roguenode, a TLS link peer with a valid
# certificate of the cluster, sends forged link frames to a real node
# (loopback ports, root or not). Each attack of doc/protocol.md, "What a
# member node can do", is refused, logged (throttled) and leaves the node
# serving everyone else.

load helpers
load netns
load rogue

setup() { rogue_setup; }

@test "rogue: a forged DEAD_NAME is refused; the name survives and the real server answers" {
	bg msgrecv -x 'echo real answer' svc/bank
	wait_name svc/bank
	# namesrv's notification port and the server's name there are small
	# numbers: try them all, as an attacker would.
	local args=() n
	for n in $(seq 1 40); do args+=(-e "msg 1-40 msgid=dead_name int=$n"); done
	run -0 --separate-stderr rogue "${args[@]}" -e sync
	[ "$output" = "up n1
here $PORT
acked 1600: PERM 1600" ]
	[ "$stderr" = "" ]
	run -0 msgsend -r svc/bank hello
	[ "$output" = "real answer" ]
	# One line per refused frame, throttled: 10, then a count.
	[ "$(grep -c 'node rogue: message id 0x7fff0002 refused: kernel message ids come only from portd' "$N1/portd.log")" -eq 10 ]
}

@test "rogue: a forged network answer to namesrv's NAME port (a kernel message id) is refused" {
	run -0 --separate-stderr rogue -e 'special 1' -e 'msg $special msgid=net_answer str=svc/bank str=rogue' -e sync
	[[ "${lines[2]}" =~ ^"special ok "[0-9]+$ ]]
	[ "${lines[3]}" = "acked 1: PERM 1" ]
	grep -q "portd: node rogue: message id 0x7fff0011 refused: kernel message ids come only from portd" "$N1/portd.log"
}

@test "rogue: an unknown frame type closes the rogue's link, logged; the node serves on" {
	bg msgrecv -x 'echo fine' svc/ok
	wait_name svc/ok
	run -69 --separate-stderr rogue -e 'raw 50 00' -e 'sleep 5000'
	[ "${lines[0]}" = "up n1" ]
	[[ "${lines[-1]}" =~ ^"down n1: " ]]
	grep -q "portd: node rogue: unknown frame type 50: closing the link" "$N1/portd.log"
	run -0 msgsend -r svc/ok hi
	[ "$output" = "fine" ]
}

@test "rogue: a remote trailer keeps what the node vouches for (uid, gid, pid), never a service name" {
	bg msgrecv -n 1 -x 'echo "uid=$MSG_SENDER_UID gid=$MSG_SENDER_GID pid=$MSG_SENDER_PID node=$MSG_SENDER_NODE service=${MSG_SENDER_SERVICE-unset}"' \
	    svc/echo >"$BATS_TEST_TMPDIR/recv.out"
	local recv=$!
	wait_name svc/echo
	# The name's answer carries a right to svc/echo to the rogue: it may send there.
	run -0 --separate-stderr rogue -e 'query svc/echo' -e 'wait answer 1' \
	    -e 'msg $answer uid=0 gid=0 pid=1 node=n1 service=admin/console str=hi' -e sync
	[ "${lines[0]}" = "up n1" ]
	# ... with who registered it, as n1 vouches for it (doc/protocol.md, LF_ANSWER).
	[[ "${lines[2]}" =~ ^"answer svc/echo n1:"[0-9]+" uid=$(id -u) gid=$(id -g) hash unit="[^\ ]+$ ]]
	[ "${lines[3]}" = "acked 1: ok 1" ]
	wait "$recv"
	[ "$(cat "$BATS_TEST_TMPDIR/recv.out")" = "uid=0 gid=0 pid=1 node=rogue service=unset" ]
}

@test "rogue: global ids naming any node leave the node records bounded, and the node serving" {
	bg msgrecv -x 'echo still here' svc/live
	wait_name svc/live
	# namesrv's NAME port (a special port a member may ask for) takes the
	# rights and gives them back: 20000 new node names, then names no node
	# may have ("bad/name", "-lead", 255 x's, "").
	# Under ASan the invariant checker walks every right after each request:
	# 2,500 names still pass the cap of 1024, 25,000 would take minutes.
	local valid=40 invalid=10
	[ -z "${MASIX_ASAN:-}" ] || { valid=4; invalid=1; }
	run -0 --separate-stderr rogue -e 'special 1' -e "msg \$special rights=500 count=$valid" \
	    -e "msg \$special rights=500 count=$invalid names=invalid" -e sync
	[ "${lines[3]}" = "acked $((valid + invalid)): ok $((valid + invalid))" ]
	grep -q 'node records: 1024 in use, none unused: node .r[0-9a-f]*. taken as gone' "$N1/portd.log"
	# Once namesrv let go of them, the next new name frees the unused records
	# (a sweep at most once a second).
	wait_for -t 10 sh -c "timeout 10 '$MASIX_TOOLS/roguenode' -S '$RG/state' -N rogue -c 'n1@127.0.0.1:$PORT' \
	    -e 'special 1' -e 'msg \$special rights=1' -e sync >/dev/null &&
	    grep -Eq 'node records: [1-9][0-9]* unused freed, [0-9]+ in use \\(at most 1024\\)' '$N1/portd.log'"
	# Never more than the cap in use.
	run -0 sed -nE 's/.*node records: [0-9]+ unused freed, ([0-9]+) in use.*/\1/p' "$N1/portd.log"
	local n
	for n in "${lines[@]}"; do [ "$n" -le 1024 ]; done
	run -0 msgsend -r svc/live hi
	[ "$output" = "still here" ]
}

@test "rogue: LF_NODES cannot aim the node: numeric addresses only, a few one-shot peers, dials rate-limited" {
	local lport
	lport=$(free_port)
	bg "$MASIX_TOOLS/roguenode" -L "127.0.0.1:$lport" -t 6 >"$BATS_TEST_TMPDIR/count.out"
	local counter=$!
	wait_for grep -q listening "$BATS_TEST_TMPDIR/count.out"
	run -0 --separate-stderr rogue -e "nodes 100 127.0.0.1:$lport" -e "nodes 3 localhost:$lport named"
	[ "$output" = "up n1
here $PORT" ]
	wait "$counter"
	# At most ONESHOT_MAX (8) one-shot peers, 3 attempts each.
	run -0 sed -n 's/^connections //p' "$BATS_TEST_TMPDIR/count.out"
	[ "$output" -ge 1 ]
	[ "$output" -le 24 ]
	grep -q "portd: link to node ghost9 at 127.0.0.1:$lport: not dialled: 8 nodes being dialled already" "$N1/portd.log"
	# The lines a peer triggers are throttled: 10 per 10 s.
	[ "$(grep -c 'not dialled' "$N1/portd.log")" -le 10 ]
}

@test "rogue: a node's messages are charged to its own budget (node_queued_mib); others go on" {
	timeout 30 "$NODE" stop "$N1"
	echo "node_queued_mib = 8" >>"$N1/masix.conf"
	timeout 30 "$NODE" start "$N1"
	bg msgrecv -x 'sleep 30' svc/slow
	wait_name svc/slow
	run -0 --separate-stderr rogue -e 'query svc/slow' -e 'wait answer 1' -e 'msg $answer size=1048576 count=20' -e sync
	[[ "${lines[3]}" =~ ^"acked 20: ok "[78]" BUDGET 1"[23]$ ]]
	grep -q "portd: node rogue: over budget: queued bytes 8 MiB (node_queued_mib)" "$N1/portd.log"
	[ "$(grep -c 'over budget' "$N1/portd.log")" -le 10 ]
	# A local sender is charged to its uid, not to the node.
	run -0 msgsend svc/slow local
}

@test "rogue: a configured peer's host name is resolved off the event loop" {
	local d2 p2
	getent hosts localhost >/dev/null || skip "the name localhost does not resolve here (no /etc/hosts)"
	d2=$(new_rundir)
	RUNDIRS="$RUNDIRS $d2"
	p2=$(free_port)
	# n2 listens on every address, so localhost reaches it as ::1 or 127.0.0.1.
	printf '%s\n' "node = n2" "listen = :$p2" "broadcast = off" >"$d2/masix.conf"
	timeout 30 "$NODE" init "$d2" "$ADM/admin" >/dev/null
	timeout 30 "$NODE" start "$d2"
	timeout 30 "$NODE" stop "$N1"
	echo "peer = localhost:$p2" >>"$N1/masix.conf"
	timeout 30 "$NODE" start "$N1"
	wait_node_linked "$N1" n2
	wait_node_linked "$d2" n1
}

# bcast_setup: namespaces 1..3; n1, a real node broadcasting in namespace 1
# ($B/n1, svc/x registered there), state directories for the rogue and for
# an honest n3. The broadcast tests need root (network namespaces).
bcast_setup() {
	netns_available || skip "$NETNS_WHY"
	netns_setup 3
	B=$(new_rundir)
	RUNDIRS="$RUNDIRS $B/n1 $B"
	node_init "$B/n1" n1 "$ADM/admin"
	node_init "$B/rogue" rogue "$ADM/admin"
	node_init "$B/n3" n3 "$ADM/admin"
	printf '%s\n' "broadcast = 10.77.0.255" "listen = 10.77.0.1:4170" >>"$B/n1/masix.conf"
	netns_exec 1 timeout 30 "$NODE" start "$B/n1"
	MASIX_RUNDIR=$B/n1 bg msgrecv -x 'echo hi' svc/x
	MASIX_RUNDIR=$B/n1 wait_name svc/x
}

# bpeer I NODE ARGS...: bcastpeer as NODE in namespace I.
bpeer() {
	local i=$1 node=$2
	shift 2
	netns_exec "$i" timeout 60 "$MASIX_TOOLS/bcastpeer" -S "$B/$node/state" -N "$node" -b 10.77.0.255 "$@"
}

@test "rogue: one member's flood of signed broadcasts does not silence another node" {
	bcast_setup
	run -0 bpeer 2 rogue -F 20000 -s 9:flood
	[ "$output" = "sent 20000" ]
	# n3 asks who has svc/x: n1 takes the question and answers by broadcast.
	run -0 --separate-stderr bpeer 3 n3 -s $'2:\x05svc/x' -t 4
	grep -aq '^from n1 type 3: ' <<<"$output"
	grep -q "portd: bcast: dropped packet from 10.77.0.2:4171: over the rate of 50 packets a second from one address" \
	    "$B/n1/portd.log"
	[ "$(grep -c 'bcast: dropped packet' "$B/n1/portd.log")" -le 10 ]
}

@test "rogue: forged signatures under a member's real certificate keep portd's CPU low" {
	bcast_setup
	local pid t0 t1
	pid=$(cat "$B/n1/portd.pid")
	t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	run -0 bpeer 2 rogue -F 20000 -X -s 9:forged
	[ "$output" = "sent 20000" ]
	# portd has read them all once its socket is empty.
	wait_for netns_exec 1 sh -c '[ "$(ss -Huln "sport = :4171" | awk "{ print \$2 }")" = 0 ]'
	t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	# 20000 forged packets: under a second of CPU (clock ticks of 1/100 s).
	[ $((t1 - t0)) -lt 100 ]
	[ "$(grep -c 'bcast: dropped packet' "$B/n1/portd.log")" -le 10 ]
	grep -Eq "bcast: dropped packet from 10.77.0.2:4171 (\(node rogue\): bad signature|: over the rate)" "$B/n1/portd.log"
}

@test "rogue: a member's announcements are cached up to names_per_node, logged once; another's still are" {
	"$NODE" stop "$N1" >/dev/null
	echo "names_per_node = 5" >>"$N1/masix.conf"
	"$NODE" start "$N1" >/dev/null
	# (not "i": bats' run -N sets it in the caller)
	local args=() k
	for k in $(seq 1 8); do args+=(-e "answer rogue/n$k $k"); done
	# The rogue stays linked: its link going down would drop what it announced.
	bg rogue "${args[@]}" -e 'sleep 20000'
	wait_log 1 "namesrv: over budget: node rogue cached names 5" "$N1/namesrv.log"
	for k in 1 2 3 4 5; do
		run -0 mxtool resolve "rogue/n$k"
		[ "$output" = "rogue/n$k is registered" ]
	done
	for k in 6 7 8; do
		run -69 mxtool resolve "rogue/n$k"
		[ "$output" = "rogue/n$k: no such name" ]
	done
	[ "$(grep -c 'over budget: node rogue' "$N1/namesrv.log")" -le 3 ]
	# Local registrations are not the rogue's to fill.
	bg msgrecv -x 'echo local' svc/local
	wait_name svc/local
	run -0 msgsend -r svc/local hi
	[ "$output" = "local" ]
}
