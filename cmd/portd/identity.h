/*
 * identity.h — who a task is, pinned when it connects: a pidfd for the
 * peer and the device/inode of the executable it ran then. The binary's
 * SHA-256 (cached per file) and the systemd unit of its cgroup are looked
 * up only when an identity is asked for (registration, service stamping),
 * never at connect. A task whose process has since exec'd another binary,
 * or exited, has no identity any more. See doc/trust.md.
 */
#ifndef PORTD_IDENTITY_H
#define PORTD_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "masix.h"

#define IDENT_HASH_LEN	32
#define IDENT_UNIT_MAX	255
#define IDENT_WHY_MAX	160
#define IDENT_HASH_MAX_DEFAULT	(256u << 20)	/* bytes: larger binaries get no identity */

/*
 * The identity a service was verified with (identity_service_set), what
 * this node vouches for when the service's messages go to another node:
 * that node checks it against its own copy of the signed list.
 */
struct ident_vouch {
	int has_hash;
	uint8_t hash[IDENT_HASH_LEN];
	char unit[IDENT_UNIT_MAX + 1];	/* "" none */
};

/*
 * Pinned at connect, the fields a task carries. The process is named by
 * (pid, start time), checked through a pidfd each time it is used: a pid
 * reused by another process has another start time. No descriptor is held
 * between checks, so a task still costs portd one descriptor.
 */
struct ident {
	pid_t pid;
	int pinned;			/* start, dev and ino below hold */
	unsigned long long start;	/* start time, clock ticks since boot */
	dev_t dev;			/* the executable at connect */
	ino_t ino;
	char why[IDENT_WHY_MAX];	/* why it is not pinned */
	char service[MX_SERVICE_MAX + 1];	/* verified service it holds, "" none */
	int procfd;			/* /proc/PID while it holds a service, else -1 */
	struct ident_vouch vouch;	/* while service is set: what it was verified with */
	uint64_t stamp_reads;		/* the task's read count when its binary was last found unchanged */
	int stamp_checked;		/* stamp_reads holds */
};

/* What an identity request answers. */
struct ident_info {
	int has_hash;
	uint8_t hash[IDENT_HASH_LEN];
	uint64_t dev, ino;
	char unit[IDENT_UNIT_MAX + 1];	/* "" none */
	char why[IDENT_WHY_MAX];	/* has_hash 0: why */
};

void identity_init(uint64_t hash_max);
/* At connect: fd is the task's socket, pid from SO_PEERCRED. Cheap: no hashing here. */
void identity_pin(struct ident *id, int fd, pid_t pid);
/*
 * The executable's hash (cached), dev/ino and unit, checked against the pin;
 * 0, or -1 with info->why. Hashing is charged to uid (identity_budget.c).
 */
int identity_get(struct ident *id, uid_t uid, struct ident_info *info);
/* A batch of events is done: identity_get() checks afresh (requests of one batch share a check). */
void identity_batch_end(void);
/* 1 if the process still runs the binary it connected with (no exec, not gone). */
int identity_same_exe(struct ident *id);
/*
 * namesrv says the task holds service (a protected name it was checked
 * for): 0, or -1 when the process no longer runs its pinned binary. ""
 * clears it. The identity (hash, unit) is taken again here, from the
 * cache, for id->vouch. While set, identity_stamp() re-checks the binary (one
 * fstatat on a held /proc/PID descriptor) once per read of the task's
 * socket: every frame a read returned was written before that read, so a
 * binary found unchanged after it vouches for all of them.
 */
int identity_service_set(struct ident *id, uid_t uid, const char *service);
/*
 * The service to stamp in a message's trailer ("" none); an exec'd process
 * loses it here. reads counts the task's reads so far (its frame came from
 * one of them): the binary is checked again only when it moved.
 */
const char *identity_stamp(struct ident *id, uint64_t reads);
void identity_drop(struct ident *id);	/* the task is gone */
/* How many binaries were hashed (not served from the cache) since start. */
uint64_t identity_hash_count(void);

/*
 * identity_budget.c: bytes of binaries hashed per uid, a bucket of cap
 * bytes refilled in 8 s. 0 and size taken, or -1 with why (when to retry).
 */
int identity_budget_take(uid_t uid, uint64_t size, uint64_t cap, char *why, size_t whysz);

/* identity_cache.c: SHA-256 per (dev, ino, size, mtime, ctime). */
int identity_cache_lookup(const struct stat *st, uint8_t out[IDENT_HASH_LEN]);
void identity_cache_store(const struct stat *st, const uint8_t h[IDENT_HASH_LEN]);
void identity_cache_free(void);

#endif
