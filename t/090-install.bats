#!/usr/bin/env bats
# make install honours PREFIX and DESTDIR, and the installed masix-node
# finds the daemons next to itself.

load helpers

@test "make install puts programs, man pages and masix-node under DESTDIR/PREFIX" {
	dest=$(new_rundir); RUNDIRS="$dest"
	run -0 make -s -C "$TOP" install DESTDIR="$dest" PREFIX=/opt/mx
	run -0 sh -c "cd '$dest' && find . -type f | sort"
	[ "$output" = "./opt/mx/bin/msgrecv
./opt/mx/bin/msgsend
./opt/mx/bin/sigtool
./opt/mx/sbin/keysrv
./opt/mx/sbin/masix-node
./opt/mx/sbin/namesrv
./opt/mx/sbin/portd
./opt/mx/share/man/man1/msgrecv.1
./opt/mx/share/man/man1/msgsend.1
./opt/mx/share/man/man1/sigtool.1
./opt/mx/share/man/man7/masix.7
./opt/mx/share/man/man8/keysrv.8
./opt/mx/share/man/man8/masix-node.8
./opt/mx/share/man/man8/namesrv.8
./opt/mx/share/man/man8/portd.8" ]
	# The installed masix-node runs the installed daemons.
	node=$(new_rundir); RUNDIRS="$RUNDIRS $node"
	run -0 env -u MASIX_BIN timeout 30 "$dest/opt/mx/sbin/masix-node" start "$node"
	run -0 env -u MASIX_BIN timeout 30 "$dest/opt/mx/sbin/masix-node" status "$node"
	[ "$output" = "$node: running" ]
	run -0 readlink "/proc/$(cat "$node/portd.pid")/exe"
	[ "$output" = "$dest/opt/mx/sbin/portd" ]
	run -0 env -u MASIX_BIN timeout 30 "$dest/opt/mx/sbin/masix-node" stop "$node"
}
