/*
 * Socket state through netlink sock_diag, read with libnl: one request per
 * family (and protocol), answers kept sorted by inode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/sysmacros.h>
#include <linux/unix_diag.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "log.h"
#include "proc_parse.h"
#include "sk-diag.h"
#include "util.h"

static struct nla_policy unix_diag_policy[UNIX_DIAG_MAX + 1] = {
	[UNIX_DIAG_NAME] = { .type = NLA_UNSPEC },
	[UNIX_DIAG_VFS] = { .minlen = sizeof(struct unix_diag_vfs) },
	[UNIX_DIAG_PEER] = { .type = NLA_U32 },
	[UNIX_DIAG_ICONS] = { .type = NLA_UNSPEC },
	[UNIX_DIAG_RQLEN] = { .minlen = sizeof(struct unix_diag_rqlen) },
	[UNIX_DIAG_SHUTDOWN] = { .type = NLA_U8 },
};

int unix_diag_parse(struct nlmsghdr *h, struct unix_diag_info *u)
{
	struct nlattr *tb[UNIX_DIAG_MAX + 1];
	struct unix_diag_msg *m;

	memset(u, 0, sizeof(*u));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		pr_err("unix diag: a message of %u bytes is too short\n", h->nlmsg_len);
		return -1;
	}
	m = nlmsg_data(h);
	if (m->udiag_family != AF_UNIX) {
		pr_err("unix diag: an answer for family %u\n", m->udiag_family);
		return -1;
	}
	if (nlmsg_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX, unix_diag_policy) < 0) {
		pr_err("unix diag: malformed attributes for socket %u\n", m->udiag_ino);
		return -1;
	}
	u->ino = m->udiag_ino;
	u->type = m->udiag_type;
	u->state = m->udiag_state;
	if (tb[UNIX_DIAG_NAME]) {
		int len = nla_len(tb[UNIX_DIAG_NAME]);

		if (len < 1 || len > (int)sizeof(u->name)) {
			pr_err("unix diag: socket %u has a name of %d bytes\n", u->ino, len);
			return -1;
		}
		memcpy(u->name, nla_data(tb[UNIX_DIAG_NAME]), len);
		u->namelen = len;
	}
	if (tb[UNIX_DIAG_VFS]) {
		struct unix_diag_vfs *v = nla_data(tb[UNIX_DIAG_VFS]);

		u->has_vfs = 1;
		u->vfs_ino = v->udiag_vfs_ino;
		u->vfs_dev = v->udiag_vfs_dev;
	}
	if (tb[UNIX_DIAG_PEER])
		u->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	if (tb[UNIX_DIAG_RQLEN]) {
		struct unix_diag_rqlen *r = nla_data(tb[UNIX_DIAG_RQLEN]);

		u->rqlen = r->udiag_rqueue;
		u->wqlen = r->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_SHUTDOWN])
		u->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	if (tb[UNIX_DIAG_ICONS]) {
		int len = nla_len(tb[UNIX_DIAG_ICONS]);

		if (len % sizeof(uint32_t)) {
			pr_err("unix diag: socket %u has a pending list of %d bytes\n", u->ino, len);
			return -1;
		}
		u->nr_icons = len / sizeof(uint32_t);
		if (u->nr_icons) {
			u->icons = malloc(len);
			if (!u->icons) {
				pr_err("out of memory\n");
				return -1;
			}
			memcpy(u->icons, nla_data(tb[UNIX_DIAG_ICONS]), len);
		}
	}
	return 0;
}

struct diag_call {
	sk_diag_cb cb;
	void *arg;
	int failed;
};

static int diag_one(struct nl_msg *msg, void *arg)
{
	struct diag_call *c = arg;

	if (c->cb(nlmsg_hdr(msg), c->arg)) {
		c->failed = 1;
		return NL_STOP;
	}
	return NL_OK;
}

/*
 * One SOCK_DIAG_BY_FAMILY dump request; @cb sees every answer. The kernel
 * answers only about our own network namespace. 0, -ENOENT if it has no
 * handler for what was asked (a family or protocol not built in), or -1.
 */
