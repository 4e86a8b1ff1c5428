# authreg.bash — set-up shared by the files that test the admin's signed list
# at work (issue 12: t/130, t/135, t/140, t/145): a node to register on, the
# list pushed to a node, a user made for the test, the unit portd reads.
# Load after helpers (and after cluster or rogue when used):
#   load helpers; load authreg
#
#   st ARGS...                 sigtool, under timeout
#   hash_of FILE               the binary hash sigtool lists FILE with (sha256:HEX)
#   start_node [CONF_LINE...]  a node made by masix-node init: R its runtime
#                              directory (world-searchable), A its admin
#                              directory, S its state; exports MASIX_RUNDIR
#   push_list [-p] [RUNDIR [STATE]]
#                              the admin's list to a node (default R, STATE
#                              RUNDIR/state); keysrv, and with -p portd too,
#                              reloads it. The admin directory is A when set
#                              (start_node), else CLUSTER_ADMIN (cluster_start),
#                              else ADM/admin (rogue_setup): one function for
#                              the three ways the files make their nodes.
#   make_user                  a user made for the test (removed in teardown;
#                              skips when not root):
#                              TUSER, TUID
#   sink_on_1 NAME             a receiver NAME on cluster node 1 answering
#                              "SERVICE from NODE: TEXT" (SERVICE "none" when empty)
#   stop_daemon NAME [RUNDIR]  NAME (keysrv, namesrv) of node RUNDIR (default
#                              R) killed, gone, its pid file removed
#   unit_suffix                " in UNIT" when this shell's cgroup is a systemd
#                              unit, as portd reads it (refusal messages)
#   unit_field                 that UNIT, or "-" (audit lines)
#
# Where the files' own copies differed, one function takes the difference as
# a parameter: push_list's -p is t/135's reload_list (its tests check what
# portd vouches for across nodes), its RUNDIR/STATE are how t/140 and t/145
# pushed to the nodes of a cluster, its admin directory the three set-ups'.
# make_user's user is named mxu$$ in every file (mxa, mxr and mxp before).

# Under timeout: a hung sigtool fails its test instead of the whole run.
st() { timeout 20 "$MASIX_BIN/sigtool" "$@"; }
# Written as the list and the audit lines write it, so tests compare it as is.
hash_of() { st hash "$1" | cut -d' ' -f1; }

# One node of its own, not a cluster's, so the test owns its admin key and
# list; world-searchable so that a test user reaches portd.sock.
start_node() {
	R=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $R"
	A=$R/admin
	S=$R/state
	printf 'node = alpha\n' >"$R/masix.conf"
	for l in "$@"; do printf '%s\n' "$l" >>"$R/masix.conf"; done
	timeout 30 "$NODE" init "$R" >/dev/null
	MASIX_RUNDIR=$R
	export MASIX_RUNDIR
	timeout 30 "$NODE" start "$R"
	chmod 0755 "$R"
}

# Waits for the reload lines, so that the next step sees the new list; -p for
# the tests of services vouched for across nodes, which portd checks itself.
push_list() {
	local portd= r s admin k p
	if [ "${1:-}" = -p ]; then
		portd=1
		shift
	fi
	r=${1:-$R} s=${2:-${1:-$R}/state}
	admin=${A:-${CLUSTER_ADMIN:-${ADM:-}/admin}}
	cp "$admin/signatures.list" "$admin/signatures.list.sig" "$s/"
	k=$(grep -c 'keysrv: reloaded:' "$r/keysrv.log") || [ "$k" = 0 ]
	if [ -z "$portd" ]; then
		kill -HUP "$(cat "$r/keysrv.pid")"
	else
		p=$(grep -c 'services from other nodes are checked against it' "$r/portd.log") || [ "$p" = 0 ]
		kill -HUP "$(cat "$r/keysrv.pid")" "$(cat "$r/portd.pid")"
	fi
	wait_log $((k + 1)) 'keysrv: reloaded:' "$r/keysrv.log"
	[ -z "$portd" ] || wait_log $((p + 1)) 'services from other nodes are checked against it' "$r/portd.log"
}

# An unprivileged uid that no rule of a test's list names.
make_user() {
	need_root "makes a user for the test"	# a test run as a user skips, as every caller would
	TUSER=mxu$$
	useradd -M -d /nonexistent -s /bin/sh "$TUSER"
	on_teardown 'userdel "$TUSER" 2>/dev/null || true'
	TUID=$(id -u "$TUSER")
}

# For the fail-closed tests: the daemon is really gone (not just signalled)
# and masix-node's teardown does not signal a reused pid.
stop_daemon() {
	local r=${2:-$R} pid
	pid=$(cat "$r/$1.pid")
	kill "$pid"
	wait_gone "$pid"
	rm -f "$r/$1.pid"
}

# The unit of this shell's cgroup (v2, else v1's name=systemd), nothing when
# it is none: what portd puts in the identity of the test's processes.
shell_unit() {
	local v2 v1 u
	v2=$(sed -n 's/^0:://p' /proc/self/cgroup)
	v1=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
	if [ -n "$v2" ] && [ "$v2" != / ]; then u=$v2; else u=$v1; fi
	u=${u##*/}
	case $u in *.service | *.scope) echo "$u" ;; esac
}
unit_suffix() { local u; u=$(shell_unit); [ -z "$u" ] || echo " in $u"; }
unit_field() { local u; u=$(shell_unit); echo "${u:--}"; }

# What a receiver sees of a sender's service across nodes, in one line a test compares.
sink_on_1() {
	on 1 bg "$MASIX_BIN/msgrecv" -x 'echo "${MSG_SENDER_SERVICE:-none} from $MSG_SENDER_NODE: $(cat)"' "$1"
	on 1 wait_name "$1"
}
