#!/usr/bin/env bats
# keysrv: the node's key and certificate, peer verification, the directory,
# the signed signature list and its reload; masix-node init.

load helpers

setup() {
	D=$BATS_TEST_TMPDIR
	A=$D/adm
	HOST=$(uname -n)
	Z=sha256:$(printf '%064d' 0)
}

ks() { timeout 20 "$MASIX_BIN/keysrv" "$@"; }
kq() { timeout 20 "$MASIX_BIN/keysrv" -q -R "$MASIX_RUNDIR" "$@"; }
st() { timeout 20 "$MASIX_BIN/sigtool" "$@"; }
keyq() { timeout 20 "$MASIX_TOOLS/keyq" -R "$MASIX_RUNDIR" "$@"; }

# new_node NAME: a runtime directory whose masix.conf names the node; sets R.
new_node() {
	R=$(new_rundir)
	RUNDIRS="${RUNDIRS:-} $R"
	printf 'node = %s\n' "$1" >"$R/masix.conf"
}

# init_node NAME [ADMIN]: masix-node init, then start it; MASIX_RUNDIR is that node.
init_node() {
	new_node "$1"
	timeout 30 "$NODE" init "$R" ${2:+"$2"} >/dev/null
	MASIX_RUNDIR=$R
	export MASIX_RUNDIR
	timeout 30 "$NODE" start "$R"
	S=$R/state
}

# Send SIGHUP and wait for the reload to be done.
hup() {
	local n
	n=$(grep -c 'keysrv: reloaded:' "$MASIX_RUNDIR/keysrv.log") || [ "$n" = 0 ]	# 0 matches, not a missing log
	kill -HUP "$(cat "$MASIX_RUNDIR/keysrv.pid")"
	wait_log $((n + 1)) 'keysrv: reloaded:' "$MASIX_RUNDIR/keysrv.log"
}

# Stop the node's keysrv, waiting until it is gone.
stop_keysrv() {
	local pid
	pid=$(cat "$MASIX_RUNDIR/keysrv.pid")
	kill "$pid"
	wait_gone "$pid"
	rm -f "$MASIX_RUNDIR/keysrv.pid"
}

fp() { st fingerprint "$1"; }

USAGE='usage: keysrv [-hnsv] [-c FILE] [-F FD] [-R DIR] [-S DIR]
       keysrv -i [-c FILE] [-N NODE] [-R DIR] [-S DIR]
       keysrv -q [-R DIR] node-cert | verify CERTFILE NODE | directory |
                 may-register HASH UID NAME [UNIT] | ca-cert | crl'

@test "-h, bad usage, -n checks the shared node configuration" {
	run -0 --separate-stderr ks -h
	[ "$output" = "$USAGE" ]
	run -64 --separate-stderr ks -x
	[[ "$stderr" == *"keysrv: invalid option -- 'x'"$'\n'"$USAGE" ]]
	run -64 --separate-stderr ks -N n1
	[ "$stderr" = "$USAGE" ]
	run -64 --separate-stderr ks -q frob
	[ "$stderr" = "keysrv: frob: unknown query (keysrv -h lists them)" ]
	printf 'node = n1\nlisten = 0.0.0.0:7000\npeer = b\nbroadcast = 1\ntrusted_uid = 5\nqueue_limit = 9\nmax_tasks = 9\nadmin_dir = /x\nstate_dir = /var/lib/x\n' >"$D/c"
	run -0 --separate-stderr ks -n -c "$D/c"
	[ "$output" = "configuration OK" ]
	echo 'bogus = 1' >"$D/bad"
	run -78 --separate-stderr ks -n -c "$D/bad"
	[ "$stderr" = "keysrv: $D/bad:1: unknown key: 'bogus = 1'" ]
	echo 'state_dir = rel' >"$D/bad"
	run -78 --separate-stderr ks -n -c "$D/bad"
	[[ "$stderr" == "keysrv: $D/bad:1: state_dir must be an absolute path"* ]]
}

