#!/usr/bin/env bats
# 060-systemd: the units in contrib/systemd pass systemd's offline checks,
# and portd and namesrv tell readiness the way those units rely on:
# READY=1 on $NOTIFY_SOCKET, a newline on -F FD, the first socket of
# LISTEN_FDS. PID 1 need not be systemd: nothing here talks to a manager.

load helpers

setup() {
	BIN=$(cd "$MASIX_BIN" && pwd)
	UNITS=$TOP/contrib/systemd
	# Short: a Unix socket path holds at most 107 bytes. The common teardown
	# removes it, after looking for sanitizer reports in its *.log files.
	TMP=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $TMP"
	PIDS=()
}

# Run a command in the background; the common teardown kills it by pid.
start_bg() {
	"$@" &
	PIDS+=($!)
	BG_PIDS="${BG_PIDS:-} $!"
}

has() { grep -q "$1" "$2" 2>/dev/null; }

need_analyze() {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (apt-get install systemd)"
}

# Copies of the units whose ExecStart= runs the binaries under test, since
# verify insists that the command exists and /usr/local/sbin may be empty.
# The man pages named by Documentation= are built too when scdoc and man
# are here (verify then checks that they exist).
unit_copies() {
	local f
	mkdir -p "$TMP/units"
	for f in "$UNITS"/*.service "$UNITS"/*.socket; do
		sed "s|^ExecStart=/usr/local/sbin/|ExecStart=$BIN/|" "$f" >"$TMP/units/${f##*/}"
	done
	MAN_CHECK=--man=no
	if command -v scdoc >/dev/null && command -v man >/dev/null; then
		mkdir -p "$TMP/man/man7" "$TMP/man/man8"
		# The pages the units' Documentation= lines name.
		for f in masix.7 portd.8 namesrv.8; do
			scdoc <"$TOP/man/$f.scd" >"$TMP/man/man${f##*.}/$f"
		done
		MAN_CHECK=--man=yes
	fi
}

# A datagram socket that writes what it receives to $TMP/notify.out.
notify_listener() {
	command -v socat >/dev/null || skip "socat is not installed (apt-get install socat)"
	: >"$TMP/notify.out"
	start_bg timeout 60 socat -u UNIX-RECV:"$TMP/notify" - >"$TMP/notify.out"
	wait_for -t 5 test -S "$TMP/notify"
}

@test "systemd-analyze verify accepts the units" {
	need_analyze
	unit_copies
	run -0 --separate-stderr env MANPATH="$TMP/man" timeout 60 systemd-analyze verify "$MAN_CHECK" \
	    "$TMP"/units/*.service "$TMP"/units/*.socket
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "masix-portd.service: exposure level at most 2.0" {
	need_analyze
	run -0 --separate-stderr timeout 60 systemd-analyze security --offline=yes --threshold=20 \
	    "$UNITS/masix-portd.service"
	[[ "${lines[-1]}" =~ Overall\ exposure\ level\ for\ masix-portd\.service:\ ([0-9]+\.[0-9])\ (SAFE|OK) ]]
	awk -v s="${BASH_REMATCH[1]}" 'BEGIN { exit !(s <= 2.0) }'
}

@test "masix-namesrv.service: exposure level at most 2.0" {
	need_analyze
	run -0 --separate-stderr timeout 60 systemd-analyze security --offline=yes --threshold=20 \
	    "$UNITS/masix-namesrv.service"
	[[ "${lines[-1]}" =~ Overall\ exposure\ level\ for\ masix-namesrv\.service:\ ([0-9]+\.[0-9])\ (SAFE|OK) ]]
	awk -v s="${BASH_REMATCH[1]}" 'BEGIN { exit !(s <= 2.0) }'
}

@test "portd sends READY=1 once it serves, STOPPING=1 on SIGTERM" {
	notify_listener
	start_bg env NOTIFY_SOCKET="$TMP/notify" timeout 60 "$BIN/portd" -R "$TMP/n" 2>"$TMP/portd.log"
	wait_for -t 10 has READY=1 "$TMP/notify.out"
	run -0 cat "$TMP/notify.out"
	[ "$output" = $'READY=1\nSTATUS=serving' ]
	[ -S "$TMP/n/portd.sock" ]

	kill -TERM "${PIDS[1]}"
	wait "${PIDS[1]}"	# portd's status, through timeout: 0
	wait_for -t 5 has STOPPING=1 "$TMP/notify.out"
	run -0 cat "$TMP/notify.out"
	[ "$output" = $'READY=1\nSTATUS=servingSTOPPING=1' ]
	[ ! -e "$TMP/n/portd.sock" ]
}

@test "portd -F FD writes one newline on FD once it serves" {
	start_bg timeout 60 "$BIN/portd" -R "$TMP/n" -F 3 3>"$TMP/ready" 2>"$TMP/portd.log"
	wait_for -t 10 test -s "$TMP/ready"
	run -0 od -An -c "$TMP/ready"
	[ "$output" = "  \n" ]
	[ -S "$TMP/n/portd.sock" ]
}

@test "namesrv sends READY=1 once it holds the NAME port" {
	start_bg timeout 60 "$BIN/portd" -R "$TMP/n" -F 3 3>"$TMP/ready" 2>"$TMP/portd.log"
	wait_for -t 10 test -s "$TMP/ready"
	notify_listener
	start_bg env NOTIFY_SOCKET="$TMP/notify" timeout 60 "$BIN/namesrv" -R "$TMP/n" 2>"$TMP/namesrv.log"
	wait_for -t 10 has READY=1 "$TMP/notify.out"
	run -0 cat "$TMP/notify.out"
	[ "$output" = $'READY=1\nSTATUS=serving names' ]
	# Ready means serving: a second namesrv finds the NAME port taken.
	run -69 --separate-stderr timeout 10 "$BIN/namesrv" -R "$TMP/n"
	[ "$stderr" = "namesrv: NAME port: another namesrv holds it" ]
}

@test "portd serves on the socket it inherits (LISTEN_FDS), and leaves it" {
	command -v systemd-socket-activate >/dev/null ||
		skip "systemd-socket-activate is not installed (apt-get install systemd)"
	mkdir "$TMP/n"
	# Like masix-portd.socket: the manager listens, portd is started on the
	# first connection and takes fd 3.
	start_bg timeout 60 systemd-socket-activate -l "$TMP/n/portd.sock" "$BIN/portd" -R "$TMP/n" \
	    2>"$TMP/portd.log"
	wait_for -t 10 test -S "$TMP/n/portd.sock"
	notify_listener
	start_bg env NOTIFY_SOCKET="$TMP/notify" timeout 60 "$BIN/namesrv" -R "$TMP/n" 2>"$TMP/namesrv.log"
	wait_for -t 10 has READY=1 "$TMP/notify.out"
	run -0 cat "$TMP/notify.out"
	[ "$output" = $'READY=1\nSTATUS=serving names' ]

	# namesrv first, as masix-node does, then portd.
	kill -TERM "${PIDS[2]}"
	wait "${PIDS[2]}"
	kill -TERM "${PIDS[0]}"
	wait "${PIDS[0]}"	# portd's status, through timeout: 0
	run -0 tail -n 2 "$TMP/portd.log"
	[ "$output" = $'portd: SIGTERM: stopping\nportd: stopped' ]
	[ -S "$TMP/n/portd.sock" ]
}
