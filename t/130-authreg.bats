#!/usr/bin/env bats
# Servers authenticated at registration (issue 12): namesrv asks portd who
# holds the receive right of the port being registered (the identity pinned
# at connect: uid, binary hash, systemd unit) and keysrv what the admin's
# signed list makes of it. A protected name is taken only by the identity
# the list names; other names stay open; every decision is an audit line.
#
# Unit rules are tested without systemd: the test (as root) makes a cgroup
# v2 directory named like the unit, NAME.service, and moves the server into
# it, which is what systemd does for a unit's processes.

load helpers
load authreg

setup() {
	D=$BATS_TEST_TMPDIR
}

@test "sigtool add -U and --private: list shows them, version 1 lists still load, bad units are refused" {
	run -0 st -d "$D/a" init
	h=sha256:$(printf '%064x' 5)
	run -0 --separate-stderr st -d "$D/a" add -U backup.service svc/backup '*'
	run -0 --separate-stderr st -d "$D/a" add --private -u 0 'fs/internal/*' "$h"
	run -0 --separate-stderr st -d "$D/a" add -U web.scope -u 33 svc/web "$h"
	run -0 --separate-stderr st -d "$D/a" list
	[ "$output" = "svc/backup * unit=backup.service
fs/internal/* $h 0 private
svc/web $h 33 unit=web.scope" ]
	[ "$(head -n 1 "$D/a/signatures.list")" = "version 2" ]
	run -64 --separate-stderr st -d "$D/a" add -U backup svc/x "$h"
	[ "$stderr" = "sigtool: -U: 'backup': not a systemd unit (NAME.service or NAME.scope)" ]
	run -64 --separate-stderr st -d "$D/a" add svc/x '*'
	[ "$stderr" = "sigtool: '*' (any binary) needs -U UNIT or -u UID" ]
	# a version 1 list (no version line), signed by the admin, still loads
	printf '# old\nsvc/old %s 7\n' "$h" >"$D/a/signatures.list"
	openssl pkeyutl -sign -rawin -inkey "$D/a/admin.key" -in "$D/a/signatures.list" \
	    -out "$D/a/signatures.list.sig" 2>/dev/null || skip "openssl cannot sign raw Ed25519 here"
	run -0 --separate-stderr st -d "$D/a" list
	[ "$output" = "svc/old $h 7" ]
	# a list from a newer masix is refused, saying so
	printf 'version 3\n' >"$D/a/signatures.list"
	openssl pkeyutl -sign -rawin -inkey "$D/a/admin.key" -in "$D/a/signatures.list" -out "$D/a/signatures.list.sig"
	run -65 --separate-stderr st -d "$D/a" list
	[ "$stderr" = "sigtool: $D/a/signatures.list: line 1: list version '3' is not one this masix reads (1 or 2)" ]
}

@test "an unprivileged user registering a protected name is refused (77, keysrv's reason, an audit line)" {
	need_root "registers as a user made for the test"
	make_user
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	run -77 --separate-stderr runuser -u "$TUSER" -- "$W/msgrecv" -R "$R" svc/bank
	[ "$stderr" = "msgrecv: svc/bank: not permitted: uid $TUID running $H$(unit_suffix) is not listed for svc/*" ]
	grep -E "namesrv: audit: register 'svc/bank' uid $TUID pid [0-9]+ exe $H unit $(unit_field): refused, rule svc/\*: uid $TUID running" "$R/namesrv.log"
	# nobody else got it: the name is free
	run -69 --separate-stderr msgsend svc/bank x
	[ "$stderr" = "msgsend: svc/bank: no such name" ]
	# names no rule covers stay open to anyone
	bg runuser -u "$TUSER" -- "$W/msgrecv" -R "$R" -x cat open/echo
	wait_name open/echo
	run -0 --separate-stderr msgsend -r open/echo hi
	[ "$output" = "hi" ]
	grep -E "namesrv: audit: register 'open/echo' uid $TUID pid [0-9]+ exe $H unit $(unit_field): open, rule -" "$R/namesrv.log"
}

@test "the listed binary run as root is accepted; a copy with one byte changed is refused; squatting first is impossible" {
	need_root "runs root's listed server and a test user's squatter"
	make_user
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	# the test user tries to take the name before the real server starts
	run -77 --separate-stderr runuser -u "$TUSER" -- "$W/msgrecv" -R "$R" svc/bank
	# a copy of the listed binary with one more byte, run as root
	cp "$W/msgrecv" "$D/msgrecv2"
	printf 'x' >>"$D/msgrecv2"
	H2=$(hash_of "$D/msgrecv2")
	run -77 --separate-stderr "$D/msgrecv2" -R "$R" svc/bank
	[ "$stderr" = "msgrecv: svc/bank: not permitted: uid 0 running $H2$(unit_suffix) is not listed for svc/*" ]
	# the listed binary, as root
	bg "$W/msgrecv" -R "$R" -x 'echo "bank: $(cat)"' svc/bank
	wait_name svc/bank
	grep -E "namesrv: audit: register 'svc/bank' uid 0 pid [0-9]+ exe $H unit $(unit_field): allowed, rule svc/\* $H 0$" "$R/namesrv.log"
	run -0 --separate-stderr msgsend -r svc/bank pay
	[ "$output" = "bank: pay" ]
	# and it keeps it: the test user still cannot take it
	run -69 --separate-stderr runuser -u "$TUSER" -- "$W/msgrecv" -R "$R" svc/bank
	[ "$stderr" = "msgrecv: svc/bank: name already registered" ]
}

@test "keysrv stopped: protected registrations fail closed with a clear message, open names still register" {
	need_root "runs root's listed server"
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	# one registration: namesrv learns from keysrv which names the list protects
	run -0 --separate-stderr "$W/authreg" -R "$R" reg open/one
	stop_daemon keysrv
	run -69 --separate-stderr "$W/msgrecv" -R "$R" svc/bank
	[ "$stderr" = "msgrecv: svc/bank: cannot check who may register 'svc/bank': keysrv is not running" ]
	grep -E "namesrv: audit: register 'svc/bank' uid 0 pid [0-9]+ exe $H unit $(unit_field): failed closed, rule -: keysrv is not running" "$R/namesrv.log"
	run -0 --separate-stderr "$W/authreg" -R "$R" reg open/two
	[ "$output" = "open/two: ok" ]
}

# bytes waiting in the socket of process $1 (what portd pushed ahead of its receives)
recvq_of() { ss -xHp | awk -v p="pid=$1," 'index($0, p) && $3 > 0 { found = 1 } END { exit !found }'; }

@test "keysrv dies with registrations waiting: they are asked again at once and fail closed; a new keysrv answers" {
	need_root "runs root's listed server"
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv" "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	run -0 --separate-stderr "$W/authreg" -R "$R" reg open/one
	pid=$(cat "$R/keysrv.pid")
	kill -STOP "$pid"
	"$W/msgrecv" -R "$R" svc/bank 2>"$D/err" &
	rpid=$!
	# the question is queued to the stopped keysrv: it waits in keysrv's socket
	wait_for recvq_of "$pid"
	kill -KILL "$pid"
	wait_gone "$pid"
	rm -f "$R/keysrv.pid"
	run -69 wait "$rpid"
	# not "did not answer in time" (2 s later): namesrv heard keysrv die and asked again
	[ "$(cat "$D/err")" = "msgrecv: svc/bank: cannot check who may register 'svc/bank': keysrv is not running" ]
	bg sh -c 'echo $$ >"$0/keysrv.pid"; exec "$1" -R "$0" -S "$0/state" -c "$0/masix.conf" 2>>"$0/keysrv.log"' \
	    "$R" "$MASIX_BIN/keysrv"
	wait_for timeout 5 "$MASIX_BIN/keysrv" -q -R "$R" ca-cert
	run -0 --separate-stderr "$W/authreg" -R "$R" reg open/two
	[ "$output" = "open/two: ok" ]
	"$W/msgrecv" -R "$R" svc/bank >/dev/null 2>"$D/err2" &
	BG_PIDS="${BG_PIDS:-} $!"
	wait_log 1 "audit: register 'svc/bank' uid 0 pid $! exe $H" "$R/namesrv.log"
	grep -E "audit: register 'svc/bank' uid 0 pid $! exe $H unit .*: allowed, rule svc/\\*" "$R/namesrv.log"
}

@test "strict = yes: a name no rule covers is refused too" {
	need_root "runs root's server"
	start_node 'strict = yes'
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	run -1 --separate-stderr "$W/authreg" -R "$R" reg svc/a open/b
	[ "$output" = "svc/a: ok
open/b: not permitted: no rule for 'open/b' in the signature list (strict)" ]
	grep -E "namesrv: audit: register 'open/b' uid 0 pid [0-9]+ exe $H unit $(unit_field): refused, rule strict: no rule for 'open/b'" "$R/namesrv.log"
}

@test "1000 registrations by one binary hash it once" {
	need_root "reads the log of a root node"
	start_node
	W=$(world_copy "$MASIX_TOOLS/authreg")
	run -0 --separate-stderr "$W/authreg" -R "$R" many t 1000
	[ "$output" = "registered 1000" ]
	ino=$(stat -c %i "$W/authreg")
	[ "$(grep -c "portd: hashed the binary of pid [0-9]* (dev [0-9]* ino $ino, " "$R/portd.log")" = 1 ]
	# and again from another process of the same binary: still cached
	run -0 --separate-stderr "$W/authreg" -R "$R" many u 10
	[ "$(grep -c "portd: hashed the binary of pid [0-9]* (dev [0-9]* ino $ino, " "$R/portd.log")" = 1 ]
}

@test "a binary over the hash size limit has no identity: the documented refusal" {
	need_root "runs root's server"
	start_node 'exe_hash_max_mib = 1'
	W=$(world_copy "$MASIX_TOOLS/authreg")
	# the same program, padded past 1 MiB (trailing bytes do not change how it runs)
	head -c $((2 << 20)) /dev/zero >>"$W/authreg"
	H=$(hash_of "$W/authreg")
	size=$(stat -c %s "$W/authreg")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	run -1 --separate-stderr "$W/authreg" -R "$R" reg svc/big open/big
	[ "$output" = "svc/big: not permitted: uid 0 running no hashed binary$(unit_suffix) is not listed for svc/* (no binary identity: binary of $size bytes is over the hash limit of 1048576 bytes (exe_hash_max_mib))
open/big: ok" ]
}

@test "a unit rule accepts a script run in that unit and refuses it outside" {
	need_root "makes a cgroup named like the unit"
	cg=/sys/fs/cgroup
	[ "$(stat -f -c %T "$cg" 2>/dev/null)" = cgroup2fs ] || cg=/sys/fs/cgroup/unified
	[ "$(stat -f -c %T "$cg" 2>/dev/null)" = cgroup2fs ] || skip "no cgroup v2 hierarchy mounted"
	unit=mxtest-$$.service
	mkdir "$cg/$unit" 2>/dev/null || skip "cgroup v2 at $cg is not writable"
	on_teardown "rmdir '$cg/$unit' 2>/dev/null || true"
	start_node
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	st -d "$A" add -U "$unit" svc/backup '*'
	push_list
	run -77 --separate-stderr "$W/msgrecv" -R "$R" svc/backup
	[ "$stderr" = "msgrecv: svc/backup: not permitted: uid 0 running $H$(unit_suffix) is not listed for svc/backup" ]
	bg sh -c 'echo $$ >"$0/cgroup.procs" && exec "$1" -R "$2" -x "echo backup: \$(cat)" svc/backup' "$cg/$unit" "$W/msgrecv" "$R"
	wait_name svc/backup
	grep -E "namesrv: audit: register 'svc/backup' uid 0 pid [0-9]+ exe $H unit $unit: allowed, rule svc/backup \* unit=$unit$" "$R/namesrv.log"
	run -0 --separate-stderr msgsend -r svc/backup now
	[ "$output" = "backup: now" ]
	kill "${BG_PIDS##* }"
	wait_gone "${BG_PIDS##* }"
}

@test "a server stamps its service on what it sends; after exec'ing another binary it no longer does" {
	need_root "runs root's listed server"
	start_node
	W=$(world_copy "$MASIX_TOOLS/authreg" "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/authreg")
	cp "$W/authreg" "$W/other"
	printf 'x' >>"$W/other"
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	bg "$W/msgrecv" -R "$R" -n 2 -x "echo \"\${MSG_SENDER_SERVICE:-none}: \$(cat)\" >>$D/seen" t.sink
	wait_name t.sink
	run -0 --separate-stderr "$W/authreg" -R "$R" send-exec svc/ex t.sink "$W/other"
	[ "$output" = "sent before exec
sent after exec" ]
	wait_for sh -c '[ "$(wc -l <"$0")" = 2 ]' "$D/seen"
	[ "$(cat "$D/seen")" = "svc/ex: before
none: after" ]
	grep -E "portd: pid [0-9]+ no longer runs the binary it registered 'svc/ex' with \(exec'd or gone\): its messages carry no service" "$R/portd.log"
}

@test "msgrecv --from SERVICE serves only that verified service; others get \"not permitted\"" {
	need_root "runs root's listed server"
	start_node
	W=$(world_copy "$MASIX_TOOLS/authreg")
	H=$(hash_of "$W/authreg")
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	bg sh -c 'exec "$0" -R "$1" --from svc/teller -n 1 -x "echo \"\$MSG_SENDER_SERVICE says \$(cat)\"" vault 2>"$1/vault.err"' \
	    "$MASIX_BIN/msgrecv" "$R"
	wait_name vault
	# not the service: refused
	run -1 --separate-stderr msgsend -r vault open-up
	[ "$stderr" = "msgsend: vault: server failed: not permitted" ]
	grep -E "msgrecv: vault: message from pid [0-9]+ \(service ''\) refused: not svc/teller" "$R/vault.err"
	# another protected name is not that service either
	run -1 --separate-stderr "$W/authreg" -R "$R" ask-as svc/other vault open-up
	[ "$stderr" = "authreg: request: server answered with an error: not permitted" ]
	# the verified service
	run -0 --separate-stderr "$W/authreg" -R "$R" ask-as svc/teller vault open-up
	[ "$output" = "svc/teller says open-up" ]
}

@test "fresh copies of a binary: a uid has exe_hash_max_mib hashed per 8 s, then waits; other uids do not" {
	need_root "registers as a user made for the test"
	make_user
	start_node 'exe_hash_max_mib = 8'
	W=$(world_copy "$MASIX_TOOLS/authreg")
	# 5.6 MiB copies (the program is smaller, even under ASan): one fits the
	# 8 MiB bucket, the next one after 3 s of refill (1 MiB/s)
	head -c $((56 * 1024 * 1024 / 10 - $(stat -c %s "$W/authreg"))) /dev/zero >>"$W/authreg"
	H=$(hash_of "$W/authreg")
	for c in 1 2 3; do cp "$W/authreg" "$W/copy$c"; done
	chmod 0755 "$W"/copy*
	st -d "$A" add -u "$TUID" 'svc/*' "$H"
	st -d "$A" add -u 0 'svc/*' "$H"
	push_list
	run -0 --separate-stderr runuser -u "$TUSER" -- "$W/copy1" -R "$R" reg svc/one
	[ "$output" = "svc/one: ok" ]
	run -1 --separate-stderr runuser -u "$TUSER" -- "$W/copy2" -R "$R" reg svc/two
	[[ $output =~ ^"svc/two: not permitted: uid $TUID running no hashed binary".*" (no binary identity: uid $TUID had 8 MiB of binaries hashed lately: its hash budget is back in "[1-4]" s)"$ ]]
	# root has a bucket of its own
	run -0 --separate-stderr "$W/copy3" -R "$R" reg svc/three
	[ "$output" = "svc/three: ok" ]
	[ "$(grep -c "portd: hashed the binary of pid" "$R/portd.log")" = 2 ]
}
