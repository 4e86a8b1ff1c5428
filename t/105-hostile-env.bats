#!/usr/bin/env bats
# 105-hostile-env.bats — the daemons' environment against a hostile local
# user: runtime directories of others, file descriptors run out, log floods,
# the broadcast port.

load helpers

# A throwaway user, removed in teardown.
new_user() {
	TUSER=mxh$$
	useradd -M -d /nonexistent -s /bin/sh "$TUSER"
	on_teardown "userdel '$TUSER' 2>/dev/null || true"
}

as_user() {
	timeout 30 runuser -u "$TUSER" -- "$@"
}

@test "a runtime directory made by another user is refused; its planted symlink's target is untouched" {
	need_root "creates a user"
	new_user
	victim=$BATS_TEST_TMPDIR/victim
	echo precious >"$victim"
	d=$(mktemp -u /tmp/mx.XXXXXX)
	on_teardown "rm -rf '$d'"
	as_user mkdir -m 0755 "$d"
	as_user ln -s "$victim" "$d/portd.log"
	as_user ln -s "$victim" "$d/portd.pid"
	uid=$(id -u "$TUSER")
	run -77 --separate-stderr "$NODE" start "$d"
	[ "$stderr" = "masix-node: $d: node of user $TUSER (uid $uid), not yours: run masix-node start as that user" ]
	run -77 --separate-stderr "$MASIX_BIN/portd" -R "$d"
	[ "$stderr" = "portd: $d: owned by uid $uid, not by uid 0 or root, refusing to use it" ]
	[ "$(cat "$victim")" = precious ]
	[ ! -e "$d/portd.sock" ]
}

@test "a group or world writable runtime directory is refused by portd and masix-node" {
	d=$(new_rundir); RUNDIRS=$d
	chmod 0777 "$d"
	run -77 --separate-stderr "$NODE" start "$d"
	[ "$stderr" = "masix-node: $d: directory is group or world writable (mode 0777), refusing to use it" ]
	run -77 --separate-stderr "$MASIX_BIN/portd" -R "$d"
	[ "$stderr" = "portd: $d: directory is group or world writable (mode 0777), refusing to use it" ]
	chmod 1775 "$d"
	run -77 --separate-stderr "$MASIX_BIN/portd" -R "$d"
	[ "$stderr" = "portd: $d: directory is group or world writable (mode 1775), refusing to use it" ]
	[ ! -e "$d/portd.sock" ]
	[ ! -e "$d/portd.log" ]
}

@test "masix-node never writes a log or pid file through a symlink, and makes logs 0640" {
	d=$(new_rundir); RUNDIRS=$d
	victim=$BATS_TEST_TMPDIR/victim
	echo precious >"$victim"
	ln -s "$victim" "$d/namesrv.log"
	run -77 --separate-stderr "$NODE" start "$d"
	[ "$stderr" = "masix-node: $d/namesrv.log: not a regular file (a symlink?), refusing to write it" ]
	[ "$(cat "$victim")" = precious ]
	# refused before anything started
	[ ! -e "$d/portd.pid" ]
	[ ! -e "$d/portd.sock" ]
	rm "$d/namesrv.log"
	run -0 "$NODE" start "$d"
	[ "$(stat -c %a "$d/portd.log")" = 640 ]
	[ "$(stat -c %a "$d/namesrv.log")" = 640 ]
}

# What a served claim-name says on a fresh portd: root may hold NAME.
# The test's uid runs portd, so it is root or portd's own (trusted) uid:
# it may hold the NAME port.
claim_answer() {
	echo success
}

