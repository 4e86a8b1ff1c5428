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