@test "without a runtime directory -n, -i -N and usage errors work; the daemon and queries say how to set one" {
	# Not root: root's default is /run/masix. A normal user without
	# XDG_RUNTIME_DIR has none (helpers.bash unsets it and MASIX_RUNDIR).
	w=$(world_copy "$MASIX_BIN/keysrv")
	if [ "$(id -u)" -eq 0 ]; then
		chown 65534:65534 "$w"
		user() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i "$@"; }
	else
		user() { env -i "$@"; }
	fi
	printf 'node = n1\n' >"$w/c"
	run -0 --separate-stderr user timeout 20 "$w/keysrv" -n -c "$w/c"
	[ "$output" = "configuration OK" ]
	run -64 --separate-stderr user timeout 20 "$w/keysrv" -N n1
	[ "$stderr" = "$USAGE" ]
	run -0 --separate-stderr user timeout 20 "$w/keysrv" -i -S "$w/st" -N n9
	[ "$output" = "$w/st/node.csr" ]
	norun="keysrv: no runtime directory: give one with -R DIR or MASIX_RUNDIR=DIR (or set XDG_RUNTIME_DIR; root's default is /run/masix)"
	run -64 --separate-stderr user timeout 20 "$w/keysrv" -i -S "$w/st2"
	[ "$stderr" = "$norun" ]
	run -64 --separate-stderr user timeout 20 "$w/keysrv" -q directory
	[ "$stderr" = "$norun" ]
	run -64 --separate-stderr user timeout 20 "$w/keysrv" -S "$w/st"
	[ "$stderr" = "$norun" ]
}

