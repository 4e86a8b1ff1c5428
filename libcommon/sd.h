/* sd.h — readiness and socket activation without libsystemd. */
#ifndef MX_SD_H
#define MX_SD_H

/*
 * Tell readiness: "READY=1" (plus STATUS=status) to $NOTIFY_SOCKET when
 * set, and a newline on readyfd (s6 style, then closed) when >= 0.
 */
void sd_ready(int readyfd, const char *status);
/* The -F argument: a file descriptor of 3 or more, or -1 when s is not one. */
int sd_readyfd_parse(const char *s);
void sd_stopping(void);
/* Number of sockets passed by socket activation (fds 3..), 0 if none. */
int sd_listen_fds(void);

#endif
