#!/usr/bin/env bats
# What tasks see when the node's daemons restart: a portd that goes away
# fails every call of its tasks at once (blocked ones included), msgrecv
# exits 69 or, with --reconnect, registers again once portd is back (on a
# socket that was absent for a while, or one a manager kept open); keysrv
# killed and started again leaves the links between nodes up and lets a new
# node join; namesrv killed and started again serves the names of the
# servers still alive (portd kept them), here and to other nodes, while
# requests and waiting lookups carry on.

load helpers
load cluster

# pid_of DIR NAME: the pid masix-node wrote for daemon NAME of DIR.
pid_of() { cat "$1/$2.pid"; }

# kill_portd: kill -9 the node's portd; its namesrv and keysrv end with it.
kill_portd() {
	local p n s
	p=$(pid_of "$MASIX_RUNDIR" portd)
	n=$(pid_of "$MASIX_RUNDIR" namesrv)
	s=$(pid_of "$MASIX_RUNDIR" keysrv)
	kill -9 "$p"
	wait_gone "$p"
	wait_gone "$n"
	wait_gone "$s"
}

# connected PID: the process PID holds a connected Unix socket (to portd).
connected() { [ -n "$(ss -Hxp state connected 2>/dev/null | grep "pid=$1,")" ]; }

# exited_with FILE CODE: the background command wrote its exit status CODE to FILE.
exited_with() { [ -s "$1" ] && [ "$(cat "$1")" = "$2" ]; }

@test "portd killed: a request blocked on its reply fails at once, 69, 'portd went away'" {
	node_start
	D=$MASIX_RUNDIR
	# The server's command outlives portd; it ends when teardown removes D.
	bg "$MASIX_BIN/msgrecv" -x "touch $D/started; while [ -d $D ]; do sleep 0.05; done" slow
	wait_name slow
	bg sh -c 'timeout 30 "$0" -r slow hi 2>"$1/err"; echo $? >"$1/rc"' "$MASIX_BIN/msgsend" "$D"
	wait_for test -e "$D/started"
	kill -9 "$(pid_of "$D" portd)"
	# At once: not after the server's command, not after a timeout.
	wait_for -t 2 exited_with "$D/rc" 69
	run -0 cat "$D/err"
	[ "$output" = "msgsend: slow: portd went away" ]
}

