# helpers.bash — the one helper library of the bats suite. Every test file
# starts with `load helpers` and uses its teardown.
#
# Running tests (from any directory, as root or as a normal user):
#
#   make check                          build, then the whole suite
#   make -j2 all tools                  build only; then, from the checkout:
#   MASIX_BIN=$PWD/bin MASIX_TOOLS=$PWD/build/t bats t/040-msgsend.bats
#                                       one file
#   ... bats -f 'full queue' t/040-msgsend.bats
#                                       the tests of a file whose name matches
#   ... bats -x --verbose-run --show-output-of-passing-tests t/020-namesrv.bats
#                                       trace every command of each test
#   make check-asan                     the whole suite under ASan/UBSan;
#                                       after it, one file the same way:
#   ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
#     MASIX_BIN=$PWD/build/asan/bin MASIX_TOOLS=$PWD/build/asan/t bats t/040-msgsend.bats
#
# A failing test prints the command that failed, its file and line, and what
# the test wrote to stderr. The daemons log to their runtime directory
# (DIR/portd.log, ...), which teardown removes; with MASIX_TEST_KEEP=1 it
# keeps them (the daemons stopped) and prints their names.
#
# MASIX_BIN (programs) and MASIX_TOOLS (test drivers from t/tools/) default to
# the checkout's bin/ and build/t/. Without root, the tests that need it
# skip, saying why ("needs root: ..."); so do the multi-node tests that need
# network namespaces (t/080 then runs its nodes on loopback ports).
#
# The suite never uses the caller's runtime directory: MASIX_RUNDIR and
# XDG_RUNTIME_DIR are unset here, and each test makes its own directories
# with mktemp (new_rundir, node_start), so it runs the same with or without
# XDG_RUNTIME_DIR and never touches a node of the user's.
#
# Multi-node files load more after this one: `load helpers; load netns`
# (network namespaces, root only) or `load helpers; load cluster` (linked
# nodes, in namespaces when root, on loopback ports otherwise).
#
# API
#   node_start                 a node (portd, namesrv, keysrv) in a new runtime
#                              directory, ready; sets and exports MASIX_RUNDIR
#   new_rundir                 print a new private directory (mktemp, short
#                              path: Unix socket paths hold 107 bytes); add it
#                              to RUNDIRS to have teardown stop its node,
#                              check its logs and remove it
#   bg CMD...                  run CMD in the background; teardown kills it
#                              by pid (the pid is the last word of BG_PIDS)
#   mxtool ARGS...             t/tools/mxtool on $MASIX_RUNDIR
#   msgsend / msgrecv ARGS...  the programs under test, under timeout
#   wait_for [-t SECS] [!] CMD...
#                              run CMD until it succeeds (with !: fails),
#                              10 s at most by default; on timeout fail,
#                              naming CMD and showing its last output
#   wait_name NAME             until NAME is registered on $MASIX_RUNDIR's node
#   wait_node_linked DIR NODE  until the portd of DIR logged a link to NODE
#   wait_log N TEXT FILE       until FILE holds N lines containing TEXT
#   pid_alive PID              0 while PID runs (a zombie counts as gone)
#   wait_gone PID              until PID has exited
#   free_port                  print a TCP port nobody uses, outside the
#                              ephemeral range, not handed out before in this run
#   need_root WHY              skip the test with "needs root: WHY" unless root
#   world_copy FILE...         print a new world-readable directory (removed in
#                              teardown) holding copies of FILE...: for a
#                              program a test runs as another uid, since the
#                              checkout may be in a 0700 home
#   on_teardown CMD            have teardown run CMD (a string, evaluated
#                              then: quote it to expand later), last
#                              registered first; a failing CMD fails the test
#   no_sanitizer_report FILE...  fail, showing it, if a FILE holds an
#                              ASan/UBSan report
#   check_logs                 no_sanitizer_report on the RUNDIRS' *.log
#   teardown                   the common teardown: kill BG_PIDS, stop the
#                              nodes of RUNDIRS, check their logs, run the
#                              on_teardown commands, remove RUNDIRS (unless
#                              MASIX_TEST_KEEP is set). Files do
#                              not define their own: they register with
#                              on_teardown.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MASIX_BIN=${MASIX_BIN:-$TOP/bin}
MASIX_TOOLS=${MASIX_TOOLS:-$TOP/build/t}
# Absolute: some tests change directory.
[ ! -d "$MASIX_BIN" ] || MASIX_BIN=$(cd "$MASIX_BIN" && pwd)
[ ! -d "$MASIX_TOOLS" ] || MASIX_TOOLS=$(cd "$MASIX_TOOLS" && pwd)
export MASIX_BIN MASIX_TOOLS
NODE=$TOP/contrib/masix-node
unset MASIX_RUNDIR XDG_RUNTIME_DIR
TEARDOWN_HOOKS=()

# Short runtime directories: Unix socket paths are limited to 107 bytes.
new_rundir() {
	mktemp -d /tmp/mx.XXXXXX
}

# Start a node in a fresh runtime directory; sets and exports MASIX_RUNDIR.
node_start() {
	MASIX_RUNDIR=$(new_rundir)
	export MASIX_RUNDIR
	RUNDIRS="${RUNDIRS:-} $MASIX_RUNDIR"
	timeout 30 "$NODE" start "$MASIX_RUNDIR"
}

# Run a command in the background; remember its pid for teardown.
bg() {
	"$@" &
	BG_PIDS="${BG_PIDS:-} $!"
}

mxtool() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 30 "$MASIX_TOOLS/mxtool" -R "$MASIX_RUNDIR" "$@"
}

