# cluster.bash — several nodes linked over TLS by static peers: each in its
# own network namespace on one bridge when root (netns.bash), on loopback
# ports otherwise (or with MASIX_TEST_LOOPBACK=1). Load after helpers:
#   load helpers; load cluster
# The common teardown (helpers.bash) deletes the namespaces (netns_setup
# registers netns_teardown); cluster_teardown does it at once.
#
#   cluster_start N [CONF_LINE...]   nodes n1..nN, each certified by one admin
#                                    dir, full mesh of static peers; returns once
#                                    every node is linked to every other
#   on I CMD...                      run CMD with node I's runtime directory
#   net_on I CMD...                  run CMD on node I's network (its namespace)
#   node_ctl start|stop I            masix-node for node I, in its namespace
#   NODE_DIR[I]                      runtime directory of node I
#   NODE_HOST[I], NODE_PORT[I]       address and port node I listens on
#   CLUSTER_NETNS                    1 when the nodes are in namespaces
#   CLUSTER_ADMIN                    the admin directory that certified them

source "$BATS_TEST_DIRNAME/netns.bash"

declare -a NODE_DIR NODE_HOST NODE_PORT
CLUSTER_NETNS=
CLUSTER_ADMIN=

on() {
	local i=$1
	shift
	MASIX_RUNDIR=${NODE_DIR[$i]} "$@"
}

net_on() {
	local i=$1
	shift
	if [ -n "$CLUSTER_NETNS" ]; then
		netns_exec "$i" "$@"
	else
		"$@"
	fi
}

node_ctl() {
	net_on "$2" timeout 30 "$NODE" "$1" "${NODE_DIR[$2]}"
}

cluster_start() {
	local n=$1 i j d admin
	shift
	if [ -z "${MASIX_TEST_LOOPBACK:-}" ] && netns_available; then
		CLUSTER_NETNS=1
		netns_setup "$n" || return 1
	fi
	admin=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $admin"
	timeout 30 "$MASIX_BIN/sigtool" -d "$admin/admin" init >/dev/null || return 1
	CLUSTER_ADMIN=$admin/admin
	for i in $(seq "$n"); do
		NODE_DIR[$i]=$(new_rundir)
		if [ -n "$CLUSTER_NETNS" ]; then
			NODE_HOST[$i]=$(netns_addr "$i")
			NODE_PORT[$i]=4170
		else
			NODE_HOST[$i]=127.0.0.1
			NODE_PORT[$i]=$(free_port)
		fi
		RUNDIRS="$RUNDIRS ${NODE_DIR[$i]}"
	done
	for i in $(seq "$n"); do
		d=${NODE_DIR[$i]}
		{
			echo "node = n$i"
			echo "listen = ${NODE_HOST[$i]}:${NODE_PORT[$i]}"
			for j in $(seq "$n"); do
				[ "$j" -eq "$i" ] || echo "peer = ${NODE_HOST[$j]}:${NODE_PORT[$j]}"
			done
			echo "broadcast = off"
			echo "node_timeout = 2000"
			for line in "$@"; do echo "$line"; done
		} >"$d/masix.conf"
		timeout 30 "$NODE" init "$d" "$admin/admin" >/dev/null || return 1
	done
	for i in $(seq "$n"); do
		node_ctl start "$i" || return 1
	done
	for i in $(seq "$n"); do
		for j in $(seq "$n"); do
			[ "$j" -eq "$i" ] && continue
			wait_linked "$i" "$j" || return 1
		done
	done
}

cluster_teardown() {
	[ -z "$CLUSTER_NETNS" ] || netns_teardown
}

# Wait until node I's portd logged a link to node J.
wait_linked() { wait_node_linked "${NODE_DIR[$1]}" "n$2"; }
