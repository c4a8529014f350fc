/*
 * Routes of every table and policy routing rules, IPv4 and IPv6. Each is
 * kept as its header and the attributes that describe it, as the kernel
 * gave them (less what it computes: cache info, the nexthops' dead and
 * link-down flags); a route's remaining lifetime becomes RTA_EXPIRES.
 * Restore makes the tables and rules exactly the saved ones: what the
 * kernel made by itself (routes of its addresses, its default rules) and
 * the dump did not have goes, what is missing is added, a route through a
 * gateway after the routes that reach it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "netns.h"

#define NH_STATE (RTNH_F_DEAD | RTNH_F_LINKDOWN | RTNH_F_OFFLOAD | RTNH_F_UNRESOLVED | RTNH_F_TRAP)
#define USER_HZ_ 100

enum { ROUTE, RULE };

static const char *what_name[] = { "route", "rule" };

/* Route attributes given back as they are; the rest are computed or refused by name below. */
static int route_attr_kept(int t)
{
	switch (t) {
	case RTA_DST: case RTA_SRC: case RTA_IIF: case RTA_OIF: case RTA_GATEWAY: case RTA_PRIORITY:
	case RTA_PREFSRC: case RTA_METRICS: case RTA_MULTIPATH: case RTA_FLOW: case RTA_PREF: case RTA_VIA:
	case RTA_TTL_PROPAGATE:
		return 1;
	}
	return 0;
}

static int route_attr_dropped(int t)
{
	return t == RTA_UNSPEC || t == RTA_TABLE || t == RTA_CACHEINFO || t == RTA_PAD || t == RTA_EXPIRES;
}

/* Dead, link-down, offloaded: the state of a nexthop, not what it is. */
static void clear_nh_state(NetnsAttr *a)
{
	uint8_t *p = a->value.data;
	size_t left = a->value.len;

	while (left >= sizeof(struct rtnexthop)) {
		struct rtnexthop *nh = (struct rtnexthop *)p;
		size_t len = RTNH_ALIGN(nh->rtnh_len);

		if (nh->rtnh_len < sizeof(*nh) || len > left)
			break;
		nh->rtnh_flags &= ~NH_STATE;
		p += len;
		left -= len;
	}
}

static int add_attr(NetnsRoute *r, int type, const void *data, size_t len)
{
	NetnsAttr *a = netns_attr_new(type, data, len);
	NetnsAttr **arr;

	if (!a)
		return -1;
	arr = realloc(r->attrs, (r->n_attrs + 1) * sizeof(*arr));
	if (!arr) {
		protobuf_c_message_free_unpacked(&a->base, NULL);
		return -1;
	}
	r->attrs = arr;
	arr[r->n_attrs++] = a;
	if (type == RTA_MULTIPATH)
		clear_nh_state(a);
	return 0;
}

void netns_route_str(const NetnsRoute *r, int rule, char *buf, size_t size)
{
	char dst[INET6_ADDRSTRLEN] = "default";

	for (size_t i = 0; i < r->n_attrs; i++)
		if (r->attrs[i]->type == (rule ? FRA_DST : RTA_DST) &&
		    r->attrs[i]->value.len == (r->family == AF_INET ? 4u : 16u))
			inet_ntop(r->family, r->attrs[i]->value.data, dst, sizeof(dst));
	if (rule)
		snprintf(buf, size, "%s rule to %s/%u (table %u)", r->family == AF_INET ? "IPv4" : "IPv6", dst,
			 r->dst_len, r->table);
	else
		snprintf(buf, size, "%s route to %s/%u (table %u, type %u)", r->family == AF_INET ? "IPv4" : "IPv6",
			 dst, r->dst_len, r->table, r->type);
}

/*
 * One RTM_NEWROUTE or RTM_NEWRULE into @r (initialised): 1 to leave it
 * out (a cached route), -1 with a message naming what can't be restored.
 */
