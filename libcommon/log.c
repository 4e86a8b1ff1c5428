/* log.c — stderr or syslog logging, and the tools' one-line errors. */
#include <errno.h>
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

int
log_throttle(struct log_throttle *t, const char *what)
{
	struct timespec ts;
	unsigned long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
	if (t->start == 0 || now - t->start >= LOG_THROTTLE_WINDOW_MS) {
		if (t->suppressed > 0)
			log_warnx("%s: %lu similar lines suppressed", what, t->suppressed);
		t->start = now ? now : 1;
		t->lines = 0;
		t->suppressed = 0;
	}
	if (t->lines < LOG_THROTTLE_BURST) {
		t->lines++;
		return 1;
	}
	if (t->suppressed++ == 0)
		log_warnx("%s: further similar lines suppressed for %d s", what, LOG_THROTTLE_WINDOW_MS / 1000);
	return 0;
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
