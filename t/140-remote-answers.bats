#!/usr/bin/env bats
# Name answers crossing nodes. A broadcast answer carries no right (anyone
# may hear it): the node that hears it links to the owner and asks again
# over the link, where the answer's right is counted for it and given back
# when it lets go, so no-senders holds (issue 11). A late answer for a
# service port gives its right back. (Real nodes: t/cluster.bash, netns.bash;
# a member node gone bad: t/rogue.bash.)

bats_require_minimum_version 1.5.0
load helpers
load cluster
load rogue
load authreg

is() { [ "$(cat "$1")" = "$2" ]; }

# bcast_node I ADMIN [CONF_LINE...]: node nI in namespace I, broadcast on,
# no static peer; its runtime directory in NODE_DIR[I].
bcast_node() {
	local i=$1 admin=$2 d
	shift 2
	d=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $d"
	NODE_DIR[$i]=$d
	node_init "$d" "n$i" "$admin" || return 1
	{
		echo "node = n$i"
		echo "listen = 10.77.0.$i:4170"
		echo "broadcast = 10.77.0.255"
		echo "node_timeout = 2000"
		for line in "$@"; do echo "$line"; done
	} >"$d/masix.conf"
	netns_exec "$i" timeout 30 "$NODE" start "$d"
}

bcast_setup() {
	netns_available || skip "$NETNS_WHY"
	netns_setup "$1"
	ADM=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $ADM"
	cluster_init "$ADM/admin"
}

