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

/* Command-line tools: "prog: message" on stderr, then exit(code). */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
