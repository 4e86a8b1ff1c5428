#!/usr/bin/env bats
# A member node gone bad: t/tools/roguenode, a TLS link peer with a valid
# certificate of the cluster, sends forged link frames to a real node
# (loopback ports, root or not). Each attack of doc/protocol.md, "What a
# member node can do", is refused, logged (throttled) and leaves the node
# serving everyone else.

load helpers

setup() {
	[ -x "$MASIX_TOOLS/roguenode" ] || skip "roguenode not built (make tools)"
	ADM=$(new_rundir)
	N1=$(new_rundir)
	RG=$(new_rundir)
	RUNDIRS="$ADM $N1 $RG"
	PORT=$(free_port)
	timeout 30 "$MASIX_BIN/sigtool" -d "$ADM/admin" init >/dev/null
	printf '%s\n' "node = n1" "listen = 127.0.0.1:$PORT" "broadcast = off" "node_timeout = 2000" \
	    >"$N1/masix.conf"
	echo "node = rogue" >"$RG/masix.conf"
	timeout 30 "$NODE" init "$N1" "$ADM/admin" >/dev/null
	timeout 30 "$NODE" init "$RG" "$ADM/admin" >/dev/null
	timeout 30 "$NODE" start "$N1"
	export MASIX_RUNDIR=$N1
}

# rogue ARGS...: roguenode as member node "rogue", linked to n1.
rogue() {
	timeout 60 "$MASIX_TOOLS/roguenode" -S "$RG/state" -N rogue -c "n1@127.0.0.1:$PORT" "$@"
}

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
