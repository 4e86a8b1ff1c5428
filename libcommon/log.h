/* log.h — one logging vocabulary for every masix program (OpenBSD style). */
#ifndef MX_LOG_H
#define MX_LOG_H

#include <stdarg.h>
#include <syslog.h>	/* LOG_WARNING, LOG_INFO, LOG_DEBUG for throttles */

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
 * Lines a task or a remote peer can trigger go through a throttle: at most
 * burst lines per window, then, once the window is over, one line
 * "WHAT: N similar lines suppressed in S s". The summary comes from the next
 * throttled line or from log_throttle_tick(), which a daemon's loop calls
 * at least as often as its return value asks.
 */
struct log_throttle {
	const char *what;		/* names the lines in the summary */
	int pri;			/* syslog priority of the lines and the summary */
	unsigned burst;			/* 0: LOG_THROTTLE_BURST */
	unsigned window_ms;		/* 0: LOG_THROTTLE_WINDOW_MS */
	/* state, zero at first */
	unsigned long long start;	/* monotonic ms at which the window began */
	unsigned lines;			/* logged in this window */
	unsigned long suppressed;	/* not logged in this window */
	struct log_throttle *next;	/* on the list of throttles holding a count */
	int listed;
};
#define LOG_THROTTLE_BURST	10
#define LOG_THROTTLE_WINDOW_MS	10000
#define LOG_THROTTLE_INIT(what_, pri_) { .what = (what_), .pri = (pri_) }

void log_throttled(struct log_throttle *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log the counts of the windows that are over; ms until the next one ends (UINT_MAX: none). */
unsigned log_throttle_tick(void);
/* Before a throttle's memory goes: log its count now, take it off the list. */
void log_throttle_forget(struct log_throttle *t);
/*
 * The same throttle where the caller logs the line itself: 1, log it now;
 * 0, drop it (counted). The first line dropped in a window says "WHAT:
 * further similar lines suppressed for S s". A zero-initialised throttle
 * takes WHAT and LOG_WARNING on first use.
 */
int log_throttle(struct log_throttle *t, const char *what);

/* Command-line tools: "prog: message" on stderr, then exit(code). */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
