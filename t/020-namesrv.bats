#!/usr/bin/env bats
# namesrv: register, look up, unregister; names die with their ports.

load helpers

@test "namesrv -h prints the usage line" {
	run -0 "$MASIX_BIN/namesrv" -h
	[ "$output" = "usage: namesrv [-hnsv] [-c FILE] [-F FD] [-R DIR] [-S DIR]" ]
}

@test "a registered name is found, and dropped when its port dies" {
	node_start
	bg "$MASIX_BIN/msgrecv" -x cat svc
	pid=${BG_PIDS##* }
	run -0 mxtool lookup svc
	[ "$output" = "svc is registered" ]
	kill "$pid"; wait "$pid" 2>/dev/null || :
	run -69 --separate-stderr msgsend svc hello
	[ "$stderr" = "msgsend: svc: no such name" ]
}

@test "a second registration of a live name fails with a clear error" {
	node_start
	bg "$MASIX_BIN/msgrecv" taken
	wait_name taken
	run -69 --separate-stderr msgrecv taken
	[ "$stderr" = "msgrecv: taken: name already registered" ]
	grep -q "'taken': refused for pid" "$MASIX_RUNDIR/namesrv.log"
}

@test "the name is free again once its holder is gone" {
	node_start
	bg "$MASIX_BIN/msgrecv" reuse
	pid=${BG_PIDS##* }
	wait_name reuse
	kill "$pid"; wait "$pid" 2>/dev/null || :
	bg "$MASIX_BIN/msgrecv" -n 1 reuse
	run -0 msgsend -w 5 reuse second life
	rc=0; wait ${BG_PIDS##* } || rc=$?; [ "$rc" -eq 0 ]
}

@test "names outside [A-Za-z0-9._/-] or longer than 255 are refused" {
	node_start
	run -64 --separate-stderr msgsend 'bad name' hi
	[ "$stderr" = "msgsend: 'bad name': invalid name (1-255 characters of A-Z a-z 0-9 . _ / -, then @NODE optionally)" ]
	long=$(printf 'a%.0s' $(seq 256))
	run -64 --separate-stderr msgrecv "$long"
	[ "$stderr" = "msgrecv: '$long': invalid name (1-255 characters of A-Z a-z 0-9 . _ / -)" ]
	ok=$(printf 'b%.0s' $(seq 255))
	bg "$MASIX_BIN/msgrecv" -n 1 "$ok"
	run -0 msgsend -w 5 "$ok" fits
	bg "$MASIX_BIN/msgrecv" -n 1 svc/a.b_c-1
	run -0 msgsend -w 5 svc/a.b_c-1 punctuation
}

@test "a second namesrv on the node refuses to start" {
	node_start
	run -69 --separate-stderr timeout 10 "$MASIX_BIN/namesrv" -R "$MASIX_RUNDIR"
	[ "$stderr" = "namesrv: NAME port: another namesrv holds it" ]
}

@test "without namesrv the tools say so" {
	d=$(new_rundir); RUNDIRS="$d"
	bg timeout 20 "$MASIX_BIN/portd" -R "$d" 2>"$d/portd.log"
	timeout 5 "$MASIX_TOOLS/mxtool" -R "$d" wait-socket
	run -69 --separate-stderr timeout 10 "$MASIX_BIN/msgsend" -R "$d" anything hi
	[ "$stderr" = "msgsend: anything: namesrv is not running" ]
}

@test "a lookup with -w waits for the name, up to its limit" {
	node_start
	bg msgsend -w 5 late "worth the wait"
	sender=${BG_PIDS##* }
	# Time must pass: the name must not exist yet when the sender looks.
	sleep 0.5
	run -0 msgrecv -n 1 late
	[ "$output" = "worth the wait" ]
	rc=0; wait "$sender" || rc=$?; [ "$rc" -eq 0 ]
	run -69 --separate-stderr msgsend -w 0.3 never hi
	[ "$stderr" = "msgsend: never: no such name (waited 0.3 s)" ]
}
