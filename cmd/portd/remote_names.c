/*
 * remote_names.c — name resolution between nodes (the Masix paper's
 * protocol): questions and answers over the links and by signed broadcast,
 * handed to namesrv; node announcements; keysrv told of linked nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "bcast.h"
#include "keys.h"
#include "log.h"
#include "names.h"
#include "remote_int.h"

/* Hand a name-resolution question or answer to our namesrv. */
static void
to_namesrv(uint32_t msgid, const char *name, const char *from, struct port *right)
{
	struct port *ns = special_get(MX_SPECIAL_NAME);
	struct mx_msg *m;

	if (ns == NULL || ns->dead || !mx_name_valid(name)) {
		if (right)
			port_unref(right);
		return;
	}
	if ((m = mx_msg_new(msgid)) == NULL)
		fatal("to_namesrv");
	mx_msg_add_string(m, name);
	mx_msg_add_string(m, from);
	if (right != NULL)
		mx_msg_add_port(m, 1, MX_DISP_COPY_SEND);	/* the name is rewritten on delivery */
	deliver_kernel(ns, msgid, m, right);
	mx_msg_free(m);
}

void
on_query(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rbuf r = { p, n, 0, 0 };
	char name[MX_NAME_LEN_MAX + 1];

	rb_str(&r, name, sizeof(name));
	if (r.bad || r.pos != n) {
		log_warnx("node %s: malformed name query", rn->name);
		return;
	}
	to_namesrv(NS_NET_QUERY, name, rn->name, NULL);
}

void
on_answer(struct rnode *rn, const uint8_t *p, size_t n)
{
	struct rbuf r = { p, n, 0, 0 };
	char name[MX_NAME_LEN_MAX + 1];
	struct gid g;

	rb_str(&r, name, sizeof(name));
	rb_gid(&r, &g);
	if (r.bad || r.pos != n || strcmp(g.node, rn->name) != 0 || g.inc != rn->inc) {
		log_warnx("node %s: malformed or foreign name answer", rn->name);
		return;
	}
	to_namesrv(NS_NET_ANSWER, name, rn->name, import(&g));
}

/* keysrv keeps the directory of known nodes: give it the certificate the link verified. */
void
tell_keysrv(struct link *l, const char *node)
{
	struct port *ks = special_get(MX_SPECIAL_KEY);
	struct mx_msg *m;
	size_t len;
	char *pem;

	if (ks == NULL || ks->dead || (pem = link_peer_cert_pem(l, &len)) == NULL)
		return;
	if ((m = mx_msg_new(KS_PEER_LINKED)) == NULL)
		fatal("tell_keysrv");
	mx_msg_add_bytes(m, pem, len);
	mx_msg_add_string(m, node);
	deliver_kernel(ks, KS_PEER_LINKED, m, NULL);
	mx_msg_free(m);
	free(pem);
}

/* keysrv (re)started: tell it of every node linked now. */
void
remote_keysrv_ready(void)
{
	struct rnode *rn;

	LIST_FOREACH(rn, &rnodes, link)
		if (rn->lk != NULL)
			tell_keysrv(rn->lk, rn->name);
}

void
bcast_recv(const char *node, uint64_t inc, uint8_t type, const uint8_t *p, size_t n,
    const struct sockaddr_in *from)
{
	struct rnode *rn = rnode_get(node, 1);
	char host[INET_ADDRSTRLEN];

	if (type == BCAST_ANNOUNCE && n == 2 && inet_ntop(AF_INET, &from->sin_addr, host, sizeof(host))) {
		snprintf(rn->addr, sizeof(rn->addr), "%s:%u", host, get_u16(p));
		if (rn->lk == NULL && have_links)
			links_connect(node, rn->addr);
		return;
	}
	if (type == BCAST_QUERY) {
		struct rbuf r = { p, n, 0, 0 };
		char name[MX_NAME_LEN_MAX + 1];
		rb_str(&r, name, sizeof(name));
		if (!r.bad && r.pos == n && rn->lk == NULL)	/* linked nodes ask over the link */
			to_namesrv(NS_NET_QUERY, name, node, NULL);
	} else if (type == BCAST_ANSWER && rn->lk == NULL) {
		/* Linked nodes answer over the link; this one is not linked yet: link, and take the answer. */
		struct rbuf r = { p, n, 0, 0 };
		char name[MX_NAME_LEN_MAX + 1];
		struct gid g;

		rb_str(&r, name, sizeof(name));
		rb_gid(&r, &g);
		if (r.bad || r.pos != n || strcmp(g.node, node) != 0 || g.inc != inc)
			return;
		if (rn->inc != 0 && rn->inc != inc)
			rnode_reset(rn, "restarted");
		rn->inc = inc;
		if (rn->addr[0] != '\0' && have_links)
			links_connect(node, rn->addr);
		to_namesrv(NS_NET_ANSWER, name, node, import(&g));
	}
}

int
remote_peer_count(void)
{
	struct rnode *rn;
	int n = 0;

	LIST_FOREACH(rn, &rnodes, link)
		n += rn->lk != NULL;
	return n + have_bcast;
}

int
remote_net_query(struct task *t, const char *name)
{
	struct rnode *rn;
	struct wbuf w = { 0 };

	(void)t;
	wb_str(&w, name);
	LIST_FOREACH(rn, &rnodes, link)
		send_frame(rn, LF_QUERY, &w, NULL, 0);
	if (have_bcast)
		bcast_send(BCAST_QUERY, w.p, w.len);
	free(w.p);
	return remote_peer_count();
}

int
remote_net_answer(struct task *t, const char *name, mx_name_t right)
{
	struct entry *e = space_lookup(t, right);
	struct rnode *rn;
	struct wbuf w = { 0 };
	struct gid g;

	if (e == NULL || e->port->rnode != NULL || e->port->dead)
		return -MX_ERR_BADNAME;
	gid_of(e->port, &g);
	wb_str(&w, name);
	wb_gid(&w, &g);
	/* The owner tells every node it can reach, so they all cache the answer. */
	LIST_FOREACH(rn, &rnodes, link)
		send_frame(rn, LF_ANSWER, &w, NULL, 0);
	if (have_bcast)
		bcast_send(BCAST_ANSWER, w.p, w.len);
	free(w.p);
	return 0;
}

void
announce(struct ev_timer *tm)
{
	static uint8_t b[2];
	/* Nodes that hear us dial the port of our first listen line. */
	const char *colon = conf.nlistens > 0 ? strrchr(conf.listens[0], ':') : NULL;
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : LINK_DEFAULT_PORT;

	put_u16(b, (uint16_t)port);
	bcast_send(BCAST_ANNOUNCE, b, sizeof(b));
	ev_timer_arm(loop, tm, ev_now() + 10000);
}
