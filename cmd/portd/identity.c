/*
 * identity.c — pin a task's process at connect, and tell later, through a
 * pidfd, whether the same process still runs the same binary: its hash
 * (SHA-256, cached per file version), device, inode and systemd unit.
 *
 * The traps (doc/trust.md): the pid of SO_PEERCRED is the pid at connect,
 * and pids are reused; /proc/PID/exe is the binary running now. So the pin
 * is (pid, start time, executable device and inode), taken at connect with
 * the process held by a pidfd, and every later use re-checks all of it
 * with a fresh pidfd, before and after reading the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <openssl/evp.h>
#include "crypto.h"
#include "identity.h"
#include "log.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77		/* Linux 6.5; older kernels: pidfd_open() and the start time */
#endif

static uint64_t hash_max = IDENT_HASH_MAX_DEFAULT;
static uint64_t hashed;		/* binaries read and hashed, not served from the cache */

void
identity_init(uint64_t max)
{
	hash_max = max;
}

uint64_t
identity_hash_count(void)
{
	return hashed;
}

static int
pidfd_open_pid(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* 1 while the process behind pidfd has not exited. */
static int
pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

/* Field 22 of /proc/PID/stat: the start time; 0 when unreadable. */
static unsigned long long
start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "PID (COMM) S ...": COMM may hold ") ", so start after the last one. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	p++;
	for (i = 3; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return v;
}

/*
 * A pidfd for the pinned process, or -1 (why set): the pid may have exited
 * and been reused, so its start time must still be the pinned one.
 */
static int
hold(struct ident *id, char *why, size_t whysz)
{
	int pidfd;

	if ((pidfd = pidfd_open_pid(id->pid)) < 0) {
		snprintf(why, whysz, "process %d is gone", (int)id->pid);
		return -1;
	}
	if (start_time(id->pid) != id->start) {
		close(pidfd);
		snprintf(why, whysz, "process %d is gone (its pid was reused)", (int)id->pid);
		return -1;
	}
	return pidfd;
}

void
identity_pin(struct ident *id, int fd, pid_t pid)
{
	socklen_t len = sizeof(int);
	char path[64];
	struct stat st;
	int pidfd = -1;

	memset(id, 0, sizeof(*id));
	id->procfd = -1;
	id->pid = pid;
	id->start = start_time(pid);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		/* An older kernel: the pid's start time before and after must agree. */
		pidfd = pidfd_open_pid(pid);
		if (pidfd >= 0 && start_time(pid) != id->start) {
			close(pidfd);
			pidfd = -1;
		}
	}
	if (pidfd < 0 || id->start == 0) {
		snprintf(id->why, sizeof(id->why), "process %d: no pidfd: %s", (int)pid,
		    pidfd < 0 ? strerror(errno) : "no start time");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (stat(path, &st) < 0) {
		snprintf(id->why, sizeof(id->why), "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Alive after the stat: the pid was this process all along. */
	if (!pidfd_alive(pidfd)) {
		snprintf(id->why, sizeof(id->why), "process %d exited while connecting", (int)pid);
		goto out;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->pinned = 1;
out:
	if (pidfd >= 0)
		close(pidfd);
}

int
identity_same_exe(struct ident *id)
{
	char why[IDENT_WHY_MAX], path[64];
	struct stat st;
	int pidfd, ok;

	if (!id->pinned || (pidfd = hold(id, why, sizeof(why))) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)id->pid);
	ok = stat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino && pidfd_alive(pidfd);
	close(pidfd);
	return ok;
}

/* SHA-256 of what fd holds, at most limit bytes (the caller checked the size). */
static int
hash_fd(int fd, uint8_t out[IDENT_HASH_LEN])
{
	static unsigned char buf[1 << 16];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	while (ok) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, &mdlen) == 1 && mdlen == IDENT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * The systemd unit of the process: the last component of its cgroup path
 * when it ends in ".service" or ".scope" (cgroup v2 line "0::", else the
 * v1 "name=systemd" hierarchy). Only root can move a process into a cgroup.
 */
static void
unit_of(pid_t pid, char out[IDENT_UNIT_MAX + 1])
{
	char path[64], line[4096], v2[4096] = "", v1[4096] = "", *u, *s;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) == 0)
			snprintf(v2, sizeof(v2), "%s", line + 3);
		else if ((s = strstr(line, ":name=systemd:")) != NULL)
			snprintf(v1, sizeof(v1), "%s", s + 14);
	}
	fclose(f);
	u = v2[0] != '\0' && strcmp(v2, "/") != 0 ? v2 : v1;
	if ((s = strrchr(u, '/')) == NULL)
		return;
	s++;
	size_t n = strlen(s);
	if (n > IDENT_UNIT_MAX || n == 0)
		return;
	if (siglist_unit_valid(s))	/* NAME.service or NAME.scope, as the list can name it */
		memcpy(out, s, n + 1);
}

/*
 * The last answer, for the requests of one batch of events: namesrv asks
 * who holds a port for each registration it read, up to 64 at a time, and
 * a full check opens five files of /proc. Requests read together share
 * one check; the next batch checks again (identity_batch_end).
 */
static struct {
	const struct ident *id;
	uint64_t batch;
	int r;
	struct ident_info info;
} memo;
static uint64_t batch;

void
identity_batch_end(void)
{
	batch++;
}

static int identity_check(struct ident *id, uid_t uid, struct ident_info *info);

