#!/usr/bin/env bats
# The multi-node harness itself (t/netns.bash): namespaces on one bridge,
# unicast and broadcast between them, a cut link, a capture.

load helpers
load netns

setup() {
	netns_available || skip "$NETNS_WHY"
	command -v socat >/dev/null || skip "needs socat (contrib/deps)"
	command -v tcpdump >/dev/null || skip "needs tcpdump (contrib/deps)"
	DIR=$(new_rundir)
	RUNDIRS="$DIR"
	netns_setup 3
}

# A TCP listener in node I appending what it receives to $DIR/tcp.I.
listen_tcp() {
	netns_bg "$1" socat -u TCP-LISTEN:7000,reuseaddr,fork "OPEN:$DIR/tcp.$1,creat,append"
	netns_wait_listen "$1" tcp 7000
}

# send_tcp I J TEXT: one connection from node I to node J's listener.
send_tcp() {
	netns_exec "$1" timeout 5 bash -c 'echo "$2" >"/dev/tcp/$1/7000"' _ "$(netns_addr "$2")" "$3"
}

# wait_lines FILE N: wait (5 s) until FILE has N lines.
has_lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_lines() { wait_for -t 5 has_lines "$1" "$2"; }

@test "netns: three namespaces with their own addresses, lo up" {
	local n	# not i: bats' run clobbers it
	for n in 1 2 3; do
		run -0 netns_exec "$n" ip -4 -o addr show dev eth0
		[[ "$output" == *"inet 10.77.0.$n/24 brd 10.77.0.255 "* ]]
		run -0 netns_exec "$n" ip -o link show dev lo
		[[ "$output" == *"<LOOPBACK,UP,LOWER_UP>"* ]]
	done
	run -0 ip netns list
	[[ "$output" == *"mx-$NETNS_ID-1"* && "$output" == *"mx-$NETNS_ID-3"* && "$output" == *"mx-$NETNS_ID-br"* ]]
}

@test "netns: every node reaches every other over TCP" {
	local i j
	for j in 1 2 3; do listen_tcp "$j"; done
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] || send_tcp "$i" "$j" "from $i"
		done
	done
	for j in 1 2 3; do wait_lines "$DIR/tcp.$j" 2; done
	run -0 sort "$DIR/tcp.1"
	[ "$output" = "$(printf 'from 2\nfrom 3')" ]
	run -0 sort "$DIR/tcp.2"
	[ "$output" = "$(printf 'from 1\nfrom 3')" ]
	run -0 sort "$DIR/tcp.3"
	[ "$output" = "$(printf 'from 1\nfrom 2')" ]
}

@test "netns: a broadcast datagram from node 1 reaches nodes 2 and 3" {
	local j
	for j in 2 3; do
		netns_bg "$j" socat -u UDP4-RECV:7001 "OPEN:$DIR/udp.$j,creat,append"
		netns_wait_listen "$j" udp 7001
	done
	echo "hello everyone" | netns_exec 1 timeout 5 socat -u - UDP4-DATAGRAM:10.77.0.255:7001,broadcast
	for j in 2 3; do
		wait_lines "$DIR/udp.$j" 1
		run -0 cat "$DIR/udp.$j"
		[ "$output" = "hello everyone" ]
	done
}

@test "netns: a cut link stops traffic, restoring it brings it back" {
	listen_tcp 2
	send_tcp 1 2 "before"
	netns_cut 2
	run -0 netns_exec 2 ip -o link show dev eth0
	[[ "$output" == *"NO-CARRIER"* ]]
	run -124 netns_exec 1 timeout 2 bash -c 'echo during >/dev/tcp/10.77.0.2/7000'
	netns_restore 2
	wait_for -t 5 netns_exec 1 timeout 2 bash -c 'echo after >/dev/tcp/10.77.0.2/7000'
	wait_lines "$DIR/tcp.2" 2
	run -0 cat "$DIR/tcp.2"
	[ "$output" = "$(printf 'before\nafter')" ]
}

@test "netns: tcpdump captures node 1's traffic" {
	netns_bg 2 socat -u UDP4-RECV:40002 "OPEN:$DIR/udp.2,creat,append"
	netns_wait_listen 2 udp 40002
	netns_capture 1 "$DIR/n1.pcap"
	echo "marker" | netns_exec 1 timeout 5 socat -u - UDP4-DATAGRAM:10.77.0.2:40002,bind=10.77.0.1:40003
	wait_lines "$DIR/udp.2" 1
	netns_capture_stop
	run -0 --separate-stderr tcpdump -n -t -q -r "$DIR/n1.pcap" 'udp and dst port 40002'
	[ "$output" = "IP 10.77.0.1.40003 > 10.77.0.2.40002: UDP, length 7" ]
}

@test "netns: teardown deletes every namespace it made" {
	netns_teardown
	run -0 ip netns list
	[[ "$output" != *"mx-$NETNS_ID-"* ]]
	netns_teardown
}
