/*
 * Netlink sockets: protocol, the port id they are bound to (given or
 * autobound), their multicast groups (the whole bitmap), the address they
 * are connected to, their flags and the options of every socket.
 *
 * Dump: getsockname/getpeername, NETLINK_LIST_MEMBERSHIPS and the
 * NETLINK_* options on a pidfd_getfd() copy; sock_diag (which lists only
 * bound sockets) says whether a dump is running on it. What the kernel
 * keeps per port id (a netfilter queue bound to it, an audit daemon's
 * registration, ...) is not seen and not restored.
 *
 * Queued messages can't be read past the first without taking them (no
 * SO_PEEK_OFF on netlink): a socket with messages queued is refused, but
 * for a uevent socket (NETLINK_KOBJECT_UEVENT), whose messages are
 * broadcast events the kernel itself drops when the queue is full: they
 * are left out, with a warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdkinds.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "sk-diag.h"
#include "sk-opts.h"
#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK		270
#endif
#ifndef NETLINK_LISTEN_ALL_NSID
#define NETLINK_LISTEN_ALL_NSID	8
#endif
#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK		10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK	12
#endif
#define NETLINK_CONNECTED	1	/* sk_state */
#define MAX_GROUP_WORDS		1024	/* 32768 groups: more than any family has */

static const struct sk_opt nl_tab[] = {
	SK_OPT(SOL_NETLINK, NETLINK_PKTINFO, NetlinkSkEntry, pktinfo, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_BROADCAST_ERROR, NetlinkSkEntry, broadcast_error, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_NO_ENOBUFS, NetlinkSkEntry, no_enobufs, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, NetlinkSkEntry, listen_all_nsid, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_CAP_ACK, NetlinkSkEntry, cap_ack, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_EXT_ACK, NetlinkSkEntry, ext_ack, SK_OPT_EARLY),
	SK_OPT(SOL_NETLINK, NETLINK_GET_STRICT_CHK, NetlinkSkEntry, get_strict_chk, SK_OPT_EARLY),
};

static const char *proto_name(int protocol)
{
	static const char *const names[] = {
		[NETLINK_ROUTE] = "route", [NETLINK_USERSOCK] = "usersock", [NETLINK_FIREWALL] = "firewall",
		[NETLINK_SOCK_DIAG] = "sock_diag", [NETLINK_NFLOG] = "nflog", [NETLINK_XFRM] = "xfrm",
		[NETLINK_SELINUX] = "selinux", [NETLINK_ISCSI] = "iscsi", [NETLINK_AUDIT] = "audit",
		[NETLINK_FIB_LOOKUP] = "fib_lookup", [NETLINK_CONNECTOR] = "connector",
		[NETLINK_NETFILTER] = "netfilter", [NETLINK_IP6_FW] = "ip6_fw", [NETLINK_DNRTMSG] = "dnrtmsg",
		[NETLINK_KOBJECT_UEVENT] = "uevent", [NETLINK_GENERIC] = "generic", [NETLINK_SCSITRANSPORT] = "scsi",
		[NETLINK_ECRYPTFS] = "ecryptfs", [NETLINK_RDMA] = "rdma", [NETLINK_CRYPTO] = "crypto",
		[NETLINK_SMC] = "smc",
	};

	return protocol >= 0 && protocol < (int)ARRAY_SIZE(names) && names[protocol] ? names[protocol] : "netlink";
}

static void free_nlsk(FileEntry *fe)
{
	NetlinkSkEntry *e = fe->nlsk;

	if (!e)
		return;
	sk_opts_free(e->opts);
	free(e->opts);
	free(e->groups);
	free(e);
	fe->nlsk = NULL;
}