@test "portd killed: a send blocked on a full queue fails, never reports success" {
	node_start
	D=$MASIX_RUNDIR
	bg "$MASIX_TOOLS/mxtool" -R "$D" hold full 1
	wait_name full
	run -0 msgsend full first
	bg sh -c 'timeout 30 "$0" full second 2>"$1/err"; echo $? >"$1/rc"' "$MASIX_BIN/msgsend" "$D"
	pid=${BG_PIDS##* }
	wait_for connected "$(pgrep -P "$(pgrep -P "$pid")")"
	[ ! -e "$D/rc" ]
	kill -9 "$(pid_of "$D" portd)"
	wait_for -t 2 exited_with "$D/rc" 69
	run -0 cat "$D/err"
	[ "$output" = "msgsend: full: portd went away" ]
}

@test "portd killed: msgrecv exits 69 with 'portd went away'" {
	node_start
	D=$MASIX_RUNDIR
	bg sh -c 'timeout 30 "$0" inbox 2>"$1/err"; echo $? >"$1/rc"' "$MASIX_BIN/msgrecv" "$D"
	wait_name inbox
	kill -9 "$(pid_of "$D" portd)"
	wait_for -t 2 exited_with "$D/rc" 69
	run -0 cat "$D/err"
	[ "$output" = "msgrecv: inbox: receive: portd went away" ]
	# Without portd, a new task is told so (the socket left behind refuses).
	run -69 --separate-stderr msgsend inbox hi
	[ "$stderr" = "msgsend: cannot reach portd in $D: portd is not running" ]
}

@test "msgrecv --reconnect: registers again once portd is back, even after its socket was gone a while" {
	node_start
	D=$MASIX_RUNDIR
	bg sh -c 'exec "$0" --reconnect -x "echo \"got \$(cat)\"" echo 2>"$1/err"' "$MASIX_BIN/msgrecv" "$D"
	pid=${BG_PIDS##* }
	wait_name echo
	run -0 msgsend -r echo one
	[ "$output" = "got one" ]
	kill_portd
	wait_log 1 "msgrecv: echo: portd went away; reconnecting" "$D/err"
	# No socket at all for a while: msgrecv keeps trying.
	rm "$D/portd.sock"
	run -69 --separate-stderr msgsend echo hi
	[ "$stderr" = "msgsend: cannot reach portd in $D: portd is not running" ]
	pid_alive "$pid"
	timeout 30 "$NODE" start "$D"
	wait_for -t 5 msgsend -r echo two
	run -0 msgsend -r echo three
	[ "$output" = "got three" ]
	run -0 cat "$D/err"
	[ "$output" = "msgrecv: echo: portd went away; reconnecting
msgrecv: echo: registered again" ]
}

# portd_keeper DIR: hold portd's socket as a service manager does
# (systemd-socket-activate, like masix-portd.socket) and start portd on it
# again each time it dies, once DIR/go exists; DIR/portd.pid names the
# current one. It ends when killed (teardown) or when DIR is removed.
portd_keeper() {
	exec systemd-socket-activate -l "$1/portd.sock" sh -c '
		d=$1 bin=$2
		while [ -d "$d" ]; do
			while [ -d "$d" ] && [ ! -e "$d/go" ]; do sleep 0.05; done
			[ -e "$d/go" ] || exit 0
			rm -f "$d/go"
			sh -c "echo \$\$ >\"\$0/portd.pid\"; LISTEN_PID=\$\$ exec \"\$1/portd\" -R \"\$0\"" "$d" "$bin" 2>>"$d/portd.log"
		done' _ "$1" "$MASIX_BIN"
}

# start_namesrv DIR: a namesrv on DIR's portd, ready (READY on -F) when this returns.
start_namesrv() {
	rm -f "$1/namesrv.ready"
	bg sh -c 'exec "$0" -R "$1" -F 3 3>"$1/namesrv.ready" 2>>"$1/namesrv.log"' "$MASIX_BIN/namesrv" "$1"
	wait_for test -s "$1/namesrv.ready"
}

@test "msgrecv --reconnect: with the socket kept by a manager, it waits for the new portd and registers again" {
	command -v systemd-socket-activate >/dev/null ||
		skip "systemd-socket-activate is not installed (apt-get install systemd)"
	D=$(new_rundir)
	export MASIX_RUNDIR=$D
	RUNDIRS="${RUNDIRS:-} $D"
	touch "$D/go"
	bg portd_keeper "$D"
	wait_for test -S "$D/portd.sock"
	start_namesrv "$D"
	bg sh -c 'exec "$0" --reconnect -x "echo \"got \$(cat)\"" echo 2>"$1/err"' "$MASIX_BIN/msgrecv" "$D"
	wait_name echo
	run -0 msgsend -r echo one
	[ "$output" = "got one" ]
	kill -9 "$(pid_of "$D" portd)"
	wait_log 1 "msgrecv: echo: portd went away; reconnecting" "$D/err"
	# The socket is still there, held by the manager: connecting works.
	[ -S "$D/portd.sock" ]
	touch "$D/go"
	start_namesrv "$D"
	wait_for -t 5 msgsend -r echo two
	run -0 msgsend -r echo three
	[ "$output" = "got three" ]
	run -0 cat "$D/err"
	[ "$output" = "msgrecv: echo: portd went away; reconnecting
msgrecv: echo: registered again" ]
}

# directory_is I NAMES: node I's keysrv directory lists exactly NAMES.
directory_is() {
	[ "$(on "$1" timeout 10 "$MASIX_BIN/keysrv" -q directory | cut -d' ' -f1 | sort | tr '\n' ' ')" = "$2" ]
}

@test "keysrv killed and started again: links stay up, requests cross them, a third node joins after" {
	cluster_start 3
	node_ctl stop 3
	on 2 bg "$MASIX_BIN/msgrecv" -x 'echo "$MSG_SENDER_NODE asked $(cat)"' echo2
	on 2 wait_name echo2
	run -0 on 1 msgsend -r echo2@n2 before
	[ "$output" = "n1 asked before" ]
	D1=${NODE_DIR[1]}
	pid=$(pid_of "$D1" keysrv)
	kill -9 "$pid"
	wait_gone "$pid"
	# Away: the link still carries requests, both ways; what needs keysrv says so.
	run -0 on 1 msgsend -r echo2@n2 during
	[ "$output" = "n1 asked during" ]
	run -0 on 1 msgsend -r echo2 unqualified
	[ "$output" = "n1 asked unqualified" ]
	run -69 --separate-stderr on 1 timeout 10 "$MASIX_BIN/keysrv" -q directory
	[ "$stderr" = "keysrv: keysrv is not running" ]
	# Back (what Restart=on-failure does): portd tells it the links it has.
	on 1 bg sh -c 'echo $$ >"$0/keysrv.pid"; exec "$1" -R "$0" -S "$0/state" -c "$0/masix.conf" 2>>"$0/keysrv.log"' \
	    "$D1" "$MASIX_BIN/keysrv"
	wait_for directory_is 1 "n1 n2 "
	run -0 on 1 msgsend -r echo2@n2 after
	[ "$output" = "n1 asked after" ]
	# A third node joins the node whose keysrv restarted, and is served.
	node_ctl start 3
	wait_log 2 "node n3: linked" "$D1/portd.log"
	wait_for directory_is 1 "n1 n2 n3 "
	run -0 on 3 msgsend -r echo2@n2 from three
	[ "$output" = "n3 asked from three" ]
	on 1 bg "$MASIX_BIN/msgrecv" -x 'echo "n1 answers $MSG_SENDER_NODE"' echo1
	on 1 wait_name echo1
	run -0 on 3 msgsend -r echo1@n1 hi
	[ "$output" = "n1 answers n3" ]
}

# ---- namesrv restarts: portd keeps the names and hands them back ----

# namesrv_again DIR: start DIR's namesrv as masix-node (or the unit's
# Restart=on-failure) does: the node's masix.conf, its pid in
# DIR/namesrv.pid (so teardown stops it), ready (READY on -F) on return.
namesrv_again() {
	local d=$1
	rm -f "$d/namesrv.ready"
	set -- -R "$d" -F 3
	[ ! -f "$d/masix.conf" ] || set -- "$@" -c "$d/masix.conf"
	"$MASIX_BIN/namesrv" "$@" 3>"$d/namesrv.ready" >>"$d/namesrv.log" 2>&1 </dev/null &
	echo $! >"$d/namesrv.pid"
	wait_for test -s "$d/namesrv.ready"
}

# kill_namesrv DIR: kill -9 DIR's namesrv and wait until it is gone.
kill_namesrv() {
	local p
	p=$(pid_of "$1" namesrv)
	kill -9 "$p"
	wait_gone "$p"
}

# numbered_server NAME FILE: a server answering "answer to N" to the
# request N, and writing N to FILE for each request it serves.
numbered_server() {
	bg env SERVED="$2" "$MASIX_BIN/msgrecv" -x 'n=$(cat); echo "$n" >>"$SERVED"; printf "answer to %s" "$n"' "$1"
}

# stream STATE RUNDIR NAME: requests 1, 2, ... to NAME, each by its own
# msgsend (each looks NAME up again, waiting for it up to 10 s), until
# STATE/stop exists; STATE/count holds the last number sent, STATE/bad
# each request that failed or got a wrong answer; STATE/stopped at the end.
stream() {
	local st=$1 rd=$2 name=$3 i=0 out rc
	while [ ! -e "$st/stop" ]; do
		i=$((i + 1))
		rc=0
		out=$(timeout 30 "$MASIX_BIN/msgsend" -R "$rd" -w 10 -r "$name" "$i" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ] || [ "$out" != "answer to $i" ]; then
			echo "request $i: exit $rc: $out" >>"$st/bad"
		fi
		echo "$i" >"$st/count"
	done
	touch "$st/stopped"
}

# count_ge STATE N: the stream of STATE has sent N requests or more.
count_ge() { [ "$(cat "$1/count" 2>/dev/null || echo 0)" -ge "$2" ]; }

# stream_ok STATE SERVED: stop the stream; every request got its own
# answer, and the server served each exactly once.
stream_ok() {
	local n
	touch "$1/stop"
	wait_for test -e "$1/stopped"
	if [ -e "$1/bad" ]; then
		cat "$1/bad" >&2
		return 1
	fi
	n=$(cat "$1/count")
	[ "$(sort -n "$2" | tr '\n' ' ')" = "$(seq "$n" | tr '\n' ' ')" ]
}

@test "namesrv killed under load and started again: the stream pauses and goes on, every answer its own; the name is back within 1 s" {
	node_start
	D=$MASIX_RUNDIR
	numbered_server echo "$D/served"
	wait_name echo
	bg stream "$D" "$D" echo
	wait_for count_ge "$D" 5
	kill_namesrv "$D"
	# Away: lookups say so, or wait when they may; nothing is answered wrong.
	run -69 mxtool resolve echo
	[ "$output" = "echo: namesrv is not running" ]
	n=$(cat "$D/count")
	namesrv_again "$D"
	wait_for -t 1 mxtool resolve echo
	wait_for count_ge "$D" $((n + 10))
	stream_ok "$D" "$D/served"
	run -0 grep -c "names kept by portd: 1, bound again: 1" "$D/namesrv.log"
}

@test "namesrv killed under load and started again: a stream from another node goes on, the name resolves from there within 1 s" {
	cluster_start 2
	D1=${NODE_DIR[1]} D2=${NODE_DIR[2]}
	on 1 numbered_server echo1 "$D1/served"
	on 1 wait_name echo1
	# NAME@NODE: each lookup is n1's namesrv's to answer.
	bg stream "$D2" "$D2" echo1@n1
	wait_for count_ge "$D2" 5
	kill_namesrv "$D1"
	n=$(cat "$D2/count")
	namesrv_again "$D1"
	wait_for -t 1 on 2 mxtool resolve echo1@n1
	wait_for count_ge "$D2" $((n + 10))
	stream_ok "$D2" "$D1/served"
	# Unqualified, through n2's cache or a fresh question to n1.
	run -0 on 2 msgsend -r echo1 last
	[ "$output" = "answer to last" ]
}

@test "namesrv restarted: a server that died meanwhile is not brought back; one alive is" {
	node_start
	D=$MASIX_RUNDIR
	bg "$MASIX_BIN/msgrecv" -x 'printf "still here"' stay
	bg "$MASIX_BIN/msgrecv" gone
	gone=${BG_PIDS##* }
	wait_name stay
	wait_name gone
	kill_namesrv "$D"
	kill -9 "$gone"
	wait_gone "$gone"
	namesrv_again "$D"
	run -0 msgsend -r stay hi
	[ "$output" = "still here" ]
	run -69 --separate-stderr msgsend gone hi
	[ "$stderr" = "msgsend: gone: no such name" ]
	run -0 grep -c "names kept by portd: 1, bound again: 1" "$D/namesrv.log"
	# The name is free for a new server.
	bg "$MASIX_BIN/msgrecv" -x 'printf "new one"' gone
	wait_name gone
	run -0 msgsend -r gone hi
	[ "$output" = "new one" ]
}

@test "namesrv stopped cleanly and started again (a unit's restart) serves the same names" {
	node_start
	D=$MASIX_RUNDIR
	bg "$MASIX_BIN/msgrecv" -x 'printf "same"' svc
	wait_name svc
	p=$(pid_of "$D" namesrv)
	kill "$p"
	wait_gone "$p"
	namesrv_again "$D"
	run -0 msgsend -r svc hi
	[ "$output" = "same" ]
}

@test "namesrv killed: a server that exits when no sender is left serves on (the name portd keeps is a sender)" {
	node_start
	D=$MASIX_RUNDIR
	bg "$MASIX_BIN/msgrecv" --exit-no-senders -x 'printf "kept"' nosend
	srv=${BG_PIDS##* }
	wait_name nosend
	kill_namesrv "$D"
	# namesrv's own send right died with it; portd's is left, so no notice:
	# the server is still there once a new namesrv has the name back.
	namesrv_again "$D"
	pid_alive "$srv"
	run -0 msgsend -r nosend hi
	[ "$output" = "kept" ]
}

# msgsend_pid: the msgsend under the last bg's sh and timeout.
msgsend_pid() { pgrep -P "$(pgrep -P "${BG_PIDS##* }")"; }

@test "a lookup waiting when namesrv is killed is answered after the restart" {
	node_start
	D=$MASIX_RUNDIR
	bg sh -c 'timeout 30 "$0" -w 20 -r late hi >"$1/out" 2>"$1/err"; echo $? >"$1/rc"' "$MASIX_BIN/msgsend" "$D"
	wait_for connected "$(msgsend_pid)"
	kill_namesrv "$D"
	[ ! -e "$D/rc" ]
	namesrv_again "$D"
	bg "$MASIX_BIN/msgrecv" -x 'printf "late answer to %s" "$(cat)"' late
	wait_for exited_with "$D/rc" 0
	[ "$(cat "$D/out")" = "late answer to hi" ]
	[ ! -s "$D/err" ]
}

@test "a lookup waiting when namesrv is killed for good fails with 'namesrv is not running', never hangs" {
	node_start
	D=$MASIX_RUNDIR
	bg sh -c 'timeout 30 "$0" -w 1 -r late hi 2>"$1/err"; echo $? >"$1/rc"' "$MASIX_BIN/msgsend" "$D"
	wait_for connected "$(msgsend_pid)"
	kill_namesrv "$D"
	# It waits a while for a namesrv to come back (5 s), then says why.
	wait_for -t 10 exited_with "$D/rc" 69
	[ "$(cat "$D/err")" = "msgsend: late: namesrv is not running" ]
}

@test "only the NAME port's holder may have portd keep or drop a name" {
	node_start
	D=$MASIX_RUNDIR
	bg "$MASIX_BIN/msgrecv" -x 'printf "the real one"' echo
	wait_name echo
	run -0 mxtool name-keep echo
	[ "$output" = "keep echo: not permitted
drop echo: not permitted" ]
	# What portd keeps is unchanged: after a restart, echo is still the real server.
	kill_namesrv "$D"
	namesrv_again "$D"
	run -0 msgsend -r echo hi
	[ "$output" = "the real one" ]
}

@test "names handed back are charged to their uid again: a restart is no way around names_per_uid" {
	need_root "the user is one the test creates with useradd"
	u=mx110a
	if ! id -u "$u" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
		on_teardown "userdel $u"
	fi
	A=$(id -u "$u")
	D=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $D"
	export MASIX_RUNDIR=$D
	echo "names_per_uid = 2" >"$D/masix.conf"
	timeout 30 "$NODE" start "$D"
	chmod 0755 "$D"	# the user reaches portd's socket
	bg timeout 60 setpriv --reuid="$u" --regid="$u" --clear-groups -- "$MASIX_TOOLS/nsflood" -R "$D" names 3 u \
	    >"$D/u.out"
	wait_for grep -q "^u.2: " "$D/u.out"
	[ "$(cat "$D/u.out")" = "registered 2
u.2: over budget: uid $A names 2" ]
	# Back with the same budget: both names again, and still no third.
	kill_namesrv "$D"
	namesrv_again "$D"
	run -0 mxtool resolve u.0
	run -0 mxtool resolve u.1
	run -0 grep -c "names kept by portd: 2, bound again: 2" "$D/namesrv.log"
	run -75 --separate-stderr timeout 60 setpriv --reuid="$u" --regid="$u" --clear-groups -- \
	    "$MASIX_BIN/msgrecv" -R "$D" u.2
	[ "$stderr" = "msgrecv: u.2: over budget: uid $A names 2" ]
	# Back with a smaller one: what does not fit is dropped, here and in portd.
	echo "names_per_uid = 1" >"$D/masix.conf"
	kill_namesrv "$D"
	namesrv_again "$D"
	run -0 mxtool resolve u.0
	run -69 mxtool resolve u.1
	[ "$output" = "u.1: no such name" ]
	run -0 grep -c "names kept by portd: 2, bound again: 1" "$D/namesrv.log"
	grep -Eq "'u.1' of pid [0-9]+ uid $A not restored: over budget" "$D/namesrv.log"
	kill_namesrv "$D"
	namesrv_again "$D"
	run -0 grep -c "names kept by portd: 1, bound again: 1" "$D/namesrv.log"
}
