#!/usr/bin/env bats
# masix-node judges daemons by what runs, not by pid files: killed daemons
# (zombie or gone) and recycled pids are "not running"; someone else's node
# is named as such; a failed start leaves nothing behind; init needs no
# runtime directory; a linked node with no certificate is told to run init.

load helpers

# helpers.bash's teardown, then what this file made.
eval "helpers_$(declare -f teardown)"
teardown() {
	local rc=0 d
	for d in ${USER_RUNDIRS:-}; do
		timeout 30 runuser -u "$TUSER" -- env MASIX_BIN="$COPY" "$COPY/masix-node" stop "$d" >/dev/null 2>&1 || true
	done
	helpers_teardown || rc=1
	if [ -n "${TUSER:-}" ]; then userdel "$TUSER" 2>/dev/null || true; fi
	if [ -n "${COPY:-}" ]; then rm -rf "$COPY"; fi
	return $rc
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root: $1"
}

# masix-node and the daemons copied to a world-readable directory, for
# another uid (the checkout may be unreadable to others).
copy_bins() {
	COPY=$(mktemp -d /tmp/mxnode.XXXXXX)
	cp "$MASIX_BIN"/* "$TOP/contrib/masix-node" "$COPY/"
	chmod 0755 "$COPY" "$COPY"/*
}

# A throwaway user, removed in teardown.
new_user() {
	TUSER=mxt$$
	useradd -M -d /nonexistent -s /bin/sh "$TUSER"
}

as_user() {
	timeout 30 runuser -u "$TUSER" -- env -u MASIX_RUNDIR -u XDG_RUNTIME_DIR MASIX_BIN="$COPY" "$@"
}

# Wait until process PID is a zombie or gone.
wait_dead() {
	local k s
	for k in $(seq 100); do
		s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
		[ "$s" != Z ] || return 0
		sleep 0.1
	done
	return 1
}

@test "a daemon killed but not reaped (a zombie) is not running, and start then works" {
	d=$(new_rundir); RUNDIRS=$d
	# The node's daemons as children of a shell that then never reaps them.
	bg sh -c 'set -- start "$1"; . "$0"; exec sleep 300' "$NODE" "$d"
	for k in $(seq 100); do
		"$NODE" status "$d" >/dev/null 2>&1 && break
		sleep 0.1
	done
	run -0 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$output" = "$d: running" ]
	p=$(cat "$d/portd.pid")
	kill -KILL "$p"
	wait_dead "$p"
	[ "$(cut -d' ' -f3 "/proc/$p/stat")" = Z ] # still there, unreaped
	run -69 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$stderr" = "masix-node: $d: portd is not running" ]
	# namesrv and keysrv lost portd and exit; start brings up a new node
	wait_dead "$(cat "$d/namesrv.pid")"
	wait_dead "$(cat "$d/keysrv.pid")"
	run -0 --separate-stderr timeout 30 "$NODE" start "$d"
	[ "$stderr" = "" ]
	[ "$(cat "$d/portd.pid")" != "$p" ]
	run -0 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$output" = "$d: running" ]
	export MASIX_RUNDIR=$d
	bg msgrecv -x cat echo
	run -0 --separate-stderr msgsend -w 5 -r echo hi
	[ "$output" = hi ]
}

@test "a pid file naming a dead daemon or another program is not running; stop leaves that program alone" {
	node_start
	d=$MASIX_RUNDIR
	p=$(cat "$d/portd.pid")
	kill -KILL "$p"
	wait_dead "$p"
	run -69 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$stderr" = "masix-node: $d: portd is not running" ]
	# a recycled pid: some other program has it now
	bg sleep 300
	other=${BG_PIDS##* }
	echo "$other" >"$d/portd.pid"
	run -69 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$stderr" = "masix-node: $d: portd is not running" ]
	run -0 --separate-stderr timeout 30 "$NODE" stop "$d"
	[ "$(cut -d' ' -f3 "/proc/$other/stat")" != Z ]
	kill -0 "$other"
	[ ! -e "$d/portd.pid" ]
	run -0 --separate-stderr timeout 30 "$NODE" start "$d"
	run -0 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$output" = "$d: running" ]
}

@test "someone else's node: status names its owner; start and stop refuse in one line, exit 77" {
	need_root "creates a second user"
	copy_bins
	new_user
	uid=$(id -u "$TUSER")
	node_start
	d=$MASIX_RUNDIR
	chmod 0755 "$d"
	run -0 --separate-stderr as_user "$COPY/masix-node" status "$d"
	[ "$output" = "$d: running, node of user root (uid 0)" ]
	[ "$stderr" = "" ]
	run -77 --separate-stderr as_user "$COPY/masix-node" start "$d"
	[ "$stderr" = "masix-node: $d: node of user root (uid 0), not yours: run masix-node start as that user" ]
	[ "$output" = "" ]
	run -77 --separate-stderr as_user "$COPY/masix-node" stop "$d"
	[ "$stderr" = "masix-node: $d: node of user root (uid 0), not yours: run masix-node stop as that user" ]
	run -0 --separate-stderr timeout 30 "$NODE" status "$d"
	[ "$output" = "$d: running" ]
	timeout 30 "$NODE" stop "$d"
	run -69 --separate-stderr as_user "$COPY/masix-node" status "$d"
	[ "$stderr" = "masix-node: $d: portd is not running, node of user root (uid 0)" ]

	# the other way round: the user's node, seen and refused by root
	u=$(new_rundir); RUNDIRS="$RUNDIRS $u"
	chown "$TUSER" "$u"
	USER_RUNDIRS=$u
	run -0 --separate-stderr as_user "$COPY/masix-node" start "$u"
	run -0 --separate-stderr timeout 30 "$NODE" status "$u"
	[ "$output" = "$u: running, node of user $TUSER (uid $uid)" ]
	run -77 --separate-stderr timeout 30 "$NODE" start "$u"
	[ "$stderr" = "masix-node: $u: node of user $TUSER (uid $uid), not yours: run masix-node start as that user" ]
	run -0 --separate-stderr as_user "$COPY/masix-node" stop "$u"
	USER_RUNDIRS=
}

@test "a failed start leaves no portd.sock and quotes only this start's log" {
	d=$(new_rundir); RUNDIRS=$d
	# a certificate but no CA: portd binds its socket, then cannot link
	mkdir -m 0700 "$d/state"
	touch "$d/state/node.crt"
	printf 'node = alpha\nlisten = 127.0.0.1:1\n' >"$d/masix.conf"
	echo "portd: a line from an earlier run" >"$d/portd.log"
	run -69 --separate-stderr timeout 30 "$NODE" start "$d"
	[ "$stderr" = "masix-node: portd did not start; $d/portd.log says: portd: $d/state/ca.crt: No such file or directory" ]
	[ ! -e "$d/portd.sock" ]
	[ ! -e "$d/portd.pid" ]
	[ ! -e "$d/.portd.ready" ]
}

@test "a start that finds another portd serving there leaves that portd's socket alone" {
	d=$(new_rundir); RUNDIRS=$d
	bg "$MASIX_BIN/portd" -R "$d"
	for k in $(seq 100); do
		[ -S "$d/portd.sock" ] && break
		sleep 0.1
	done
	run -69 --separate-stderr timeout 30 "$NODE" start "$d"
	[ "$stderr" = "masix-node: portd did not start; $d/portd.log says: portd: $d/portd.sock: another portd is serving there" ]
	[ -S "$d/portd.sock" ]
	run -69 --separate-stderr msgsend -R "$d" anything hi
	[ "$stderr" = "msgsend: anything: namesrv is not running" ]
}

@test "a node linked to others with no certificate: start says to run masix-node init, exit 78" {
	d=$(new_rundir); RUNDIRS=$d
	printf 'node = alpha\npeer = 127.0.0.1:24171\n' >"$d/masix.conf"
	run -78 --separate-stderr timeout 30 "$NODE" start "$d"
	[ "$stderr" = "masix-node: $d: masix.conf links this node to others, but it has no certificate ($d/state/node.crt): run masix-node init $d [ADMIN_DIR] first" ]
	[ "$(ls -A "$d")" = masix.conf ]
	printf 'node = alpha\nbroadcast = 10.0.0.255\n' >"$d/masix.conf"
	run -78 --separate-stderr timeout 30 "$NODE" start "$d"
	# broadcast off and no listen or peer: a node on its own starts
	printf 'node = alpha\nbroadcast = off\n' >"$d/masix.conf"
	run -0 --separate-stderr timeout 30 "$NODE" start "$d"
	# after init, the linked node starts
	timeout 30 "$NODE" stop "$d"
	printf 'node = alpha\npeer = 127.0.0.1:24171\nbroadcast = off\n' >"$d/masix.conf"
	rm -rf "$d/state"
	run -0 --separate-stderr timeout 30 "$NODE" init "$d"
	[ "$output" = "$d: node alpha certified by $d/admin" ]
	run -0 --separate-stderr timeout 30 "$NODE" start "$d"
	[ "$stderr" = "" ]
}

@test "init DIR needs no MASIX_RUNDIR nor XDG_RUNTIME_DIR" {
	d=$(new_rundir); RUNDIRS=$d
	printf 'node = alpha\n' >"$d/masix.conf"
	if [ "$(id -u)" = 0 ]; then
		copy_bins
		chown 65534 "$d"
		run -0 --separate-stderr timeout 30 env -u MASIX_RUNDIR -u XDG_RUNTIME_DIR MASIX_BIN="$COPY" \
		    setpriv --reuid 65534 --regid 65534 --clear-groups "$COPY/masix-node" init "$d"
	else
		run -0 --separate-stderr timeout 30 env -u MASIX_RUNDIR -u XDG_RUNTIME_DIR "$NODE" init "$d"
	fi
	[ "$output" = "$d: node alpha certified by $d/admin" ]
	[ -f "$d/state/node.crt" ]
}

@test "status of a directory that does not exist: no node there, exit 69" {
	d=$(new_rundir); RUNDIRS=$d
	run -69 --separate-stderr timeout 30 "$NODE" status "$d/none"
	[ "$stderr" = "masix-node: $d/none: no such directory, no node there" ]
}
