#!/usr/bin/env bats
# namesrv against one hostile local user: per-uid budgets of names and
# waiting lookups, rights given back, bounded logs (issue 10). The attacker
# is an unprivileged user the test creates; the node runs as root.

load helpers

USERS="mx025a mx025b"

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	local u
	for u in $USERS; do
		if ! id -u "$u" >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
			echo "$u" >>"$BATS_FILE_TMPDIR/created"
		fi
	done
}

teardown_file() {
	local u
	[ -f "$BATS_FILE_TMPDIR/created" ] || return 0
	while read -r u; do
		userdel "$u" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/created"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root: the attacker is a user the test creates with useradd"
	node_start
	chmod 0755 "$MASIX_RUNDIR"	# other users reach portd's socket
	A=$(id -u mx025a)
	B=$(id -u mx025b)
	NSFLOOD=$MASIX_TOOLS/nsflood
	LOG=$MASIX_RUNDIR/namesrv.log
}

# as USER CMD...: run CMD as USER (its own uid and gid, no groups).
as() {
	local u=$1
	shift
	timeout 60 setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

# Poll a condition for up to 15 s.
wait_for() {
	local i
	for i in $(seq 150); do
		"$@" && return 0
		sleep 0.1
	done
	echo "never true: $*" >&2
	return 1
}

rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "$MASIX_RUNDIR/namesrv.pid")/status"
}

# accounted N PROG LOG LINE_RE: N lines matching LINE_RE were logged or counted
# in the "malformed requests: K similar lines suppressed in 10 s" lines of PROG.
accounted() {
	local logged held
	# grep -c prints 0 and exits 1 when nothing matches; a missing log (2) fails.
	logged=$(grep -Ec "$4" "$3") || [ $? -eq 1 ]
	held=$(sed -n "s/^$2: malformed requests: \([0-9]*\) similar lines suppressed in 10 s\$/\1/p" "$3" |
	    awk '{ s += $1 } END { print s + 0 }')
	[ $((logged + held)) = "$1" ]
}

# gone NAME: a lookup of NAME finds nothing.
gone() {
	local err
	err=$("$MASIX_BIN/msgsend" -R "$MASIX_RUNDIR" "$1" x 2>&1) && return 1
	[ "$err" = "msgsend: $1: no such name" ]
}

@test "the 1,025th name of a uid is refused with the budget it is over; other users and root still register" {
	bg as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" names 1024 a >"$BATS_TEST_TMPDIR/a.out"
	wait_for grep -qx "registered 1024" "$BATS_TEST_TMPDIR/a.out"
	run -75 --separate-stderr as mx025a "$MASIX_BIN/msgrecv" -R "$MASIX_RUNDIR" a.more
	[ "$stderr" = "msgrecv: a.more: over budget: uid $A names 1024" ]
	run -75 --separate-stderr as mx025a "$MASIX_BIN/msgrecv" -R "$MASIX_RUNDIR" a.again
	[ "$stderr" = "msgrecv: a.again: over budget: uid $A names 1024" ]
	# said once per interval, however often it happens
	grep -Eqx "namesrv: over budget: uid $A names 1024 \(pid [0-9]+ refused\)" "$LOG"
	[ "$(grep -c "over budget: uid $A" "$LOG")" = 1 ]
	# nobody else is affected
	bg as mx025b "$MASIX_BIN/msgrecv" -R "$MASIX_RUNDIR" -n 1 b.name >"$BATS_TEST_TMPDIR/b.out"
	wait_name b.name
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 root.name >"$BATS_TEST_TMPDIR/root.out"
	wait_name root.name
	msgsend -R "$MASIX_RUNDIR" b.name to-b
	msgsend -R "$MASIX_RUNDIR" root.name to-root
	wait_for grep -qx to-b "$BATS_TEST_TMPDIR/b.out"
	wait_for grep -qx to-root "$BATS_TEST_TMPDIR/root.out"
}