static int parse(struct nlmsghdr *h, int what, NetnsRoute *r, pid_t pid)
{
	struct rtmsg *rtm = nlmsg_data(h);	/* struct fib_rule_hdr has the same layout */
	struct nlattr *a;
	int rem;
	char s[128];

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return -1;
	if (what == ROUTE && (rtm->rtm_flags & RTM_F_CLONED))
		return 1;
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	r->src_len = rtm->rtm_src_len;
	r->tos = rtm->rtm_tos;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->type = rtm->rtm_type;
	r->flags = what == ROUTE ? rtm->rtm_flags & (RTNH_F_ONLINK | RTNH_F_PERVASIVE) : rtm->rtm_flags & FIB_RULE_INVERT;
	nlmsg_for_each_attr(a, h, sizeof(*rtm), rem) {
		int t = nla_type(a);

		if (what == RULE) {
			if (t == FRA_TABLE)
				r->table = nla_get_u32(a);
			else if (t != FRA_PAD && t != FRA_UNSPEC && add_attr(r, t, nla_data(a), nla_len(a)))
				return -1;
			continue;
		}
		if (t == RTA_TABLE) {
			r->table = nla_get_u32(a);
		} else if (t == RTA_CACHEINFO && nla_len(a) >= (int)sizeof(struct rta_cacheinfo)) {
			struct rta_cacheinfo *ci = nla_data(a);
			uint32_t secs = (ci->rta_expires + USER_HZ_ - 1) / USER_HZ_;

			if (r->family == AF_INET6 && ci->rta_expires && add_attr(r, RTA_EXPIRES, &secs, sizeof(secs)))
				return -1;
		} else if (route_attr_kept(t)) {
			if (add_attr(r, t, nla_data(a), nla_len(a)))
				return -1;
		} else if (!route_attr_dropped(t)) {
			netns_route_str(r, 0, s, sizeof(s));
			pr_err("can't dump the network namespace of %d: %s has attribute %d (%s), which criu can't "
			       "restore\n", pid, s, t,
			       t == RTA_ENCAP || t == RTA_ENCAP_TYPE ? "a lightweight tunnel" :
			       t == RTA_NH_ID ? "a nexthop object" : t == RTA_NEWDST ? "MPLS" : "unknown");
			return -1;
		}
	}
	return 0;
}

struct dump_arg {
	struct netns_dump *d;
	int what;
};

static int one(struct nlmsghdr *h, void *arg)
{
	struct dump_arg *x = arg;
	NetnsEntry *ne = x->d->ne;
	NetnsRoute ***arr = x->what == ROUTE ? &ne->routes : &ne->rules;
	size_t *n = x->what == ROUTE ? &ne->n_routes : &ne->n_rules;
	NetnsRoute *r;
	int ret;

	if (h->nlmsg_type != (x->what == ROUTE ? RTM_NEWROUTE : RTM_NEWRULE))
		return 0;
	r = pb_grow((void ***)arr, n, sizeof(*r));
	if (!r)
		return -1;
	netns_route__init(r);
	ret = parse(h, x->what, r, x->d->pid);
	if (ret > 0) {
		(*n)--;
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return 0;
	}
	return ret;
}

static int dump_all(struct netns_dump *d, int what)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; i < 2; i++) {
		struct rtmsg rtm = { .rtm_family = families[i] };
		struct dump_arg x = { d, what };
		int ret = rtnl_dump(&d->rt, what == ROUTE ? RTM_GETROUTE : RTM_GETRULE, &rtm, sizeof(rtm), one, &x);

		if (ret == -EAFNOSUPPORT)
			continue;	/* no IPv6 */
		if (ret) {
			if (ret != -1)
				pr_err("can't list the %ss of the network namespace of %d: %s\n", what_name[what], d->pid,
				       strerror(-ret));
			return -1;
		}
	}
	return 0;
}

int netns_routes_dump(struct netns_dump *d)
{
	return dump_all(d, ROUTE);
}

int netns_rules_dump(struct netns_dump *d)
{
	if (dump_all(d, RULE))
		return -1;
	for (size_t i = 0; i < d->ne->n_rules; i++)
		for (size_t j = 0; j < d->ne->rules[i]->n_attrs; j++)
			if (d->ne->rules[i]->attrs[j]->type == FRA_UID_RANGE && d->in_userns) {
				char s[128];

				netns_route_str(d->ne->rules[i], 1, s, sizeof(s));
				pr_err("can't dump the network namespace of %d: %s matches a uid range, which only a "
				       "process of its user namespace could set again\n", d->pid, s);
				return -1;
			}
	return 0;
}

/* ---- restore ---- */

