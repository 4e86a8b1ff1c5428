/*
 * link_int.h — what link.c (a link's life: TLS, HELLO/ACCEPT, frames) and
 * link_dial.c (addresses, static and one-off peers, listening) share.
 * Internal to the link layer; the rest of portd uses link.h.
 */
#ifndef PORTD_LINK_INT_H
#define PORTD_LINK_INT_H

#include <netdb.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include "crypto.h"
#include "ev.h"
#include "link.h"

#define HANDSHAKE_MS	10000		/* connect + TLS + HELLO */
#define BACKOFF_MIN_MS	200
#define BACKOFF_MAX_MS	10000
#define STABLE_MS	5000		/* up this long: the next failure starts backoff over */
#define ONESHOT_TRIES	3		/* links_connect attempts */
/*
 * What another node can make this one dial (links_connect: LF_NODES,
 * broadcast announcements): numeric addresses only, at most ONESHOT_MAX
 * one-shot peers at a time (more are not dialled), and their attempts
 * drawn from a bucket of DIAL_BURST refilled at DIAL_PER_S a second. So
 * one LF_NODES frame makes at most ONESHOT_MAX * ONESHOT_TRIES connections.
 */
#define ONESHOT_MAX	8
#define DIAL_BURST	8
#define DIAL_PER_S	2
/* A configured peer's host name is resolved off the loop (getaddrinfo_a), polled this often, given up after. */
#define RESOLVE_POLL_MS	20
#define RESOLVE_MAX_MS	10000
#define READ_BUDGET	(1u << 20)	/* bytes read per wakeup before yielding */
#define ADDR_MAX	(INET6_ADDRSTRLEN + 8)
#define HOST_MAX	256
#define LISTEN_MAX	8
/*
 * Accepted links not yet authenticated (TLS and HELLO under way): each
 * holds a descriptor and a TLS state before the peer proved anything, so
 * they are capped in total and per source address; more are closed at once.
 */
#define UNAUTH_MAX	64
#define UNAUTH_PER_ADDR	8
#define ACCEPT_PAUSE_MS	100		/* out of descriptors: listener off this long */

enum { L_CONNECT, L_TLS, L_HELLO, L_ACCEPT, L_UP, L_DEAD };

struct lpeer;

struct link {
	LIST_ENTRY(link) entry;		/* links, or zombies once dead */
	LIST_ENTRY(link) fentry;	/* flushq */
	int state;
	int fd;
	struct ev_io io;
	struct ev_timer timer;		/* handshake deadline */
	SSL *ssl;
	struct link_tls_state tls;
	struct lpeer *peer;		/* the peer entry that made it; NULL: accepted */
	int outgoing;
	int leader;			/* our name sorts first: we pick the link */
	int upcalled;			/* cb->up was called */
	int flushing;			/* on flushq */
	int rd_want_w, wr_want_r;	/* SSL wants the other direction */
	char addr[ADDR_MAX];		/* numeric address */
	char desc[HOST_MAX + ADDR_MAX + 16];	/* "to host:port (addr)" / "from addr" */
	char node[CRYPTO_NODE_MAX + 1];
	uint64_t inc;
	uint64_t up_at;
	void *data;			/* link_set_data's */
	struct link_outq out;
	struct link_inbuf in;
};
LIST_HEAD(linklist, link);

/* A peer address we connect to: static (kept) or one-off (links_connect). */
struct lpeer {
	LIST_ENTRY(lpeer) entry;
	char host[HOST_MAX];
	char port[8];
	char expect[CRYPTO_NODE_MAX + 1];	/* node name required, "" for any */
	char node[CRYPTO_NODE_MAX + 1];		/* node learned from its HELLO */
	int oneshot, tries;
	int self;				/* it is this node: stop */
	struct lresolve *res;			/* a resolution of host under way */
	uint64_t backoff;
	struct ev_timer timer;
	struct link *conn;			/* the link it made, while alive */
};
LIST_HEAD(lpeerlist, lpeer);

/* A name being resolved in the background: kept whole until glibc is done with it. */
struct lresolve {
	struct gaicb cb;
	struct addrinfo hints;
	char host[HOST_MAX];
	char port[8];
	uint64_t started;
};

struct listener {
	struct ev_io io;
	struct ev_timer pause;		/* accept failed for want of descriptors */
	char addr[ADDR_MAX];
};

/* The link layer's state, one for the layer (link.c). */
struct link_env {
	struct ev_loop *loop;
	char self_node[CRYPTO_NODE_MAX + 1];
	struct linklist links;
	struct lpeerlist peers;		/* static and one-off peers (link_dial.c) */
	struct listener listeners[LISTEN_MAX];
	int nlisteners;
	int closing_all;		/* shutting down: no redial, no callbacks */
};
extern struct link_env link_env;

/* link.c */
struct link *link_new(int fd, int outgoing, const char *addr);
void link_start_tls(struct link *l);

/* link_dial.c */
void link_dial_addr_format(const struct sockaddr *sa, char *out, size_t outsz);
int link_dial_hostport_split(const char *s, char *host, size_t hostsz, char *port, size_t portsz,
    int defport, char *why, size_t whysz);
void link_dial_wake(const char *n);
void link_dial_schedule(struct lpeer *p, uint64_t delay);
void link_dial_drop(struct lpeer *p);

#endif