int
identity_get(struct ident *id, uid_t uid, struct ident_info *info)
{
	if (memo.id == id && memo.batch == batch) {
		*info = memo.info;
		return memo.r;
	}
	memo.r = identity_check(id, uid, info);
	memo.info = *info;
	memo.id = id;
	memo.batch = batch;
	return memo.r;
}

static int
identity_check(struct ident *id, uid_t uid, struct ident_info *info)
{
	char path[64];
	struct stat st, st2;
	int pidfd, fd = -1, r = -1;

	memset(info, 0, sizeof(*info));
	if (!id->pinned) {
		snprintf(info->why, sizeof(info->why), "%s", id->why);
		return -1;
	}
	if ((pidfd = hold(id, info->why, sizeof(info->why))) < 0)
		return -1;
	unit_of(id->pid, info->unit);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)id->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		snprintf(info->why, sizeof(info->why), "%s: %s", path, strerror(errno));
		goto out;
	}
	info->dev = st.st_dev;
	info->ino = st.st_ino;
	if (st.st_dev != id->dev || st.st_ino != id->ino) {
		snprintf(info->why, sizeof(info->why), "process %d has exec'd another binary since it connected",
		    (int)id->pid);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(info->why, sizeof(info->why), "%s: not a regular file", path);
		goto out;
	}
	if (!identity_cache_lookup(&st, info->hash)) {
		if ((uint64_t)st.st_size > hash_max) {
			snprintf(info->why, sizeof(info->why),
			    "binary of %lld bytes is over the hash limit of %llu bytes (exe_hash_max_mib)",
			    (long long)st.st_size, (unsigned long long)hash_max);
			goto out;
		}
		if (identity_budget_take(uid, (uint64_t)st.st_size, hash_max, info->why, sizeof(info->why)) < 0)
			goto out;
		if (hash_fd(fd, info->hash) < 0 || fstat(fd, &st2) < 0) {
			snprintf(info->why, sizeof(info->why), "%s: cannot read it", path);
			goto out;
		}
		/* Written to while we read it: that hash names no version of the file. */
		if (st2.st_size != st.st_size || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
		    st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec) {
			snprintf(info->why, sizeof(info->why), "%s: changed while it was hashed", path);
			goto out;
		}
		hashed++;
		identity_cache_store(&st, info->hash);
		log_info("hashed the binary of pid %d (dev %llu ino %llu, %lld bytes): %llu binaries hashed since start",
		    (int)id->pid, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		    (long long)st.st_size, (unsigned long long)hashed);
	}
	/* Still the same process, still running that file. */
	if (!pidfd_alive(pidfd) || start_time(id->pid) != id->start) {
		snprintf(info->why, sizeof(info->why), "process %d is gone", (int)id->pid);
		goto out;
	}
	info->has_hash = 1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	close(pidfd);
	if (r < 0)
		memset(info->hash, 0, sizeof(info->hash));
	return r;
}

void
identity_drop(struct ident *id)
{
	if (memo.id == id)
		memo.id = NULL;	/* its memory may hold another task's next */
	if (id->procfd >= 0)
		close(id->procfd);
	id->procfd = -1;
	id->service[0] = '\0';
	id->stamp_checked = 0;
}

int
identity_service_set(struct ident *id, uid_t uid, const char *service)
{
	char why[IDENT_WHY_MAX], path[64];
	struct ident_info info;
	int pidfd, fd;

	identity_drop(id);
	if (service[0] == '\0')
		return 0;
	if (!identity_same_exe(id) || (pidfd = hold(id, why, sizeof(why))) < 0)
		return -1;
	/*
	 * What namesrv just checked, for other nodes to check again: the hash
	 * comes from the cache; a binary over the hash limit has none (info
	 * then says why, and only "*" rules match it, here as there).
	 */
	(void)identity_get(id, uid, &info);
	snprintf(path, sizeof(path), "/proc/%d", (int)id->pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* The directory opened is the pinned process's: it was alive after the open. */
	if (fd >= 0 && !pidfd_alive(pidfd)) {
		close(fd);
		fd = -1;
	}
	close(pidfd);
	if (fd < 0)
		return -1;
	id->procfd = fd;
	snprintf(id->service, sizeof(id->service), "%s", service);
	id->vouch.has_hash = info.has_hash;
	memcpy(id->vouch.hash, info.hash, sizeof(id->vouch.hash));
	memcpy(id->vouch.unit, info.unit, sizeof(id->vouch.unit));
	return 0;
}

const char *
identity_stamp(struct ident *id, uint64_t reads)
{
	static struct log_throttle thr;
	struct stat st;

	if (id->procfd < 0)
		return "";
	/*
	 * Checked after the read that brought this frame: the frame was written
	 * before it, by the binary found here. No read since the last check: the
	 * frames still to stamp were all written before that check.
	 */
	if (id->stamp_checked && id->stamp_reads == reads)
		return id->service;
	/* A /proc/PID descriptor stays bound to its process: no pid reuse here. */
	if (fstatat(id->procfd, "exe", &st, 0) == 0 && st.st_dev == id->dev && st.st_ino == id->ino) {
		id->stamp_reads = reads;
		id->stamp_checked = 1;
		return id->service;
	}
	if (log_throttle(&thr, "service dropped"))
		log_warnx("pid %d no longer runs the binary it registered '%s' with (exec'd or gone): "
		    "its messages carry no service", (int)id->pid, id->service);
	id->pinned = 0;
	snprintf(id->why, sizeof(id->why), "process %d has exec'd another binary since it connected",
	    (int)id->pid);
	identity_drop(id);
	return "";
}