int sk_diag_request(void *req, size_t len, sk_diag_cb cb, void *arg, const char *what)
{
	struct diag_call call = { .cb = cb, .arg = arg };
	struct nl_sock *sk;
	int ret = -1, err;

	sk = nl_socket_alloc();
	if (!sk) {
		pr_err("can't allocate a netlink socket\n");
		return -1;
	}
	err = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (err < 0) {
		pr_err("can't open a sock_diag netlink socket: %s\n", nl_geterror(err));
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_one, &call);
	err = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, req, len);
	if (err < 0) {
		pr_err("can't ask sock_diag for %s: %s\n", what, nl_geterror(err));
		goto out;
	}
	err = nl_recvmsgs_default(sk);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP) {
		ret = -ENOENT;
		goto out;
	}
	if (err < 0 || call.failed) {
		pr_err("can't read %s from sock_diag: %s\n", what, call.failed ? "bad answer" : nl_geterror(err));
		goto out;
	}
	ret = 0;
out:
	nl_socket_free(sk);
	return ret;
}

/*
 * The tables of every family: an array grown by doubling (from @first
 * entries) and sorted by inode, the first member of each entry.
 */
_Static_assert(offsetof(struct unix_diag_info, ino) == 0, "ino first");
_Static_assert(offsetof(struct inet_diag_info, ino) == 0, "ino first");
_Static_assert(offsetof(struct packet_diag_sk, ino) == 0, "ino first");
_Static_assert(offsetof(struct netlink_diag_sk, ino) == 0, "ino first");

/* The next free entry of the array *@sp of @nr entries of @size bytes, or NULL. */
static void *table_slot(void *sp, size_t *cap, size_t nr, size_t size, size_t first)
{
	void *s;

	memcpy(&s, sp, sizeof(s));
	if (nr == *cap) {
		size_t c = *cap ? *cap * 2 : first;
		void *n = realloc(s, c * size);

		if (!n) {
			pr_err("out of memory\n");
			return NULL;
		}
		s = n;
		memcpy(sp, &s, sizeof(s));
		*cap = c;
	}
	return (char *)s + nr * size;
}

static int cmp_ino(const void *a, const void *b)
{
	uint32_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x < y ? -1 : x > y;
}

static void *table_find(void *s, size_t nr, size_t size, uint32_t ino)
{
	if (!nr)
		return NULL;
	return bsearch(&ino, s, nr, size, cmp_ino);
}

static int unix_one(struct nlmsghdr *h, void *arg)
{
	struct unix_diag_table *t = arg;
	struct unix_diag_info u, *slot;

	if (unix_diag_parse(h, &u))
		return -1;
	slot = table_slot(&t->s, &t->cap, t->nr, sizeof(*t->s), 64);
	if (!slot) {
		free(u.icons);
		return -1;
	}
	*slot = u;
	t->nr++;
	return 0;
}

int unix_diag_collect(struct unix_diag_table *t)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0U,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN,
	};

	memset(t, 0, sizeof(*t));
	if (sk_diag_request(&req, sizeof(req), unix_one, t, "the unix sockets")) {
		unix_diag_free(t);
		return -1;
	}
	sort_array(t->s, t->nr, sizeof(*t->s), cmp_ino);
	pr_debug("sock_diag: %zu unix sockets\n", t->nr);
	return 0;
}

struct unix_diag_info *unix_diag_find(struct unix_diag_table *t, uint32_t ino)
{
	return table_find(t->s, t->nr, sizeof(*t->s), ino);
}

void unix_diag_free(struct unix_diag_table *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->s[i].icons);
	free(t->s);
	memset(t, 0, sizeof(*t));
}

struct bound_probe {
	dev_t dev;
	ino_t ino;
	uint32_t sk;		/* the socket bound to that file, 0: none */
};

static int bound_one(struct nlmsghdr *h, void *arg)
{
	struct bound_probe *b = arg;
	struct unix_diag_info u;

	if (unix_diag_parse(h, &u))
		return -1;
	free(u.icons);
	/* the kernel gives the superblock's dev_t in its own encoding (major << 20 | minor) */
	if (u.has_vfs && u.vfs_ino == b->ino && makedev(u.vfs_dev >> 20, u.vfs_dev & 0xfffff) == b->dev)
		b->sk = u.ino;
	return 0;
}

long unix_diag_bound_to(dev_t dev, ino_t ino)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0U,
		.udiag_show = UDIAG_SHOW_VFS,
	};
	struct bound_probe b = { .dev = dev, .ino = ino };

	if (sk_diag_request(&req, sizeof(req), bound_one, &b, "the unix sockets bound to a path"))
		return -1;
	return b.sk;
}

/* ---- inet, inet6: TCP, UDP, UDP-Lite ---- */

static struct nla_policy inet_diag_policy[INET_DIAG_MAX + 1] = {
	[INET_DIAG_SHUTDOWN] = { .type = NLA_U8 },
	[INET_DIAG_MARK] = { .type = NLA_U32 },
};

