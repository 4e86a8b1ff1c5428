# netns.bash — multi-node tests in network namespaces. Load it after
# helpers (`load helpers; load netns`):
#
#	setup() { netns_available || skip "$NETNS_WHY"; netns_setup 3; }
#
# netns_setup has the common teardown (helpers.bash) call netns_teardown.
#
# Layout made by netns_setup N: namespaces mx-ID-1 .. mx-ID-N, one per
# node, each with lo up and eth0 = 10.77.0.I/24 (broadcast 10.77.0.255),
# and a namespace mx-ID-br holding the bridge br0 and the other end of each
# node's veth pair, named vI. ID is unique per test process ($$), so test
# runs and files never share a namespace; nothing is created in the root
# namespace. IPv6 is off everywhere, so captures hold only what tests send.

NETNS_NET=10.77.0
NETNS_ID=${NETNS_ID:-$$}
NETNS_N=0
NETNS_CAPTURE_PIDS=
NETNS_WHY=
NETNS_HOOKED=

netns_name() { echo "mx-$NETNS_ID-$1"; }
netns_addr() { echo "$NETNS_NET.$1"; }

# 0 only when running as root and `ip netns add` works; NETNS_WHY says why not.
netns_available() {
	local probe="mx-$NETNS_ID-probe"
	if [ "$(id -u)" -ne 0 ]; then
		NETNS_WHY="needs root: multi-node test in network namespaces"
		return 1
	fi
	if ! command -v ip >/dev/null 2>&1; then
		NETNS_WHY="multi-node test needs ip (iproute2)"
		return 1
	fi
	if ! ip netns add "$probe" 2>/dev/null; then
		NETNS_WHY="multi-node test needs network namespaces: 'ip netns add' failed"
		return 1
	fi
	if ! ip -n "$probe" link add mxprobe0 type bridge 2>/dev/null; then
		ip netns del "$probe" 2>/dev/null || true
		NETNS_WHY="multi-node test needs bridges in network namespaces"
		return 1
	fi
	ip netns del "$probe"
	return 0
}

# netns_setup N: N node namespaces on one bridge.
netns_setup() {
	local n=$1 i ns br
	br=$(netns_name br)
	netns_teardown
	if [ -z "$NETNS_HOOKED" ]; then
		on_teardown netns_teardown
		NETNS_HOOKED=1
	fi
	NETNS_N=$n
	ip netns add "$br" || return 1
	ip netns exec "$br" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$br" link set lo up
	ip -n "$br" link add br0 type bridge || return 1
	ip -n "$br" link set br0 up
	for i in $(seq 1 "$n"); do
		ns=$(netns_name "$i")
		ip netns add "$ns" || return 1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
		ip -n "$ns" link add eth0 type veth peer name "v$i" netns "$br" || return 1
		ip -n "$ns" addr add "$(netns_addr "$i")/24" broadcast "$NETNS_NET.255" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$br" link set "v$i" master br0
		ip -n "$br" link set "v$i" up
	done
}

# netns_exec I CMD...: run CMD in node I's namespace.
netns_exec() {
	local i=$1
	shift
	ip netns exec "$(netns_name "$i")" "$@"
}

# netns_bg I CMD...: run CMD in node I's namespace in the background, its
# pid (CMD's own: ip execs it) remembered for the common teardown.
netns_bg() {
	local i=$1
	shift
	bg ip netns exec "$(netns_name "$i")" "$@" 3>&-
}

# netns_cut I / netns_restore I: unplug / replug node I's cable (its port
# on the bridge goes down: node I's eth0 loses carrier, its sockets stay).
netns_cut() { ip -n "$(netns_name br)" link set dev "v$1" down; }
netns_restore() { ip -n "$(netns_name br)" link set dev "v$1" up; }

# netns_capture I FILE: capture node I's link (its bridge port) into FILE
# (pcap, written packet by packet) until netns_capture_stop; returns once
# tcpdump listens.
netns_capture() {
	local i=$1 file=$2 pid k
	ip netns exec "$(netns_name br)" tcpdump -i "v$i" -n -U --immediate-mode -w "$file" >/dev/null 2>"$file.log" 3>&- &
	pid=$!
	NETNS_CAPTURE_PIDS="$NETNS_CAPTURE_PIDS $pid"
	wait_for -t 5 capture_started "$pid" "$file.log"
	grep -q 'listening on' "$file.log" 2>/dev/null && return 0
	echo "netns_capture: tcpdump on v$i did not start: $(cat "$file.log")" >&2
	return 1
}

# capture_started PID LOG: tcpdump PID said it listens, or died (no use waiting).
capture_started() {
	grep -q 'listening on' "$2" 2>/dev/null && return 0
	! kill -0 "$1" 2>/dev/null
}

# Stop every capture (SIGINT: tcpdump flushes and closes its file).
netns_capture_stop() {
	local p
	for p in $NETNS_CAPTURE_PIDS; do
		kill -INT "$p" 2>/dev/null || true
	done
	for p in $NETNS_CAPTURE_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	NETNS_CAPTURE_PIDS=
}

# netns_wait_listen I PROTO PORT: wait (5 s) until something in node I
# listens on PROTO (tcp or udp) PORT.
netns_wait_listen() {
	local i=$1 proto=$2 port=$3 flag=-Htln
	[ "$proto" = udp ] && flag=-Huln
	wait_for -t 5 netns_listens "$i" "$flag" "$port" && return 0
	echo "netns_wait_listen: nothing listens on $proto port $port in node $i" >&2
	return 1
}
netns_listens() { [ -n "$(netns_exec "$1" ss "$2" "sport = :$3")" ]; }

# Delete everything netns_setup made; safe to call twice. Processes still
# running in our namespaces (started by this test) are killed by pid.
netns_teardown() {
	local ns p
	netns_capture_stop
	for ns in $(ip netns list 2>/dev/null | awk -v pre="mx-$NETNS_ID-" 'index($1, pre) == 1 { print $1 }'); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$p" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS_N=0
}

# cluster_init ADMIN_DIR: a cluster admin key, CA and empty lists.
cluster_init() {
	timeout 30 "$MASIX_BIN/sigtool" -d "$1" init >/dev/null
}

# node_init DIR NODE ADMIN_DIR: DIR/masix.conf naming the node, and
# DIR/state with a node key certified by ADMIN_DIR plus the cluster's
# ca.crt and revoked.crl (masix-node init when it has it, else openssl).
node_init() {
	local dir=$1 name=$2 admin=$3 state=$1/state f
	mkdir -p "$dir"
	printf 'node = %s\n' "$name" >"$dir/masix.conf"
	if grep -q '^init)' "$TOP/contrib/masix-node" 2>/dev/null; then
		timeout 30 "$TOP/contrib/masix-node" init "$dir" "$admin" >/dev/null
		return
	fi
	mkdir -p -m 0700 "$state" || return 1
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$state/node.key" 2>/dev/null) || return 1
	chmod 0600 "$state/node.key"
	openssl req -new -key "$state/node.key" -subj "/CN=$name" -out "$state/node.csr" || return 1
	timeout 30 "$MASIX_BIN/sigtool" -d "$admin" certify -o "$state/node.crt" "$state/node.csr" || return 1
	for f in ca.crt revoked.crl; do
		if [ -f "$admin/$f" ]; then
			cp "$admin/$f" "$state/$f" && chmod 0644 "$state/$f" || return 1
		fi
	done
}
