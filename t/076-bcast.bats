#!/usr/bin/env bats
# portd's signed broadcast (cmd/portd/bcast.c), driven by bcastpeer in
# network namespaces: accepted packets, and every kind of drop with its log
# line (doc/protocol.md, "Broadcast packets").

load helpers
load netns

setup() {
	[ -x "$MASIX_TOOLS/bcastpeer" ] || skip "bcastpeer not built (make tools)"
	DIR=$(new_rundir)
	RUNDIRS="$DIR"
	cluster_init "$DIR/admin"
	node_init "$DIR/n1" n1 "$DIR/admin"
	node_init "$DIR/n2" n2 "$DIR/admin"
}

need_netns() {
	netns_available || skip "$NETNS_WHY"
	netns_setup "$1"
}

# peer I NODE ARGS...: bcastpeer for NODE in namespace I, in the foreground.
peer() {
	local i=$1 node=$2
	shift 2
	netns_exec "$i" timeout 30 "$MASIX_TOOLS/bcastpeer" -S "$DIR/$node/state" -N "$node" -b 10.77.0.255 "$@"
}

# peer_bg I NODE ARGS...: the same in the background, stdout in
# $DIR/NODE.out and stderr in $DIR/NODE.err; returns once it listens.
peer_bg() {
	local i=$1 node=$2
	shift 2
	netns_bg "$i" "$MASIX_TOOLS/bcastpeer" -S "$DIR/$node/state" -N "$node" -b 10.77.0.255 "$@" \
		>"$DIR/$node.out" 2>"$DIR/$node.err"
	netns_wait_listen "$i" udp 4171
}

# stop PID: stop one background peer now (teardown would do it later).
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

@test "bcast: two nodes exchange signed packets, own packets are dropped silently" {
	need_netns 2
	peer_bg 2 n2 -s 3:hello-from-n2
	run -0 --separate-stderr peer 1 n1 -s 1:hi-from-n1 -n 3 -t 10
	[ "$output" = "$(printf 'from n2 type 3: hello-from-n2\n%.0s' 1 2 3)" ]
	[ "$stderr" = "" ]
	run -0 sort -u "$DIR/n2.out"
	[ "$output" = "from n1 type 1: hi-from-n1" ]
	[ ! -s "$DIR/n2.err" ]
}

@test "bcast: -t without enough packets exits 75" {
	need_netns 2
	run -75 --separate-stderr peer 1 n1 -n 1 -t 1
	[ "$output" = "" ]
	[ "$stderr" = "bcastpeer: timeout: 0 of 1 packets" ]
}

@test "bcast: a packet from a node certified by a foreign CA is dropped and logged" {
	need_netns 3
	cluster_init "$DIR/admin2"
	node_init "$DIR/n3" n3 "$DIR/admin2"
	peer_bg 3 n3 -s 2:forged
	run -0 --separate-stderr peer 1 n1 -t 1
	[ "$output" = "" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.3:4171 (node n3): certificate: unable to get local issuer certificate" ]
}

@test "bcast: a revoked node's packets are dropped" {
	need_netns 2
	timeout 30 "$MASIX_BIN/sigtool" -d "$DIR/admin" revoke "$DIR/n2/state/node.crt" >/dev/null
	cp "$DIR/admin/revoked.crl" "$DIR/n1/state/revoked.crl"
	peer_bg 2 n2 -s 2:revoked
	run -0 --separate-stderr peer 1 n1 -t 1
	[ "$output" = "" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.2:4171 (node n2): certificate: certificate revoked" ]
}

@test "bcast: a replayed packet is dropped" {
	need_netns 2
	peer_bg 2 n2 -s 1:once -r
	run -0 --separate-stderr peer 1 n1 -t 1
	[ "$(sort -u <<<"$output")" = "from n2 type 1: once" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.2:4171 (node n2): replayed nonce" ]
}

@test "bcast: a stale timestamp is dropped, a clock 20 s off is accepted" {
	need_netns 2
	local sender
	peer_bg 2 n2 -s 1:old -T -60000
	sender=$!
	run -0 --separate-stderr peer 1 n1 -t 1
	[ "$output" = "" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.2:4171 (node n2): stale timestamp: 60 s behind our clock" ]
	stop "$sender"
	peer_bg 2 n2 -s 1:future -T 45000
	sender=$!
	run -0 --separate-stderr peer 1 n1 -t 1
	[ "$output" = "" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.2:4171 (node n2): stale timestamp: 45 s ahead of our clock" ]
	stop "$sender"
	peer_bg 2 n2 -s 1:skewed -T 20000
	run -0 --separate-stderr peer 1 n1 -n 1 -t 5
	[ "$output" = "from n2 type 1: skewed" ]
	[ "$stderr" = "" ]
}

@test "bcast: a tampered packet is dropped, drop lines are rate-limited" {
	need_netns 2
	peer_bg 2 n2 -s 2:tampered -x
	run -0 --separate-stderr peer 1 n1 -t 3
	[ "$output" = "" ]
	[ "$(sort -u <<<"$stderr")" = "bcastpeer: bcast: dropped packet from 10.77.0.2:4171 (node n2): bad signature" ]
	[ "$(wc -l <<<"$stderr")" -eq 10 ]
}

@test "bcast: a malformed datagram is dropped with its source address" {
	need_netns 2
	peer_bg 1 n1 -t 2
	echo "not a masix packet" | netns_exec 2 timeout 5 socat -u - UDP4-DATAGRAM:10.77.0.255:4171,broadcast,bind=10.77.0.2:5000
	wait_for -t 5 test -s "$DIR/n1.err"
	run -0 cat "$DIR/n1.err"
	[ "$output" = "bcastpeer: bcast: dropped packet from 10.77.0.2:5000: malformed: bad magic" ]
}

# These need neither root nor a network: the checks happen before the socket.

@test "bcast: a node key readable by others is refused" {
	chmod 0640 "$DIR/n1/state/node.key"
	run -69 --separate-stderr timeout 10 "$MASIX_TOOLS/bcastpeer" -S "$DIR/n1/state" -N n1 -b 127.0.0.1:4171
	[ "$output" = "" ]
	[ "$stderr" = "bcastpeer: Permissions 0640 for '$DIR/n1/state/node.key' are too open" ]
}

@test "bcast: a certificate of another node is refused" {
	run -69 --separate-stderr timeout 10 "$MASIX_TOOLS/bcastpeer" -S "$DIR/n1/state" -N n9 -b 127.0.0.1:4171
	[ "$output" = "" ]
	[ "$stderr" = "bcastpeer: $DIR/n1/state/node.crt: issued to node 'n1', not 'n9'" ]
}

@test "bcast: a bad broadcast address is refused" {
	run -69 --separate-stderr timeout 10 "$MASIX_TOOLS/bcastpeer" -S "$DIR/n1/state" -N n1 -b 10.77.0.255:99999
	[ "$stderr" = "bcastpeer: broadcast address '10.77.0.255:99999': bad port" ]
	run -69 --separate-stderr timeout 10 "$MASIX_TOOLS/bcastpeer" -S "$DIR/n1/state" -N n1 -b lan
	[ "$stderr" = "bcastpeer: broadcast address 'lan': not an IPv4 address" ]
}
