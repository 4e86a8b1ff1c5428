# rogue.bash — node n1 on a loopback port and a member node gone bad
# (t/tools/roguenode) linked to it, for t/120 and t/125.
#
#   rogue_setup    n1 started (MASIX_RUNDIR), the state of member "rogue" made;
#                  ADM, N1, RG: their directories; PORT: n1's link port
#   rogue ARGS...  roguenode as member "rogue", linked to n1

rogue_setup() {
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

rogue() {
	timeout 60 "$MASIX_TOOLS/roguenode" -S "$RG/state" -N rogue -c "n1@127.0.0.1:$PORT" "$@"
}
