#!/usr/bin/env bats
# The build: every program in $MASIX_BIN carries the hardening the Makefile
# asks for (checked on the binaries with readelf, so a dropped flag shows),
# and header dependencies work wherever O= puts the objects.

load helpers

teardown() {
	[ -z "${OBJDIR:-}" ] || rm -rf "$OBJDIR"
}

# The programs under test; at least the six masix ships.
programs() {
	local f n=0
	for f in "$MASIX_BIN"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		echo "$f"
		n=$((n + 1))
	done
	[ "$n" -ge 6 ] || { echo "only $n programs in $MASIX_BIN" >&2; return 1; }
}

# harden_report CHECK: one line per program that fails CHECK, nothing when
# all pass. CHECK is a function taking the binary, 0 when it passes.
harden_report() {
	local f list
	list=$(programs) || return 1
	for f in $list; do
		"$1" "$f" || echo "${f##*/}: $2"
	done
}

is_pie()      { readelf -hW "$1" | grep -Eq '^ *Type: +DYN '; }
has_relro()   { readelf -lW "$1" | grep -Eq '^ *GNU_RELRO '; }
binds_now()   { readelf -dW "$1" | grep -Eq '\(FLAGS\) .*BIND_NOW|\(FLAGS_1\) .*NOW'; }
has_canary()  { readelf --dyn-syms -W "$1" | grep -Eq ' __stack_chk_fail(@|$)'; }
# FORTIFY turns at least the printf family into __*_chk calls.
is_fortified() { readelf --dyn-syms -W "$1" | grep -v __stack_chk_fail | grep -Eq ' __[a-z0-9_]+_chk(@|$)'; }

# The report must be empty; when it is not, show it.
no_report() {
	[ "$output" = "" ] || { printf '%s\n' "$output"; return 1; }
}

@test "readelf is there to check the binaries" {
	run -0 command -v readelf
	run -0 programs
}

@test "every program is a position-independent executable (ELF type DYN)" {
	run -0 harden_report is_pie "not PIE (link with -pie)"
	no_report
}

@test "every program has full RELRO: a GNU_RELRO segment and BIND_NOW" {
	run -0 harden_report has_relro "no GNU_RELRO segment (-Wl,-z,relro)"
	no_report
	run -0 harden_report binds_now "no BIND_NOW (-Wl,-z,now)"
	no_report
}

@test "every program uses the stack protector (__stack_chk_fail)" {
	run -0 harden_report has_canary "no __stack_chk_fail (-fstack-protector-strong)"
	no_report
}

@test "every program is built with FORTIFY (__*_chk calls)" {
	# The ASan build leaves FORTIFY out on purpose (see the Makefile).
	[ -z "${MASIX_ASAN:-}" ] || skip "ASan build: FORTIFY is off, its __*_chk calls would hide overflows from ASan"
	run -0 harden_report is_fortified "no __*_chk symbol (-D_FORTIFY_SOURCE)"
	no_report
}

@test "with O=DIR a changed header makes its objects out of date" {
	command -v "${CC:-cc}" >/dev/null || skip "no C compiler"
	o=$(mktemp -d /tmp/mx-obj.XXXXXX); OBJDIR=$o
	run -0 make -s -C "$TOP" O="$o" "$o/libcommon/wire.o"
	run -0 make -q -C "$TOP" O="$o" "$o/libcommon/wire.o"
	# -W: as if wire.h had just changed.
	run -1 make -q -C "$TOP" O="$o" -W libcommon/wire.h "$o/libcommon/wire.o"
}
