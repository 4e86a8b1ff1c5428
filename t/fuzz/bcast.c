/*
 * bcast.c — libFuzzer harness for the broadcast packet parser
 * (cmd/portd/bcast_parse.c): every length check, and the encoder as its
 * inverse. The certificate bytes go through OpenSSL's DER parser as
 * cmd/portd/bcast.c hands them to it (whole buffer consumed or refused).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "../../cmd/portd/bcast_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[BCAST_PACKET_MAX];
	struct bcast_pkt pkt;
	const char *why = NULL;
	const uint8_t *der;
	size_t n;
	X509 *cert;

	if (bcast_parse(data, size, &pkt, &why) != 0) {
		if (why == NULL || *why == '\0')
			abort();
		return 0;
	}
	/* What parses lies inside the input and is within the limits. */
	if (pkt.type == 0 || !crypto_node_name_valid(pkt.node) ||
	    pkt.payload_len > BCAST_PAYLOAD_MAX || pkt.cert_len == 0 || pkt.cert_len > BCAST_CERT_MAX ||
	    pkt.payload < data || pkt.payload + pkt.payload_len > data + size ||
	    pkt.cert < data || pkt.cert + pkt.cert_len > data + size ||
	    pkt.sig != data + pkt.signed_len || pkt.signed_len + BCAST_SIG_LEN != size)
		abort();
	/* The encoding is canonical: packing the fields again gives the same bytes. */
	n = bcast_pack(again, sizeof(again), pkt.type, pkt.node, pkt.incarnation, pkt.timestamp,
	    pkt.nonce, pkt.payload, pkt.payload_len, pkt.cert, pkt.cert_len);
	if (n != pkt.signed_len || memcmp(again, data, n) != 0)
		abort();
	der = pkt.cert;
	cert = d2i_X509(NULL, &der, (long)pkt.cert_len);
	if (cert != NULL && (der < pkt.cert || der > pkt.cert + pkt.cert_len))
		abort();
	X509_free(cert);
	ERR_clear_error();
	return 0;
}