int inet_diag_parse(struct nlmsghdr *h, int protocol, struct inet_diag_info *i)
{
	struct nlattr *tb[INET_DIAG_MAX + 1];
	struct inet_diag_msg *m;

	memset(i, 0, sizeof(*i));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		pr_err("inet diag: a message of %u bytes is too short\n", h->nlmsg_len);
		return -1;
	}
	m = nlmsg_data(h);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) {
		pr_err("inet diag: an answer for family %u\n", m->idiag_family);
		return -1;
	}
	if (nlmsg_parse(h, sizeof(*m), tb, INET_DIAG_MAX, inet_diag_policy) < 0) {
		pr_err("inet diag: malformed attributes for socket %u\n", m->idiag_inode);
		return -1;
	}
	i->ino = m->idiag_inode;
	i->family = m->idiag_family;
	i->protocol = protocol;
	i->state = m->idiag_state;
	i->sport = ntohs(m->id.idiag_sport);
	i->dport = ntohs(m->id.idiag_dport);
	memcpy(i->src, m->id.idiag_src, sizeof(i->src));
	memcpy(i->dst, m->id.idiag_dst, sizeof(i->dst));
	i->ifindex = m->id.idiag_if;
	i->rqueue = m->idiag_rqueue;
	i->wqueue = m->idiag_wqueue;
	i->uid = m->idiag_uid;
	if (tb[INET_DIAG_SHUTDOWN])
		i->shutdown = nla_get_u8(tb[INET_DIAG_SHUTDOWN]);
	if (tb[INET_DIAG_MARK]) {
		i->has_mark = 1;
		i->mark = nla_get_u32(tb[INET_DIAG_MARK]);
	}
	if (tb[INET_DIAG_MD5SIG])
		i->md5 = 1;
	if (tb[INET_DIAG_ULP_INFO])
		i->ulp = 1;
	return 0;
}

static int inet_one(struct nlmsghdr *h, void *arg)
{
	struct inet_diag_table *t = arg;

	if (!table_slot(&t->s, &t->cap, t->nr, sizeof(*t->s), 64) || inet_diag_parse(h, t->protocol, &t->s[t->nr]))
		return -1;
	t->nr++;
	return 0;
}

static const char *proto_name(int protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: return "TCP";
	case IPPROTO_UDP: return "UDP";
	case IPPROTO_UDPLITE: return "UDP-Lite";
	default: return "inet";
	}
}

int inet_diag_collect(struct inet_diag_table *t)
{
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE };
	static const int families[] = { AF_INET, AF_INET6 };
	char what[64];

	memset(t, 0, sizeof(*t));
	for (size_t f = 0; f < 2; f++) {
		for (size_t p = 0; p < 3; p++) {
			struct inet_diag_req_v2 req = {
				.sdiag_family = families[f],
				.sdiag_protocol = protos[p],
				.idiag_states = ~0U,
				/* INFO also brings MD5SIG and ULP_INFO, which we refuse */
				.idiag_ext = 1 << (INET_DIAG_INFO - 1),
			};
			int ret;

			t->protocol = protos[p];
			snprintf(what, sizeof(what), "the %s%s sockets", proto_name(protos[p]),
				 families[f] == AF_INET6 ? "v6" : "");
			ret = sk_diag_request(&req, sizeof(req), inet_one, t, what);
			if (ret == -ENOENT) {
				pr_debug("sock_diag has no handler for %s\n", what);
				continue;
			}
			if (ret) {
				inet_diag_free(t);
				return -1;
			}
		}
	}
	sort_array(t->s, t->nr, sizeof(*t->s), cmp_ino);
	pr_debug("sock_diag: %zu inet sockets\n", t->nr);
	return 0;
}

struct inet_diag_info *inet_diag_find(struct inet_diag_table *t, uint32_t ino)
{
	/* embryos (connections not accepted yet) have inode 0: never looked up */
	return ino ? table_find(t->s, t->nr, sizeof(*t->s), ino) : NULL;
}

