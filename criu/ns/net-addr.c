/*
 * The namespace's IPv4 and IPv6 addresses: each with its flags, label,
 * peer, broadcast, prefix route metric and what was left of its
 * lifetimes. Restore makes the links' addresses exactly the saved ones:
 * what the kernel made by itself and the dump did not have (a link-local
 * address the user removed, say) goes, the rest is added or changed.
 * IPv6 addresses that were in use are added without duplicate address
 * detection (they would be tentative for a while), the flag then taken
 * off again if they did not have it; one that was still tentative goes
 * through it again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "netns.h"

/* What RTM_NEWADDR takes; the rest are states (tentative, deprecated, ...). */
#define SET_FLAGS (IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE | \
		   IFA_F_MCAUTOJOIN | IFA_F_OPTIMISTIC)

static void addr_str(const NetnsAddr *a, char *buf, size_t size)
{
	const ProtobufCBinaryData *b = a->has_local ? &a->local : &a->address;
	char s[INET6_ADDRSTRLEN] = "?";

	if (b->len == (a->family == AF_INET ? 4u : 16u))
		inet_ntop(a->family, b->data, s, sizeof(s));
	snprintf(buf, size, "%s/%u", s, a->prefixlen);
}

static int dup_attr(ProtobufCBinaryData *b, protobuf_c_boolean *has, struct nlattr *a, size_t len)
{
	if (!a)
		return 0;
	if ((size_t)nla_len(a) != len) {
		pr_err("an address attribute of %d bytes\n", nla_len(a));
		return -1;
	}
	b->data = malloc(len);
	if (!b->data)
		return -1;
	memcpy(b->data, nla_data(a), len);
	b->len = len;
	*has = true;
	return 0;
}

/* Parse one RTM_NEWADDR into @a (initialised); 1 to skip it. */
static int parse_addr(struct nlmsghdr *h, NetnsAddr *a)
{
	struct ifaddrmsg *ifa = nlmsg_data(h);
	struct nlattr *tb[IFA_MAX + 1] = {};
	size_t len;

	if (h->nlmsg_type != RTM_NEWADDR || nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0) {
		pr_err("a bad address message from rtnetlink\n");
		return -1;
	}
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 1;
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	a->family = ifa->ifa_family;
	a->ifindex = ifa->ifa_index;
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	a->flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	if (dup_attr(&a->local, &a->has_local, tb[IFA_LOCAL], len) ||
	    dup_attr(&a->address, &a->has_address, tb[IFA_ADDRESS], len) ||
	    dup_attr(&a->broadcast, &a->has_broadcast, tb[IFA_BROADCAST], len))
		return -1;
	if (tb[IFA_LABEL] && !(a->label = strdup(nla_get_string(tb[IFA_LABEL]))))
		return -1;
	if (tb[IFA_CACHEINFO] && nla_len(tb[IFA_CACHEINFO]) >= (int)sizeof(struct ifa_cacheinfo)) {
		struct ifa_cacheinfo *ci = nla_data(tb[IFA_CACHEINFO]);

		a->has_valid_lft = a->has_preferred_lft = true;
		a->valid_lft = ci->ifa_valid;
		a->preferred_lft = ci->ifa_prefered;
	}
	if (tb[IFA_RT_PRIORITY]) {
		a->has_rt_priority = true;
		a->rt_priority = nla_get_u32(tb[IFA_RT_PRIORITY]);
	}
	if (tb[IFA_PROTO]) {
		a->has_proto = true;
		a->proto = nla_get_u8(tb[IFA_PROTO]);
	}
	return 0;
}

static int addr_one(struct nlmsghdr *h, void *arg)
{
	struct netns_dump *d = arg;
	NetnsAddr *a = pb_grow((void ***)&d->ne->addrs, &d->ne->n_addrs, sizeof(*a));
	char s[64];
	int r;

	if (!a)
		return -1;
	netns_addr__init(a);
	r = parse_addr(h, a);
	if (r < 0)
		return -1;
	if (r > 0) {
		d->ne->n_addrs--;
		free(a);
		return 0;
	}
	if (a->family == AF_INET6 && (a->flags & IFA_F_TEMPORARY)) {
		addr_str(a, s, sizeof(s));
		pr_err("can't dump the network namespace of %d: %s is a temporary (privacy) IPv6 address; the "
		       "kernel would make another one\n", d->pid, s);
		return -1;
	}
	return 0;
}

int netns_addrs_dump(struct netns_dump *d)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	int ret = rtnl_dump(&d->rt, RTM_GETADDR, &ifa, sizeof(ifa), addr_one, d);

	if (ret && ret != -1)
		pr_err("can't list the addresses of the network namespace of %d: %s\n", d->pid, strerror(-ret));
	return ret ? -1 : 0;
}

/* ---- restore ---- */

static int same_key(const NetnsAddr *a, const NetnsAddr *b)
{
	const ProtobufCBinaryData *x = a->has_local ? &a->local : &a->address;
	const ProtobufCBinaryData *y = b->has_local ? &b->local : &b->address;

	return a->family == b->family && a->ifindex == b->ifindex && a->prefixlen == b->prefixlen &&
	       x->len == y->len && !memcmp(x->data, y->data, x->len) &&
	       (a->family == AF_INET6 || (a->has_address == b->has_address &&
					  (!a->has_address || !memcmp(a->address.data, b->address.data, 4))));
}