/* The whole membership bitmap (getsockname shows only the first 32 groups). */
static int dump_groups(int sk, NetlinkSkEntry *e, const char *who)
{
	socklen_t len = 4 * sizeof(uint32_t);
	uint32_t *buf = NULL;
	size_t n;

	for (;;) {
		socklen_t have = len;
		uint32_t *nb = realloc(buf, have);

		if (!nb) {
			free(buf);
			pr_err("out of memory\n");
			return -1;
		}
		buf = nb;
		memset(buf, 0, have);
		if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, buf, &len)) {
			pr_perror("can't read the multicast groups of %s", who);
			free(buf);
			return -1;
		}
		if (len <= have)
			break;
		if (len > MAX_GROUP_WORDS * sizeof(uint32_t)) {
			pr_err("can't dump %s: a group list of %u bytes\n", who, len);
			free(buf);
			return -1;
		}
	}
	n = len / sizeof(uint32_t);
	while (n && !buf[n - 1])
		n--;
	if (!n) {
		free(buf);
		return 0;
	}
	e->groups = buf;
	e->n_groups = n;
	return 0;
}

/* Something queued, or an error (ENOBUFS after an overflow) waiting to be read. */
static int check_queue(int sk, NetlinkSkEntry *e, const char *who)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	struct nlmsghdr h;
	ssize_t n;

	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll %s", who);
		return -1;
	}
	if (p.revents & POLLERR) {
		pr_err("can't dump %s: it has an error pending (a queue overflow, ENOBUFS) that can only be read by "
		       "taking it away; the kernel gives no way to put it back\n", who);
		return -1;
	}
	if (!(p.revents & POLLIN))
		return 0;
	if (e->protocol == NETLINK_KOBJECT_UEVENT) {
		pr_warn("%s: the uevents queued on it are not saved (the kernel can't read past the first one "
			"without taking it away); they are lost as if the queue had overflowed\n", who);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	n = recv(sk, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		pr_perror("can't peek at the queue of %s", who);
		return -1;
	}
	pr_err("can't dump %s: it has messages queued (the first: type %u, seq %u, from port %u, %zd bytes); "
	       "the kernel can't read past the first without taking it away, nor send them again as the kernel "
	       "did\n", who, h.nlmsg_type, h.nlmsg_seq, h.nlmsg_pid, n);
	return -1;
}

static int dump_nlsk(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		     FileEntry *fe)
{
	(void)ft;
	struct netns_state *ns = netns_of(pid);
	struct netlink_diag_table *t;
	struct netlink_diag_sk *d;
	struct sockaddr_nl self, peer;
	socklen_t len;
	char who[128];
	int sk, type = 0, protocol = 0, ret = -1;
	unsigned long ino;
	NetlinkSkEntry *e;

	(void)info;
	if (!ns || sk_fd_ino(pid, fd, &ino))
		return -1;
	t = netns_netlink_diag(ns);
	if (!t)
		return -1;
	sk = task_fd(pid, fd);
	if (sk < 0)
		return -1;
	snprintf(who, sizeof(who), "fd %d of %d (netlink socket %lu)", fd, pid, ino);
	len = sizeof(int);
	if (getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &len) ||
	    (len = sizeof(int), getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, &protocol, &len))) {
		pr_perror("can't read the kind of %s", who);
		goto close;
	}
	snprintf(who, sizeof(who), "fd %d of %d (netlink %s socket %lu)", fd, pid, proto_name(protocol), ino);
	e = calloc(1, sizeof(*e));
	if (!e)
		goto close;
	netlink_sk_entry__init(e);
	fe->nlsk = e;
	e->ino = ino;
	e->type = type;
	e->protocol = protocol;
	e->flags = fi->flags & ~(O_ACCMODE | O_CLOEXEC);

	d = netlink_diag_find(t, ino);
	if (d && d->has_flags && (d->flags & NDIAG_FLAG_CB_RUNNING)) {
		pr_err("can't dump %s: a dump it asked for is still being answered (the kernel keeps its state, "
		       "which can't be read or made again)\n", who);
		goto out;
	}
	len = sizeof(self);
	memset(&self, 0, sizeof(self));
	if (getsockname(sk, (struct sockaddr *)&self, &len)) {
		pr_perror("can't read the address of %s", who);
		goto out;
	}
	len = sizeof(peer);
	memset(&peer, 0, sizeof(peer));
	if (getpeername(sk, (struct sockaddr *)&peer, &len)) {
		pr_perror("can't read the peer of %s", who);
		goto out;
	}
	if (self.nl_pid) {
		e->has_portid = 1;
		e->portid = self.nl_pid;
	}
	/* an unbound socket is not in sock_diag; a connected one is always bound */
	if ((d && d->state == NETLINK_CONNECTED) || peer.nl_pid || peer.nl_groups) {
		e->has_connected = e->connected = 1;
		e->has_dst_portid = e->has_dst_group = 1;
		e->dst_portid = peer.nl_pid;
		e->dst_group = peer.nl_groups ? (uint32_t)__builtin_ffs(peer.nl_groups) : 0;
	}
	if (dump_groups(sk, e, who))
		goto out;
	e->opts = calloc(1, sizeof(*e->opts));
	if (!e->opts || sk_opts_dump(sk, e->opts, who) || sk_opts_read(sk, nl_tab, ARRAY_SIZE(nl_tab), e, who))
		goto out;
	if (check_queue(sk, e, who))
		goto out;
	pr_debug("%s: port %u, %zu group words, connected %d to %u/%u\n", who, e->portid, e->n_groups, e->connected,
		 e->dst_portid, e->dst_group);
	ret = 0;