void inet_diag_free(struct inet_diag_table *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* ---- raw and ping sockets: /proc/PID/net/{raw,raw6,icmp,icmp6} ---- */

static int parse_hex_addr(const char *hex, uint32_t *a, int words)
{
	if ((int)strlen(hex) != words * 8)
		return -1;
	for (int i = 0; i < words; i++) {
		char w[9];

		memcpy(w, hex + i * 8, 8);
		w[8] = '\0';
		/* each word is printed as the host-order value of its network-order bytes */
		a[i] = strtoul(w, NULL, 16);
	}
	return 0;
}

int proc_net_parse(const char *text, int v6, uint32_t ino, struct proc_net_sk *out)
{
	int words = v6 ? 4 : 1;
	const char *l = strchr(text, '\n');	/* after the header */

	for (l = l ? l + 1 : NULL; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char src[40], dst[40];
		unsigned int sport, dport, state, uid;
		unsigned long inode;
		int len = strcspn(l, "\n");

		if (sscanf(l, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %u %*d %lu", src, &sport,
			   dst, &dport, &state, &uid, &inode) != 7) {
			pr_err("can't parse the line '%.*s'\n", len, l);
			return -1;
		}
		if (inode != ino)
			continue;
		memset(out, 0, sizeof(*out));
		if (parse_hex_addr(src, out->src, words) || parse_hex_addr(dst, out->dst, words)) {
			pr_err("bad address in '%.*s'\n", len, l);
			return -1;
		}
		out->sport = sport;
		out->dport = dport;
		out->state = state;
		return 0;
	}
	return 1;
}

int proc_net_find(pid_t pid, const char *name, uint32_t ino, struct proc_net_sk *out)
{
	char path[64];
	char *text;
	int ret;

	snprintf(path, sizeof(path), "net/%s", name);
	text = read_proc_file(pid, path, NULL);
	if (!text) {
		pr_err("can't read /proc/%d/%s\n", pid, path);
		return -1;
	}
	ret = proc_net_parse(text, strchr(name, '6') != NULL, ino, out);
	if (ret < 0)
		pr_err("/proc/%d/%s: malformed\n", pid, path);
	free(text);
	return ret;
}

/* ---- packet sockets ---- */

static struct nla_policy packet_diag_policy[PACKET_DIAG_MAX + 1] = {
	[PACKET_DIAG_INFO] = { .minlen = sizeof(struct packet_diag_info) },
	[PACKET_DIAG_RX_RING] = { .minlen = sizeof(struct packet_diag_ring) },
	[PACKET_DIAG_TX_RING] = { .minlen = sizeof(struct packet_diag_ring) },
	[PACKET_DIAG_FANOUT] = { .type = NLA_U32 },
};

int packet_diag_parse(struct nlmsghdr *h, struct packet_diag_sk *p)
{
	struct nlattr *tb[PACKET_DIAG_MAX + 1];
	struct packet_diag_msg *m;

	memset(p, 0, sizeof(*p));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		pr_err("packet diag: a message of %u bytes is too short\n", h->nlmsg_len);
		return -1;
	}
	m = nlmsg_data(h);
	if (m->pdiag_family != AF_PACKET) {
		pr_err("packet diag: an answer for family %u\n", m->pdiag_family);
		return -1;
	}
	if (nlmsg_parse(h, sizeof(*m), tb, PACKET_DIAG_MAX, packet_diag_policy) < 0) {
		pr_err("packet diag: malformed attributes for socket %u\n", m->pdiag_ino);
		return -1;
	}
	p->ino = m->pdiag_ino;
	p->type = m->pdiag_type;
	p->num = m->pdiag_num;	/* the kernel gives it in host order */
	if (tb[PACKET_DIAG_INFO]) {
		p->has_info = 1;
		memcpy(&p->info, nla_data(tb[PACKET_DIAG_INFO]), sizeof(p->info));
	}
	if (tb[PACKET_DIAG_RX_RING]) {
		p->has_rx = 1;
		memcpy(&p->rx, nla_data(tb[PACKET_DIAG_RX_RING]), sizeof(p->rx));
	}
	if (tb[PACKET_DIAG_TX_RING]) {
		p->has_tx = 1;
		memcpy(&p->tx, nla_data(tb[PACKET_DIAG_TX_RING]), sizeof(p->tx));
	}
	if (tb[PACKET_DIAG_FANOUT]) {
		p->has_fanout = 1;
		p->fanout = nla_get_u32(tb[PACKET_DIAG_FANOUT]);
	}
	if (tb[PACKET_DIAG_MCLIST]) {
		int len = nla_len(tb[PACKET_DIAG_MCLIST]);

		if (len % sizeof(struct packet_diag_mclist)) {
			pr_err("packet diag: socket %u has a membership list of %d bytes\n", p->ino, len);
			return -1;
		}
		p->nr_mc = len / sizeof(struct packet_diag_mclist);
		if (p->nr_mc) {
			p->mc = malloc(len);
			if (!p->mc) {
				pr_err("out of memory\n");
				return -1;
			}
			memcpy(p->mc, nla_data(tb[PACKET_DIAG_MCLIST]), len);
		}
	}
	return 0;
}

