#!/usr/bin/env bats
# The command line every program shares: --help, --version, unknown options;
# errors that say what to do (no runtime directory, no admin directory); the
# exact body and reply size limits the README and the man pages state.

load helpers

PROGS="portd namesrv keysrv msgsend msgrecv sigtool"
VERSION=$(sed -n 's/^#define MASIX_VERSION[[:space:]]*"\(.*\)"$/\1/p' "$TOP/libcommon/version.h")
NODE_USAGE="usage: masix-node start|stop|status DIR | init DIR [ADMIN_DIR]"
NO_RUNDIR="no runtime directory: give one with -R DIR or MASIX_RUNDIR=DIR (or set XDG_RUNTIME_DIR; root's default is /run/masix)"

# helpers.bash's teardown, then what this file made.
eval "helpers_$(declare -f teardown)"
teardown() {
	local rc=0
	helpers_teardown || rc=1
	if [ -n "${COPY:-}" ]; then rm -rf "$COPY"; fi
	return $rc
}

# The SYNOPSIS of a man page and a usage text, both as one lower-case line
# without markup, so that they compare.
synopsis_of() {
	sed -n '/^# SYNOPSIS/,/^# DESCRIPTION/p' "$1" | sed '1d;$d' | sed 's/++$//; s/\\\*/\x01/g; s/[*_]//g; s/\x01/*/g' |
	    tr '\n' ' ' | tr -s ' ' | tr 'A-Z' 'a-z' | sed 's/^ //; s/ $//'
}
usage_as_synopsis() {
	sed 's/^usage: //; s/^ *//' | tr '\n' ' ' | tr -s ' ' | tr 'A-Z' 'a-z' | sed 's/^ //; s/ $//'
}

