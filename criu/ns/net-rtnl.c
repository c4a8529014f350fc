/*
 * rtnetlink requests for the network namespace's contents: messages are
 * built and parsed with libnl's message and attribute helpers, sent and
 * read on a plain NETLINK_ROUTE socket, so that every answer keeps the
 * kernel's errno and extended ack message for ours.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "netns.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

int rtnl_open(struct rtnl *r)
{
	int one = 1, size = 1 << 20;

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (r->fd < 0) {
		pr_perror("can't open a rtnetlink socket");
		return -1;
	}
	/* without them a failure says only its errno; neither is needed */
	setsockopt(r->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(r->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	r->seq = 1;
	return 0;
}

void rtnl_close(struct rtnl *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

const char *rtnl_why(const struct rtnl *r)
{
	static char buf[sizeof(r->err) + 4];

	if (!r->err[0])
		return "";
	snprintf(buf, sizeof(buf), ": %s", r->err);
	return buf;
}

struct nl_msg *rtnl_msg(int type, int flags, const void *hdr, size_t len)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, flags | NLM_F_REQUEST | NLM_F_ACK);

	if (!m) {
		pr_err("out of memory\n");
		return NULL;
	}
	if (nlmsg_append(m, (void *)hdr, len, NLMSG_ALIGNTO) < 0) {
		pr_err("out of memory\n");
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* The message of an extended ack that follows the error (the request is capped). */
static void ext_ack(struct rtnl *r, struct nlmsghdr *h)
{
	struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_LENGTH(sizeof(*e));
	struct nlattr *a;
	int rem;

	r->err[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (off >= h->nlmsg_len)
		return;
	nla_for_each_attr(a, (struct nlattr *)((char *)h + NLMSG_ALIGN(off)), h->nlmsg_len - NLMSG_ALIGN(off), rem)
		if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0) {
			snprintf(r->err, sizeof(r->err), "%.*s", nla_len(a), (char *)nla_data(a));
			r->err[strcspn(r->err, "\n")] = '\0';
		}
}

/*
 * Read answers to @seq until the ack (or NLMSG_DONE of a dump): each data
 * message goes to @cb. 0, -errno, or -1 when @cb failed or reading did.
 */
static int rtnl_read(struct rtnl *r, uint32_t seq, rtnl_cb cb, void *arg)
{
	size_t cap = 64 << 10;
	char *buf = malloc(cap);
	int ret = 1;

	if (!buf) {
		pr_err("out of memory\n");
		return -1;
	}
	while (ret > 0) {
		struct nlmsghdr *h;
		ssize_t n = recv(r->fd, buf, cap, MSG_PEEK | MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (size_t)n > cap) {
			char *nb = realloc(buf, n);

			if (!nb) {
				pr_err("out of memory\n");
				ret = -1;
				break;
			}
			buf = nb;
			cap = n;
		}
		n = recv(r->fd, buf, cap, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't read from rtnetlink");
			ret = -1;
			break;
		}
		for (h = (struct nlmsghdr *)buf; ret > 0 && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				int *e = NLMSG_DATA(h);

				ret = h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *e < 0 ? *e : 0;
			} else if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error)
					ext_ack(r, h);
				ret = e->error;
			} else if (cb && cb(h, arg)) {
				ret = -1;
				/* what is left of the dump is not read: the socket goes with us */
			}
		}
	}
	free(buf);
	return ret;
}

static int rtnl_send(struct rtnl *r, struct nlmsghdr *h)
{
	h->nlmsg_seq = ++r->seq;
	r->err[0] = '\0';
	for (;;) {
		ssize_t n = send(r->fd, h, h->nlmsg_len, 0);

		if (n == (ssize_t)h->nlmsg_len)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		pr_perror("can't send to rtnetlink");
		return -1;
	}
}

int rtnl_req(struct rtnl *r, struct nl_msg *m, rtnl_cb cb, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(m);
	int ret = rtnl_send(r, h);

	if (!ret)
		ret = rtnl_read(r, h->nlmsg_seq, cb, arg);
	nlmsg_free(m);
	return ret;
}

int rtnl_do(struct rtnl *r, struct nl_msg *m)
{
	return rtnl_req(r, m, NULL, NULL);
}

int rtnl_dump(struct rtnl *r, int type, const void *hdr, size_t len, rtnl_cb cb, void *arg)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_DUMP);
	int ret;

	if (!m || nlmsg_append(m, (void *)hdr, len, NLMSG_ALIGNTO) < 0) {
		pr_err("out of memory\n");
		nlmsg_free(m);
		return -1;
	}
	ret = rtnl_send(r, nlmsg_hdr(m));
	if (!ret)
		ret = rtnl_read(r, nlmsg_hdr(m)->nlmsg_seq, cb, arg);
	nlmsg_free(m);
	return ret;
}

/* ---- protobuf helpers ---- */

void *pb_grow(void ***arr, size_t *n, size_t size)
{
	void **na = realloc(*arr, (*n + 1) * sizeof(void *));
	void *e;

	if (!na) {
		pr_err("out of memory\n");
		return NULL;
	}
	*arr = na;
	e = calloc(1, size);
	if (!e) {
		pr_err("out of memory\n");
		return NULL;
	}
	na[(*n)++] = e;
	return e;
}

NetnsAttr *netns_attr_new(uint32_t type, const void *data, size_t len)
{
	NetnsAttr *a = malloc(sizeof(*a));

	if (!a) {
		pr_err("out of memory\n");
		return NULL;
	}
	netns_attr__init(a);
	a->type = type;
	a->value.len = len;
	a->value.data = malloc(len ? len : 1);
	if (!a->value.data) {
		free(a);
		pr_err("out of memory\n");
		return NULL;
	}
	memcpy(a->value.data, data, len);
	return a;
}

void netns_entry_free(NetnsEntry *ne)
{
	if (ne)
		protobuf_c_message_free_unpacked(&ne->base, NULL);
}
