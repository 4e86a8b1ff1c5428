# helpers.bash — shared by every test file: binaries, a private node per
# test, background processes killed by pid in teardown.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MASIX_BIN=${MASIX_BIN:-$TOP/bin}
MASIX_TOOLS=${MASIX_TOOLS:-$TOP/build/t}
export MASIX_BIN
NODE=$TOP/contrib/masix-node

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

# Wait until NAME is registered on the node (a receiver is up).
wait_name() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout 10 "$MASIX_TOOLS/mxtool" -R "$MASIX_RUNDIR" lookup "$1" >/dev/null
}

# Wait (15 s) until the portd of runtime directory DIR logged a link to NODE.
wait_node_linked() {
	local k
	for k in $(seq 150); do
		grep -q "node $2: linked" "$1/portd.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1: portd never linked to $2:" >&2
	cat "$1/portd.log" >&2
	return 1
}

# Sanitizer reports in a daemon's log fail the test that produced them.
check_logs() {
	local d f
	for d in ${RUNDIRS:-}; do
		for f in "$d"/*.log; do
			[ -f "$f" ] || continue
			if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$f"; then
				echo "sanitizer report in $f:" >&2
				cat "$f" >&2
				return 1
			fi
		done
	done
}

teardown() {
	local p d rc=0
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
	for d in ${RUNDIRS:-}; do
		rm -rf "$d"
	done
	return $rc
}