# Run a program as an unprivileged user with no runtime directory in its
# environment: as root, uid 65534 on copies of the binaries in a world-readable
# directory (the checkout may be unreadable to others); otherwise ourselves.
as_nobody() {
	local p=$1; shift
	if [ "$(id -u)" = 0 ]; then
		if [ -z "${COPY:-}" ]; then
			COPY=$(mktemp -d /tmp/mxcli.XXXXXX)
			cp "$MASIX_BIN"/* "$COPY/"
			chmod 0755 "$COPY" "$COPY"/*
		fi
		timeout 20 env -u MASIX_RUNDIR -u XDG_RUNTIME_DIR setpriv --reuid 65534 --regid 65534 --clear-groups \
		    "$COPY/$p" "$@"
	else
		timeout 20 env -u MASIX_RUNDIR -u XDG_RUNTIME_DIR "$MASIX_BIN/$p" "$@"
	fi
}

@test "--help: the man page's SYNOPSIS on stdout, exit 0, as -h" {
	local p
	for p in $PROGS; do
		run -0 --separate-stderr timeout 20 "$MASIX_BIN/$p" --help
		[ "$stderr" = "" ]
		[ "${lines[0]%% *}" = "usage:" ]
		[ "$(printf '%s\n' "$output" | usage_as_synopsis)" = "$(synopsis_of "$TOP"/man/"$p".[18].scd)" ]
		help=$output
		run -0 --separate-stderr timeout 20 "$MASIX_BIN/$p" -h
		[ "$output" = "$help" ]
	done
	run -0 --separate-stderr timeout 20 "$NODE" --help
	[ "$output" = "$NODE_USAGE" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr timeout 20 "$NODE" -h
	[ "$output" = "$NODE_USAGE" ]
}

@test "--version: 'PROG masix VERSION' on stdout, exit 0" {
	local p
	[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
	for p in $PROGS; do
		run -0 --separate-stderr timeout 20 "$MASIX_BIN/$p" --version
		[ "$output" = "$p masix $VERSION" ]
		[ "$stderr" = "" ]
	done
	run -0 --separate-stderr timeout 20 "$NODE" --version
	[ "$output" = "masix-node masix $VERSION" ]
	# sigtool's commands take them too
	run -0 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" init --version
	[ "$output" = "sigtool masix $VERSION" ]
	run -0 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" certify --help
	[ "$output" = "$(timeout 20 "$MASIX_BIN/sigtool" -h)" ]
}

@test "an unknown long option: what is wrong and the usage on stderr, exit 64" {
	local p
	for p in $PROGS; do
		run -64 --separate-stderr timeout 20 "$MASIX_BIN/$p" --bogus
		[ "$output" = "" ]
		[ "${stderr_lines[0]}" = "$p: unrecognized option '--bogus'" ]
		[ "$(printf '%s\n' "${stderr_lines[@]:1}")" = "$(timeout 20 "$MASIX_BIN/$p" -h)" ]
	done
	run -64 --separate-stderr timeout 20 "$NODE" --bogus
	[ "$output" = "" ]
	[ "$stderr" = "$NODE_USAGE" ]
	run -64 --separate-stderr timeout 20 "$NODE" --bogus /tmp
	[ "$stderr" = "$NODE_USAGE" ]
}

@test "no runtime directory: every program says how to give one, exit 64" {
	run -64 --separate-stderr as_nobody msgsend echo hi
	[ "$stderr" = "msgsend: $NO_RUNDIR" ]
	run -64 --separate-stderr as_nobody msgrecv echo
	[ "$stderr" = "msgrecv: $NO_RUNDIR" ]
	run -64 --separate-stderr as_nobody portd
	[ "$stderr" = "portd: $NO_RUNDIR" ]
	run -64 --separate-stderr as_nobody namesrv
	[ "$stderr" = "namesrv: $NO_RUNDIR" ]
	run -64 --separate-stderr as_nobody keysrv
	[ "$stderr" = "keysrv: $NO_RUNDIR" ]
	run -64 --separate-stderr as_nobody keysrv -q node-cert
	[ "$stderr" = "keysrv: $NO_RUNDIR" ]
	# -R or MASIX_RUNDIR is enough: then it is portd that is missing
	d=$(new_rundir); RUNDIRS=$d
	chmod 0755 "$d"
	run -69 --separate-stderr as_nobody msgsend -R "$d" echo hi
	[ "$stderr" = "msgsend: cannot reach portd in $d: portd is not running" ]
}

@test "keysrv -i -N needs no runtime directory" {
	d=$(new_rundir); RUNDIRS=$d
	chmod 0777 "$d"
	run -0 --separate-stderr as_nobody keysrv -i -N alpha -S "$d/state"
	[ "$output" = "$d/state/node.csr" ]
	[ -f "$d/state/node.key" ]
}

@test "sigtool: a missing admin directory says how to make one, exit 66" {
	local D=$BATS_TEST_TMPDIR c
	for c in list verify "add svc/x /bin/sh" "remove svc/x" "revoke -s 1" fingerprint; do
		# shellcheck disable=SC2086
		run -66 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/none" $c
		[ "$stderr" = "sigtool: $D/none: no such admin directory (make one with: sigtool -d $D/none init)" ]
	done
	mkdir "$D/empty"
	run -66 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/empty" list
	[ "$stderr" = "sigtool: $D/empty: not an admin directory, no ca.crt in it (make one with: sigtool -d $D/empty init)" ]
	run -66 --separate-stderr env MASIX_ADMIN_DIR="$D/env" timeout 20 "$MASIX_BIN/sigtool" verify
	[ "$stderr" = "sigtool: $D/env: no such admin directory (make one with: sigtool -d $D/env init)" ]
}

@test "sigtool init makes the admin directory's missing parents; the directory itself 0700" {
	local D=$BATS_TEST_TMPDIR
	umask 022
	run -0 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/etc/masix/admin" init
	[ "$stderr" = "" ]
	[ "$(stat -c %a "$D/etc")" = 755 ]
	[ "$(stat -c %a "$D/etc/masix")" = 755 ]
	[ "$(stat -c %a "$D/etc/masix/admin")" = 700 ]
	run -0 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/etc/masix/admin" verify
	[ "$output" = "$D/etc/masix/admin/signatures.list: OK" ]
	# a trailing slash names the admin directory itself
	run -0 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/other/admin/" init
	[ "$(stat -c %a "$D/other/admin")" = 700 ]
	# a parent that cannot be made: said, nothing made
	touch "$D/file"
	run -73 --separate-stderr timeout 20 "$MASIX_BIN/sigtool" -d "$D/file/admin" init
	[ "$stderr" = "sigtool: $D/file/admin: Not a directory" ]
}

@test "a body of exactly 33554424 bytes travels intact; one byte more is refused, exit 65" {
	node_start
	head -c 33554424 /dev/urandom >"$BATS_TEST_TMPDIR/max"
	bg sh -c 'exec "$0" --raw -n 1 big >"$1"' "$MASIX_BIN/msgrecv" "$BATS_TEST_TMPDIR/got"
	run -0 --separate-stderr msgsend -w 10 big <"$BATS_TEST_TMPDIR/max"
	wait "${BG_PIDS##* }"
	cmp "$BATS_TEST_TMPDIR/max" "$BATS_TEST_TMPDIR/got"
	head -c 1 /dev/zero >>"$BATS_TEST_TMPDIR/max"
	run -65 --separate-stderr msgsend big <"$BATS_TEST_TMPDIR/max"
	[ "$stderr" = "msgsend: stdin: message too large (limit 33554424 bytes)" ]
}

@test "msgrecv -x: replies up to 33554424 bytes; a failing command's output reaches stdout, its reason stderr, exit 1" {
	node_start
	bg msgrecv -x 'head -c "$(cat)" /dev/zero' out
	run -0 --separate-stderr sh -c 'exec "$0" -w 10 -r out 33554424 >"$1"' "$MASIX_BIN/msgsend" "$BATS_TEST_TMPDIR/reply"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/reply")" = 33554424 ]
	# one byte more: an error reply, and msgrecv serves on
	run -1 --separate-stderr sh -c 'exec "$0" -r out 33554425 >"$1"' "$MASIX_BIN/msgsend" "$BATS_TEST_TMPDIR/reply"
	[ "$stderr" = "msgsend: out: server failed: command output over 33554424 bytes" ]
	# the error reply keeps what fits next to its code and reason:
	# 33554432 - 3 item headers - the code (8) - the reason (34 bytes)
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/reply")" = 33554366 ]
	run -0 --separate-stderr msgsend -r out 5
	[ "${#output}" = 0 ] # five NUL bytes, which bash drops
	bg msgrecv -x 'echo "partial $(cat)"; exit 3' fail
	run -1 --separate-stderr msgsend -w 10 -r fail work
	[ "$output" = "partial work" ]
	[ "$stderr" = "msgsend: fail: server failed: command exited with status 3" ]
}