@test "first start makes the key 0600 and a request, logs what to run, serves what it can" {
	node_start
	S=$MASIX_RUNDIR/state
	[ "$(stat -c %a "$S")" = 700 ]
	[ "$(stat -c %a "$S/node.key")" = 600 ]
	[ "$(head -n 1 "$S/node.csr")" = "-----BEGIN CERTIFICATE REQUEST-----" ]
	grep -Fx "keysrv: created node key $S/node.key and certificate request $S/node.csr for node '$HOST': run 'sigtool certify $S/node.csr > $S/node.crt', then send keysrv SIGHUP" \
	    "$MASIX_RUNDIR/keysrv.log"
	[ "$(grep -c 'created node key' "$MASIX_RUNDIR/keysrv.log")" = 1 ]
	# the private key is in no log
	! grep -q -e PRIVATE -e "$(sed -n 2p "$S/node.key")" "$MASIX_RUNDIR"/*.log
	run -69 --separate-stderr kq node-cert
	[ "$output" = "" ]
	[ "$stderr" = "keysrv: no valid certificate: $S/node.crt: No such file or directory" ]
	# no list at all (no admin yet): nothing is protected
	run -0 --separate-stderr kq may-register "$Z" 0 echo
	[ "$output" = "open: no rule covers 'echo'" ]
	run -69 --separate-stderr kq verify "$S/node.csr" "$HOST"
	[ "$stderr" = "keysrv: $S/node.csr: no CA certificate ($S/ca.crt: No such file or directory)" ]
	run -69 --separate-stderr kq ca-cert
	[ "$stderr" = "keysrv: no CA certificate ($S/ca.crt: No such file or directory)" ]
	run -0 --separate-stderr kq directory
	[ "$output" = "$HOST $(fp "$S/node.csr")" ]
	# the admin certifies the request; SIGHUP picks it up
	st -d "$A" init
	st -d "$A" certify "$S/node.csr" >"$S/node.crt"
	cp "$A/ca.crt" "$S/"
	hup
	run -0 --separate-stderr kq node-cert
	[ "${lines[0]}" = "$HOST $(fp "$S/node.crt")" ]
	[ "$(printf '%s\n' "${lines[@]:1}")" = "$(cat "$S/node.crt")" ]
	# a restart keeps the key
	sum=$(sha256sum <"$S/node.key")
	timeout 30 "$NODE" stop "$MASIX_RUNDIR"
	timeout 30 "$NODE" start "$MASIX_RUNDIR"
	[ "$(sha256sum <"$S/node.key")" = "$sum" ]
	grep -Fx "keysrv: node $HOST: certificate OK, key $(fp "$S/node.crt")" "$MASIX_RUNDIR/keysrv.log"
}

@test "-i makes key and request without portd; a too-open key or state directory is refused" {
	run -0 --separate-stderr ks -i -S "$D/st" -N n9
	[ "$output" = "$D/st/node.csr" ]
	[ "$stderr" = "" ]
	[ "$(stat -c %a "$D/st/node.key")" = 600 ]
	sum=$(cat "$D/st/node.key" "$D/st/node.csr" | sha256sum)
	run -0 --separate-stderr ks -i -S "$D/st" -N n9
	[ "$output" = "$D/st/node.csr" ]
	[ "$(cat "$D/st/node.key" "$D/st/node.csr" | sha256sum)" = "$sum" ]
	run -0 st -d "$A" init
	run -0 --separate-stderr st -d "$A" certify -o "$D/n9.crt" "$D/st/node.csr"
	run -0 openssl x509 -in "$D/n9.crt" -noout -subject
	[ "$output" = "subject=CN = n9" ]
	chmod 0644 "$D/st/node.key"
	run -77 --separate-stderr ks -i -S "$D/st" -N n9
	[ "$stderr" = "keysrv: Permissions 0644 for '$D/st/node.key' are too open" ]
	chmod 0600 "$D/st/node.key"
	chmod 0770 "$D/st"
	run -77 --separate-stderr ks -i -S "$D/st" -N n9
	[ "$stderr" = "keysrv: $D/st: directory is group or world writable (mode 0770), refusing to use it" ]
	run -64 --separate-stderr ks -i -S "$D/st" -N 'bad_name'
	[ "$stderr" = "keysrv: -N: invalid node name: 'bad_name'" ]
	mkdir "$D/empty"
	run -69 --separate-stderr ks -i -R "$D/empty" -S "$D/st2"
	[ "$stderr" = "keysrv: no node name: use -N NODE, or start portd ($D/empty: portd is not running)" ]
}

@test "the daemon refuses a world-readable node key" {
	node_start
	S=$MASIX_RUNDIR/state
	stop_keysrv
	chmod 0644 "$S/node.key"
	run -77 --separate-stderr ks -R "$MASIX_RUNDIR" -S "$S"
	[ "$stderr" = "keysrv: Permissions 0644 for '$S/node.key' are too open" ]
	chmod 0600 "$S/node.key"
	chmod 0777 "$S"
	run -77 --separate-stderr ks -R "$MASIX_RUNDIR" -S "$S"
	[ "$stderr" = "keysrv: $S: directory is group or world writable (mode 0777), refusing to use it" ]
}

@test "masix-node init makes a complete certified node" {
	init_node alpha
	[ "$(stat -c %a "$R/admin")" = 700 ]
	[ "$(stat -c %a "$S/node.key")" = 600 ]
	run -0 --separate-stderr st -d "$R/admin" verify -n alpha "$S/node.crt"
	[ "$output" = "$S/node.crt: OK" ]
	run -0 --separate-stderr kq node-cert
	[ "${lines[0]}" = "alpha $(fp "$S/node.crt")" ]
	[ "$(fp "$S/node.crt")" = "$(fp "$S/node.csr")" ]
	run -0 --separate-stderr kq ca-cert
	[ "$output" = "$(cat "$R/admin/ca.crt")" ]
	run -0 --separate-stderr kq crl
	[ "$output" = "$(cat "$R/admin/revoked.crl")" ]
	run -0 --separate-stderr kq directory
	[ "$output" = "alpha $(fp "$S/node.crt")" ]
	# the admin's empty list is loaded and verified
	run -0 --separate-stderr kq may-register "$Z" 0 echo
	[ "$output" = "open: no rule covers 'echo'" ]
	grep -Fx "keysrv: $S/signatures.list: signature verified, 0 rules" "$R/keysrv.log"
}

@test "masix-node init: output, refusal to re-initialise, usage" {
	new_node beta
	run -0 --separate-stderr timeout 30 "$NODE" init "$R" "$A"
	[ "$output" = "$R: node beta certified by $A" ]
	[ -f "$A/admin.key" ]
	[ -f "$R/state/signatures.list.sig" ]
	run -73 --separate-stderr timeout 30 "$NODE" init "$R" "$A"
	[ "$stderr" = "masix-node: $R: already initialised ($R/state/node.key exists)" ]
	run -64 --separate-stderr timeout 30 "$NODE" init
	[ "$stderr" = "usage: masix-node start|stop|status DIR | init DIR [ADMIN_DIR]" ]
	run -64 --separate-stderr timeout 30 "$NODE" start "$R" "$A"
}

@test "verify: a good peer is OK and joins the directory; foreign-CA, expired, revoked and wrong-name certificates are refused" {
	init_node alpha "$A"
	AL=$R
	new_node beta
	timeout 30 "$NODE" init "$R" "$A" >/dev/null
	B=$R/state
	new_node gamma
	timeout 30 "$NODE" init "$R" "$A" >/dev/null
	G=$R/state
	run -0 --separate-stderr kq verify "$B/node.crt" beta
	[ "$output" = "$B/node.crt: OK" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr kq verify "$G/node.crt" gamma
	run -0 --separate-stderr kq directory
	[ "$output" = "alpha $(fp "$S/node.crt")
beta $(fp "$B/node.crt")
gamma $(fp "$G/node.crt")" ]
	# wrong name
	run -65 --separate-stderr kq verify "$B/node.crt" gamma
	[ "$output" = "" ]
	[ "$stderr" = "keysrv: $B/node.crt: issued to node 'beta', not 'gamma'" ]
	# foreign CA: same CA name, another admin key
	st -d "$D/other" init
	st -d "$D/other" certify -o "$D/foreign.crt" "$B/node.csr"
	run -65 --separate-stderr kq verify "$D/foreign.crt" beta
	[ "$stderr" = "keysrv: $D/foreign.crt: unable to get local issuer certificate" ]
	# expired: signed by the cluster's admin key with stock openssl, valid until yesterday
	timeout 20 openssl x509 -req -in "$B/node.csr" -CA "$A/ca.crt" -CAkey "$A/admin.key" \
	    -days -1 -out "$D/expired.crt" 2>/dev/null
	run -65 --separate-stderr kq verify "$D/expired.crt" beta
	[ "$stderr" = "keysrv: $D/expired.crt: certificate has expired" ]
	echo junk >"$D/junk.crt"
	run -65 --separate-stderr kq verify "$D/junk.crt" beta
	[ "$stderr" = "keysrv: $D/junk.crt: not a PEM certificate" ]
	run -64 --separate-stderr kq verify "$B/node.crt" 'bad_name'
	[ "$stderr" = "keysrv: $B/node.crt: 'bad_name': not a valid node name" ]
	run -66 --separate-stderr kq verify "$D/none.crt" beta
	[ "$stderr" = "keysrv: $D/none.crt: No such file or directory" ]
	# revoked: the admin revokes gamma, the new CRL reaches alpha, SIGHUP
	st -d "$A" revoke "$G/node.crt"
	cp "$A/revoked.crl" "$S/revoked.crl"
	hup
	grep -Fx "keysrv: node gamma dropped from the directory: certificate revoked" "$AL/keysrv.log"
	run -65 --separate-stderr kq verify "$G/node.crt" gamma
	[ "$stderr" = "keysrv: $G/node.crt: certificate revoked" ]
	run -0 --separate-stderr kq directory
	[ "$output" = "alpha $(fp "$S/node.crt")
beta $(fp "$B/node.crt")" ]
	run -0 --separate-stderr kq crl
	[ "$output" = "$(cat "$A/revoked.crl")" ]
	# a CRL that does not verify is refused; the previous one stays in force
	cp "$D/other/revoked.crl" "$S/revoked.crl"
	hup
	grep -Fx "keysrv: $S/revoked.crl: CRL signature does not verify: the previous revocation list stays in force" "$AL/keysrv.log"
	run -65 --separate-stderr kq verify "$G/node.crt" gamma
	[ "$stderr" = "keysrv: $G/node.crt: certificate revoked" ]
}

@test "may-register: allowed, denied by hash, by uid, and prefix/* patterns" {
	init_node alpha "$A"
	H=$(st hash "$MASIX_BIN/msgrecv" | cut -d' ' -f1)
	st -d "$A" add echo "$H"
	st -d "$A" add -u 1000 fs/server "$H"
	st -d "$A" add 'svc/*' "$H"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	hup
	grep -Fx "keysrv: $S/signatures.list: signature verified, 3 rules" "$R/keysrv.log"
	run -0 --separate-stderr kq may-register "$H" 0 echo
	[ "$output" = "allowed by rule: echo $H" ]
	[ "$stderr" = "" ]
	run -77 --separate-stderr kq may-register "$Z" 0 echo
	[ "$output" = "" ]
	[ "$stderr" = "keysrv: echo: uid 0 running $Z is not listed for echo" ]
	run -77 --separate-stderr kq may-register "$H" 0 fs/server
	[ "$stderr" = "keysrv: fs/server: uid 0 running $H is not listed for fs/server" ]
	run -0 --separate-stderr kq may-register "$H" 1000 fs/server
	[ "$output" = "allowed by rule: fs/server $H 1000" ]
	run -0 --separate-stderr kq may-register "$H" 5 svc/a
	[ "$output" = "allowed by rule: svc/* $H" ]
	run -0 --separate-stderr kq may-register "$H" 5 svc/a/b
	# a name no rule covers is open
	run -0 --separate-stderr kq may-register "$H" 5 svc
	[ "$output" = "open: no rule covers 'svc'" ]
	run -0 --separate-stderr kq may-register "$H" 5 other
	[ "$output" = "open: no rule covers 'other'" ]
	# no binary identity ("-"): only rules for any binary admit it
	run -77 --separate-stderr kq may-register - 0 echo
	[ "$stderr" = "keysrv: echo: uid 0 running no hashed binary is not listed for echo" ]
	# the hash is read in either case
	run -0 --separate-stderr kq may-register "sha256:$(echo "${H#sha256:}" | tr a-f A-F)" 0 echo
	run -65 --separate-stderr kq may-register xyz 0 echo
	[ "$stderr" = "keysrv: 'xyz': not a sha256:HEX hash (or - for none)" ]
	run -65 --separate-stderr kq may-register "$H" -1 echo
	[ "$stderr" = "keysrv: '-1': not a uid" ]
	run -65 --separate-stderr kq may-register "$H" 0 'bad name'
	[ "$stderr" = "keysrv: 'bad name': not a valid name" ]
	run -65 --separate-stderr kq may-register "$H" 0 echo bad.unit
	[ "$stderr" = "keysrv: 'bad.unit': not a systemd unit (NAME.service or NAME.scope)" ]
}

@test "SIGHUP: a new good list is picked up, a tampered list is refused and the previous one stays" {
	init_node alpha "$A"
	H=$(st hash "$MASIX_BIN/msgrecv" | cut -d' ' -f1)
	run -0 --separate-stderr kq may-register "$H" 0 echo
	[ "$output" = "open: no rule covers 'echo'" ]
	st -d "$A" add echo "$H"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	hup
	run -0 --separate-stderr kq may-register "$H" 0 echo
	[ "$output" = "allowed by rule: echo $H" ]
	# someone appends a rule without the admin key
	echo "evil $H" >>"$S/signatures.list"
	hup
	grep -Fx "keysrv: $S/signatures.list: signature does not verify with the admin key: refused, the previous signature list stays in force" "$R/keysrv.log"
	run -0 --separate-stderr kq may-register "$H" 0 echo
	[ "$output" = "allowed by rule: echo $H" ]
	run -0 --separate-stderr kq may-register "$H" 0 evil
	[ "$output" = "open: no rule covers 'evil'" ]
	# a tampered signature, too
	cp "$A/signatures.list" "$S/"
	printf 'x' | dd of="$S/signatures.list.sig" bs=1 seek=10 conv=notrunc 2>/dev/null
	hup
	[ "$(grep -c 'refused, the previous signature list stays in force' "$R/keysrv.log")" = 2 ]
	run -0 --separate-stderr kq may-register "$H" 0 echo
	# the admin's next good list replaces it
	st -d "$A" add evil "$H"
	cp "$A/signatures.list" "$A/signatures.list.sig" "$S/"
	hup
	run -0 --separate-stderr kq may-register "$H" 0 evil
	[ "$output" = "allowed by rule: evil $H" ]
}

@test "a second keysrv is refused; queries without keysrv or portd exit 69" {
	node_start
	run -69 --separate-stderr ks -R "$MASIX_RUNDIR" -S "$D/s2"
	[ "$stderr" = "keysrv: KEY port: another keysrv holds it" ]
	[ ! -e "$D/s2" ]
	stop_keysrv
	grep -Fx "keysrv: stopping" "$MASIX_RUNDIR/keysrv.log"
	run -69 --separate-stderr kq directory
	[ "$stderr" = "keysrv: keysrv is not running" ]
	run -69 --separate-stderr kq may-register "$Z" 0 echo
	[ "$stderr" = "keysrv: keysrv is not running" ]
	mkdir "$D/none"
	run -69 --separate-stderr timeout 20 "$MASIX_BIN/keysrv" -q -R "$D/none" directory
	[ "$stderr" = "keysrv: cannot reach portd in $D/none: portd is not running" ]
}

@test "KEY port protocol: unknown msgid, malformed requests, rights and missing reply rights" {
	node_start
	run -0 --separate-stderr keyq 99
	[ "$output" = "INT 15
STRING unknown request" ]
	run -0 --separate-stderr keyq 1 s:extra
	[ "$output" = "INT 3
STRING malformed request" ]
	run -0 --separate-stderr keyq 4 s:sha256:00 s:zero s:name
	[ "$output" = "INT 3
STRING malformed request" ]
	run -0 --separate-stderr keyq 4 "s:$Z" i:4294967295 s:echo
	[ "$output" = "INT 2
STRING uid 4294967295 out of range" ]
	run -0 --separate-stderr keyq 2 b:x s:a p
	[ "$output" = "INT 3
STRING malformed request" ]
	run -0 --separate-stderr keyq 6
	[ "$output" = "INT 4
STRING no revocation list" ]
	run -0 --separate-stderr keyq -n 3
	[ "$output" = "sent" ]
	grep -Eqx "keysrv: pid [0-9]+ uid $(id -u): malformed node-cert request" "$MASIX_RUNDIR/keysrv.log"
	grep -Eqx "keysrv: pid [0-9]+ uid $(id -u): malformed verify-peer request" "$MASIX_RUNDIR/keysrv.log"
	# and it serves on
	run -0 --separate-stderr kq directory
	[ "${output%% *}" = "$HOST" ]
}