# utime + stime of PID, in clock ticks.
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# portd on DIR in the background, logging to DIR/portd.log, under the shell
# command LIMIT (a ulimit); PORTD_PID is its pid once it serves.
portd_bg() {
	local d=$1 lim=$2
	bg sh -c "$lim && exec \"\$0\" -R \"\$1\" 2>>\"\$1/portd.log\"" "$MASIX_BIN/portd" "$d"
	PORTD_PID=${BG_PIDS##* }
	wait_for [ -S "$d/portd.sock" ]
	wait_log 1 "serving on" "$d/portd.log"
}

# Over SECS seconds (a measured interval, not a wait), PID's CPU use in %.
cpu_percent() {
	local t0 t1
	t0=$(cpu_ticks "$1")
	sleep "$2"
	t1=$(cpu_ticks "$1")
	echo $(( (t1 - t0) * 100 / ($(getconf CLK_TCK) * $2) ))
}

# unix_flood DIR LINE REPEATED: 1030 connections to the portd of DIR
# (PORTD_PID) until it logs LINE; meanwhile it uses under 30% CPU, its log
# stays under 1 MiB with REPEATED at most 10 times (one log window), and
# once the flood is gone a new task is served.
unix_flood() {
	local d=$1 flood cpu
	bg "$MASIX_TOOLS/connflood" unix "$d/portd.sock" 1030 >"$BATS_TEST_TMPDIR/flood"
	flood=${BG_PIDS##* }
	wait_for grep -qx "1030 open" "$BATS_TEST_TMPDIR/flood"
	wait_log 1 "$2" "$d/portd.log"
	cpu=$(cpu_percent "$PORTD_PID" 2)
	[ "$cpu" -lt 30 ] || { echo "portd used $cpu% CPU" >&2; false; }
	[ "$(stat -c %s "$d/portd.log")" -lt 1048576 ]
	[ "$(grep -c -- "$3" "$d/portd.log")" -le 10 ]
	kill "$flood"
	wait_gone "$flood"
	MASIX_RUNDIR=$d run -0 mxtool claim-name
	[ "$output" = "claim NAME: $(claim_answer)" ]
}

@test "1030 connections under a 1024 descriptor limit: max_tasks fits the limit, little CPU, a short log, then service again" {
	d=$(new_rundir); RUNDIRS=$d
	portd_bg "$d" "ulimit -n 1024"
	grep -qF "max_tasks 4096 lowered to 896: 1024 file descriptors (RLIMIT_NOFILE), 128 kept for links and files" "$d/portd.log"
	unix_flood "$d" "refusing task" "refusing task pid"
	grep -qF "refusing task: further similar lines suppressed for 10 s" "$d/portd.log"
}

@test "out of descriptors, portd stops accepting for 100 ms instead of spinning, and serves once they close" {
	d=$(new_rundir); RUNDIRS=$d
	portd_bg "$d" "true"
	# the limit lowered under a running portd: accept fails with EMFILE
	prlimit --pid "$PORTD_PID" --nofile=64:64
	unix_flood "$d" "accept: Too many open files: not taking new tasks for 100 ms" "accept: Too many open files"
}

@test "the portd unit raises the descriptor limit above max_tasks" {
	grep -qx "LimitNOFILE=65536" "$TOP/contrib/systemd/masix-portd.service"
}

@test "no other user can bind portd's broadcast port, even with SO_REUSEADDR or SO_REUSEPORT" {
	need_root "runs socat as uid 65534"
	d=$(new_rundir); RUNDIRS=$d
	echo "node = n1" >"$d/masix.conf"
	timeout 60 "$NODE" init "$d" >/dev/null
	p=$(free_port)
	bg sh -c 'exec "$0" -R "$1" -c "$1/masix.conf" -S "$1/state" -b "127.255.255.255:$2" 2>>"$1/portd.log"' \
		"$MASIX_BIN/portd" "$d" "$p"
	wait_log 1 "serving on" "$d/portd.log"
	for opt in reuseaddr reuseport; do
		run -1 --separate-stderr timeout 5 setpriv --reuid=65534 --regid=65534 --clear-groups \
			socat -u "UDP4-RECV:$p,$opt" STDOUT
		[[ "$stderr" == *"Address already in use"* ]]
	done
}

@test "1030 plain TCP connections to the link port: handshakes capped, little CPU, a short log, tasks still served" {
	d=$(new_rundir); RUNDIRS=$d
	echo "node = n1" >"$d/masix.conf"
	timeout 60 "$NODE" init "$d" >/dev/null
	p=$(free_port)
	bg sh -c 'ulimit -n 1024 && exec "$0" -R "$1" -c "$1/masix.conf" -S "$1/state" -l "127.0.0.1:$2" 2>>"$1/portd.log"' \
		"$MASIX_BIN/portd" "$d" "$p"
	PORTD_PID=${BG_PIDS##* }
	wait_log 1 "serving on" "$d/portd.log"
	bg "$MASIX_TOOLS/connflood" tcp 127.0.0.1 "$p" 1030 >"$BATS_TEST_TMPDIR/flood"
	flood=${BG_PIDS##* }
	wait_for grep -qx "1030 open" "$BATS_TEST_TMPDIR/flood"
	wait_log 1 "link from 127.0.0.1:" "$d/portd.log"
	grep -qE "^portd: link from 127\.0\.0\.1:[0-9]+: refused: too many links not yet authenticated \(64 in all, 8 per address at most\)$" "$d/portd.log"
	cpu=$(cpu_percent "$PORTD_PID" 2)
	[ "$cpu" -lt 30 ] || { echo "portd used $cpu% CPU" >&2; false; }
	[ "$(stat -c %s "$d/portd.log")" -lt 1048576 ]
	# at most 8 handshakes at once from one address
	[ "$(ls /proc/"$PORTD_PID"/fd | wc -l)" -lt 40 ]
	MASIX_RUNDIR=$d run -0 mxtool claim-name
	[ "$output" = "claim NAME: $(claim_answer)" ]
	kill "$flood"
}

# held_by_peer PORT: "ADDR COUNT" for each peer address of the TCP
# connections established on local port PORT (portd holds them: the refused
# ones it closed at once are no longer established on its side).
held_by_peer() {
	ss -Htn state established "( sport = :$1 )" |
		awk '{ sub(/:[0-9]+$/, "", $4); n[$4]++ } END { for (h in n) print h, n[h] }' | sort -V
}

# held_is PORT TEXT: held_by_peer PORT prints TEXT exactly.
held_is() { [ "$(held_by_peer "$1")" = "$2" ]; }

@test "link handshakes from ten addresses: 8 per address, 64 in all, closed at 10 s; a certified peer still links" {
	local d d2 p p2 i from= want=
	d=$(new_rundir); d2=$(new_rundir); RUNDIRS="$d $d2"
	echo "node = n1" >"$d/masix.conf"
	echo "node = n2" >"$d2/masix.conf"
	timeout 60 "$NODE" init "$d" >/dev/null
	timeout 60 "$NODE" init "$d2" "$d/admin" >/dev/null
	p=$(free_port); p2=$(free_port)
	bg sh -c 'exec "$0" -R "$1" -c "$1/masix.conf" -S "$1/state" -b off -l "127.0.0.1:$2" 2>>"$1/portd.log"' \
		"$MASIX_BIN/portd" "$d" "$p"
	wait_log 1 "serving on" "$d/portd.log"
	# 12 plain TCP connections from each of 127.0.0.2 .. 127.0.0.11, in that order
	for i in $(seq 2 11); do from="$from 127.0.0.$i"; done
	# shellcheck disable=SC2086 # ten addresses
	bg "$MASIX_TOOLS/connflood" tcp 127.0.0.1 "$p" 12 $from >"$BATS_TEST_TMPDIR/flood"
	wait_for grep -qx "120 open" "$BATS_TEST_TMPDIR/flood"
	# the first eight addresses hold 8 each (their 4 others refused): 64 in
	# all, so the last two find no room at all
	for i in $(seq 2 9); do want="${want:+$want
}127.0.0.$i 8"; done
	wait_for held_is "$p" "$want"
	grep -qE "^portd: link from 127\.0\.0\.(2|3|4|5|6|7|8|9):[0-9]+: refused: too many links not yet authenticated \(64 in all, 8 per address at most\)$" "$d/portd.log"
	[ "$(grep -c 'refused: too many links not yet authenticated' "$d/portd.log")" -le 10 ]
	# a certified node dialing from 127.0.0.1 meanwhile links once the
	# handshake deadline (10 s) has closed the flood's connections
	bg sh -c 'exec "$0" -R "$1" -c "$1/masix.conf" -S "$1/state" -b off -l "127.0.0.1:$2" -p "127.0.0.1:$3" 2>>"$1/portd.log"' \
		"$MASIX_BIN/portd" "$d2" "$p2" "$p"
	wait_for -t 30 grep -q "node n2: linked" "$d/portd.log"
	wait_for grep -q "node n1: linked" "$d2/portd.log"
	wait_for held_is "$p" "127.0.0.1 1"
}

@test "200,000 malformed requests grow portd's log by less than 2 MiB, and say how many lines were suppressed" {
	node_start
	log=$MASIX_RUNDIR/portd.log
	s0=$(stat -c %s "$log")
	run -0 timeout 120 "$MASIX_TOOLS/badframes" "$MASIX_RUNDIR" 200000
	[ "$output" = "200000 answered: protocol error" ]
	[ $(( $(stat -c %s "$log") - s0 )) -lt 2097152 ]
	grep -qx "portd: malformed request: further similar lines suppressed for 10 s" "$log"
	[ "$(grep -c 'PORT_ALLOC: protocol error$' "$log")" -le 10 ]
	# and the node still serves
	bg "$MASIX_BIN/msgrecv" -x cat echo
	run -0 msgsend -w 5 -r echo still here
	[ "$output" = "still here" ]
}
