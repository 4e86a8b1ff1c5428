/*
 * keyq — raw requests to the KEY port for the bats suite, to check keysrv's
 * answers to requests the library never sends (unknown msgids, malformed
 * items, rights in a request, no reply right).
 *
 *   keyq -R DIR [-n] MSGID [s:TEXT | b:TEXT | i:NUMBER | p]...
 *
 * Prints each item of the answer on its own line ("INT 3", "STRING text",
 * "BYTES n"); -n sends without a reply right and prints "sent".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "masix.h"

static void
check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "keyq: %s: %s\n", what, mx_strerror(r));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	const char *rundir = NULL;
	struct mx_conn *c;
	struct mx_msg *m, *reply;
	struct mx_item it;
	mx_name_t key, port;
	int ch, noreply = 0, i, r;

	while ((ch = getopt(argc, argv, "+nR:")) != -1) {
		if (ch == 'R')
			rundir = optarg;
		else if (ch == 'n')
			noreply = 1;
		else
			return 64;
	}
	if (optind >= argc)
		return 64;
	check(masix_connect(rundir, &c), "connect");
	check(masix_special_get(c, MX_SPECIAL_KEY, &key), "KEY port");
	m = mx_msg_new((uint32_t)strtoul(argv[optind], NULL, 0));
	m->dest = key;
	for (i = optind + 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "s:", 2) == 0)
			check(mx_msg_add_string(m, a + 2), a);
		else if (strncmp(a, "b:", 2) == 0)
			check(mx_msg_add_bytes(m, a + 2, strlen(a + 2)), a);
		else if (strncmp(a, "i:", 2) == 0)
			check(mx_msg_add_int(m, strtoll(a + 2, NULL, 0)), a);
		else if (strcmp(a, "p") == 0) {
			check(masix_port_alloc(c, &port), "port");
			check(mx_msg_add_port(m, port, MX_DISP_MAKE_SEND), a);
		} else
			return 64;
	}
	if (noreply) {
		check(masix_send(c, m, 5000), "send");
		printf("sent\n");
		mx_msg_free(m);
		masix_close(c);
		return 0;
	}
	r = masix_request(c, m, 10000, &reply);
	check(r, "request");
	while ((r = mx_msg_next(reply, &it)) == 1) {
		if (it.type == MX_ITEM_INT)
			printf("INT %lld\n", (long long)it.ival);
		else if (it.type == MX_ITEM_STRING)
			printf("STRING %.*s\n", (int)it.len, (const char *)it.data);
		else if (it.type == MX_ITEM_BYTES)
			printf("BYTES %u\n", it.len);
		else
			printf("PORT\n");
	}
	check(r, "reply");
	mx_msg_free(reply);
	mx_msg_free(m);
	masix_close(c);
	return 0;
}