static int same(const NetnsRoute *a, const NetnsRoute *b)
{
	if (a->family != b->family || a->dst_len != b->dst_len || a->src_len != b->src_len || a->tos != b->tos ||
	    a->table != b->table || a->protocol != b->protocol || a->scope != b->scope || a->type != b->type ||
	    a->flags != b->flags)
		return 0;
	/* the remaining lifetime differs by the time gone: not what the route is */
	for (size_t i = 0, j = 0;; i++, j++) {
		while (i < a->n_attrs && a->attrs[i]->type == RTA_EXPIRES)
			i++;
		while (j < b->n_attrs && b->attrs[j]->type == RTA_EXPIRES)
			j++;
		if (i == a->n_attrs || j == b->n_attrs)
			return i == a->n_attrs && j == b->n_attrs;
		if (a->attrs[i]->type != b->attrs[j]->type || a->attrs[i]->value.len != b->attrs[j]->value.len ||
		    memcmp(a->attrs[i]->value.data, b->attrs[j]->value.data, a->attrs[i]->value.len))
			return 0;
	}
}

/*
 * IPv6 refuses with NLM_F_EXCL a route whose prefix and metric another
 * has, even on another device (ff00::/8 of each link, say); without it, a
 * route the same as one there still fails, and routes with gateways that
 * differ would be one multipath route (which a dump shows as one).
 */
static int add_flags(int what, const NetnsRoute *r)
{
	return what == ROUTE && r->family == AF_INET6 ? NLM_F_CREATE : NLM_F_CREATE | NLM_F_EXCL;
}

static struct nl_msg *msg(int what, int type, int flags, const NetnsRoute *r)
{
	struct rtmsg rtm = { .rtm_family = r->family, .rtm_dst_len = r->dst_len, .rtm_src_len = r->src_len,
			     .rtm_tos = r->tos, .rtm_table = r->table < 256 ? r->table : RT_TABLE_COMPAT,
			     .rtm_protocol = r->protocol, .rtm_scope = r->scope, .rtm_type = r->type,
			     .rtm_flags = r->flags };
	struct nl_msg *m = rtnl_msg(type, flags, &rtm, sizeof(rtm));

	if (!m)
		return NULL;
	if (nla_put_u32(m, what == ROUTE ? RTA_TABLE : FRA_TABLE, r->table) < 0)
		goto err;
	for (size_t i = 0; i < r->n_attrs; i++)
		if (nla_put(m, r->attrs[i]->type, r->attrs[i]->value.len, r->attrs[i]->value.data) < 0)
			goto err;
	return m;
err:
	nlmsg_free(m);
	return NULL;
}

struct cur {
	NetnsRoute **r;
	size_t n;
	int what;
};

