/* log.h — one logging vocabulary for every masix program (OpenBSD style). */
#ifndef MX_LOG_H
#define MX_LOG_H

#include <stdarg.h>

/* prog: name in every line; use_syslog: log to syslog instead of stderr. */
void log_init(const char *prog, int use_syslog, int verbose);
void log_setverbose(int verbose);
const char *log_procname(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));	/* appends strerror(errno), exits 1 */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Lines a task or a remote peer can trigger: at most LOG_THROTTLE_BURST per
 * LOG_THROTTLE_WINDOW_MS for each throttle, then one line saying further ones
 * are suppressed, and "what: N similar lines suppressed" with the next line
 * after the window. Zero-initialised. (Minimal on purpose: the daemons' one
 * throttle, to be merged with namesrv's log_throttled().)
 */
#define LOG_THROTTLE_BURST	10
#define LOG_THROTTLE_WINDOW_MS	10000
struct log_throttle {
	unsigned long long start;	/* monotonic ms of the window */
	unsigned lines;
	unsigned long suppressed;
};
/* 1: log your line now; 0: drop it (counted). */
int log_throttle(struct log_throttle *t, const char *what);

/* Command-line tools: "prog: message" on stderr, then exit(code). */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