out:
	if (ret)
		free_nlsk(fe);
close:
	close(sk);
	return ret;
}

/* ---- restore ---- */

static int bind_port(int sk, const NetlinkSkEntry *e, const char *who)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = e->portid };

	if (!bind(sk, (struct sockaddr *)&a, sizeof(a)))
		return 0;
	/* negative ids are only ever given by autobind: any other will do */
	if (errno == EADDRINUSE && (int32_t)e->portid < 0) {
		a.nl_pid = 0;
		if (!bind(sk, (struct sockaddr *)&a, sizeof(a))) {
			socklen_t len = sizeof(a);

			getsockname(sk, (struct sockaddr *)&a, &len);
			pr_warn("%s: its autobound port id %d is taken; it gets %d\n", who, (int32_t)e->portid,
				(int32_t)a.nl_pid);
			return 0;
		}
	}
	pr_perror("can't bind %s to port id %u", who, e->portid);
	return -1;
}

static int join_groups(int sk, const NetlinkSkEntry *e, const char *who)
{
	for (size_t w = 0; w < e->n_groups; w++)
		for (int b = 0; b < 32; b++) {
			int g = w * 32 + b + 1;

			if (!(e->groups[w] & (1U << b)))
				continue;
			if (setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g))) {
				pr_perror("can't join %s to multicast group %d", who, g);
				return -1;
			}
		}
	return 0;
}

static int open_nlsk(struct fd_rst *c, FileEntry *fe)
{
	(void)c;
	const NetlinkSkEntry *e = fe->nlsk;
	char who[96];
	int sk;

	if (!e || (e->has_dst_group && e->dst_group > 32) || e->n_groups > MAX_GROUP_WORDS) {
		pr_err("file %u: a bad netlink socket record\n", fe->id);
		return -1;
	}
	snprintf(who, sizeof(who), "netlink %s socket %lu", proto_name(e->protocol), (unsigned long)e->ino);
	sk = socket(AF_NETLINK, e->type | SOCK_CLOEXEC, e->protocol);
	if (sk < 0) {
		pr_perror("can't make %s", who);
		return -1;
	}
	if (sk_opts_restore(sk, e->opts, SK_OPT_EARLY, 0, who) ||
	    sk_opts_write(sk, nl_tab, ARRAY_SIZE(nl_tab), e, SK_OPT_EARLY, who))
		goto err;
	if (e->has_portid && e->portid && bind_port(sk, e, who))
		goto err;
	if (join_groups(sk, e, who))
		goto err;
	if (e->connected) {
		struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = e->dst_portid,
					 .nl_groups = e->dst_group ? 1U << (e->dst_group - 1) : 0 };

		if (connect(sk, (struct sockaddr *)&a, sizeof(a))) {
			pr_perror("can't connect %s to port %u group %u", who, e->dst_portid, e->dst_group);
			goto err;
		}
	}
	if (sk_opts_finish(sk, e->opts, e->flags, who))
		goto err;
	return sk;
err:
	close(sk);
	return -1;
}

const struct fd_kind netlinksk_kind = {
	.link = "socket:[",
	.prefix = 1,
	.sk_families = 1ULL << AF_NETLINK,
	.type = FILE_TYPE__FT_NETLINKSK,
	.dump = dump_nlsk,
	.open = open_nlsk,
	.free = free_nlsk,
};