static int cur_one(struct nlmsghdr *h, void *arg)
{
	struct cur *c = arg;
	NetnsRoute *r;
	int ret;

	if (h->nlmsg_type != (c->what == ROUTE ? RTM_NEWROUTE : RTM_NEWRULE))
		return 0;
	r = pb_grow((void ***)&c->r, &c->n, sizeof(*r));
	if (!r)
		return -1;
	netns_route__init(r);
	ret = parse(h, c->what, r, 0);
	if (ret > 0 || ret < 0) {
		/* what the restore can't give back it did not make: leave it be */
		c->n--;
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	return 0;
}

static void free_current(struct cur *c)
{
	for (size_t i = 0; i < c->n; i++)
		protobuf_c_message_free_unpacked(&c->r[i]->base, NULL);
	free(c->r);
	c->r = NULL;
	c->n = 0;
}

static int read_current(struct netns_rst *rs, struct cur *c)
{
	for (int f = 0; f < 2; f++) {
		struct rtmsg rtm = { .rtm_family = f ? AF_INET6 : AF_INET };
		int err = rtnl_dump(&rs->rt, c->what == ROUTE ? RTM_GETROUTE : RTM_GETRULE, &rtm, sizeof(rtm), cur_one, c);

		if (err && err != -EAFNOSUPPORT) {
			pr_err("can't list the %ss of the new network namespace%s\n", what_name[c->what],
			       rtnl_why(&rs->rt));
			return -1;
		}
	}
	return 0;
}

static int present(const struct cur *c, const NetnsRoute *r)
{
	for (size_t i = 0; i < c->n; i++)
		if (same(c->r[i], r))
			return 1;
	return 0;
}

/* A route the kernel makes for an IPv6 address (or anycast address) of the namespace. */
static int kernel_local6(const NetnsRoute *r)
{
	return r->family == AF_INET6 && r->protocol == RTPROT_KERNEL && (r->type == RTN_LOCAL || r->type == RTN_ANYCAST);
}

static int has_gateway(const NetnsRoute *r)
{
	for (size_t i = 0; i < r->n_attrs; i++)
		if (r->attrs[i]->type == RTA_GATEWAY || r->attrs[i]->type == RTA_MULTIPATH ||
		    r->attrs[i]->type == RTA_VIA)
			return 1;
	return 0;
}

static int sync_all(struct netns_rst *rs, int what, NetnsRoute **want, size_t n_want)
{
	struct cur c = { .what = what };
	char *done = calloc(n_want + 1, 1);
	char s[160];
	int ret = -1, err = 0;
	size_t left;

	if (!done)
		return -1;
	/*
	 * IPv6 addresses get their local routes from a work queue, a moment
	 * after they are added: wait for those the dump had (a second at most).
	 */
	for (int tries = 0;; tries++) {
		size_t missing = 0;

		if (read_current(rs, &c))
			goto out;
		for (size_t j = 0; j < n_want && what == ROUTE; j++)
			if (kernel_local6(want[j]) && !present(&c, want[j]))
				missing++;
		if (!missing || tries == 100)
			break;
		free_current(&c);
		usleep(10000);
	}
	for (size_t i = 0; i < c.n; i++) {
		size_t j;

		for (j = 0; j < n_want && (done[j] || !same(c.r[i], want[j])); j++)
			;
		if (j < n_want) {
			done[j] = 1;	/* there already */
			continue;
		}
		netns_route_str(c.r[i], what == RULE, s, sizeof(s));
		pr_debug("removing the %s the kernel made (proto %u, flags %#x, %zu attributes)\n", s,
			 c.r[i]->protocol, c.r[i]->flags, c.r[i]->n_attrs);
		err = rtnl_do(&rs->rt, msg(what, what == ROUTE ? RTM_DELROUTE : RTM_DELRULE, 0, c.r[i]));
		/* gone with one removed before it (a rule's duplicate, a route of a removed address) */
		if (err && err != -ESRCH && err != -ENOENT) {
			netns_route_str(c.r[i], what == RULE, s, sizeof(s));
			pr_err("can't remove the %s the kernel made: %s%s\n", s, strerror(-err), rtnl_why(&rs->rt));
			goto out;
		}
	}
	/* routes without a gateway first; then rounds, for gateways reached through others */
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = 0; j < n_want; j++) {
			if (done[j] || (what == ROUTE && !pass && has_gateway(want[j])))
				continue;
			err = rtnl_do(&rs->rt, msg(what, what == ROUTE ? RTM_NEWROUTE : RTM_NEWRULE,
						   add_flags(what, want[j]), want[j]));
			if (!err)
				done[j] = 1;
		}
	do {
		left = 0;
		for (size_t j = 0; j < n_want; j++) {
			if (done[j])
				continue;
			err = rtnl_do(&rs->rt, msg(what, what == ROUTE ? RTM_NEWROUTE : RTM_NEWRULE,
						   add_flags(what, want[j]), want[j]));
			if (!err) {
				done[j] = 1;
				left++;
			}
		}
	} while (left);
	for (size_t j = 0; j < n_want; j++)
		if (!done[j]) {
			netns_route_str(want[j], what == RULE, s, sizeof(s));
			/* the error is what adding it gives now */
			err = rtnl_do(&rs->rt, msg(what, what == ROUTE ? RTM_NEWROUTE : RTM_NEWRULE,
						   add_flags(what, want[j]), want[j]));
			pr_err("can't add the %s: %s%s\n", s, strerror(err ? -err : EINVAL), rtnl_why(&rs->rt));
			goto out;
		}
	ret = 0;
out:
	free_current(&c);
	free(done);
	return ret;
}

int netns_routes_restore(struct netns_rst *r)
{
	return sync_all(r, ROUTE, r->ne->routes, r->ne->n_routes);
}

int netns_rules_restore(struct netns_rst *r)
{
	return sync_all(r, RULE, r->ne->rules, r->ne->n_rules);
}
