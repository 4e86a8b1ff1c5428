#!/usr/bin/env bats
# contrib/readme-check: which README blocks it runs, its guard, its report of
# a failing block; and the README itself, pasted in order as root, in
# throwaway mount, pid and network namespaces.

bats_require_minimum_version 1.5.0

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
CHECK=$TOP/contrib/readme-check

setup() {
	D=$BATS_TEST_TMPDIR
	printf '%s\n' '# t' '' '## Try it' '' '    exit 3' '' '## A' '' 'text' '' '    echo one' '' \
	    '<!-- readme-check: skip (why) -->' '    exit 4' '' '## B' '' '```' 'echo two' 'false' 'echo never' '```' \
	    >"$D/readme.md"
}

@test "readme-check refuses to run without MASIX_README_CHECK=1 or --force" {
	run -64 --separate-stderr env -u MASIX_README_CHECK sh "$CHECK" "$D/readme.md"
	[ "$output" = "" ]
	[ "${stderr_lines[1]}" = "readme-check: run it on a fresh machine with MASIX_README_CHECK=1 (or --force)" ]
}

@test "readme-check runs indented and fenced blocks in order, skips 'Try it' and marked blocks, names the failing block" {
	[ "$(id -u)" = 0 ] || skip "needs root: the README's examples are root's"
	run -1 --separate-stderr sh "$CHECK" --force "$D/readme.md"
	[ "$output" = "
=== README block 1 ($D/readme.md:11, A)
echo one
---
one

=== README block 2 ($D/readme.md:19, B)
echo two
false
echo never
---
two" ]
	[ "${stderr#$'\n'}" = "readme-check: FAILED, exit 1, in block 2 ($D/readme.md:19-21, section B):
echo two
false
echo never" ]
}

@test "every README block passes, pasted in order as root (throwaway /etc, /run, network)" {
	[ "$(id -u)" = 0 ] || skip "needs root: the README's examples are root's"
	command -v unshare >/dev/null || skip "needs unshare (util-linux)"
	mkdir "$D/up" "$D/work"
	# /etc through an overlay (the README writes /etc/masix), /run a tmpfs,
	# loopback of its own (the README's ports), and every process it left
	# running dies with the pid namespace.
	unshare -m -p -n -f --mount-proc sh -c '
		mount -t tmpfs none /run &&
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc' _ "$D" 2>/dev/null ||
	    skip "cannot make mount, pid and network namespaces with an overlay on /etc here"
	rm -rf "$D/up" "$D/work"
	mkdir "$D/up" "$D/work"
	run -0 timeout 120 unshare -m -p -n -f --mount-proc sh -c '
		ip link set lo up &&
		mount -t tmpfs none /run &&
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc || exit
		# a machine where the README already ran (the fresh-machine check
		# runs it before the suite): start from no /etc/masix, as it does
		if [ -d /etc/masix ]; then mount -t tmpfs -o mode=0755 none /etc/masix || exit; fi
		MASIX_README_CHECK=1 sh "$2"' _ "$D" "$CHECK"
	[ "${lines[-1]}" = "readme-check: all 7 blocks passed" ]
}