@test "a uid's waiting lookups are capped; other users' and root's lookups still wait" {
	bg as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" lookups 1030 w 60000 >"$BATS_TEST_TMPDIR/l.out"
	wait_for grep -q "^waiting" "$BATS_TEST_TMPDIR/l.out"
	[ "$(cat "$BATS_TEST_TMPDIR/l.out")" = "refused 6: over budget: uid $A waiting lookups 1024
waiting 1024" ]
	run -75 --separate-stderr as mx025a "$MASIX_BIN/msgsend" -R "$MASIX_RUNDIR" -w 5 w.x hi
	[ "$stderr" = "msgsend: w.x: over budget: uid $A waiting lookups 1024" ]
	# A lookup that finds its name at once takes no budget.
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 shared >"$BATS_TEST_TMPDIR/shared.out"
	wait_name shared
	as mx025a "$MASIX_BIN/msgsend" -R "$MASIX_RUNDIR" -w 5 shared from-a
	wait_for grep -qx from-a "$BATS_TEST_TMPDIR/shared.out"
	# Another user's and root's lookups wait for a name registered later.
	bg as mx025b "$MASIX_BIN/msgsend" -R "$MASIX_RUNDIR" -w 20 later from-b
	bg msgsend -R "$MASIX_RUNDIR" -w 20 later from-root
	run -0 timeout 30 "$MASIX_BIN/msgrecv" -R "$MASIX_RUNDIR" -n 2 -t 25 later
	[ "$(echo "$output" | sort)" = "from-b
from-root" ]
}

@test "namesrv's memory stays within the budget during an attack and returns near its start after" {
	local long before during after pa pl
	[ -z "${MASIX_ASAN:-}" ] || skip "RSS under ASan is the sanitizer's (quarantine, shadow memory), not namesrv's"
	long=$(printf 'x%.0s' $(seq 240))
	before=$(rss_kib)
	bg as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" names 5000 "$long" >"$BATS_TEST_TMPDIR/a.out"
	pa=$!
	bg as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" lookups 5000 "$long.w" 3000 >"$BATS_TEST_TMPDIR/l.out"
	pl=$!
	wait_for grep -qx "registered 1024" "$BATS_TEST_TMPDIR/a.out"
	wait_for grep -q "^waiting 1024" "$BATS_TEST_TMPDIR/l.out"
	during=$(rss_kib)
	echo "namesrv VmRSS: $before KiB before, $during KiB under attack" >&2
	[ "$during" -le $((before + 4096)) ]
	# $pa and $pl are the background shells: the attackers are their children
	kill "$pa" "$pl"
	pkill -TERM -u "$A" -x nsflood
	# Its names go with its port; its lookups end with their 3 s.
	wait_for gone "$long.0"
	wait_for gone "$long.1023"
	# With the lookups gone, a uid at its budget is a fresh uid again.
	wait_for sh -c "timeout 10 setpriv --reuid=mx025a --regid=mx025a --clear-groups -- \
	    $MASIX_BIN/msgsend -R $MASIX_RUNDIR -w 0.1 nobody.here x 2>&1 | grep -qx 'msgsend: nobody.here: no such name (waited 0.1 s)'"
	after=$(rss_kib)
	echo "namesrv VmRSS: $after KiB after" >&2
	[ "$after" -le $((before + 512)) ]
}

@test "namesrv gives portd back every right a request carried that it does not keep" {
	run -0 --separate-stderr as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" rights 400
	[ "$output" = "400 of 400 ports died" ]
}

@test "200,000 malformed requests grow namesrv's log by a bounded amount, with a count of the lines held back" {
	local size0 size1
	size0=$(stat -c %s "$LOG")
	run -0 --separate-stderr as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" malformed 200000
	[ "$output" = "200000 answered: protocol error" ]
	# every one is accounted for: logged one by one, or counted once the 10 s window ends
	wait_for accounted 200000 namesrv "$LOG" "^namesrv: pid [0-9]+ uid $A: malformed register request\$"
	grep -Eq "^namesrv: malformed requests: [0-9]+ similar lines suppressed in 10 s\$" "$LOG"
	size1=$(stat -c %s "$LOG")
	echo "namesrv.log grew by $((size1 - size0)) bytes" >&2
	[ $((size1 - size0)) -lt 16384 ]
	# and namesrv serves on
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 after.flood
	wait_name after.flood
}

@test "keysrv's malformed requests are logged with the same bound" {
	local size0 size1
	[ -x "$MASIX_BIN/keysrv" ] || skip "keysrv not built"
	size0=$(stat -c %s "$MASIX_RUNDIR/keysrv.log")
	run -0 --separate-stderr as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" malformed 50000 key
	[ "$output" = "50000 answered: malformed request" ]
	wait_for accounted 50000 keysrv "$MASIX_RUNDIR/keysrv.log" "^keysrv: pid [0-9]+ uid $A: malformed node-cert request\$"
	grep -Eq "^keysrv: malformed requests: [0-9]+ similar lines suppressed in 10 s\$" "$MASIX_RUNDIR/keysrv.log"
	size1=$(stat -c %s "$MASIX_RUNDIR/keysrv.log")
	echo "keysrv.log grew by $((size1 - size0)) bytes" >&2
	[ $((size1 - size0)) -lt 16384 ]
}

@test "names_per_uid and lookups_per_uid in masix.conf set the budgets" {
	printf 'names_per_uid = 2\nlookups_per_uid = 0\n' >"$BATS_TEST_TMPDIR/ns.conf"
	run -0 "$MASIX_BIN/namesrv" -n -c "$BATS_TEST_TMPDIR/ns.conf"
	[ "$output" = "configuration OK" ]
	# the node's one masix.conf carries them: portd and keysrv accept them
	run -0 "$MASIX_BIN/portd" -n -c "$BATS_TEST_TMPDIR/ns.conf"
	[ "$output" = "configuration OK" ]
	run -0 "$MASIX_BIN/keysrv" -n -c "$BATS_TEST_TMPDIR/ns.conf"
	[ "$output" = "configuration OK" ]
	printf 'names_per_uid = -1\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run -78 --separate-stderr "$MASIX_BIN/namesrv" -n -c "$BATS_TEST_TMPDIR/bad.conf"
	[ "$stderr" = "namesrv: $BATS_TEST_TMPDIR/bad.conf:1: names_per_uid must be 0 to 10000000: 'names_per_uid = -1'" ]
	# namesrv alone restarts with the file (portd's own keys are portd's)
	kill "$(cat "$MASIX_RUNDIR/namesrv.pid")"
	wait_for sh -c "timeout 10 $MASIX_BIN/msgsend -R $MASIX_RUNDIR x hi 2>&1 | grep -qx 'msgsend: x: namesrv is not running'"
	bg "$MASIX_BIN/namesrv" -R "$MASIX_RUNDIR" -c "$BATS_TEST_TMPDIR/ns.conf" 2>"$BATS_TEST_TMPDIR/ns.log"
	wait_for grep -q "serving names" "$BATS_TEST_TMPDIR/ns.log"
	bg as mx025a "$NSFLOOD" -R "$MASIX_RUNDIR" names 3 two >"$BATS_TEST_TMPDIR/a.out"
	wait_for grep -q "^two.2: " "$BATS_TEST_TMPDIR/a.out"
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "registered 2
two.2: over budget: uid $A names 2" ]
	run -75 --separate-stderr as mx025a "$MASIX_BIN/msgsend" -R "$MASIX_RUNDIR" -w 1 nothing hi
	[ "$stderr" = "msgsend: nothing: over budget: uid $A waiting lookups 0" ]
	# root is not limited
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 r.1
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 r.2
	bg msgrecv -R "$MASIX_RUNDIR" -n 1 r.3
	wait_name r.1
	wait_name r.2
	wait_name r.3
}
