/*
 * connflood — open many connections and hold them, as a hostile local user
 * or host would: to portd's socket (unix PATH) or to a TCP port (tcp
 * ADDR PORT). Connects are non-blocking: a connection the server does not
 * take stays pending. Prints "N open" once all are made, then holds them
 * until it is killed.
 *
 *   connflood unix PATH N
 *   connflood tcp ADDR PORT N [FROM...]
 *	with FROM addresses (127.0.0.2 127.0.0.3 ...: every 127/8 address is
 *	this host's), N connections from each, one address after the other
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: connflood unix PATH N | tcp ADDR PORT N [FROM...]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct rlimit rl;
	struct sockaddr_in from[64];
	int nfrom = 0, f;
	long n, i, open_n = 0, retries_ms = 0;

	memset(&ss, 0, sizeof(ss));
	if (argc == 4 && strcmp(argv[1], "unix") == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		un->sun_family = AF_UNIX;
		if (strlen(argv[2]) >= sizeof(un->sun_path))
			usage();
		strcpy(un->sun_path, argv[2]);
		sl = sizeof(*un);
		n = atol(argv[3]);
	} else if (argc >= 5 && argc - 5 <= 64 && strcmp(argv[1], "tcp") == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		for (f = 5; f < argc; f++) {
			memset(&from[nfrom], 0, sizeof(from[0]));
			from[nfrom].sin_family = AF_INET;
			if (inet_pton(AF_INET, argv[f], &from[nfrom++].sin_addr) != 1)
				usage();
		}

		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[2], &in->sin_addr) != 1)
			usage();
		in->sin_port = htons((uint16_t)atoi(argv[3]));
		sl = sizeof(*in);
		n = atol(argv[4]);
	} else
		usage();
	/* Our own limit must not be what stops us. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n * (nfrom ? nfrom : 1); i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			perror("connflood: socket");
			return 1;
		}
		/* The source address: the next one every N connections. */
		if (nfrom > 0 && bind(fd, (struct sockaddr *)&from[i / n], sizeof(from[0])) < 0) {
			perror("connflood: bind");
			return 1;
		}
		/* A full backlog (EAGAIN on a Unix socket): retry, 2 s in all at most. */
		while (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
			if (errno != EAGAIN) {
				perror("connflood: connect");
				return 1;
			}
			if (retries_ms >= 2000)
				break;
			usleep(1000);
			retries_ms++;
		}
		open_n++;
	}
	printf("%ld open\n", open_n);
	fflush(stdout);
	for (;;)
		pause();
}
