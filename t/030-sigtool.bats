#!/usr/bin/env bats
# sigtool: admin key and CA, node certificates, the signed signature list, revocation.

load helpers

setup() {
	BIN=$MASIX_BIN
	D=$BATS_TEST_TMPDIR
	A=$D/adm
	unset MASIX_ADMIN_DIR
	cd "$D"
}

st() { timeout 20 "$BIN/sigtool" "$@"; }
ossl() { timeout 20 openssl "$@"; }

# mkreq NAME [KEYALG]: a key and a certificate request with subject CN=NAME.
mkreq() {
	local alg=${2:-ed25519} file=${1//\//_}
	if [ "$alg" = ed25519 ]; then
		ossl genpkey -algorithm ed25519 -out "$D/$file.key"
	else
		ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$file.key"
	fi
	ossl req -new -key "$D/$file.key" -subj "/CN=$1" -out "$D/$file.csr"
}

# An admin directory with an unencrypted key, and node1 certified by it.
init_node1() {
	run -0 --separate-stderr st -d "$A" init
	mkreq node1
	run -0 --separate-stderr st -d "$A" certify -o "$D/node1.crt" "$D/node1.csr"
}

ossl_list_verify() {
	ossl pkeyutl -verify -pubin -inkey "$A/ca.pub" -rawin \
	    -in "$A/signatures.list" -sigfile "$A/signatures.list.sig"
}

USAGE='usage: sigtool [-d DIR] init [-p PASSFILE | -P]
       sigtool [-d DIR] certify [-p PASSFILE | -P] [-days N] [-o FILE] REQUEST
       sigtool hash FILE...
       sigtool [-d DIR] add [-p PASSFILE | -P] [-u UID] [-U UNIT] [--private] [--seen-by SERVICE]... NAME FILE|HASH|*
       sigtool [-d DIR] remove [-p PASSFILE | -P] NAME [FILE|HASH]
       sigtool [-d DIR] list
       sigtool [-d DIR] verify [-n NODE] [CERT]
       sigtool [-d DIR] revoke [-p PASSFILE | -P] CERT | -s SERIAL
       sigtool [-d DIR] fingerprint [FILE]'

@test "-h prints the usage on stdout; bad usage exits 64 with it on stderr" {
	run -0 --separate-stderr st -h
	[ "$output" = "$USAGE" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr st list -h
	[ "$output" = "$USAGE" ]
	run -64 --separate-stderr st
	[ "$output" = "" ]
	[ "$stderr" = "$USAGE" ]
	run -64 --separate-stderr st frobnicate
	[ "$stderr" = "sigtool: frobnicate: unknown command (sigtool -h lists them)" ]
	run -64 --separate-stderr st -d "$A" init extra
	[ "$stderr" = "$USAGE" ]
	run -64 --separate-stderr st -d "$A" init -p x -P
	[ "$stderr" = "sigtool: -p and -P: choose one" ]
	[ ! -e "$A" ]
}

@test "init creates key 0600, CA, ca.pub, a signed empty list and an empty CRL" {
	run -0 --separate-stderr st -d "$A" init
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(stat -c %a "$A")" = 700 ]
	[ "$(stat -c %a "$A/admin.key")" = 600 ]
	[ "$(head -n 1 "$A/admin.key")" = "-----BEGIN PRIVATE KEY-----" ]
	[ "$(stat -c %s "$A/signatures.list.sig")" = 64 ]
	run -0 ossl x509 -in "$A/ca.crt" -noout -subject -issuer
	[ "$output" = "subject=CN = masix cluster CA
issuer=CN = masix cluster CA" ]
	run -0 ossl x509 -in "$A/ca.crt" -noout -ext basicConstraints,keyUsage
	[ "$output" = "X509v3 Basic Constraints: critical
    CA:TRUE
X509v3 Key Usage: critical
    Certificate Sign, CRL Sign" ]
	# ten years, give or take a day
	run -0 ossl x509 -in "$A/ca.crt" -noout -checkend $((3649 * 86400))
	run -1 ossl x509 -in "$A/ca.crt" -noout -checkend $((3651 * 86400))
	run -0 ossl_list_verify
	[ "$output" = "Signature Verified Successfully" ]
	run -0 ossl crl -in "$A/revoked.crl" -CAfile "$A/ca.crt" -noout
	[ "$output" = "verify OK" ]
	run -0 --separate-stderr st -d "$A" list
	[ "$output" = "" ]
	run -0 --separate-stderr st -d "$A" verify
	[ "$output" = "$A/signatures.list: OK" ]
}

@test "init refuses to overwrite an existing admin directory" {
	run -0 st -d "$A" init
	sum=$(cat "$A"/* | sha256sum)
	run -73 --separate-stderr st -d "$A" init
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: $A/admin.key: already exists, refusing to overwrite" ]
	# a lone leftover file is enough to refuse, and nothing is created next to it
	mkdir "$D/b" && touch "$D/b/revoked.crl"
	run -73 --separate-stderr st -d "$D/b" init
	[ "$stderr" = "sigtool: $D/b/revoked.crl: already exists, refusing to overwrite" ]
	[ "$(ls "$D/b")" = "revoked.crl" ]
	[ "$(cat "$A"/* | sha256sum)" = "$sum" ]
}

@test "MASIX_ADMIN_DIR picks the admin directory, -d beats it" {
	MASIX_ADMIN_DIR=$D/env run -0 st init
	[ -f "$D/env/admin.key" ]
	MASIX_ADMIN_DIR=$D/env run -0 --separate-stderr st verify
	[ "$output" = "$D/env/signatures.list: OK" ]
	MASIX_ADMIN_DIR=$D/env run -66 --separate-stderr st -d "$D/none" list
	[ "$stderr" = "sigtool: $D/none: no such admin directory (make one with: sigtool -d $D/none init)" ]
}

@test "passphrase: encrypted key, wrong, missing and empty passphrases" {
	echo 'correct horse' >"$D/pass"
	echo 'wrong horse' >"$D/bad"
	: >"$D/empty"
	run -0 --separate-stderr st -d "$A" init -p "$D/pass"
	[ "$stderr" = "" ]
	[ "$(head -n 1 "$A/admin.key")" = "-----BEGIN ENCRYPTED PRIVATE KEY-----" ]
	run -0 ossl pkey -in "$A/admin.key" -passin "file:$D/pass" -noout
	mkreq node1
	run -77 --separate-stderr st -d "$A" certify -p "$D/bad" "$D/node1.csr"
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: $A/admin.key: wrong passphrase" ]
	run -77 --separate-stderr st -d "$A" certify "$D/node1.csr"
	[ "$stderr" = "sigtool: $A/admin.key: key is encrypted, passphrase required" ]
	run -65 --separate-stderr st -d "$A" certify -p "$D/empty" "$D/node1.csr"
	[ "$stderr" = "sigtool: $D/empty: empty passphrase" ]
	run -66 --separate-stderr st -d "$A" certify -p "$D/nopass" "$D/node1.csr"
	[ "$stderr" = "sigtool: $D/nopass: No such file or directory" ]
	run -0 --separate-stderr st -d "$A" certify -p "$D/pass" "$D/node1.csr"
	[ "${output%%$'\n'*}" = "-----BEGIN CERTIFICATE-----" ]
	# the passphrase never shows up anywhere
	run -77 --separate-stderr st -d "$A" add -p "$D/bad" svc sha256:$(printf '%064d' 0)
	[ "$stderr" = "sigtool: $A/admin.key: wrong passphrase" ]
	[[ "$stderr$output" != *horse* ]]
}

@test "-P without a terminal fails cleanly, -p and init refuse an empty passphrase" {
	: >"$D/empty"
	run -77 --separate-stderr timeout 20 setsid "$BIN/sigtool" -d "$A" init -P
	[ "$stderr" = "sigtool: passphrase: no terminal to read it from (use -p PASSFILE)" ]
	[ ! -e "$A/admin.key" ]
	run -65 --separate-stderr st -d "$A" init -p "$D/empty"
	[ "$stderr" = "sigtool: $D/empty: empty passphrase" ]
	[ ! -e "$A/admin.key" ]
}

@test "a group- or world-readable admin key is refused like ssh does" {
	init_node1
	chmod 0644 "$A/admin.key"
	run -77 --separate-stderr st -d "$A" certify "$D/node1.csr"
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: Permissions 0644 for '$A/admin.key' are too open" ]
	chmod 0640 "$A/admin.key"
	run -77 --separate-stderr st -d "$A" revoke "$D/node1.crt"
	[ "$stderr" = "sigtool: Permissions 0640 for '$A/admin.key' are too open" ]
	chmod 0604 "$A/admin.key"
	run -77 --separate-stderr st -d "$A" add svc "$BIN/sigtool"
	[ "$stderr" = "sigtool: Permissions 0604 for '$A/admin.key' are too open" ]
	chmod 0400 "$A/admin.key"
	run -0 --separate-stderr st -d "$A" add svc "$BIN/sigtool"
}

@test "admin.key must be the key of ca.crt" {
	init_node1
	run -0 st -d "$D/other" init
	cp "$D/other/admin.key" "$A/admin.key"
	run -65 --separate-stderr st -d "$A" certify "$D/node1.csr"
	[ "$stderr" = "sigtool: $A/admin.key: not the key of $A/ca.crt" ]
}

@test "hash prints sha256:HEX like sha256sum and reports missing files" {
	printf 'hello\n' >"$D/f1"
	: >"$D/f2"
	h1=$(sha256sum "$D/f1" | cut -d' ' -f1)
	h2=$(sha256sum "$D/f2" | cut -d' ' -f1)
	run -0 --separate-stderr st hash "$D/f1" "$D/f2"
	[ "$output" = "sha256:$h1  $D/f1
sha256:$h2  $D/f2" ]
	run -66 --separate-stderr st hash "$D/nope" "$D/f1"
	[ "$output" = "sha256:$h1  $D/f1" ]
	[ "$stderr" = "sigtool: $D/nope: No such file or directory" ]
	run -64 --separate-stderr st hash
	[ "$stderr" = "$USAGE" ]
}

@test "add, list and remove edit the list and keep it signed for stock openssl" {
	run -0 st -d "$A" init
	printf 'server one\n' >"$D/srv1"
	h1=sha256:$(sha256sum "$D/srv1" | cut -d' ' -f1)
	x2=$(printf '%064x' 42)
	h2=sha256:$x2
	run -0 --separate-stderr st -d "$A" add fs/server "$D/srv1"
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr st -d "$A" add -u 1000 'fs/*' "sha256:${x2^^}"
	run -0 --separate-stderr st -d "$A" add fs/server "$h2" -u 0
	run -0 --separate-stderr st -d "$A" list
	[ "$output" = "fs/server $h1
fs/* $h2 1000
fs/server $h2 0" ]
	run -0 ossl_list_verify
	[ "$output" = "Signature Verified Successfully" ]
	# the file is the readable text, the header comment kept
	[ "$(cat "$A/signatures.list")" = "version 2
# masix signature list: NAME sha256:HEX|* [UID|*] [unit=UNIT] [private]; see sigtool(1). Edit with sigtool add/remove.
fs/server $h1
fs/* $h2 1000
fs/server $h2 0" ]
	# adding a rule that is there already changes nothing
	sum=$(sha256sum <"$A/signatures.list.sig")
	run -0 --separate-stderr st -d "$A" add fs/server "$h1"
	[ "$stderr" = "" ]
	[ "$(sha256sum <"$A/signatures.list.sig")" = "$sum" ]
	# remove NAME HASH drops one rule, remove NAME all of them
	run -0 --separate-stderr st -d "$A" remove fs/server "$h2"
	run -0 --separate-stderr st -d "$A" list
	[ "$output" = "fs/server $h1
fs/* $h2 1000" ]
	run -0 --separate-stderr st -d "$A" remove 'fs/*'
	run -0 --separate-stderr st -d "$A" remove fs/server "$D/srv1"
	run -0 --separate-stderr st -d "$A" list
	[ "$output" = "" ]
	run -0 ossl_list_verify
	run -0 --separate-stderr st -d "$A" verify
	[ "$output" = "$A/signatures.list: OK" ]
}

@test "add and remove refuse bad names, hashes, uids and missing entries" {
	run -0 st -d "$A" init
	h=sha256:$(printf '%064x' 7)
	sum=$(cat "$A/signatures.list" "$A/signatures.list.sig" | sha256sum)
	run -65 --separate-stderr st -d "$A" add 'bad name' "$h"
	[ "$stderr" = "sigtool: 'bad name': not a masix name (1-255 of [A-Za-z0-9._/-]) or a prefix/* pattern" ]
	run -65 --separate-stderr st -d "$A" add '*' "$h"
	[ "$stderr" = "sigtool: '*': not a masix name (1-255 of [A-Za-z0-9._/-]) or a prefix/* pattern" ]
	long=$(printf 'a%.0s' {1..256})
	run -65 --separate-stderr st -d "$A" add "$long" "$h"
	[ "$stderr" = "sigtool: '$long': not a masix name (1-255 of [A-Za-z0-9._/-]) or a prefix/* pattern" ]
	run -0 st -d "$A" add "${long:1}" "$h"
	run -65 --separate-stderr st -d "$A" add svc sha256:1234
	[ "$stderr" = "sigtool: 'sha256:1234': not sha256: and 64 hex digits" ]
	run -66 --separate-stderr st -d "$A" add svc "$D/missing"
	[ "$stderr" = "sigtool: $D/missing: No such file or directory" ]
	run -64 --separate-stderr st -d "$A" add -u bob svc "$h"
	[ "$stderr" = "sigtool: -u: 'bob': not a numeric uid" ]
	run -64 --separate-stderr st -d "$A" add -u 4294967295 svc "$h"
	[ "$stderr" = "sigtool: -u: '4294967295': not a numeric uid" ]
	run -64 --separate-stderr st -d "$A" add svc
	[ "$stderr" = "$USAGE" ]
	run -69 --separate-stderr st -d "$A" remove svc
	[ "$stderr" = "sigtool: 'svc': no such entry" ]
	run -0 st -d "$A" add svc "$h"
	run -69 --separate-stderr st -d "$A" remove svc sha256:$(printf '%064x' 8)
	[ "$stderr" = "sigtool: 'svc' sha256:$(printf '%064x' 8): no such entry" ]
	run -0 --separate-stderr st -d "$A" list
	[ "$output" = "${long:1} $h
svc $h" ]
	[ "$sum" != "$(cat "$A/signatures.list" "$A/signatures.list.sig" | sha256sum)" ]
}

@test "a tampered list is refused by list, verify, add and stock openssl" {
	run -0 st -d "$A" init
	h=sha256:$(printf '%064x' 1)
	run -0 st -d "$A" add svc "$h"
	echo "evil $h" >>"$A/signatures.list"
	run -65 --separate-stderr st -d "$A" list
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: $A/signatures.list: signature does not verify with the admin key" ]
	run -65 --separate-stderr st -d "$A" verify
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: $A/signatures.list: signature does not verify with the admin key" ]
	# editing never re-signs a list that does not verify
	run -65 --separate-stderr st -d "$A" add other "$h"
	[ "$stderr" = "sigtool: $A/signatures.list: signature does not verify with the admin key" ]
	[ "$(tail -n 1 "$A/signatures.list")" = "evil $h" ]
	run -1 ossl_list_verify
	[ "${output%%$'\n'*}" = "Signature Verification Failure" ]
}

@test "a tampered or truncated signature is refused" {
	run -0 st -d "$A" init
	run -0 st -d "$A" add svc sha256:$(printf '%064x' 1)
	# flip one bit of the first byte
	b=$(od -An -tu1 -N1 "$A/signatures.list.sig" | tr -d ' ')
	{ printf "\\$(printf '%03o' $((b ^ 1)))"; tail -c +2 "$A/signatures.list.sig"; } >"$D/sig"
	[ "$(stat -c %s "$D/sig")" = 64 ]
	cp "$D/sig" "$A/signatures.list.sig"
	run -65 --separate-stderr st -d "$A" verify
	[ "$stderr" = "sigtool: $A/signatures.list: signature does not verify with the admin key" ]
	run -1 ossl_list_verify
	head -c 63 "$D/sig" >"$A/signatures.list.sig"
	run -65 --separate-stderr st -d "$A" list
	[ "$stderr" = "sigtool: $A/signatures.list.sig: not a 64-byte Ed25519 signature" ]
	rm "$A/signatures.list.sig"
	run -66 --separate-stderr st -d "$A" verify
	[ "$stderr" = "sigtool: $A/signatures.list.sig: No such file or directory" ]
}

@test "a list signed by another admin key is refused" {
	run -0 st -d "$A" init
	run -0 st -d "$D/other" init
	cp "$D/other/signatures.list" "$D/other/signatures.list.sig" "$A/"
	run -65 --separate-stderr st -d "$A" verify
	[ "$stderr" = "sigtool: $A/signatures.list: signature does not verify with the admin key" ]
}

@test "certify makes a node certificate with the right profile" {
	init_node1
	[ "$stderr" = "" ]
	run -0 ossl x509 -in "$D/node1.crt" -noout -subject -issuer
	[ "$output" = "subject=CN = node1
issuer=CN = masix cluster CA" ]
	run -0 ossl x509 -in "$D/node1.crt" -noout \
	    -ext basicConstraints,keyUsage,extendedKeyUsage,subjectAltName
	[ "$output" = "X509v3 Basic Constraints: critical
    CA:FALSE
X509v3 Key Usage: critical
    Digital Signature
X509v3 Extended Key Usage: 
    TLS Web Server Authentication, TLS Web Client Authentication
X509v3 Subject Alternative Name: 
    DNS:node1" ]
	# a 128-bit serial: 32 hex digits
	run -0 ossl x509 -in "$D/node1.crt" -noout -serial
	[[ "$output" =~ ^serial=[0-9A-F]{32}$ ]]
	run -0 ossl x509 -in "$D/node1.crt" -noout -checkend $((364 * 86400))
	run -1 ossl x509 -in "$D/node1.crt" -noout -checkend $((366 * 86400))
	# the node's own key is in it
	[ "$(ossl x509 -in "$D/node1.crt" -noout -pubkey)" = "$(ossl pkey -in "$D/node1.key" -pubout)" ]
	run -0 ossl verify -CAfile "$A/ca.crt" -purpose sslserver "$D/node1.crt"
	run -0 ossl verify -CAfile "$A/ca.crt" -purpose sslclient "$D/node1.crt"
	run -0 --separate-stderr st -d "$A" verify "$D/node1.crt"
	[ "$output" = "$D/node1.crt: OK" ]
	[ "$stderr" = "" ]
	run -0 --separate-stderr st -d "$A" verify -n node1 "$D/node1.crt"
	[ "$output" = "$D/node1.crt: OK" ]
	run -65 --separate-stderr st -d "$A" verify -n node2 "$D/node1.crt"
	[ "$stderr" = "sigtool: $D/node1.crt: issued to node 'node1', not 'node2'" ]
	# -o never overwrites
	run -73 --separate-stderr st -d "$A" certify -o "$D/node1.crt" "$D/node1.csr"
	[ "$stderr" = "sigtool: $D/node1.crt: already exists, refusing to overwrite" ]
}

@test "certify -days sets the validity and refuses nonsense" {
	run -0 st -d "$A" init
	mkreq node-2.example
	run -0 --separate-stderr st -d "$A" certify -days 30 "$D/node-2.example.csr"
	echo "$output" >"$D/n2.crt"
	run -0 ossl x509 -in "$D/n2.crt" -noout -checkend $((29 * 86400))
	run -1 ossl x509 -in "$D/n2.crt" -noout -checkend $((31 * 86400))
	run -0 ossl x509 -in "$D/n2.crt" -noout -subject
	[ "$output" = "subject=CN = node-2.example" ]
	run -64 --separate-stderr st -d "$A" certify -days 0 "$D/node-2.example.csr"
	[ "$stderr" = "sigtool: -days: '0': not a number of days from 1 to 36500" ]
	run -64 --separate-stderr st -d "$A" certify -days 1x "$D/node-2.example.csr"
	[ "$stderr" = "sigtool: -days: '1x': not a number of days from 1 to 36500" ]
	run -64 --separate-stderr st -d "$A" certify
	[ "$stderr" = "$USAGE" ]
}

@test "certify refuses bad node names" {
	run -0 st -d "$A" init
	why="request subject is not CN=<node name> (1-63 chars of [A-Za-z0-9.-], not starting with '-' or '.')"
	for n in bad_name -lead .lead 'a b' "$(printf 'n%.0s' {1..64})"; do
		mkreq "$n"
		f=${n//\//_}
		run -65 --separate-stderr st -d "$A" certify "$D/$f.csr"
		[ "$output" = "" ]
		[ "$stderr" = "sigtool: $D/$f.csr: $why" ]
	done
	# 63 characters is fine
	n=$(printf 'n%.0s' {1..63})
	mkreq "$n"
	run -0 --separate-stderr st -d "$A" certify "$D/$n.csr"
	# two CNs are refused too
	ossl req -new -key "$D/$n.key" -subj "/CN=a/CN=b" -out "$D/two.csr"
	run -65 --separate-stderr st -d "$A" certify "$D/two.csr"
	[ "$stderr" = "sigtool: $D/two.csr: $why" ]
}

@test "certify refuses non-Ed25519, badly signed, malformed and missing requests" {
	run -0 st -d "$A" init
	mkreq ecnode ec
	run -65 --separate-stderr st -d "$A" certify "$D/ecnode.csr"
	[ "$stderr" = "sigtool: $D/ecnode.csr: request key is EC, not Ed25519" ]
	# flip the last byte of the request's signature
	mkreq node1
	ossl req -in "$D/node1.csr" -outform DER -out "$D/req.der"
	n=$(stat -c %s "$D/req.der")
	b=$(tail -c 1 "$D/req.der" | od -An -tu1 | tr -d ' ')
	{ head -c $((n - 1)) "$D/req.der"; printf "\\$(printf '%03o' $((b ^ 1)))"; } >"$D/bad.der"
	ossl req -inform DER -in "$D/bad.der" -out "$D/bad.csr"
	run -65 --separate-stderr st -d "$A" certify "$D/bad.csr"
	[ "$stderr" = "sigtool: $D/bad.csr: request self-signature does not verify" ]
	echo "not a request" >"$D/junk.csr"
	run -65 --separate-stderr st -d "$A" certify "$D/junk.csr"
	[ "$stderr" = "sigtool: $D/junk.csr: not a PEM certificate request" ]
	run -66 --separate-stderr st -d "$A" certify "$D/none.csr"
	[ "$stderr" = "sigtool: $D/none.csr: No such file or directory" ]
	# a request can come on a pipe
	run -0 --separate-stderr bash -c "timeout 20 '$BIN/sigtool' -d '$A' certify /dev/stdin <'$D/node1.csr'"
	[ "${output%%$'\n'*}" = "-----BEGIN CERTIFICATE-----" ]
}

@test "verify refuses expired and foreign-CA certificates" {
	init_node1
	# expired: signed by our admin key with stock openssl, valid until yesterday
	ossl x509 -req -in "$D/node1.csr" -CA "$A/ca.crt" -CAkey "$A/admin.key" \
	    -days -1 -out "$D/expired.crt" 2>/dev/null
	run -65 --separate-stderr st -d "$A" verify "$D/expired.crt"
	[ "$output" = "" ]
	[ "$stderr" = "sigtool: $D/expired.crt: certificate has expired" ]
	# foreign CA: same CA name, another key
	run -0 st -d "$D/other" init
	run -0 st -d "$D/other" certify -o "$D/foreign.crt" "$D/node1.csr"
	run -65 --separate-stderr st -d "$A" verify "$D/foreign.crt"
	[ "$stderr" = "sigtool: $D/foreign.crt: unable to get local issuer certificate" ]
	# the CA certificate itself is not a node certificate
	run -65 --separate-stderr st -d "$A" verify "$A/ca.crt"
	[ "$stderr" = "sigtool: $A/ca.crt: a CA certificate, not a node certificate" ]
	echo junk >"$D/junk.crt"
	run -65 --separate-stderr st -d "$A" verify "$D/junk.crt"
	[ "$stderr" = "sigtool: $D/junk.crt: not a PEM certificate" ]
	run -66 --separate-stderr st -d "$A" verify "$D/none.crt"
	[ "$stderr" = "sigtool: $D/none.crt: No such file or directory" ]
}

@test "revoke adds the certificate to a CRL that stock openssl verifies" {
	init_node1
	mkreq node2
	run -0 st -d "$A" certify -o "$D/node2.crt" "$D/node2.csr"
	run -0 --separate-stderr st -d "$A" revoke "$D/node1.crt"
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run -65 --separate-stderr st -d "$A" verify "$D/node1.crt"
	[ "$stderr" = "sigtool: $D/node1.crt: certificate revoked" ]
	run -0 --separate-stderr st -d "$A" verify "$D/node2.crt"
	[ "$output" = "$D/node2.crt: OK" ]
	run -0 ossl crl -in "$A/revoked.crl" -CAfile "$A/ca.crt" -noout
	[ "$output" = "verify OK" ]
	s1=$(ossl x509 -in "$D/node1.crt" -noout -serial)
	run -0 ossl crl -in "$A/revoked.crl" -noout -text
	[[ "$output" == *"Serial Number: ${s1#serial=}"* ]]
	[[ "$output" == *"X509v3 CRL Number: "$'\n'"                2"* ]]
	# stock openssl agrees
	run -2 ossl verify -crl_check -CAfile "$A/ca.crt" -CRLfile "$A/revoked.crl" "$D/node1.crt"
	[[ "$output" == *"certificate revoked"* ]]
	# revoking again changes nothing
	sum=$(sha256sum <"$A/revoked.crl")
	run -0 --separate-stderr st -d "$A" revoke "$D/node1.crt"
	[ "$(sha256sum <"$A/revoked.crl")" = "$sum" ]
	# by serial, as openssl x509 -serial prints it
	s2=$(ossl x509 -in "$D/node2.crt" -noout -serial)
	run -0 --separate-stderr st -d "$A" revoke -s "${s2#serial=}"
	run -65 --separate-stderr st -d "$A" verify "$D/node2.crt"
	[ "$stderr" = "sigtool: $D/node2.crt: certificate revoked" ]
	run -0 ossl crl -in "$A/revoked.crl" -CAfile "$A/ca.crt" -noout
}

@test "revoke refuses foreign certificates, bad serials and bad usage" {
	init_node1
	run -0 st -d "$D/other" init
	run -0 st -d "$D/other" certify -o "$D/foreign.crt" "$D/node1.csr"
	run -65 --separate-stderr st -d "$A" revoke "$D/foreign.crt"
	[ "$stderr" = "sigtool: $D/foreign.crt: not issued by this CA ($A/ca.crt)" ]
	run -65 --separate-stderr st -d "$A" revoke -s xyz
	[ "$stderr" = "sigtool: 'xyz': not a certificate serial (1-40 hex digits, not zero)" ]
	run -64 --separate-stderr st -d "$A" revoke
	[ "$stderr" = "$USAGE" ]
	run -64 --separate-stderr st -d "$A" revoke -s 01 "$D/node1.crt"
	[ "$stderr" = "$USAGE" ]
	run -0 ossl crl -in "$A/revoked.crl" -noout -text
	[[ "$output" == *"No Revoked Certificates."* ]]
}

@test "a CRL that does not verify makes every certificate check fail" {
	init_node1
	run -0 st -d "$D/other" init
	cp "$D/other/revoked.crl" "$A/revoked.crl"
	run -65 --separate-stderr st -d "$A" verify "$D/node1.crt"
	[ "$stderr" = "sigtool: $A/revoked.crl: CRL signature does not verify" ]
	run -65 --separate-stderr st -d "$A" revoke "$D/node1.crt"
	[ "$stderr" = "sigtool: $A/revoked.crl: CRL signature does not verify" ]
	rm "$A/revoked.crl"
	run -66 --separate-stderr st -d "$A" verify "$D/node1.crt"
	[ "$stderr" = "sigtool: $A/revoked.crl: No such file or directory" ]
}

@test "fingerprint matches the stock openssl computation" {
	init_node1
	want=SHA256:$(ossl pkey -pubin -in "$A/ca.pub" -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =)
	run -0 --separate-stderr st -d "$A" fingerprint
	[ "$output" = "$want" ]
	node=SHA256:$(ossl pkey -in "$D/node1.key" -pubout -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =)
	run -0 --separate-stderr st fingerprint "$D/node1.crt"
	[ "$output" = "$node" ]
	run -0 --separate-stderr st fingerprint "$D/node1.csr"
	[ "$output" = "$node" ]
	run -0 --separate-stderr st fingerprint "$A/ca.pub"
	[ "$output" = "$want" ]
	echo junk >"$D/junk"
	run -65 --separate-stderr st fingerprint "$D/junk"
	[ "$stderr" = "sigtool: $D/junk: no certificate, request or public key in it" ]
}
