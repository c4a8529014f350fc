/*
 * Links of the namespace whose other end is outside it: a veth whose peer
 * is in another namespace (a container's eth0 and the host's vethXXX on a
 * bridge), a macvlan on a device outside. The dump saves only the inside
 * end; restore makes them from criu's own namespace as the caller says:
 *
 *   --external veth[IN]:OUT[@BRIDGE]   the pair, OUT here (attached to
 *                                      BRIDGE, up), IN in the namespace
 *   --external macvlan[IN]:OUT         IN in the namespace, on OUT here
 *   --veth-pair IN=OUT[@BRIDGE]        the older spelling of the first
 *
 * Without one for such a link the restore is refused by name. A failed
 * restore removes the OUT ends it made.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "netns.h"

#define MAX_EXT 64

static struct ext_link {
	char kind[8];		/* "veth", "macvlan" */
	char in[IFNAMSIZ], out[IFNAMSIZ], bridge[IFNAMSIZ];
	int made;		/* OUT made here by this restore (veth) */
} ext[MAX_EXT];
static int nr_ext;

int netns_is_ext_arg(const char *arg)
{
	return !strncmp(arg, "veth[", 5) || !strncmp(arg, "macvlan[", 8);
}

static int name_ok(const char *s, size_t len)
{
	return len > 0 && len < IFNAMSIZ && !memchr(s, '/', len) && !memchr(s, ' ', len);
}

int netns_ext_add(const char *arg)
{
	const char *br = strchr(arg, '['), *close = br ? strstr(br, "]:") : NULL, *out, *at;
	struct ext_link *e = &ext[nr_ext];
	size_t kl = br ? (size_t)(br - arg) : 0;

	if (!close || !name_ok(br + 1, close - br - 1))
		goto bad;
	out = close + 2;
	at = strchr(out, '@');
	if (!name_ok(out, at ? (size_t)(at - out) : strlen(out)) || (at && !name_ok(at + 1, strlen(at + 1))))
		goto bad;
	if (at && strncmp(arg, "veth", kl))
		goto bad;
	if (nr_ext == MAX_EXT) {
		pr_err("too many --external links (at most %d)\n", MAX_EXT);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->kind, sizeof(e->kind), "%.*s", (int)kl, arg);
	snprintf(e->in, sizeof(e->in), "%.*s", (int)(close - br - 1), br + 1);
	snprintf(e->out, sizeof(e->out), "%.*s", (int)(at ? at - out : (long)strlen(out)), out);
	if (at)
		snprintf(e->bridge, sizeof(e->bridge), "%s", at + 1);
	for (int i = 0; i < nr_ext; i++)
		if (!strcmp(ext[i].in, e->in)) {
			pr_err("--external %s: link %s given twice\n", arg, e->in);
			return -1;
		}
	nr_ext++;
	return 0;
bad:
	pr_err("bad --external '%s': expected veth[IN]:OUT[@BRIDGE] or macvlan[IN]:OUT (link names)\n", arg);
	return -1;
}

static struct ext_link *find(const NetnsLink *l)
{
	for (int i = 0; i < nr_ext; i++)
		if (!strcmp(ext[i].in, l->name) && !strcmp(ext[i].kind, l->kind))
			return &ext[i];
	return NULL;
}

static int err(const char *what, const char *name, int e, struct rtnl *r)
{
	pr_err("can't %s %s: %s%s\n", what, name, strerror(-e), rtnl_why(r));
	return -1;
}

static int up_on_bridge(struct rtnl *r, struct ext_link *e)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = if_nametoindex(e->out),
				 .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nl_msg *m;
	int ret;

	if (!ifi.ifi_index) {
		pr_perror("can't find %s", e->out);
		return -1;
	}
	m = rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (e->bridge[0]) {
		unsigned br = if_nametoindex(e->bridge);

		if (!br) {
			nlmsg_free(m);
			pr_perror("--external veth[%s]:%s@%s: no bridge %s here", e->in, e->out, e->bridge, e->bridge);
			return -1;
		}
		if (m && nla_put_u32(m, IFLA_MASTER, br) < 0) {
			nlmsg_free(m);
			m = NULL;
		}
	}
	if (!m)
		return -1;
	ret = rtnl_do(r, m);
	return ret ? err(e->bridge[0] ? "attach to its bridge and bring up" : "bring up", e->out, ret, r) : 0;
}

