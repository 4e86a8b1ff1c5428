# cluster.bash — several nodes on this machine, linked over loopback TLS by
# static peers (no root needed). Load after helpers:  load helpers; load cluster
#
#   cluster_start N [CONF_LINE...]   nodes n1..nN, each certified by one admin
#                                    dir, full mesh of static peers; returns once
#                                    every node is linked to every other
#   on I CMD...                      run CMD with node I's runtime directory
#   NODE_DIR[I], NODE_PORT[I]        runtime directory and link port of node I

declare -a NODE_DIR NODE_PORT

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

cluster_start() {
	local n=$1 i j d admin
	shift
	admin=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $admin"
	timeout 30 "$MASIX_BIN/sigtool" -d "$admin/admin" init >/dev/null || return 1
	for i in $(seq "$n"); do
		NODE_DIR[$i]=$(new_rundir)
		NODE_PORT[$i]=$(free_port)
		RUNDIRS="$RUNDIRS ${NODE_DIR[$i]}"
	done
	for i in $(seq "$n"); do
		d=${NODE_DIR[$i]}
		{
			echo "node = n$i"
			echo "listen = 127.0.0.1:${NODE_PORT[$i]}"
			for j in $(seq "$n"); do
				[ "$j" -eq "$i" ] || echo "peer = 127.0.0.1:${NODE_PORT[$j]}"
			done
			echo "node_timeout = 2000"
			for line in "$@"; do echo "$line"; done
		} >"$d/masix.conf"
		timeout 30 "$NODE" init "$d" "$admin/admin" >/dev/null || return 1
	done
	for i in $(seq "$n"); do
		timeout 30 "$NODE" start "${NODE_DIR[$i]}" || return 1
	done
	for i in $(seq "$n"); do
		for j in $(seq "$n"); do
			[ "$j" -eq "$i" ] && continue
			wait_linked "$i" "$j" || return 1
		done
	done
}

# Wait until node I's portd logged a link to node J.
wait_linked() {
	local k
	for k in $(seq 100); do
		grep -q "node n$2: linked" "${NODE_DIR[$1]}/portd.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "node n$1 never linked to n$2:" >&2
	cat "${NODE_DIR[$1]}/portd.log" >&2
	return 1
}

on() {
	local i=$1
	shift
	MASIX_RUNDIR=${NODE_DIR[$i]} "$@"
}
