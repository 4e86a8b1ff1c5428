/*
 * ready.c — wait until a node serves: portd accepts a connection and the
 * NAME port is held (namesrv is up).
 *
 *   ready DIR SECS	exit 0 once ready, 1 with a message after SECS
 */
#include "masix.h"
#include "bench.h"

int
main(int argc, char **argv)
{
	struct mx_conn *c = NULL;
	mx_name_t name;
	uint64_t deadline;
	int r = -MX_ERR_UNAVAIL;
	const char *step = "connect";

	if (argc != 3) {
		fprintf(stderr, "usage: ready DIR SECS\n");
		return 64;
	}
	deadline = bench_now_ns() + (uint64_t)bench_count(argv[2], "SECS") * 1000000000u;
	while (bench_now_ns() < deadline) {
		if (c == NULL && (r = masix_connect(argv[1], &c)) < 0) {
			c = NULL;
			step = "connect to portd";
		} else if ((r = masix_special_get(c, MX_SPECIAL_NAME, &name)) < 0) {
			step = "NAME port (namesrv)";
			if (r == -MX_ERR_IO) {
				masix_close(c);
				c = NULL;
			}
		} else {
			masix_close(c);
			return 0;
		}
		usleep(50 * 1000);
	}
	bench_fatal("node in %s not ready after %s s: %s: %s", argv[1], argv[2], step, mx_strerror(r));
}