msgsend() { timeout 30 "$MASIX_BIN/msgsend" "$@"; }
msgrecv() { timeout 30 "$MASIX_BIN/msgrecv" "$@"; }

# wait_for [-t SECS] [!] CMD...: run CMD every 0.05 s until it succeeds (with
# !: until it fails), for SECS (default 10, fractions allowed) at most. On
# timeout, print what was waited for and CMD's last output on stderr, and
# return 1. CMD runs in a subshell: it cannot set variables. (A bare number
# first, `wait_for 5 CMD`, is read as -t 5.)
wait_for() {
	local secs=10 neg= end frac out rc
	if [ "${1:-}" = -t ]; then
		secs=$2
		shift 2
	elif [[ $# -gt 1 && $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
		secs=$1
		shift
	fi
	if [ "${1:-}" = "!" ]; then
		neg=1
		shift
	fi
	if [ $# -eq 0 ]; then
		echo "wait_for: no condition given" >&2
		return 2
	fi
	# Deadline in microseconds (bash arithmetic: awk's %d may stop at 2^31).
	frac=
	[[ $secs != *.* ]] || frac=${secs#*.}
	frac=${frac}000000
	end=$((${EPOCHREALTIME//[!0-9]/} + 10#${secs%%.*} * 1000000 + 10#${frac:0:6}))
	while :; do
		rc=0
		out=$("$@" 2>&1) || rc=$?
		if [ -z "$neg" ]; then [ "$rc" -eq 0 ] && return 0; else [ "$rc" -ne 0 ] && return 0; fi
		[ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ] || break
		sleep 0.05
	done
	echo "wait_for: timed out after $secs s waiting for: ${neg:+! }$*" >&2
	[ -z "$out" ] || printf 'its last output: %s\n' "$out" >&2
	return 1
}

# Wait until NAME is registered on the node (a receiver is up).
wait_name() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout 10 "$MASIX_TOOLS/mxtool" -R "$MASIX_RUNDIR" lookup "$1" >/dev/null
}

# wait_log N TEXT FILE: until FILE holds N lines (or more) containing TEXT.
log_has() { [ "$(grep -cF -- "$2" "$3" 2>/dev/null)" -ge "$1" ]; }
wait_log() {
	wait_for -t 10 log_has "$@" && return 0
	echo "$3:" >&2
	cat "$3" >&2
	return 1
}

# Wait (15 s) until the portd of runtime directory DIR logged a link to NODE.
wait_node_linked() {
	wait_for -t 15 grep -q "node $2: linked" "$1/portd.log" && return 0
	echo "$1: portd never linked to $2:" >&2
	cat "$1/portd.log" >&2
	return 1
}

# 0 while PID runs. An exited process not yet reaped (a daemon whose parent
# is gone waits for PID 1) is a zombie: gone for us.
pid_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	case $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) in
	Z | X | '') return 1 ;;
	esac
}
wait_gone() { wait_for ! pid_alive "$1"; }

# A TCP port from a high random range that nobody listens on (here).
# Ports come from below the kernel's ephemeral range, so no outgoing
# connection (a link dial, a client) can be holding one when a node binds it,
# and each is handed out once per bats run (a mkdir claims it).
free_port() {
	local lo hi p
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	if [ "$lo" -gt 11000 ]; then lo=$((lo - 10000)) hi=10000
	else hi=$((65535 - hi)) lo=$((65536 - hi)); fi
	while :; do
		p=$((lo + RANDOM % hi))
		mkdir "${BATS_RUN_TMPDIR:-/tmp}/port.$p" 2>/dev/null || continue
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: $*"
}

# Called as $(world_copy ...): a subshell, so teardown finds the copies by
# their prefix (this test's) rather than through on_teardown, which would be lost.
world_prefix() { echo "/tmp/mxw.${BATS_RUN_TMPDIR##*/}.${BATS_TEST_NUMBER:-0}."; }

world_copy() {
	local d
	d=$(mktemp -d "$(world_prefix)XXXXXX") || return 1
	cp "$@" "$d/" || return 1
	chmod 0755 "$d"
	chmod a+rX "$d"/*
	echo "$d"
}

on_teardown() {
	TEARDOWN_HOOKS+=("$*")
}

# Sanitizer reports in a log fail the test that produced them.
no_sanitizer_report() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$f"; then
			echo "sanitizer report in $f:" >&2
			cat "$f" >&2
			return 1
		fi
	done
}

check_logs() {
	local d
	for d in ${RUNDIRS:-}; do
		no_sanitizer_report "$d"/*.log || return 1
	done
}

teardown() {
	local p d i rc=0
	for p in ${BG_PIDS:-}; do
		kill "$p" 2>/dev/null || true
	done
	for p in ${BG_PIDS:-}; do
		wait "$p" 2>/dev/null || true
	done
	for d in ${RUNDIRS:-}; do
		timeout 30 "$NODE" stop "$d" >/dev/null 2>&1 || true
	done
	check_logs || rc=1
	for ((i = ${#TEARDOWN_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${TEARDOWN_HOOKS[i]}" || {
			echo "teardown: failed: ${TEARDOWN_HOOKS[i]}" >&2
			rc=1
		}
	done
	TEARDOWN_HOOKS=()
	rm -rf "$(world_prefix)"*
	for d in ${RUNDIRS:-}; do
		if [ -n "${MASIX_TEST_KEEP:-}" ]; then
			echo "# kept $d" >&3
		else
			rm -rf "$d"
		fi
	done
	return $rc
}
