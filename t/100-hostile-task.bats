#!/usr/bin/env bats
# A hostile local user against a root-run node (issue 10): each attack runs
# as a user made for the test, with small budgets in masix.conf so that the
# budgets, not the machine, stop it. portd must survive, stay within the
# budget plus slack, answer root's echo requests during and after, and
# refuse the attacker with the documented error, and give the memory back
# once the attacker is gone.

load helpers

SLACK_KB=$((16 * 1024))		# allocator and bookkeeping, over the budget

setup() {
	need_root "runs the attacks as a user made for the test"
	TUSER=mxh$$
	useradd -M -d /nonexistent -s /bin/sh "$TUSER"
	on_teardown 'userdel "$TUSER" 2>/dev/null || true'
	W=$(world_copy "$MASIX_TOOLS/attack")
	MASIX_RUNDIR=$(new_rundir)
	export MASIX_RUNDIR
	RUNDIRS="$MASIX_RUNDIR"
	printf 'uid_queued_mib = 16\nuid_rights = 1000\nuid_connections = 8\nframe_timeout_ms = 1000\n' \
		>"$MASIX_RUNDIR/masix.conf"
	timeout 30 "$NODE" start "$MASIX_RUNDIR"
	chmod 0755 "$MASIX_RUNDIR"
	bg "$MASIX_BIN/msgrecv" -x cat echo
	wait_name echo
	RSS0=$(rss_kb)
}

rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$MASIX_RUNDIR/portd.pid")/status"
}

# Run an attack as the test user; it holds what it made until release.
attack() {
	mkfifo "$MASIX_RUNDIR/hold"
	chmod 0666 "$MASIX_RUNDIR/hold"
	bg sh -c 'exec runuser -u "$0" -- "$1" -R "$2" "$3" "$4" "$5" <"$2/hold" >"$2/attack.out" 2>&1' \
		"$TUSER" "$W/attack" "$MASIX_RUNDIR" "$@"
	exec 8>"$MASIX_RUNDIR/hold"
	wait_for -t 30 grep -q then "$MASIX_RUNDIR/attack.out"
}

release() {
	exec 8>&-
	wait_for ! pgrep -u "$TUSER" -f "$W/attack"
}

echo_ok() {
	run -0 msgsend -w 5 -r echo "$1"
	[ "$output" = "$1" ]
}

# Under ASan the RSS is the sanitizer's (quarantine, shadow memory), not
# portd's: the bound is checked in the plain build, the rest in both.
within_budget() {
	local rss
	rss=$(rss_kb)
	echo "portd RSS: start $RSS0 kB, now $rss kB" >&2
	[ -n "${MASIX_ASAN:-}" ] || [ "$rss" -le $((RSS0 + 16 * 1024 + SLACK_KB)) ]
}

# Once an attacker is gone and its memory released, portd hands the free
# memory back (malloc_trim, 250 ms after the queues calm down): its RSS
# comes back within BACK_KB of where it started.
BACK_KB=2048
rss_back() {
	local rss
	rss=$(rss_kb)
	echo "portd RSS: start $RSS0 kB, now $rss kB" >&2
	[ "$rss" -le $((RSS0 + BACK_KB)) ]
}
back_near_start() {
	[ -n "${MASIX_ASAN:-}" ] || wait_for rss_back
}

@test "send-once rights a task makes to its own port do not pass its queue limit" {
	attack so-flood 100 65536
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "sent 64; then queue full" ]
	within_budget
	echo_ok during
	release
	echo_ok after
	within_budget
}

@test "a server's reply still passes a full reply queue" {
	run -0 "$W/attack" -R "$MASIX_RUNDIR" reply-full 0
	[ "${lines[0]}" = "another send to the full queue: queue full" ]
	[ "${lines[1]}" = "the server's reply to the full queue: success" ]
}

@test "one message on each of many ports: the uid's queued bytes are refused past its budget" {
	attack ports 100 1048576
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "sent 15; then over budget" ]
	within_budget
	echo_ok during
	run -0 grep -c "over budget: uid $(id -u "$TUSER") queued bytes 16 MiB" "$MASIX_RUNDIR/portd.log"
	[ "$output" = 1 ]	# once per interval, however often refused
	release
	echo_ok after
	within_budget
	back_near_start
}

@test "a receiver with a huge credit that never reads holds no more than the budget" {
	attack credit 100 1048576
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "sent 15; then over budget" ]
	within_budget
	echo_ok during
	release
	echo_ok after
	within_budget
	back_near_start
}

@test "incomplete frames: buffers grow as bytes arrive, within budget, and time out" {
	mkfifo "$MASIX_RUNDIR/hold"
	bg sh -c 'exec runuser -u "$0" -- "$1" -R "$2" partial 24 8388608 >"$2/attack.out" 2>&1' \
		"$TUSER" "$W/attack" "$MASIX_RUNDIR"
	wait_for -t 30 grep -q written "$MASIX_RUNDIR/attack.out"
	within_budget
	echo_ok during
	wait_for -t 30 grep -q closed "$MASIX_RUNDIR/attack.out"
	[ "$(tail -n 1 "$MASIX_RUNDIR/attack.out")" = "closed 24 of 24" ]
	run -0 grep -c 'incomplete frame timed out' "$MASIX_RUNDIR/portd.log"
	[ "$output" -ge 1 ]
	echo_ok after
	within_budget
	back_near_start
}

