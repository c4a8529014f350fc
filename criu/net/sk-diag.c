/* Unix socket state through netlink sock_diag, read with libnl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "log.h"
#include "sk-diag.h"

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

static int collect_one(struct nl_msg *msg, void *arg)
{
	struct unix_diag_table *t = arg;
	struct unix_diag_info u;

	if (unix_diag_parse(nlmsg_hdr(msg), &u)) {
		t->failed = 1;
		return NL_STOP;
	}
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct unix_diag_info *n = realloc(t->s, cap * sizeof(*n));

		if (!n) {
			free(u.icons);
			t->failed = 1;
			pr_err("out of memory\n");
			return NL_STOP;
		}
		t->s = n;
		t->cap = cap;
	}
	t->s[t->nr++] = u;
	return NL_OK;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct unix_diag_info *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

int unix_diag_collect(struct unix_diag_table *t)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0U,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN,
	};
	struct nl_sock *sk;
	int ret = -1, err;

	memset(t, 0, sizeof(*t));
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
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, collect_one, t);
	err = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (err < 0) {
		pr_err("can't ask for the unix sockets: %s\n", nl_geterror(err));
		goto out;
	}
	err = nl_recvmsgs_default(sk);
	if (err < 0 || t->failed) {
		pr_err("can't read the unix sockets from sock_diag: %s\n", t->failed ? "bad answer" : nl_geterror(err));
		goto out;
	}
	qsort(t->s, t->nr, sizeof(*t->s), cmp_ino);
	pr_debug("sock_diag: %zu unix sockets\n", t->nr);
	ret = 0;
out:
	nl_socket_free(sk);
	if (ret)
		unix_diag_free(t);
	return ret;
}

struct unix_diag_info *unix_diag_find(struct unix_diag_table *t, uint32_t ino)
{
	struct unix_diag_info key = { .ino = ino };

	if (!t->nr)
		return NULL;
	return bsearch(&key, t->s, t->nr, sizeof(*t->s), cmp_ino);
}

void unix_diag_free(struct unix_diag_table *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->s[i].icons);
	free(t->s);
	memset(t, 0, sizeof(*t));
}