@test "broadcast cluster: a server resolved on node 2 is not told of no senders while node 2 holds the right, and is once it lets go" {
	bcast_setup 2
	bcast_node 1 "$ADM/admin"
	bcast_node 2 "$ADM/admin"
	d1=${NODE_DIR[1]} d2=${NODE_DIR[2]}
	netns_bg 1 timeout -s KILL 60 sh -c 'exec "$0" -R "$1" --exit-no-senders svc >"$1/recv.out" 2>"$1/recv.err"' \
	    "$MASIX_BIN/msgrecv" "$d1"
	rpid=${BG_PIDS##* }
	MASIX_RUNDIR=$d1 wait_name svc
	run -0 msgsend -R "$d2" svc "from n2"
	wait_for grep -qx "from n2" "$d1/recv.out"
	kill -TERM "$rpid"
	wait_for grep -qx "msgrecv: svc: unregistered; serving until no sender is left" "$d1/recv.err"
	# n2's namesrv still caches the answer: a right n1 counts for n2, still of use.
	run -0 msgsend -R "$d2" svc "cached on n2"
	wait_for grep -qx "cached on n2" "$d1/recv.out"
	pid_alive "$rpid"
	# n2 lets go: its namesrv's right goes back to n1.
	kill -TERM "$(cat "$d2/namesrv.pid")"
	wait_for -t 15 ! pid_alive "$rpid"
	is "$d1/recv.out" "from n2
cached on n2"
	is "$d1/recv.err" "msgrecv: svc: unregistered; serving until no sender is left
msgrecv: svc: no sender left"
}

@test "broadcast answers make no port public: a member that only heard one is refused; asked over the link, it holds a counted right" {
	bcast_setup 1
	bcast_node 1 "$ADM/admin"
	N1=${NODE_DIR[1]}
	RG=$(new_rundir)
	RUNDIRS="$RUNDIRS $RG"
	node_init "$RG" rogue "$ADM/admin"
	netns_bg 1 timeout -s KILL 60 sh -c 'exec "$0" -R "$1" --exit-no-senders svc >"$1/recv.out" 2>"$1/recv.err"' \
	    "$MASIX_BIN/msgrecv" "$N1"
	rpid=${BG_PIDS##* }
	# Registered before the member links: its announcement went by broadcast only.
	MASIX_RUNDIR=$N1 wait_name svc
	mkfifo "$N1/rogue.in"
	netns_bg 1 sh -c 'exec timeout 60 "$0" -S "$1/state" -N rogue -c n1@10.77.0.1:4170 -t 30 >"$1/rogue.out" 2>&1 <"$2"' \
	    "$MASIX_TOOLS/roguenode" "$RG" "$N1/rogue.in"
	local rg=${BG_PIDS##* }
	cat >"$N1/rogue.in" <<-EOF
	msg 1-64 str=unasked
	sync
	query svc
	wait answer 1
	msg \$answer str=asked
	sync
	waitfile $N1/unregistered
	msg \$answer str=after
	sync
	release \$answer 1
	EOF
	wait_for grep -q "^acked 65:" "$RG/rogue.out"
	run -0 grep "^acked" "$RG/rogue.out"
	[[ "${lines[0]}" =~ ^"acked 64: "(PERM|DEAD) ]]
	[[ "${lines[0]}" != *ok* ]]
	[[ "${lines[1]}" =~ ^"acked 65: ok 1 " ]]
	grep -Eq "node rogue: message to port [0-9]+ refused: a port never exported to it" "$N1/portd.log"
	wait_for grep -qx asked "$N1/recv.out"
	# Unregistered: the member's right keeps it serving until given back.
	kill -TERM "$rpid"
	wait_for grep -qx "msgrecv: svc: unregistered; serving until no sender is left" "$N1/recv.err"
	touch "$N1/unregistered"
	wait "$rg"
	run -0 grep "^acked" "$RG/rogue.out"
	[[ "${lines[2]}" =~ ^"acked 66: ok 2 " ]]
	wait_for ! pid_alive "$rpid"
	is "$N1/recv.out" "asked
after"
	is "$N1/recv.err" "msgrecv: svc: unregistered; serving until no sender is left
msgrecv: svc: no sender left"
}

@test "a broadcast answer from a node not linked yet is asked again over the link once it is up" {
	bcast_setup 2
	bcast_node 1 "$ADM/admin"
	N1=${NODE_DIR[1]}
	RG=$(new_rundir)
	RUNDIRS="$RUNDIRS $RG"
	node_init "$RG" rogue "$ADM/admin"
	# LF_ANSWER's bytes: "x" is port 0x0101010101010101 of rogue's incarnation 0x0101010101010101.
	local one=$'\x01\x01\x01\x01\x01\x01\x01\x01'
	run -0 netns_exec 2 timeout 20 "$MASIX_TOOLS/bcastpeer" -S "$RG/state" -N rogue -b 10.77.0.255 \
	    -I 72340172838076673 -F 1 -s "3:"$'\x01x\x05rogue'"$one$one"
	wait_log 1 "node rogue: answer for 'x' heard by broadcast: asked again once linked" "$N1/portd.log"
	# n1 did not hand it to namesrv: the name is unknown there.
	run -69 --separate-stderr msgsend -R "$N1" x hi
	[ "$stderr" = "msgsend: x: no such name" ]
	run -0 netns_exec 2 timeout 30 "$MASIX_TOOLS/roguenode" -S "$RG/state" -N rogue -c n1@10.77.0.1:4170 \
	    -e "wait query 1"
	[[ "$output" == *$'\nquery x'* ]]
}

@test "a service port answered after its asker gave up: the right comes back to its node" {
	rogue_setup
	bg sh -c 'exec "$0" -S "$1/state" -N rogue -c "n1@127.0.0.1:$2" -e holdspecials -e "wait special_req 1" \
	    -e "waitfile $3/asker-gone" -e "specialans 7" -e "wait release 1" >"$3/rogue.out" 2>&1' \
	    "$MASIX_TOOLS/roguenode" "$RG" "$PORT" "$N1"
	local rg=${BG_PIDS##* }
	wait_for grep -qx "up n1" "$N1/rogue.out"
	bg sh -c 'exec "$0" -R "$1" special rogue >"$1/ask.out" 2>&1' "$MASIX_TOOLS/nstool" "$N1"
	local ask=${BG_PIDS##* }
	wait_for grep -qx "special_req 1" "$N1/rogue.out"
	kill "$ask"
	wait_gone "$ask"
	# A round trip on n1 after the asker's end: portd saw it go.
	run -69 msgsend nosuch x
	touch "$N1/asker-gone"
	wait "$rg"
	is "$N1/ask.out" "asking rogue"
	run -0 grep -x "release 7 1" "$N1/rogue.out"
}

# ---- remote answers obey the signed list (issue 12) ----

@test "a protected name registered on node 2 by a user the list does not name is neither cached nor answered on node 1; the listed binary is" {
	need_root "registers as a user made for the test"
	make_user
	cluster_start 2
	local d1=${NODE_DIR[1]} d2=${NODE_DIR[2]}
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	st -d "$CLUSTER_ADMIN" add -u 0 'svc/*' "$H"
	# Node 1 has the list; node 2 has none (every name open there).
	push_list "$d1"
	chmod 0755 "$d2"
	bg runuser -u "$TUSER" -- "$W/msgrecv" -R "$d2" -x 'echo FAKE' svc/bank
	local fake=${BG_PIDS##* }
	MASIX_RUNDIR=$d2 wait_name svc/bank
	# Announced to node 1, which drops it: one audit line.
	wait_for grep -Eq "namesrv: audit: answer 'svc/bank' from node n2 uid $TUID exe $H unit [^:]+: dropped, rule svc/\*: uid $TUID running $H" "$d1/namesrv.log"
	# Asked for, node 2 answers again: dropped again, node 1 knows no such name.
	run -69 --separate-stderr msgsend -R "$d1" -r svc/bank hi
	[ "$stderr" = "msgsend: svc/bank: no such name" ]
	kill "$fake"
	wait_gone "$fake"
	# The binary the list names, as root, on node 2: node 1 resolves it.
	bg "$W/msgrecv" -R "$d2" -x 'echo "real $(cat)"' svc/bank
	MASIX_RUNDIR=$d2 wait_name svc/bank
	run -0 --separate-stderr msgsend -R "$d1" -r svc/bank hi
	[ "$output" = "real hi" ]
	grep -Eq "namesrv: audit: answer 'svc/bank' from node n2 uid 0 exe $H unit [^:]+: allowed, rule svc/\* $H 0$" "$d1/namesrv.log"
	# Names no rule covers pass as before, whoever registered them.
	bg runuser -u "$TUSER" -- "$W/msgrecv" -R "$d2" -x cat open/echo
	MASIX_RUNDIR=$d2 wait_name open/echo
	run -0 --separate-stderr msgsend -R "$d1" -r open/echo open
	[ "$output" = "open" ]
}

@test "rogue: a protected name announced with an identity the list does not allow, or none, is dropped; a local protected name is never shadowed" {
	rogue_setup
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	# the listed server is this test's own (root, or the user running the suite)
	st -d "$ADM/admin" add -u "$(id -u)" 'svc/*' "$H"
	push_list "$N1"
	local fake=0000000000000000000000000000000000000000000000000000000000000001
	bg timeout 60 "$MASIX_TOOLS/roguenode" -S "$RG/state" -N rogue -c "n1@127.0.0.1:$PORT" -k -t 30 \
	    -e "answer svc/bank 7 uid=0 hash=$fake" -e "answer svc/anon 8" -e "answer open/rogue 9" \
	    -e "answer open/bad 10 uid=1 has_hash=2" \
	    -e "waitfile $N1/local" -e "answer svc/bank 7 uid=$(id -u) hash=${H#sha256:}" -e "special 1" >"$N1/rogue.out"
	wait_for grep -q "namesrv: audit: answer 'svc/anon' from node rogue" "$N1/namesrv.log"
	grep -Eq "namesrv: audit: answer 'svc/bank' from node rogue uid 0 exe sha256:$fake unit -: dropped, rule svc/\*: uid 0 running sha256:$fake" "$N1/namesrv.log"
	grep -Fq "namesrv: audit: answer 'svc/anon' from node rogue uid - exe - unit -: dropped, rule svc/*: the node vouched for no identity" "$N1/namesrv.log"
	run -69 --separate-stderr msgsend svc/bank x
	[ "$stderr" = "msgsend: svc/bank: no such name" ]
	run -69 --separate-stderr msgsend svc/anon x
	[ "$stderr" = "msgsend: svc/anon: no such name" ]
	# An open name needs no identity: cached as before.
	wait_name open/rogue
	# A malformed identity (has_hash 2): the whole answer is dropped.
	wait_for grep -q "node rogue: malformed or foreign name answer" "$N1/portd.log"
	run -69 --separate-stderr msgsend open/bad x
	[ "$stderr" = "msgsend: open/bad: no such name" ]
	# The listed binary runs here: the rogue's answer, even claiming that binary, does not shadow it.
	bg "$W/msgrecv" -x 'echo "local $(cat)"' svc/bank
	wait_name svc/bank
	touch "$N1/local"
	wait_for grep -q "^special ok" "$N1/rogue.out"
	run -0 --separate-stderr msgsend -r svc/bank hi
	[ "$output" = "local hi" ]
}

@test "rogue: keysrv stopped: an answer for a protected name is dropped (fails closed), an open name is still cached" {
	rogue_setup
	W=$(world_copy "$MASIX_BIN/msgrecv")
	H=$(hash_of "$W/msgrecv")
	st -d "$ADM/admin" add -u 0 'svc/*' "$H"
	push_list "$N1"
	bg timeout 60 "$MASIX_TOOLS/roguenode" -S "$RG/state" -N rogue -c "n1@127.0.0.1:$PORT" -k -t 30 \
	    -e "answer svc/bank 7 uid=0 hash=${H#sha256:}" -e "waitfile $N1/stopped" \
	    -e "answer svc/other 8 uid=0 hash=${H#sha256:}" -e "answer open/x 9" -e "special 1" >"$N1/rogue.out"
	# The listed identity, vouched for by the node: cached (what a member can claim: doc/trust.md).
	wait_for grep -Fq "namesrv: audit: answer 'svc/bank' from node rogue uid 0 exe $H unit -: allowed, rule svc/* $H 0" "$N1/namesrv.log"
	wait_name svc/bank
	kill -TERM "$(cat "$N1/keysrv.pid")"
	wait_gone "$(cat "$N1/keysrv.pid")"
	touch "$N1/stopped"
	wait_for grep -q "^special ok" "$N1/rogue.out"
	wait_for grep -Fq "namesrv: audit: answer 'svc/other' from node rogue uid 0 exe $H unit -: dropped, rule -: keysrv is not running" "$N1/namesrv.log"
	run -69 --separate-stderr msgsend svc/other x
	[ "$stderr" = "msgsend: svc/other: no such name" ]
	wait_name open/x
}
