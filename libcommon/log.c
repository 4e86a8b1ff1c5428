/* log.c — stderr or syslog logging, and the tools' one-line errors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "log.h"

static const char *procname = "masix";
static int to_syslog;
static int verbosity;

void
log_init(const char *prog, int use_syslog, int verbose)
{
	procname = prog;
	to_syslog = use_syslog;
	verbosity = verbose;
	if (to_syslog)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_setverbose(int verbose) { verbosity = verbose; }
const char *log_procname(void) { return procname; }

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_syslog) {
		if (suffix)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
		return;
	}
	if (suffix)
		fprintf(stderr, "%s: %s: %s\n", procname, msg, suffix);
	else
		fprintf(stderr, "%s: %s\n", procname, msg);
}

#define LOGFN(fn, pri, cond, withErr)				\
void fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
	int saved = errno;					\
	if (!(cond))						\
		return;						\
	va_start(ap, fmt);					\
	vlog(pri, fmt, ap, (withErr) ? strerror(saved) : NULL);	\
	va_end(ap);						\
	errno = saved;						\
}

LOGFN(log_warn, LOG_WARNING, 1, 1)
LOGFN(log_warnx, LOG_WARNING, 1, 0)
LOGFN(log_info, LOG_INFO, 1, 0)
LOGFN(log_debug, LOG_DEBUG, verbosity > 0, 0)

/* ---- throttled lines ---- */

static struct log_throttle *counting;	/* throttles with lines suppressed */

static unsigned long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static unsigned burst_of(const struct log_throttle *t) { return t->burst ? t->burst : LOG_THROTTLE_BURST; }
static unsigned window_of(const struct log_throttle *t) { return t->window_ms ? t->window_ms : LOG_THROTTLE_WINDOW_MS; }

static void
logpri(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap, NULL);
	va_end(ap);
}

static void
unlist(struct log_throttle *t)
{
	struct log_throttle **pp;

	for (pp = &counting; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->listed = 0;
}

/* The window is over: say how many lines it held back, start a new one. */
static void
window_end(struct log_throttle *t, unsigned long long now)
{
	if (t->suppressed > 0)
		logpri(t->pri, "%s: %lu similar lines suppressed in %u s", t->what, t->suppressed,
		    (window_of(t) + 999) / 1000);
	if (t->listed)
		unlist(t);
	t->suppressed = 0;
	t->lines = 0;
	t->start = now;
}

/* 1: this line may go out; 0: counted as suppressed. */
static int
admit(struct log_throttle *t)
{
	unsigned long long now = mono_ms();

	if (t->start == 0 || now - t->start >= window_of(t))
		window_end(t, now);
	if (t->lines >= burst_of(t)) {
		if (t->suppressed++ == 0 && !t->listed) {
			t->next = counting;
			counting = t;
			t->listed = 1;
		}
		return 0;
	}
	t->lines++;
	return 1;
}

int
log_throttle(struct log_throttle *t, const char *what)
{
	int saved = errno;

	if (t->what == NULL) {
		t->what = what;
		t->pri = LOG_WARNING;
	}
	if (admit(t))
		return 1;
	if (t->suppressed == 1)
		logpri(t->pri, "%s: further similar lines suppressed for %u s", t->what,
		    (window_of(t) + 999) / 1000);
	errno = saved;
	return 0;
}

void
log_throttled(struct log_throttle *t, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (t->pri == LOG_DEBUG && verbosity == 0)
		return;
	if (!admit(t)) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	vlog(t->pri, fmt, ap, NULL);
	va_end(ap);
	errno = saved;
}

unsigned
log_throttle_tick(void)
{
	unsigned long long now = mono_ms(), end, next = UINT_MAX;
	struct log_throttle *t, *tn;

	for (t = counting; t != NULL; t = tn) {
		tn = t->next;
		end = t->start + window_of(t);
		if (end <= now)
			window_end(t, now);
		else if (end - now < next)
			next = end - now;
	}
	return (unsigned)next;
}

void
log_throttle_forget(struct log_throttle *t)
{
	if (t->suppressed > 0)
		window_end(t, mono_ms());
	else if (t->listed)
		unlist(t);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void
die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", procname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", procname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