@test "rights: a uid holds no more than its budget, over all its tasks" {
	attack names 5000
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "allocated 1000; then over budget" ]
	run -0 runuser -u "$TUSER" -- sh -c 'exec "$0" -R "$1" names 10 </dev/null' "$W/attack" "$MASIX_RUNDIR"
	[ "$output" = "allocated 0; then over budget" ]
	echo_ok during
	release
	run -0 runuser -u "$TUSER" -- sh -c 'exec "$0" -R "$1" names 10 </dev/null' "$W/attack" "$MASIX_RUNDIR"
	[ "$output" = "allocated 10; then nothing" ]
	echo_ok after
}

@test "connections: a uid holds no more than its budget; root still connects" {
	attack conns 20
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "connected 8; then connection to portd lost" ]
	echo_ok during
	release
	echo_ok after
}

@test "dead-name requests on the NAME port are coalesced and go with the requester" {
	attack dead-names 20000
	[ "$(cat "$MASIX_RUNDIR/attack.out")" = "requested 20000; then nothing" ]
	rss=$(rss_kb)
	[ -n "${MASIX_ASAN:-}" ] || [ "$rss" -le $((RSS0 + 4096)) ]
	echo_ok during
	release
	echo_ok after
}

@test "namesrv: a uid's waiting lookups end with their client, so a killed flood leaves the uid free to wait again at once" {
	local tools flood out=$MASIX_RUNDIR/lookups.out uid
	tools=$(world_copy "$MASIX_TOOLS/nsflood" "$MASIX_BIN/msgsend")
	uid=$(id -u "$TUSER")
	# 1,024 lookups (the uid's budget) that would wait ten minutes each
	bg runuser -u "$TUSER" -- "$tools/nsflood" -R "$MASIX_RUNDIR" lookups 1024 w 600000 >"$out"
	wait_for -t 30 grep -q "^waiting" "$out"
	[ "$(cat "$out")" = "waiting 1024" ]
	run -75 --separate-stderr runuser -u "$TUSER" -- "$tools/msgsend" -R "$MASIX_RUNDIR" -w 5 w.more hi
	[ "$stderr" = "msgsend: w.more: over budget: uid $uid waiting lookups 1024" ]
	flood=$(pgrep -u "$TUSER" -x nsflood)
	kill -KILL "$flood"
	wait_gone "$flood"
	# its reply port died with it: namesrv drops the lookups now, not in ten minutes
	wait_for sh -c 'runuser -u "$0" -- "$1/msgsend" -R "$2" -w 0.1 nobody.here x 2>&1 |
		grep -qx "msgsend: nobody.here: no such name (waited 0.1 s)"' "$TUSER" "$tools" "$MASIX_RUNDIR"
	echo_ok after
}

@test "namesrv: refusals on a budget of 0 are logged a bounded number of times" {
	local tools log=$MASIX_RUNDIR/ns0.log uid size0
	tools=$(world_copy "$MASIX_TOOLS/nsflood")
	uid=$(id -u "$TUSER")
	# namesrv again, with no waiting lookups at all for anyone but root
	printf 'lookups_per_uid = 0\n' >"$MASIX_RUNDIR/ns0.conf"
	kill "$(cat "$MASIX_RUNDIR/namesrv.pid")"
	wait_for sh -c 'timeout 10 "$0" -R "$1" x hi 2>&1 | grep -qx "msgsend: x: namesrv is not running"' \
		"$MASIX_BIN/msgsend" "$MASIX_RUNDIR"
	bg "$MASIX_BIN/namesrv" -R "$MASIX_RUNDIR" -c "$MASIX_RUNDIR/ns0.conf" 2>"$log"
	wait_for grep -q "serving names" "$log"
	size0=$(stat -c %s "$log")
	bg runuser -u "$TUSER" -- "$tools/nsflood" -R "$MASIX_RUNDIR" lookups 5000 z 60000 >"$MASIX_RUNDIR/z.out"
	wait_for -t 30 grep -q "^waiting" "$MASIX_RUNDIR/z.out"
	[ "$(cat "$MASIX_RUNDIR/z.out")" = "refused 5000: over budget: uid $uid waiting lookups 0
waiting 0" ]
	# each refusal found a uid holding nothing: at most one window's burst, then a count
	[ "$(grep -c "over budget: uid $uid waiting lookups 0" "$log")" -le 10 ]
	grep -qx "namesrv: over budget: further similar lines suppressed for 10 s" "$log"
	[ $(( $(stat -c %s "$log") - size0 )) -lt 4096 ]
}
