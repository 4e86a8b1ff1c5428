#!/usr/bin/env bats
# Node links (cmd/portd/link*.c) driven by linkpeer: TLS 1.3 with node
# certificates of the cluster CA, refusals, framing, reconnection.

load helpers

setup() {
	D=$BATS_TEST_TMPDIR
	A=$D/adm
	unset MASIX_ADMIN_DIR
	# Sanitizer reports in the linkpeer logs fail the test, too.
	on_teardown 'no_sanitizer_report "$D"/*.err'
	timeout 20 "$MASIX_BIN/sigtool" -d "$A" init
	PA=$(free_port)
	PB=$(free_port)
	while [ "$PB" = "$PA" ]; do PB=$(free_port); done
}

# mknode NAME [ADMIN_DIR [DAYS]]: a state directory $D/NAME with node.key
# (0600), node.crt certified by ADMIN_DIR (default the cluster's) and the
# cluster's ca.crt. DAYS=-1 makes an expired certificate with stock openssl.
mknode() {
	local n=$1 adm=${2:-$A} days=${3:-}
	mkdir -m 700 "$D/$n"
	timeout 20 openssl genpkey -algorithm ed25519 -out "$D/$n/node.key" 2>/dev/null
	chmod 600 "$D/$n/node.key"
	timeout 20 openssl req -new -key "$D/$n/node.key" -subj "/CN=$n" -out "$D/$n.csr"
	if [ -n "$days" ]; then
		printf '%s\n' 'basicConstraints = critical, CA:FALSE' \
		    'keyUsage = critical, digitalSignature' \
		    'extendedKeyUsage = serverAuth, clientAuth' "subjectAltName = DNS:$n" \
		    'subjectKeyIdentifier = hash' 'authorityKeyIdentifier = keyid' >"$D/$n.ext"
		timeout 20 openssl x509 -req -in "$D/$n.csr" -CA "$adm/ca.crt" -CAkey "$adm/admin.key" \
		    -days "$days" -extfile "$D/$n.ext" -out "$D/$n/node.crt" 2>/dev/null
	else
		timeout 20 "$MASIX_BIN/sigtool" -d "$adm" certify -o "$D/$n/node.crt" "$D/$n.csr"
	fi
	cp "$A/ca.crt" "$D/$n/ca.crt"
}

# lp NAME ARGS...: linkpeer for node NAME in the background, stdout in
# $D/NAME.out, log in $D/NAME.err.
lp() {
	local n=$1
	shift
	bg timeout -k 5 60 "$MASIX_TOOLS/linkpeer" -S "$D/$n" -N "$n" "$@" >"$D/$n.out" 2>"$D/$n.err"
}

