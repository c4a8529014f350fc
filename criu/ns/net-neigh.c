/*
 * Neighbour entries the user made: permanent ARP/NDP entries, proxy
 * entries, and a bridge's static and permanent forwarding entries (other
 * than its own addresses, which the kernel makes). The rest of the
 * neighbour tables is a cache the kernel fills again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "netns.h"

static int own_address(const NetnsEntry *ne, uint32_t ifindex, const struct nlattr *ll)
{
	const NetnsLink *l = netns_link_by_index(ne, ifindex);

	return l && l->has_address && l->address.len == (size_t)nla_len(ll) &&
	       !memcmp(l->address.data, nla_data(ll), l->address.len);
}

/* Worth saving: made by the user, not by the kernel as it goes. */
static int wanted(const NetnsEntry *ne, struct ndmsg *nd, struct nlattr **tb)
{
	if (nd->ndm_flags & (NTF_EXT_LEARNED | NTF_OFFLOADED))
		return 0;
	if (nd->ndm_family != AF_BRIDGE)
		return (nd->ndm_flags & NTF_PROXY) || (nd->ndm_state & NUD_PERMANENT);
	if (!(nd->ndm_flags & NTF_MASTER) || !tb[NDA_LLADDR])
		return 0;
	if (nd->ndm_state & NUD_NOARP)
		return 1;	/* static */
	if (!(nd->ndm_state & NUD_PERMANENT))
		return 0;
	/* the port's and the bridge's own addresses are the kernel's */
	return !own_address(ne, nd->ndm_ifindex, tb[NDA_LLADDR]) &&
	       !(tb[NDA_MASTER] && own_address(ne, nla_get_u32(tb[NDA_MASTER]), tb[NDA_LLADDR]));
}

static int dup(ProtobufCBinaryData *b, struct nlattr *a)
{
	b->len = nla_len(a);
	b->data = malloc(b->len ? b->len : 1);
	if (!b->data)
		return -1;
	memcpy(b->data, nla_data(a), b->len);
	return 0;
}

static int neigh_one(struct nlmsghdr *h, void *arg)
{
	struct netns_dump *d = arg;
	struct ndmsg *nd = nlmsg_data(h);
	struct nlattr *tb[NDA_MAX + 1] = {};
	NetnsNeigh *n;

	if (h->nlmsg_type != RTM_NEWNEIGH)
		return 0;
	if (nlmsg_parse(h, sizeof(*nd), tb, NDA_MAX, NULL) < 0) {
		pr_err("a bad neighbour message from rtnetlink\n");
		return -1;
	}
	if (!wanted(d->ne, nd, tb) || (!tb[NDA_DST] && nd->ndm_family != AF_BRIDGE))
		return 0;
	n = pb_grow((void ***)&d->ne->neighs, &d->ne->n_neighs, sizeof(*n));
	if (!n)
		return -1;
	netns_neigh__init(n);
	n->family = nd->ndm_family;
	n->ifindex = nd->ndm_ifindex;
	n->state = nd->ndm_state;
	n->flags = nd->ndm_flags;
	if (tb[NDA_DST] ? dup(&n->dst, tb[NDA_DST]) : !(n->dst.data = calloc(1, 1)))
		return -1;
	if (tb[NDA_LLADDR]) {
		if (dup(&n->lladdr, tb[NDA_LLADDR]))
			return -1;
		n->has_lladdr = true;
	}
	if (tb[NDA_VLAN]) {
		n->has_vlan = true;
		n->vlan = nla_get_u16(tb[NDA_VLAN]);
	}
	if (tb[NDA_MASTER]) {
		n->has_master = true;
		n->master = nla_get_u32(tb[NDA_MASTER]);
	}
	return 0;
}

int netns_neighs_dump(struct netns_dump *d)
{
	static const struct { int family, flags; } req[] = {
		{ AF_INET, 0 }, { AF_INET6, 0 }, { AF_INET, NTF_PROXY }, { AF_INET6, NTF_PROXY }, { AF_BRIDGE, 0 },
	};

	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		struct ndmsg nd = { .ndm_family = req[i].family, .ndm_flags = req[i].flags };
		int ret = rtnl_dump(&d->rt, RTM_GETNEIGH, &nd, sizeof(nd), neigh_one, d);

		if (ret == -EAFNOSUPPORT || ret == -EOPNOTSUPP)
			continue;
		if (ret) {
			if (ret != -1)
				pr_err("can't list the neighbours of the network namespace of %d: %s\n", d->pid,
				       strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int netns_neighs_restore(struct netns_rst *r)
{
	for (size_t i = 0; i < r->ne->n_neighs; i++) {
		const NetnsNeigh *n = r->ne->neighs[i];
		struct ndmsg nd = { .ndm_family = n->family, .ndm_ifindex = n->ifindex, .ndm_state = n->state,
				    .ndm_flags = n->flags & (NTF_PROXY | NTF_ROUTER | NTF_MASTER | NTF_STICKY) };
		struct nl_msg *m = rtnl_msg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd, sizeof(nd));
		char s[INET6_ADDRSTRLEN] = "?";
		int err;

		if (!m || (n->dst.len && nla_put(m, NDA_DST, n->dst.len, n->dst.data) < 0) ||
		    (n->has_lladdr && nla_put(m, NDA_LLADDR, n->lladdr.len, n->lladdr.data) < 0) ||
		    (n->has_vlan && nla_put_u16(m, NDA_VLAN, n->vlan) < 0)) {
			nlmsg_free(m);
			pr_err("out of memory\n");
			return -1;
		}
		err = rtnl_do(&r->rt, m);
		if (!err)
			continue;
		if (n->dst.len == 4 || n->dst.len == 16)
			inet_ntop(n->dst.len == 4 ? AF_INET : AF_INET6, n->dst.data, s, sizeof(s));
		pr_err("can't add the neighbour entry %s (ifindex %u, state %#x): %s%s\n", n->family == AF_BRIDGE ?
		       "of a bridge port" : s, n->ifindex, n->state, strerror(-err), rtnl_why(&r->rt));
		return -1;
	}
	return 0;
}
