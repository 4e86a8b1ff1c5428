/* directory.c — the other nodes whose certificates keysrv verified, and their key fingerprints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include "keysrv.h"
#include "log.h"

struct peer {
	TAILQ_ENTRY(peer) link;
	char node[CRYPTO_NODE_MAX + 1];
	char fp[CRYPTO_FP_STRLEN + 1];
	X509 *cert;			/* kept to check it again on SIGHUP */
};

static TAILQ_HEAD(, peer) peers = TAILQ_HEAD_INITIALIZER(peers);
static size_t npeers;
/* Any task can have a certificate verified: its directory lines are throttled. */
static struct log_throttle lt_dir = LOG_THROTTLE_INIT("directory changes", LOG_INFO);

static void
peer_drop(struct peer *p)
{
	TAILQ_REMOVE(&peers, p, link);
	X509_free(p->cert);
	free(p);
	npeers--;
}

void
directory_add(const char *node, const char *fp, X509 *cert)
{
	struct peer *p;

	TAILQ_FOREACH(p, &peers, link)
		if (strcmp(p->node, node) == 0)
			break;
	if (p != NULL) {
		if (strcmp(p->fp, fp) != 0)
			log_throttled(&lt_dir, "node %s: new key %s (was %s)", node, fp, p->fp);
		peer_drop(p);
	} else {
		log_throttled(&lt_dir, "node %s added to the directory, key %s", node, fp);
	}
	if (npeers >= DIRECTORY_MAX)
		peer_drop(TAILQ_FIRST(&peers));
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	snprintf(p->node, sizeof(p->node), "%s", node);
	snprintf(p->fp, sizeof(p->fp), "%s", fp);
	p->cert = cert;
	TAILQ_INSERT_TAIL(&peers, p, link);
	npeers++;
}

void
directory_recheck(void)
{
	char why[CRYPTO_WHY_MAX];
	struct peer *p, *next;

	for (p = TAILQ_FIRST(&peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (id.ca == NULL)
			snprintf(why, sizeof(why), "%s", id.ca_why);
		else if (id.crl_bad)
			snprintf(why, sizeof(why), "%s", id.crl_why);
		else if (crypto_cert_verify(p->cert, id.ca, id.crl, p->node, why, sizeof(why)) == 0)
			continue;
		log_info("node %s dropped from the directory: %s", p->node, why);
		peer_drop(p);
	}
}

int
directory_each(int (*fn)(const char *node, const char *fp, void *arg), void *arg)
{
	struct peer *p;
	int r;

	TAILQ_FOREACH(p, &peers, link)
		if ((r = fn(p->node, p->fp, arg)) != 0)
			return r;
	return 0;
}

void
directory_free(void)
{
	while (!TAILQ_EMPTY(&peers))
		peer_drop(TAILQ_FIRST(&peers));
}