# wait_line FILE REGEX: until a line of FILE matches (10 s at most).
wait_line() {
	wait_for grep -E -q -- "$2" "$1" && return 0
	echo "no line matching '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT.
listening() { ss -Htln "sport = :$1" | grep -q .; }
wait_listen() { wait_for listening "$1"; }

@test "two nodes exchange frames both ways, small and 8 MiB" {
	mknode nodea
	mknode nodeb
	lp nodea -l "127.0.0.1:$PA" -s hello-from-a -b 8388608 -n 2
	wait_listen "$PA"
	run -0 --separate-stderr timeout 20 "$MASIX_TOOLS/linkpeer" -S "$D/nodeb" -N nodeb \
	    -p "127.0.0.1:$PA" -s hello-from-b -b 8388608 -n 2
	[ "$(head -n 3 <<<"$output")" = "up nodea
frame nodea 1 hello-from-a
frame nodea 2 8388608 bytes ok" ]
	[ "$stderr" = "" ]
	wait_line "$D/nodea.out" '^down nodeb: '
	[ "$(head -n 3 "$D/nodea.out")" = "up nodeb
frame nodeb 1 hello-from-b
frame nodeb 2 8388608 bytes ok" ]
	[ "$(cat "$D/nodea.err")" = "" ]
}

@test "a node certified by a foreign CA is refused before anything else" {
	mknode nodea
	timeout 20 "$MASIX_BIN/sigtool" -d "$D/adm2" init
	mknode nodef "$D/adm2"
	cp "$D/adm2/ca.crt" "$D/nodef/ca.crt"	# a whole foreign cluster
	lp nodef -l "127.0.0.1:$PB" -s secret
	wait_listen "$PB"
	lp nodea -p "127.0.0.1:$PB" -s secret
	wait_line "$D/nodea.err" 'refused'
	wait_line "$D/nodef.err" 'handshake failed'
	[ "$(head -n 1 "$D/nodea.err")" = "linkpeer: link to 127.0.0.1:$PB: certificate refused: unable to get local issuer certificate" ]
	[[ "$(head -n 1 "$D/nodef.err")" =~ ^"linkpeer: link from 127.0.0.1:"[0-9]+": TLS handshake failed: sslv3 alert bad certificate"$ ]]
	[ "$(cat "$D/nodea.out" "$D/nodef.out")" = "" ]
}

@test "a revoked node is refused; SIGHUP reloads the CRL and drops its link" {
	mknode nodea
	mknode noder
	lp nodea -l "127.0.0.1:$PA"
	local pid_a=$!
	wait_listen "$PA"
	lp noder -p "127.0.0.1:$PA" -s before
	wait_line "$D/nodea.out" '^frame noder 1 before$'
	timeout 20 "$MASIX_BIN/sigtool" -d "$A" revoke "$D/noder/node.crt"
	cp "$A/revoked.crl" "$D/nodea/revoked.crl"
	kill -HUP "$pid_a"	# timeout passes it on to linkpeer
	wait_line "$D/nodea.out" '^down noder: '
	# noder reconnects with backoff and is refused in the handshake now.
	wait_line "$D/nodea.err" 'link from [0-9.]+:[0-9]+: certificate refused: certificate revoked'
	[ "$(cat "$D/nodea.out")" = "up noder
frame noder 1 before
down noder: certificate refused: certificate revoked" ]
	run -0 sh -c 'sed -E "s/127\.0\.0\.1:[0-9]+/ADDR/" "$1" | uniq' sh "$D/nodea.err"
	[ "$output" = "linkpeer: link from ADDR (noder): certificate refused: certificate revoked
linkpeer: link from ADDR: certificate refused: certificate revoked" ]
}

@test "a revoked node is refused at startup (CRL present from the start)" {
	mknode nodea
	mknode noder
	timeout 20 "$MASIX_BIN/sigtool" -d "$A" revoke "$D/noder/node.crt"
	cp "$A/revoked.crl" "$D/nodea/revoked.crl"
	lp noder -l "127.0.0.1:$PB" -s secret
	wait_listen "$PB"
	lp nodea -p "127.0.0.1:$PB"
	wait_line "$D/nodea.err" 'refused'
	[ "$(head -n 1 "$D/nodea.err")" = "linkpeer: link to 127.0.0.1:$PB: certificate refused: certificate revoked" ]
	[ "$(cat "$D/nodea.out" "$D/noder.out")" = "" ]
}

@test "an expired certificate is refused" {
	mknode nodea
	mknode nodee "$A" -1
	lp nodee -l "127.0.0.1:$PB" -s secret
	wait_listen "$PB"
	lp nodea -p "127.0.0.1:$PB"
	wait_line "$D/nodea.err" 'refused'
	[ "$(head -n 1 "$D/nodea.err")" = "linkpeer: link to 127.0.0.1:$PB: certificate refused: certificate has expired" ]
	[ "$(head -n 1 "$D/nodee.err")" = "linkpeer: $D/nodee/node.crt: certificate has expired: other nodes will refuse this node" ]
	[ "$(cat "$D/nodea.out" "$D/nodee.out")" = "" ]
}

@test "a node expected by name must carry that name; one-off connections give up" {
	mknode nodea
	mknode nodeb
	lp nodeb -l "127.0.0.1:$PB" -s secret
	wait_listen "$PB"
	lp nodea -c "nodex@127.0.0.1:$PB"
	wait_line "$D/nodea.err" 'giving up'
	[ "$(cat "$D/nodea.err")" = "linkpeer: link to 127.0.0.1:$PB: certificate refused: issued to node 'nodeb', not 'nodex'
linkpeer: link to 127.0.0.1:$PB: certificate refused: issued to node 'nodeb', not 'nodex'
linkpeer: link to 127.0.0.1:$PB: certificate refused: issued to node 'nodeb', not 'nodex'
linkpeer: link to 127.0.0.1:$PB (node nodex): giving up after 3 attempts" ]
	[ "$(cat "$D/nodea.out" "$D/nodeb.out")" = "" ]
}

@test "links_connect to the right name comes up" {
	mknode nodea
	mknode nodeb
	lp nodeb -l "127.0.0.1:$PB" -s from-b
	wait_listen "$PB"
	run -0 --separate-stderr timeout 20 "$MASIX_TOOLS/linkpeer" -S "$D/nodea" -N nodea \
	    -c "nodeb@127.0.0.1:$PB" -n 1
	[ "$(head -n 2 <<<"$output")" = "up nodeb
frame nodeb 1 from-b" ]
	[ "$stderr" = "" ]
}

@test "openssl s_client -tls1_3 without a client certificate gets nothing" {
	mknode nodea
	lp nodea -l "127.0.0.1:$PA" -s secret-hello
	wait_listen "$PA"
	run -1 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$PA" -tls1_3 -ign_eof </dev/null
	[[ "$stderr" == *"tlsv13 alert certificate required"* ]]
	[[ "$output" == *"Acceptable client certificate CA names
CN = masix cluster CA"* ]]
	[[ "$output" != *secret* ]]
	[[ "$output" != *"Post-Handshake"* ]]
	wait_line "$D/nodea.err" 'handshake failed'
	[[ "$(cat "$D/nodea.err")" =~ ^"linkpeer: link from 127.0.0.1:"[0-9]+": TLS handshake failed: peer did not return a certificate"$ ]]
	[ "$(cat "$D/nodea.out")" = "" ]
}

@test "openssl s_client -tls1_2 is refused" {
	mknode nodea
	lp nodea -l "127.0.0.1:$PA"
	wait_listen "$PA"
	run -1 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$PA" -tls1_2 -ign_eof </dev/null
	[[ "$stderr" == *"alert protocol version"* ]]
	[[ "$output" == *"Cipher is (NONE)"* ]]
	wait_line "$D/nodea.err" 'handshake failed'
	[[ "$(cat "$D/nodea.err")" =~ ^"linkpeer: link from 127.0.0.1:"[0-9]+": TLS handshake failed: unsupported protocol"$ ]]
}

# raw NODE BYTES...: a TLS client with NODE's certificate that sends BYTES
# (printf format) as application data, then closes.
raw() {
	local n=$1
	shift
	printf "$@" | timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PA" -tls1_3 \
	    -cert "$D/$n/node.crt" -key "$D/$n/node.key" >/dev/null 2>&1 || true
}

@test "malformed frames from an authenticated peer: log, close, serve on" {
	mknode nodea
	mknode nodeb
	lp nodea -l "127.0.0.1:$PA"
	wait_listen "$PA"
	raw nodeb 'xxxxxxxx'
	wait_line "$D/nodea.err" 'version'
	raw nodeb '\377\377\377\377\144\002\000\000'
	wait_line "$D/nodea.err" 'over the maximum'
	raw nodeb '\000\000\000\016\144\002\000\000\005nodex\000\000\000\000\000\000\000\001'
	wait_line "$D/nodea.err" 'HELLO'
	raw nodeb '\000\000\000\003\001\002\000\000abc'
	wait_line "$D/nodea.err" 'before HELLO'
	raw nodeb '\000\000\000\016\144\002\000\000\005nodeb\000\000\000\000\000\000\000\001\000\000\000\001\144\002\000\000x'
	wait_line "$D/nodea.err" 'second HELLO'
	# nodea leads nodeb: an ACCEPT from nodeb is out of turn.
	raw nodeb '\000\000\000\016\144\002\000\000\005nodeb\000\000\000\000\000\000\000\001\000\000\000\000\145\002\000\000'
	wait_line "$D/nodea.err" 'unexpected ACCEPT'
	# node0 leads nodea: after its HELLO nodea takes nothing but ACCEPT.
	mknode node0
	raw node0 '\000\000\000\016\144\002\000\000\005node0\000\000\000\000\000\000\000\001\000\000\000\003\001\002\000\000abc'
	wait_line "$D/nodea.err" 'before ACCEPT'
	run -0 sed -E 's/127\.0\.0\.1:[0-9]+/ADDR/' "$D/nodea.err"
	[ "$output" = "linkpeer: link from ADDR: malformed frame: version 120, expected 2
linkpeer: link from ADDR: malformed frame: length 4294967295 over the maximum 33619968
linkpeer: link from ADDR: HELLO from node 'nodex' over a certificate for 'nodeb'
linkpeer: link from ADDR: malformed frame: data before HELLO
linkpeer: link from ADDR (nodeb): malformed frame: a second HELLO
linkpeer: link from ADDR (nodeb): malformed frame: an unexpected ACCEPT
linkpeer: link from ADDR (node0): malformed frame: data before ACCEPT" ]
	# Up once per good HELLO from nodeb (nodea leads), never with node0.
	[ "$(cat "$D/nodea.out")" = "up nodeb
down nodeb: malformed frame: a second HELLO
up nodeb
down nodeb: malformed frame: an unexpected ACCEPT" ]
	# Still serving.
	lp nodeb -p "127.0.0.1:$PA" -s still-here
	wait_line "$D/nodea.out" '^frame nodeb 1 still-here$'
}

@test "a peer killed and restarted: down, reconnect with backoff, up again" {
	mknode nodea
	mknode nodeb
	lp nodea -l "127.0.0.1:$PA" -s a1
	local pid_a=$!
	wait_listen "$PA"
	lp nodeb -p "127.0.0.1:$PA"
	wait_line "$D/nodeb.out" '^frame nodea 1 a1$'
	kill -KILL "$(pgrep -P "$pid_a")"	# linkpeer, not its timeout
	wait_line "$D/nodeb.out" '^down nodea: '
	# nodeb redials and is refused while nobody listens.
	wait_line "$D/nodeb.err" "^linkpeer: link to 127.0.0.1:$PA: connect: Connection refused\$"
	lp nodea -l "127.0.0.1:$PA" -s a2
	wait_line "$D/nodeb.out" '^frame nodea 1 a2$'
	[ "$(cat "$D/nodeb.out")" = "up nodea
frame nodea 1 a1
down nodea: read: unexpected eof while reading
up nodea
frame nodea 1 a2" ]
	grep -q "^linkpeer: link to 127.0.0.1:$PA: connect: Connection refused$" "$D/nodeb.err"
}

@test "two nodes that dial each other at once agree on one link and lose nothing sent on it" {
	mknode nodea
	mknode nodeb
	local round n
	for round in 1 2 3 4 5; do
		# Both listen, then both dial 300 ms later: the connections cross.
		lp nodea -l "127.0.0.1:$PA" -p "127.0.0.1:$PB" -s "a$round" -w 300
		lp nodeb -l "127.0.0.1:$PB" -p "127.0.0.1:$PA" -s "b$round" -w 300
		wait_line "$D/nodea.out" "^frame nodeb 1 b$round\$"
		wait_line "$D/nodeb.out" "^frame nodea 1 a$round\$"
		# Time must pass: the losing connection must not bring a link
		# down or up again afterwards.
		sleep 0.5
		# One link, up once on each end, never dropped; exactly one TCP connection.
		[ "$(cat "$D/nodea.out")" = "up nodeb
frame nodeb 1 b$round" ]
		[ "$(cat "$D/nodeb.out")" = "up nodea
frame nodea 1 a$round" ]
		[ "$(ss -Htn state established "( sport = :$PA or dport = :$PA or sport = :$PB or dport = :$PB )" | wc -l)" = 2 ]
		for n in $BG_PIDS; do kill "$n" 2>/dev/null || :; wait "$n" 2>/dev/null || :; done
		BG_PIDS=
		# Nothing but routine closes in the logs (the losing connection).
		run -1 grep -v -E "duplicate link, the other one stays|closed by the peer" "$D/nodea.err" "$D/nodeb.err" || { echo "$output" >&2; false; }
	done
}