static int packet_one(struct nlmsghdr *h, void *arg)
{
	struct packet_diag_table *t = arg;

	if (!table_slot(&t->s, &t->cap, t->nr, sizeof(*t->s), 16) || packet_diag_parse(h, &t->s[t->nr]))
		return -1;
	t->nr++;
	return 0;
}

int packet_diag_collect(struct packet_diag_table *t)
{
	struct packet_diag_req req = {
		.sdiag_family = AF_PACKET,
		.pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_RING_CFG | PACKET_SHOW_FANOUT,
	};
	int ret;

	memset(t, 0, sizeof(*t));
	ret = sk_diag_request(&req, sizeof(req), packet_one, t, "the packet sockets");
	if (ret) {
		if (ret == -ENOENT)
			pr_err("this kernel has no sock_diag for packet sockets (CONFIG_PACKET_DIAG)\n");
		packet_diag_free(t);
		return -1;
	}
	sort_array(t->s, t->nr, sizeof(*t->s), cmp_ino);
	pr_debug("sock_diag: %zu packet sockets\n", t->nr);
	return 0;
}

struct packet_diag_sk *packet_diag_find(struct packet_diag_table *t, uint32_t ino)
{
	return table_find(t->s, t->nr, sizeof(*t->s), ino);
}

void packet_diag_free(struct packet_diag_table *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->s[i].mc);
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* ---- netlink sockets ---- */

static struct nla_policy netlink_diag_policy[NETLINK_DIAG_MAX + 1] = {
	[NETLINK_DIAG_FLAGS] = { .type = NLA_U32 },
};

int netlink_diag_parse(struct nlmsghdr *h, struct netlink_diag_sk *n)
{
	struct nlattr *tb[NETLINK_DIAG_MAX + 1];
	struct netlink_diag_msg *m;

	memset(n, 0, sizeof(*n));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		pr_err("netlink diag: a message of %u bytes is too short\n", h->nlmsg_len);
		return -1;
	}
	m = nlmsg_data(h);
	if (m->ndiag_family != AF_NETLINK) {
		pr_err("netlink diag: an answer for family %u\n", m->ndiag_family);
		return -1;
	}
	if (nlmsg_parse(h, sizeof(*m), tb, NETLINK_DIAG_MAX, netlink_diag_policy) < 0) {
		pr_err("netlink diag: malformed attributes for socket %u\n", m->ndiag_ino);
		return -1;
	}
	n->ino = m->ndiag_ino;
	n->type = m->ndiag_type;
	n->protocol = m->ndiag_protocol;
	n->state = m->ndiag_state;
	n->portid = m->ndiag_portid;
	n->dst_portid = m->ndiag_dst_portid;
	n->dst_group = m->ndiag_dst_group;
	if (tb[NETLINK_DIAG_FLAGS]) {
		n->has_flags = 1;
		n->flags = nla_get_u32(tb[NETLINK_DIAG_FLAGS]);
	}
	return 0;
}

static int netlink_one(struct nlmsghdr *h, void *arg)
{
	struct netlink_diag_table *t = arg;

	if (!table_slot(&t->s, &t->cap, t->nr, sizeof(*t->s), 32) || netlink_diag_parse(h, &t->s[t->nr]))
		return -1;
	t->nr++;
	return 0;
}

int netlink_diag_collect(struct netlink_diag_table *t)
{
	struct netlink_diag_req req = {
		.sdiag_family = AF_NETLINK,
		.sdiag_protocol = NDIAG_PROTO_ALL,
		.ndiag_show = NDIAG_SHOW_FLAGS,
	};
	size_t n = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = sk_diag_request(&req, sizeof(req), netlink_one, t, "the netlink sockets");
	if (ret) {
		if (ret == -ENOENT)
			pr_err("this kernel has no sock_diag for netlink sockets (CONFIG_NETLINK_DIAG)\n");
		netlink_diag_free(t);
		return -1;
	}
	sort_array(t->s, t->nr, sizeof(*t->s), cmp_ino);
	/* a socket can be listed more than once (e.g. bound and in a multicast group) */
	for (size_t i = 0; i < t->nr; i++)
		if (!n || t->s[n - 1].ino != t->s[i].ino)
			t->s[n++] = t->s[i];
	t->nr = n;
	pr_debug("sock_diag: %zu netlink sockets\n", t->nr);
	return 0;
}

struct netlink_diag_sk *netlink_diag_find(struct netlink_diag_table *t, uint32_t ino)
{
	return table_find(t->s, t->nr, sizeof(*t->s), ino);
}

void netlink_diag_free(struct netlink_diag_table *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}