static struct nl_msg *addr_msg(int type, int flags, const NetnsAddr *a, uint32_t ifa_flags)
{
	struct ifaddrmsg ifa = { .ifa_family = a->family, .ifa_prefixlen = a->prefixlen, .ifa_scope = a->scope,
				 .ifa_index = a->ifindex, .ifa_flags = ifa_flags & 0xff };
	struct nl_msg *m = rtnl_msg(type, flags, &ifa, sizeof(ifa));

	if (!m)
		return NULL;
	if ((a->has_local && nla_put(m, IFA_LOCAL, a->local.len, a->local.data) < 0) ||
	    (a->has_address && nla_put(m, IFA_ADDRESS, a->address.len, a->address.data) < 0))
		goto err;
	if (type == RTM_DELADDR)
		return m;
	if ((a->has_broadcast && nla_put(m, IFA_BROADCAST, a->broadcast.len, a->broadcast.data) < 0) ||
	    (a->label && nla_put_string(m, IFA_LABEL, a->label) < 0) || nla_put_u32(m, IFA_FLAGS, ifa_flags) < 0 ||
	    (a->has_rt_priority && nla_put_u32(m, IFA_RT_PRIORITY, a->rt_priority) < 0) ||
	    (a->has_proto && nla_put_u8(m, IFA_PROTO, a->proto) < 0))
		goto err;
	if (a->has_valid_lft) {
		struct ifa_cacheinfo ci = { .ifa_prefered = a->preferred_lft, .ifa_valid = a->valid_lft };

		if (nla_put(m, IFA_CACHEINFO, sizeof(ci), &ci) < 0)
			goto err;
	}
	return m;
err:
	nlmsg_free(m);
	return NULL;
}

static int addr_do(struct netns_rst *r, const char *what, const NetnsAddr *a, struct nl_msg *m)
{
	char s[64];
	int err;

	if (!m) {
		pr_err("out of memory\n");
		return -1;
	}
	err = rtnl_do(&r->rt, m);
	if (!err)
		return 0;
	addr_str(a, s, sizeof(s));
	pr_err("can't %s address %s (ifindex %u): %s%s\n", what, s, a->ifindex, strerror(-err), rtnl_why(&r->rt));
	return -1;
}

struct cur_addrs {
	NetnsAddr **a;
	size_t n;
};

static int cur_one(struct nlmsghdr *h, void *arg)
{
	struct cur_addrs *c = arg;
	NetnsAddr *a = pb_grow((void ***)&c->a, &c->n, sizeof(*a));
	int r;

	if (!a)
		return -1;
	netns_addr__init(a);
	r = parse_addr(h, a);
	if (r > 0) {
		c->n--;
		free(a);
	}
	return r < 0 ? -1 : 0;
}

static int restore_one(struct netns_rst *r, const NetnsAddr *a, const struct cur_addrs *cur)
{
	uint32_t flags = a->flags & SET_FLAGS;
	int nodad;

	for (size_t i = 0; i < cur->n; i++)
		if (same_key(cur->a[i], a))
			return addr_do(r, "change", a, addr_msg(RTM_NEWADDR, NLM_F_REPLACE, a, flags));
	/* in use (not tentative at dump): no detection, but not the flag either if it had none */
	nodad = a->family == AF_INET6 && !(a->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
	if (addr_do(r, "add", a, addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, a, nodad ? flags | IFA_F_NODAD : flags)))
		return -1;
	if (nodad && !(a->flags & IFA_F_NODAD) && addr_do(r, "change", a, addr_msg(RTM_NEWADDR, NLM_F_REPLACE, a, flags)))
		return -1;
	return 0;
}

int netns_addrs_restore(struct netns_rst *r)
{
	const NetnsEntry *ne = r->ne;
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	struct cur_addrs cur = {};
	int ret = -1;

	if (rtnl_dump(&r->rt, RTM_GETADDR, &ifa, sizeof(ifa), cur_one, &cur)) {
		pr_err("can't list the addresses of the new network namespace\n");
		goto out;
	}
	/* what the kernel made (on lo, say) and the tree did not have */
	for (size_t i = 0; i < cur.n; i++) {
		size_t j;

		for (j = 0; j < ne->n_addrs && !same_key(cur.a[i], ne->addrs[j]); j++)
			;
		if (j == ne->n_addrs && addr_do(r, "remove", cur.a[i], addr_msg(RTM_DELADDR, 0, cur.a[i], 0)))
			goto out;
	}
	/*
	 * A link lists its IPv4 addresses oldest first (the first of a subnet
	 * is its primary), its IPv6 ones of a scope newest first: each family
	 * in the order that gives the dump's.
	 */
	for (size_t k = 0; k < ne->n_addrs; k++)
		if (ne->addrs[k]->family == AF_INET && restore_one(r, ne->addrs[k], &cur))
			goto out;
	for (size_t k = ne->n_addrs; k-- > 0;)
		if (ne->addrs[k]->family == AF_INET6 && restore_one(r, ne->addrs[k], &cur))
			goto out;
	ret = 0;
out:
	for (size_t i = 0; i < cur.n; i++)
		protobuf_c_message_free_unpacked(&cur.a[i]->base, NULL);
	free(cur.a);
	return ret;
}
