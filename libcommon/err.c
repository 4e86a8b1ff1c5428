/* err.c — names and exit codes of MX_ERR_* (masix(7) has the table). */
#include <sysexits.h>
#include "masix.h"

static const char *const errstr[MX_ERR__MAX] = {
	[MX_OK] = "success",
	[MX_ERR_NOMEM] = "out of memory",
	[MX_ERR_INVAL] = "invalid argument",
	[MX_ERR_PROTO] = "protocol error",
	[MX_ERR_NOENT] = "no such name",
	[MX_ERR_BADNAME] = "no such right",
	[MX_ERR_DEAD] = "dead port",
	[MX_ERR_NOREPLY] = "no reply will come",
	[MX_ERR_TIMEOUT] = "timed out",
	[MX_ERR_PERM] = "not permitted",
	[MX_ERR_EXISTS] = "name already registered",
	[MX_ERR_TOOBIG] = "message too large",
	[MX_ERR_IO] = "connection to portd lost",
	[MX_ERR_UNAVAIL] = "service not running",
	[MX_ERR_REMOTE] = "server answered with an error",
	[MX_ERR_NOTSUP] = "not supported",
	[MX_ERR_VERSION] = "protocol version mismatch",
	[MX_ERR_FULL] = "queue full",
	[MX_ERR_BADSIG] = "bad signature",
	[MX_ERR_INTR] = "interrupted",
	[MX_ERR_NODEDOWN] = "node unreachable",
	[MX_ERR_BUDGET] = "over budget",
};

static int
norm(int err)
{
	if (err < 0)
		err = -err;
	return err;
}

const char *
mx_strerror(int err)
{
	err = norm(err);
	if (err >= MX_ERR__MAX || errstr[err] == NULL)
		return "unknown error";
	return errstr[err];
}

int
mx_exit_code(int err)
{
	switch (norm(err)) {
	case MX_OK:
		return 0;
	case MX_ERR_INVAL:
		return EX_USAGE;
	case MX_ERR_TOOBIG:
	case MX_ERR_BADSIG:
		return EX_DATAERR;
	case MX_ERR_NOENT:
	case MX_ERR_DEAD:
	case MX_ERR_NOREPLY:
	case MX_ERR_IO:
	case MX_ERR_UNAVAIL:
	case MX_ERR_EXISTS:
	case MX_ERR_BADNAME:
	case MX_ERR_NODEDOWN:
		return EX_UNAVAILABLE;
	case MX_ERR_TIMEOUT:
	case MX_ERR_FULL:
	case MX_ERR_BUDGET:
		return EX_TEMPFAIL;
	case MX_ERR_PROTO:
	case MX_ERR_VERSION:
		return EX_PROTOCOL;
	case MX_ERR_PERM:
		return EX_NOPERM;
	case MX_ERR_REMOTE:
		return 1;
	default:
		return EX_SOFTWARE;
	}
}

int
mx_file_exit_code(int err)
{
	switch (norm(err)) {
	case MX_ERR_NOENT:
		return EX_NOINPUT;
	case MX_ERR_EXISTS:
		return EX_CANTCREAT;
	case MX_ERR_IO:
		return EX_IOERR;
	case MX_ERR_PERM:
		return EX_NOPERM;
	case MX_ERR_INVAL:
	case MX_ERR_BADSIG:
	case MX_ERR_TOOBIG:
		return EX_DATAERR;
	case MX_ERR_NOMEM:
		return EX_OSERR;
	default:
		return mx_exit_code(err);
	}
}