static int make_veth(struct rtnl *r, const NetnsLink *l, struct ext_link *e, int nsfd)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *m = rtnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	struct nlattr *info, *data;
	int ret;

	if (!m || nla_put_string(m, IFLA_IFNAME, e->out) < 0 || !(info = nla_nest_start(m, IFLA_LINKINFO)) ||
	    nla_put_string(m, IFLA_INFO_KIND, "veth") < 0 || !(data = nla_nest_start(m, IFLA_INFO_DATA)) ||
	    netns_put_veth_peer(m, l, nsfd)) {
		nlmsg_free(m);
		pr_err("out of memory\n");
		return -1;
	}
	nla_nest_end(m, data);
	nla_nest_end(m, info);
	ret = rtnl_do(r, m);
	if (ret)
		return err("make the veth pair", e->out, ret, r);
	e->made = 1;
	return up_on_bridge(r, e);
}

static int make_macvlan(struct rtnl *r, const NetnsLink *l, struct ext_link *e, int nsfd)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex };
	unsigned lower = if_nametoindex(e->out);
	struct nl_msg *m;
	struct nlattr *info, *data;
	int ret;

	if (!lower) {
		pr_perror("--external macvlan[%s]:%s: no device %s here", e->in, e->out, e->out);
		return -1;
	}
	m = rtnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	if (!m || nla_put_string(m, IFLA_IFNAME, l->name) < 0 || nla_put_u32(m, IFLA_LINK, lower) < 0 ||
	    nla_put_u32(m, IFLA_NET_NS_FD, nsfd) < 0 ||
	    (l->has_address && nla_put(m, IFLA_ADDRESS, l->address.len, l->address.data) < 0) ||
	    (l->has_mtu && nla_put_u32(m, IFLA_MTU, l->mtu) < 0) || !(info = nla_nest_start(m, IFLA_LINKINFO)) ||
	    nla_put_string(m, IFLA_INFO_KIND, "macvlan") < 0 || !(data = nla_nest_start(m, IFLA_INFO_DATA)))
		goto nomem;
	for (size_t i = 0; i < l->n_info_data; i++)
		if (nla_put(m, l->info_data[i]->type, l->info_data[i]->value.len, l->info_data[i]->value.data) < 0)
			goto nomem;
	nla_nest_end(m, data);
	nla_nest_end(m, info);
	ret = rtnl_do(r, m);
	return ret ? err("make the macvlan", l->name, ret, r) : 0;
nomem:
	nlmsg_free(m);
	pr_err("out of memory\n");
	return -1;
}

int netns_ext_links_make(const NetnsEntry *ne, int nsfd)
{
	struct rtnl r;
	int ret = 0;

	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];

		if (l->link_outside && !find(l)) {
			pr_err("link %s (%s, ifindex %u) has its %s outside the network namespace (%s at dump): restore "
			       "needs --external %s[%s]:%s\n", l->name, l->kind, l->ifindex,
			       strcmp(l->kind, "veth") ? "lower device" : "peer", l->outside_name ? l->outside_name : "?",
			       l->kind, l->name, strcmp(l->kind, "veth") ? "DEVICE" : "NAME[@BRIDGE]");
			return -1;
		}
	}
	if (rtnl_open(&r))
		return -1;
	for (size_t i = 0; i < ne->n_links && !ret; i++) {
		const NetnsLink *l = ne->links[i];
		struct ext_link *e;

		if (!l->link_outside)
			continue;
		e = find(l);
		ret = !strcmp(l->kind, "veth") ? make_veth(&r, l, e, nsfd) : make_macvlan(&r, l, e, nsfd);
		if (!ret)
			pr_info("made %s %s in the namespace, on %s%s%s here\n", l->kind, l->name, e->out,
				e->bridge[0] ? "@" : "", e->bridge);
	}
	rtnl_close(&r);
	return ret;
}

void netns_ext_links_undo(void)
{
	struct rtnl r;

	if (rtnl_open(&r))
		return;
	for (int i = 0; i < nr_ext; i++) {
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
		struct nl_msg *m;

		if (!ext[i].made)
			continue;
		ext[i].made = 0;
		m = rtnl_msg(RTM_DELLINK, 0, &ifi, sizeof(ifi));
		if (m && nla_put_string(m, IFLA_IFNAME, ext[i].out) >= 0) {
			int ret = rtnl_do(&r, m);

			if (ret && ret != -ENODEV)
				pr_warn("can't remove %s made for the restore: %s\n", ext[i].out, strerror(-ret));
		} else {
			nlmsg_free(m);
		}
	}
	rtnl_close(&r);
}
