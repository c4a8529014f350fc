/*
 * The network namespace's links: loopback, veth pairs (both ends inside,
 * or one outside: net-ext.c), bridges with their ports, macvlan, tun/tap,
 * ifb and dummy devices. Each comes back with its ifindex (addresses,
 * routes, neighbours and sockets refer to it), name, MTU, hardware
 * address, flags, master and the settings of its kind (IFLA_INFO_DATA and
 * a bridge port's IFLA_INFO_SLAVE_DATA, given back as the kernel gave
 * them, less what it computes). Any other kind is refused by name.
 *
 * Restore makes every link down first, in an order where a macvlan's
 * lower device is there before it; tun/tap devices are made (persistent
 * for the while: tun_restore_persist() gives them back their
 * persistence once the tasks' fds are attached) in a namespace of their
 * own and moved in with their ifindex, since TUNSETIFF can't choose one.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "log.h"
#include "namespaces.h"
#include "netns.h"
#include "util.h"

#define IFLA_BR_MCAST_QUERIER_STATE_	47
#define IFLA_BR_FDB_N_LEARNED_		48
#define IFLA_BRPORT_MCAST_N_GROUPS_	41
#define IFLA_MACVLAN_BC_QUEUE_LEN_USED_	8
#ifndef IFLA_NEW_IFINDEX
#define IFLA_NEW_IFINDEX 49
#endif

/* Flags a user sets (dev_change_flags takes them); the rest are the device's state. */
#define USER_FLAGS (IFF_UP | IFF_DEBUG | IFF_NOTRAILERS | IFF_NOARP | IFF_DYNAMIC | IFF_MULTICAST | \
		    IFF_PORTSEL | IFF_AUTOMEDIA | IFF_PROMISC | IFF_ALLMULTI)

/* What the kernel reports but computes (timers, ids, counters): not given back. */
static int computed_info(const char *kind, int type)
{
	if (!strcmp(kind, "bridge"))
		return (type >= IFLA_BR_ROOT_ID && type <= IFLA_BR_GC_TIMER) || type == IFLA_BR_FDB_FLUSH ||
		       type == IFLA_BR_PAD || type == IFLA_BR_MCAST_HASH_ELASTICITY ||
		       type == IFLA_BR_MCAST_QUERIER_STATE_ || type == IFLA_BR_FDB_N_LEARNED_;
	if (!strcmp(kind, "macvlan"))
		return type == IFLA_MACVLAN_MACADDR_COUNT || type == IFLA_MACVLAN_BC_QUEUE_LEN_USED_;
	return 0;
}

static int computed_port(int type)
{
	/* STP's own values and counters (the state is set once the port is up: net_link_port_states()) */
	return (type >= IFLA_BRPORT_ROOT_ID && type <= IFLA_BRPORT_FLUSH) ||
	       type == IFLA_BRPORT_PAD || type == IFLA_BRPORT_MRP_RING_OPEN || type == IFLA_BRPORT_MRP_IN_OPEN ||
	       type == IFLA_BRPORT_MCAST_EHT_HOSTS_CNT || type == IFLA_BRPORT_MCAST_N_GROUPS_;
}

static const char *const simple_kinds[] = { "veth", "bridge", "macvlan", "tun", "ifb", "dummy" };

static int kind_supported(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(simple_kinds); i++)
		if (!strcmp(kind, simple_kinds[i]))
			return 1;
	return 0;
}

const NetnsLink *netns_link_by_index(const NetnsEntry *ne, uint32_t ifindex)
{
	for (size_t i = 0; i < ne->n_links; i++)
		if (ne->links[i]->ifindex == ifindex)
			return ne->links[i];
	return NULL;
}

/* ---- dump ---- */

static int save_attrs(struct nlattr *nest, NetnsAttr ***out, size_t *n, int (*skip)(const char *, int),
		      const char *kind)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, nest, rem) {
		NetnsAttr *na;

		if (skip(kind, nla_type(a)))
			continue;
		na = netns_attr_new(nla_type(a), nla_data(a), nla_len(a));
		if (!na)
			return -1;
		NetnsAttr **arr = realloc(*out, (*n + 1) * sizeof(*arr));

		if (!arr) {
			free(na->value.data);
			free(na);
			pr_err("out of memory\n");
			return -1;
		}
		*out = arr;
		arr[(*n)++] = na;
	}
	return 0;
}

static int skip_port(const char *kind, int type)
{
	(void)kind;
	return computed_port(type);
}

static int bytes_dup(ProtobufCBinaryData *b, protobuf_c_boolean *has, struct nlattr *a)
{
	if (!a)
		return 0;
	b->data = malloc(nla_len(a) ? nla_len(a) : 1);
	if (!b->data) {
		pr_err("out of memory\n");
		return -1;
	}
	memcpy(b->data, nla_data(a), nla_len(a));
	b->len = nla_len(a);
	*has = true;
	return 0;
}

/* The name of the device at @ifindex in the namespace the kernel calls @nsid from here. */
static void outside_name(struct rtnl *r, uint32_t ifindex, int32_t nsid, char *buf, size_t size);

static int dump_tun(struct netns_dump *d, NetnsLink *l, struct nlattr *data)
{
	struct nlattr *tb[IFLA_TUN_MAX + 1] = {};
	NetnsTun *t;

	if (!data || nla_parse_nested(tb, IFLA_TUN_MAX, data, NULL) < 0 || !tb[IFLA_TUN_TYPE]) {
		pr_err("can't dump the network namespace of %d: no tun settings for %s\n", d->pid, l->name);
		return -1;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		pr_err("out of memory\n");
		return -1;
	}
	netns_tun__init(t);
	l->tun = t;
	t->flags = nla_get_u8(tb[IFLA_TUN_TYPE]) & (IFF_TUN | IFF_TAP);
	if (tb[IFLA_TUN_PI] && !nla_get_u8(tb[IFLA_TUN_PI]))
		t->flags |= IFF_NO_PI;
	if (tb[IFLA_TUN_VNET_HDR] && nla_get_u8(tb[IFLA_TUN_VNET_HDR]))
		t->flags |= IFF_VNET_HDR;
	if (tb[IFLA_TUN_MULTI_QUEUE] && nla_get_u8(tb[IFLA_TUN_MULTI_QUEUE]))
		t->flags |= IFF_MULTI_QUEUE;
	t->persist = tb[IFLA_TUN_PERSIST] && nla_get_u8(tb[IFLA_TUN_PERSIST]);
	t->has_owner = t->has_group = true;
	t->owner = tb[IFLA_TUN_OWNER] ? (int64_t)nla_get_u32(tb[IFLA_TUN_OWNER]) : -1;
	t->group = tb[IFLA_TUN_GROUP] ? (int64_t)nla_get_u32(tb[IFLA_TUN_GROUP]) : -1;
	t->has_queues = true;
	t->queues = tb[IFLA_TUN_NUM_QUEUES] ? nla_get_u32(tb[IFLA_TUN_NUM_QUEUES]) : 0;
	if (tb[IFLA_TUN_NUM_DISABLED_QUEUES] && nla_get_u32(tb[IFLA_TUN_NUM_DISABLED_QUEUES])) {
		pr_err("can't dump the network namespace of %d: tun device %s has %u queues detached "
		       "(TUNSETQUEUE); they can't be told apart at restore\n", d->pid, l->name,
		       nla_get_u32(tb[IFLA_TUN_NUM_DISABLED_QUEUES]));
		return -1;
	}
	return 0;
}

static int dump_kind(struct netns_dump *d, NetnsLink *l, struct nlattr **tb, struct ifinfomsg *ifi)
{
	struct nlattr *li[IFLA_INFO_MAX + 1] = {};

	if (!tb[IFLA_LINKINFO]) {
		if (ifi->ifi_type == ARPHRD_LOOPBACK) {
			l->kind = strdup("loopback");
			return l->kind ? 0 : -1;
		}
		pr_err("can't dump the network namespace of %d: link %s (ifindex %d) has no kind (a physical "
		       "device?); criu can't make it again\n", d->pid, l->name, ifi->ifi_index);
		return -1;
	}
	if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 || !li[IFLA_INFO_KIND]) {
		pr_err("can't dump the network namespace of %d: link %s has no kind\n", d->pid, l->name);
		return -1;
	}
	l->kind = strndup(nla_data(li[IFLA_INFO_KIND]), nla_len(li[IFLA_INFO_KIND]));
	if (!l->kind)
		return -1;
	if (!kind_supported(l->kind)) {
		pr_err("can't dump the network namespace of %d: link %s (ifindex %d) is of kind %s, which criu "
		       "can't make again\n", d->pid, l->name, ifi->ifi_index, l->kind);
		return -1;
	}
	if (!strcmp(l->kind, "tun") && dump_tun(d, l, li[IFLA_INFO_DATA]))
		return -1;
	if (li[IFLA_INFO_DATA] && strcmp(l->kind, "tun") &&
	    save_attrs(li[IFLA_INFO_DATA], &l->info_data, &l->n_info_data, computed_info, l->kind))
		return -1;
	if (li[IFLA_INFO_SLAVE_KIND]) {
		l->slave_kind = strndup(nla_data(li[IFLA_INFO_SLAVE_KIND]), nla_len(li[IFLA_INFO_SLAVE_KIND]));
		if (!l->slave_kind)
			return -1;
		if (strcmp(l->slave_kind, "bridge")) {
			pr_err("can't dump the network namespace of %d: link %s is a port of a %s, which criu can't "
			       "make again\n", d->pid, l->name, l->slave_kind);
			return -1;
		}
		if (li[IFLA_INFO_SLAVE_DATA] &&
		    save_attrs(li[IFLA_INFO_SLAVE_DATA], &l->slave_data, &l->n_slave_data, skip_port, NULL))
			return -1;
	}
	return 0;
}

static int check_kind_data(struct netns_dump *d, NetnsLink *l)
{
	for (size_t i = 0; i < l->n_info_data; i++) {
		NetnsAttr *a = l->info_data[i];

		if (!strcmp(l->kind, "bridge") && a->type == IFLA_BR_VLAN_FILTERING && a->value.len >= 1 &&
		    a->value.data[0]) {
			pr_err("can't dump the network namespace of %d: bridge %s filters by VLAN; its VLAN tables "
			       "are not saved\n", d->pid, l->name);
			return -1;
		}
		if (!strcmp(l->kind, "macvlan") && a->type == IFLA_MACVLAN_MODE && a->value.len >= 4 &&
		    *(uint32_t *)a->value.data == MACVLAN_MODE_SOURCE) {
			pr_err("can't dump the network namespace of %d: macvlan %s is in source mode; its source "
			       "address list is not saved\n", d->pid, l->name);
			return -1;
		}
	}
	return 0;
}

static int dump_af_spec(NetnsLink *l, struct nlattr *spec)
{
	struct nlattr *af;
	int rem;

	nla_for_each_nested(af, spec, rem) {
		struct nlattr *t[IFLA_INET6_MAX + 1] = {};
		static const uint8_t zero[16];

		if (nla_type(af) != AF_INET6 || nla_parse_nested(t, IFLA_INET6_MAX, af, NULL) < 0)
			continue;
		if (t[IFLA_INET6_ADDR_GEN_MODE]) {
			l->has_addr_gen_mode = true;
			l->addr_gen_mode = nla_get_u8(t[IFLA_INET6_ADDR_GEN_MODE]);
		}
		if (t[IFLA_INET6_TOKEN] && nla_len(t[IFLA_INET6_TOKEN]) == 16 &&
		    memcmp(nla_data(t[IFLA_INET6_TOKEN]), zero, 16) &&
		    bytes_dup(&l->inet6_token, &l->has_inet6_token, t[IFLA_INET6_TOKEN]))
			return -1;
	}
	return 0;
}

static int dump_altnames(NetnsLink *l, struct nlattr *list)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, list, rem) {
		char **arr;

		if (nla_type(a) != IFLA_ALT_IFNAME)
			continue;
		arr = realloc(l->altnames, (l->n_altnames + 1) * sizeof(*arr));
		if (!arr)
			return -1;
		l->altnames = arr;
		arr[l->n_altnames] = strndup(nla_data(a), nla_len(a));
		if (!arr[l->n_altnames])
			return -1;
		l->n_altnames++;
	}
	return 0;
}

static int link_one(struct nlmsghdr *h, void *arg)
{
	struct netns_dump *d = arg;
	struct ifinfomsg *ifi = nlmsg_data(h);
	struct nlattr *tb[IFLA_MAX + 1] = {};
	NetnsLink *l;

	if (h->nlmsg_type != RTM_NEWLINK || nlmsg_parse(h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 ||
	    !tb[IFLA_IFNAME]) {
		pr_err("a bad link message from rtnetlink\n");
		return -1;
	}
	l = pb_grow((void ***)&d->ne->links, &d->ne->n_links, sizeof(*l));
	if (!l)
		return -1;
	netns_link__init(l);
	l->ifindex = ifi->ifi_index;
	l->name = strdup(nla_get_string(tb[IFLA_IFNAME]));
	l->flags = ifi->ifi_flags & USER_FLAGS;
	if (!l->name)
		return -1;
	if (tb[IFLA_XDP]) {
		struct nlattr *x[IFLA_XDP_MAX + 1] = {};

		if (nla_parse_nested(x, IFLA_XDP_MAX, tb[IFLA_XDP], NULL) >= 0 && x[IFLA_XDP_ATTACHED] &&
		    nla_get_u8(x[IFLA_XDP_ATTACHED]) != XDP_ATTACHED_NONE) {
			pr_err("can't dump the network namespace of %d: link %s has an XDP program attached\n",
			       d->pid, l->name);
			return -1;
		}
	}
	if (tb[IFLA_PROTO_DOWN] && nla_get_u8(tb[IFLA_PROTO_DOWN])) {
		pr_err("can't dump the network namespace of %d: link %s is protodown\n", d->pid, l->name);
		return -1;
	}
	if (dump_kind(d, l, tb, ifi) || check_kind_data(d, l))
		return -1;
#define U32(attr, field)                                      \
	if (tb[attr]) {                                       \
		l->has_##field = true;                        \
		l->field = nla_get_u32(tb[attr]);             \
	}
	U32(IFLA_MTU, mtu);
	U32(IFLA_MASTER, master);
	U32(IFLA_TXQLEN, txqlen);
	U32(IFLA_GROUP, group);
	U32(IFLA_NUM_TX_QUEUES, num_tx_queues);
	U32(IFLA_NUM_RX_QUEUES, num_rx_queues);
	U32(IFLA_GSO_MAX_SIZE, gso_max_size);
	U32(IFLA_GSO_MAX_SEGS, gso_max_segs);
	U32(IFLA_GRO_MAX_SIZE, gro_max_size);
#undef U32
	if (tb[IFLA_LINKMODE]) {
		l->has_linkmode = true;
		l->linkmode = nla_get_u8(tb[IFLA_LINKMODE]);
	}
	/* a tun device's carrier is the user's (and its fds'): the fds' restore sets it (tun.c) */
	if (tb[IFLA_CARRIER] && !strcmp(l->kind, "tun")) {
		l->has_carrier = true;
		l->carrier = nla_get_u8(tb[IFLA_CARRIER]);
	}
	if (l->tun && net_tun_dev_seen(l->name, l->tun->persist, l->tun->queues, !l->has_carrier || l->carrier))
		return -1;
	if (bytes_dup(&l->address, &l->has_address, tb[IFLA_ADDRESS]) ||
	    bytes_dup(&l->broadcast, &l->has_broadcast, tb[IFLA_BROADCAST]))
		return -1;
	if (tb[IFLA_IFALIAS] && nla_len(tb[IFLA_IFALIAS]) > 1 && !(l->alias = strdup(nla_get_string(tb[IFLA_IFALIAS]))))
		return -1;
	if (tb[IFLA_AF_SPEC] && dump_af_spec(l, tb[IFLA_AF_SPEC]))
		return -1;
	if (tb[IFLA_PROP_LIST] && dump_altnames(l, tb[IFLA_PROP_LIST]))
		return -1;
	if (tb[IFLA_LINK] && (!strcmp(l->kind, "veth") || !strcmp(l->kind, "macvlan"))) {
		l->has_link = true;
		l->link = nla_get_u32(tb[IFLA_LINK]);
		if (tb[IFLA_LINK_NETNSID]) {
			int32_t *ids = realloc(d->outside_nsid, d->ne->n_links * sizeof(*ids));

			if (!ids)
				return -1;
			d->outside_nsid = ids;
			/* named once the dump is read: a request now would take its answers */
			ids[d->ne->n_links - 1] = nla_get_s32(tb[IFLA_LINK_NETNSID]);
			l->has_link_outside = l->link_outside = true;
		}
	} else if (tb[IFLA_LINK_NETNSID]) {
		pr_err("can't dump the network namespace of %d: link %s (%s) refers to a device in another "
		       "namespace\n", d->pid, l->name, l->kind);
		return -1;
	}
	return 0;
}

struct name_req {
	char *buf;
	size_t size;
	uint32_t master;
};

static int name_one(struct nlmsghdr *h, void *arg)
{
	struct name_req *q = arg;
	struct nlattr *tb[IFLA_MAX + 1] = {};

	if (h->nlmsg_type == RTM_NEWLINK && nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) >= 0 &&
	    tb[IFLA_IFNAME]) {
		snprintf(q->buf, q->size, "%s", nla_get_string(tb[IFLA_IFNAME]));
		q->master = tb[IFLA_MASTER] ? nla_get_u32(tb[IFLA_MASTER]) : 0;
	}
	return 0;
}

static int get_link(struct rtnl *r, uint32_t ifindex, int32_t nsid, struct name_req *q)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_msg *m = rtnl_msg(RTM_GETLINK, 0, &ifi, sizeof(ifi));

	if (!m || nla_put_s32(m, IFLA_TARGET_NETNSID, nsid) < 0) {
		nlmsg_free(m);
		return -1;
	}
	return rtnl_req(r, m, name_one, q);
}

static void outside_name(struct rtnl *r, uint32_t ifindex, int32_t nsid, char *buf, size_t size)
{
	char master[IFNAMSIZ] = "";
	struct name_req q = { .buf = buf, .size = size }, qm = { .buf = master, .size = sizeof(master) };

	snprintf(buf, size, "ifindex %u", ifindex);
	if (get_link(r, ifindex, nsid, &q) || !q.master)
		return;
	if (!get_link(r, q.master, nsid, &qm) && master[0])
		snprintf(buf + strlen(buf), size - strlen(buf), "@%s", master);
}

/*
 * What a new bridge, macvlan and bridge port have: only settings that
 * differ from them are kept (a kernel built without some feature refuses
 * its attribute even at its default value: vlan_filtering 0, say).
 */
enum { P_BRIDGE, P_MACVLAN, P_PORT, P_NR };
static const char *const probe_names[P_NR] = { "criu-pbr", "criu-pmv", "criu-pv1" };

struct blob {
	uint8_t *data;
	uint32_t len;
};

static int blob_one(struct nlmsghdr *h, void *arg)
{
	struct blob *b = arg;
	struct nlattr *tb[IFLA_MAX + 1] = {}, *li[IFLA_INFO_MAX + 1] = {}, *a;

	if (h->nlmsg_type != RTM_NEWLINK || nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 ||
	    !tb[IFLA_LINKINFO] || nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0)
		return 0;
	a = li[IFLA_INFO_SLAVE_DATA] ? li[IFLA_INFO_SLAVE_DATA] : li[IFLA_INFO_DATA];
	if (!a)
		return 0;
	b->data = malloc(nla_len(a));
	if (!b->data)
		return -1;
	memcpy(b->data, nla_data(a), nla_len(a));
	b->len = nla_len(a);
	return 0;
}

static int probe_cmd(struct rtnl *r, const char *argv_kind, const char *name, const char *peer, int link)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *m = rtnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	struct nlattr *info, *data, *pe;

	if (!m || nla_put_string(m, IFLA_IFNAME, name) < 0 || (link && nla_put_u32(m, IFLA_LINK, link) < 0) ||
	    !(info = nla_nest_start(m, IFLA_LINKINFO)) || nla_put_string(m, IFLA_INFO_KIND, argv_kind) < 0)
		goto err;
	if (peer) {
		struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };

		if (!(data = nla_nest_start(m, IFLA_INFO_DATA)) || !(pe = nla_nest_start(m, VETH_INFO_PEER)) ||
		    nlmsg_append(m, &pi, sizeof(pi), NLMSG_ALIGNTO) < 0 || nla_put_string(m, IFLA_IFNAME, peer) < 0)
			goto err;
		nla_nest_end(m, pe);
		nla_nest_end(m, data);
	}
	nla_nest_end(m, info);
	return rtnl_do(r, m);
err:
	nlmsg_free(m);
	return -1;
}

static int probe_in_child(int wfd)
{
	struct rtnl r;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *m;

	if (rtnl_open(&r) || probe_cmd(&r, "bridge", "criu-pbr", NULL, 0) ||
	    probe_cmd(&r, "veth", "criu-pv0", "criu-pv1", 0) ||
	    probe_cmd(&r, "macvlan", "criu-pmv", NULL, if_nametoindex("criu-pv0")))
		return -1;
	ifi.ifi_index = if_nametoindex("criu-pv1");
	m = rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (!m || nla_put_u32(m, IFLA_MASTER, if_nametoindex("criu-pbr")) < 0 || rtnl_do(&r, m))
		return -1;
	for (int i = 0; i < P_NR; i++) {
		struct ifinfomsg q = { .ifi_family = AF_UNSPEC, .ifi_index = if_nametoindex(probe_names[i]) };
		struct blob b = {};

		m = rtnl_msg(RTM_GETLINK, 0, &q, sizeof(q));
		if (!m || rtnl_req(&r, m, blob_one, &b) || write(wfd, &b.len, 4) != 4 ||
		    (b.len && write(wfd, b.data, b.len) != (ssize_t)b.len))
			return -1;
		free(b.data);
	}
	return 0;
}

static int probe_defaults(struct blob *out)
{
	int p[2], status, nsfd = net_ns_new(0), ret = -1;
	pid_t pid;

	if (nsfd < 0 || pipe2(p, O_CLOEXEC)) {
		if (nsfd >= 0)
			close(nsfd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(setns(nsfd, CLONE_NEWNET) || probe_in_child(p[1]) ? 1 : 0);
	}
	close(p[1]);
	close(nsfd);
	for (int i = 0; pid > 0 && i < P_NR; i++) {
		if (read(p[0], &out[i].len, 4) != 4 || out[i].len > (1 << 16))
			goto out;
		out[i].data = malloc(out[i].len + 1);
		if (!out[i].data || (out[i].len && read(p[0], out[i].data, out[i].len) != (ssize_t)out[i].len))
			goto out;
	}
	ret = 0;
out:
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		ret = -1;
	if (ret)
		pr_err("can't make the devices a new network namespace has, to compare with\n");
	return ret;
}

static int same_as_default(const NetnsAttr *a, const struct blob *b)
{
	struct nlattr *x;
	int rem;

	nla_for_each_attr(x, (struct nlattr *)b->data, b->len, rem)
		if (nla_type(x) == (int)a->type)
			return (size_t)nla_len(x) == a->value.len && !memcmp(nla_data(x), a->value.data, a->value.len);
	return 0;
}

static void keep_changed(NetnsAttr **a, size_t *n, const struct blob *b)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		if (same_as_default(a[i], b))
			protobuf_c_message_free_unpacked(&a[i]->base, NULL);
		else
			a[k++] = a[i];
	}
	*n = k;
}

static int drop_defaults(NetnsEntry *ne)
{
	struct blob def[P_NR] = {};
	int need = 0;

	for (size_t i = 0; i < ne->n_links; i++)
		need |= ne->links[i]->n_info_data || ne->links[i]->n_slave_data;
	if (!need)
		return 0;
	if (probe_defaults(def))
		goto out;
	for (size_t i = 0; i < ne->n_links; i++) {
		NetnsLink *l = ne->links[i];

		if (!strcmp(l->kind, "bridge"))
			keep_changed(l->info_data, &l->n_info_data, &def[P_BRIDGE]);
		if (!strcmp(l->kind, "macvlan"))
			keep_changed(l->info_data, &l->n_info_data, &def[P_MACVLAN]);
		if (l->slave_kind)
			keep_changed(l->slave_data, &l->n_slave_data, &def[P_PORT]);
	}
	need = 0;
out:
	for (int i = 0; i < P_NR; i++)
		free(def[i].data);
	return need ? -1 : 0;
}

int netns_links_dump(struct netns_dump *d)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int ret = rtnl_dump(&d->rt, RTM_GETLINK, &ifi, sizeof(ifi), link_one, d);

	if (ret) {
		if (ret != -1)
			pr_err("can't list the links of the network namespace of %d: %s\n", d->pid, strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < d->ne->n_links; i++) {
		NetnsLink *l = d->ne->links[i];
		char name[IFNAMSIZ + 32];

		if (!l->link_outside)
			continue;
		outside_name(&d->rt, l->link, d->outside_nsid[i], name, sizeof(name));
		l->outside_name = strdup(name);
		if (!l->outside_name)
			return -1;
	}
	for (size_t i = 0; i < d->ne->n_links; i++) {
		NetnsLink *l = d->ne->links[i];
		const NetnsLink *m = l->has_master ? netns_link_by_index(d->ne, l->master) : NULL;

		if (l->has_master && (!m || strcmp(m->kind, "bridge"))) {
			pr_err("can't dump the network namespace of %d: link %s has a master (ifindex %u) that is "
			       "not a bridge of the namespace\n", d->pid, l->name, l->master);
			return -1;
		}
		if (l->has_link && !l->link_outside && !netns_link_by_index(d->ne, l->link)) {
			pr_err("can't dump the network namespace of %d: link %s refers to ifindex %u, which is not "
			       "in the namespace\n", d->pid, l->name, l->link);
			return -1;
		}
	}
	return drop_defaults(d->ne);
}

/* ---- restore ---- */

static int put_attrs(struct nl_msg *m, int type, NetnsAttr **a, size_t n)
{
	struct nlattr *nest = nla_nest_start(m, type);

	if (!nest)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (nla_put(m, a[i]->type, a[i]->value.len, a[i]->value.data) < 0)
			return -1;
	nla_nest_end(m, nest);
	return 0;
}

static int is_bcast_default(const NetnsLink *l)
{
	for (size_t i = 0; i < l->broadcast.len; i++)
		if (l->broadcast.data[i] != 0xff)
			return 0;
	return 1;
}

/* What every link has: for a new one, and for one that exists already (lo, tun, made from outside). */
static int put_common(struct nl_msg *m, const NetnsLink *l, int create)
{
	int own_mac = strcmp(l->kind, "bridge") && strcmp(l->kind, "loopback");

	if (nla_put_string(m, IFLA_IFNAME, l->name) < 0 || (l->has_mtu && nla_put_u32(m, IFLA_MTU, l->mtu) < 0) ||
	    (l->has_txqlen && nla_put_u32(m, IFLA_TXQLEN, l->txqlen) < 0) ||
	    (l->has_group && nla_put_u32(m, IFLA_GROUP, l->group) < 0) ||
	    (l->has_gso_max_size && nla_put_u32(m, IFLA_GSO_MAX_SIZE, l->gso_max_size) < 0) ||
	    (l->has_gso_max_segs && nla_put_u32(m, IFLA_GSO_MAX_SEGS, l->gso_max_segs) < 0) ||
	    (l->has_gro_max_size && nla_put_u32(m, IFLA_GRO_MAX_SIZE, l->gro_max_size) < 0))
		return -1;
	/* a bridge's address follows its ports' unless it was set: checked once they are in */
	if (own_mac && l->has_address && nla_put(m, IFLA_ADDRESS, l->address.len, l->address.data) < 0)
		return -1;
	if (own_mac && l->has_broadcast && !is_bcast_default(l) &&
	    nla_put(m, IFLA_BROADCAST, l->broadcast.len, l->broadcast.data) < 0)
		return -1;
	if (create && ((l->has_num_tx_queues && nla_put_u32(m, IFLA_NUM_TX_QUEUES, l->num_tx_queues) < 0) ||
		       (l->has_num_rx_queues && nla_put_u32(m, IFLA_NUM_RX_QUEUES, l->num_rx_queues) < 0)))
		return -1;
	return 0;
}

/* The inner end of a veth, as its VETH_INFO_PEER (also for one made from outside: net-ext.c). */
int netns_put_veth_peer(struct nl_msg *m, const NetnsLink *peer, int nsfd)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = peer->ifindex };
	struct nlattr *p = nla_nest_start(m, VETH_INFO_PEER);

	if (!p || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 || put_common(m, peer, 1) < 0 ||
	    (nsfd >= 0 && nla_put_u32(m, IFLA_NET_NS_FD, nsfd) < 0))
		return -1;
	nla_nest_end(m, p);
	return 0;
}

static int link_err(const char *what, const NetnsLink *l, int err, struct rtnl *r)
{
	pr_err("can't %s link %s (%s, ifindex %u): %s%s\n", what, l->name, l->kind, l->ifindex, strerror(-err),
	       rtnl_why(r));
	return -1;
}

static int make_link(struct netns_rst *r, const NetnsLink *l)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex };
	struct nl_msg *m = rtnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	struct nlattr *info, *data;
	int err;

	if (!m || put_common(m, l, 1) < 0 || (!strcmp(l->kind, "macvlan") && nla_put_u32(m, IFLA_LINK, l->link) < 0))
		goto nomem;
	info = nla_nest_start(m, IFLA_LINKINFO);
	if (!info || nla_put_string(m, IFLA_INFO_KIND, l->kind) < 0)
		goto nomem;
	if (!strcmp(l->kind, "veth")) {
		data = nla_nest_start(m, IFLA_INFO_DATA);
		if (!data || netns_put_veth_peer(m, netns_link_by_index(r->ne, l->link), -1))
			goto nomem;
		nla_nest_end(m, data);
	} else if (l->n_info_data && put_attrs(m, IFLA_INFO_DATA, l->info_data, l->n_info_data)) {
		goto nomem;
	}
	nla_nest_end(m, info);
	err = rtnl_do(&r->rt, m);
	return err ? link_err("make", l, err, &r->rt) : 0;
nomem:
	nlmsg_free(m);
	pr_err("out of memory\n");
	return -1;
}

/* Settings of a link that exists: lo, a tun moved in, an end made from outside. */
static int set_common(struct netns_rst *r, const NetnsLink *l)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex };
	struct nl_msg *m = rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	int err;

	if (!m || put_common(m, l, 0) < 0) {
		nlmsg_free(m);
		pr_err("out of memory\n");
		return -1;
	}
	err = rtnl_do(&r->rt, m);
	return err ? link_err("set up", l, err, &r->rt) : 0;
}

/*
 * A tun/tap device: TUNSETIFF in a namespace of its own (it would take the
 * next free ifindex here), persistent so that it outlives the fd, then
 * moved here with its ifindex.
 */
static int make_tun(struct netns_rst *r, const NetnsLink *l)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		pr_perror("fork");
		return -1;
	}
	if (pid == 0) {
		struct ifreq ifr = { .ifr_flags = l->tun->flags };
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
		struct rtnl rt;
		struct nl_msg *m;
		int fd, err;

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", l->name);
		if (unshare(CLONE_NEWNET)) {
			pr_perror("can't make a network namespace for tun device %s", l->name);
			_exit(1);
		}
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETPERSIST, 1) ||
		    (l->tun->owner >= 0 && ioctl(fd, TUNSETOWNER, (unsigned long)l->tun->owner)) ||
		    (l->tun->group >= 0 && ioctl(fd, TUNSETGROUP, (unsigned long)l->tun->group)) ||
		    (l->tun->has_vnet_hdr_sz && ioctl(fd, TUNSETVNETHDRSZ, &l->tun->vnet_hdr_sz))) {
			pr_perror("can't make tun device %s (flags %#x)", l->name, l->tun->flags);
			_exit(1);
		}
		close(fd);
		ifi.ifi_index = if_nametoindex(l->name);
		if (rtnl_open(&rt))
			_exit(1);
		m = rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
		if (!m || nla_put_u32(m, IFLA_NET_NS_FD, r->nsfd) < 0 ||
		    nla_put_s32(m, IFLA_NEW_IFINDEX, l->ifindex) < 0)
			_exit(1);
		err = rtnl_do(&rt, m);
		if (err)
			_exit(link_err("move in", l, err, &rt) ? 1 : 0);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return set_common(r, l);
}

static int link_pos(const NetnsEntry *ne, uint32_t ifindex)
{
	for (size_t i = 0; i < ne->n_links; i++)
		if (ne->links[i]->ifindex == ifindex)
			return i;
	return -1;
}

/* Made already, by the namespace or from outside. */
static int exists_already(const NetnsLink *l)
{
	return !strcmp(l->kind, "loopback") || l->link_outside;
}

static int change(struct netns_rst *r, const NetnsLink *l, const char *what, struct nl_msg *m);
static struct nl_msg *setlink(const NetnsLink *l, unsigned flags, unsigned change_mask);

static int attach(struct netns_rst *r, const NetnsLink *l)
{
	struct nl_msg *m = setlink(l, 0, 0);

	if (m && nla_put_u32(m, IFLA_MASTER, l->master) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return change(r, l, "attach to its bridge", m);
}

/*
 * In rounds: a macvlan once its lower device is there with its own ports
 * (a device takes limits such as its largest segment from its lower one
 * when it is made), every port once its bridge is.
 */
int netns_links_make(struct netns_rst *r)
{
	const NetnsEntry *ne = r->ne;
	size_t left = ne->n_links, n = ne->n_links;
	int *made = calloc(n + 1, sizeof(int)), *attached = calloc(n + 1, sizeof(int));
	int ret = -1, round = 0;

	if (!made || !attached)
		goto out;
	while (left) {
		size_t before = left;

		round++;
		for (size_t i = 0; i < n; i++) {
			const NetnsLink *l = ne->links[i];
			int dep = !l->link_outside && !strcmp(l->kind, "macvlan") ? link_pos(ne, l->link) : -1;

			if (made[i] || (dep >= 0 && (!made[dep] || made[dep] == round)))
				continue;
			if (exists_already(l))
				ret = set_common(r, l);
			else if (!strcmp(l->kind, "tun"))
				ret = make_tun(r, l);
			else
				ret = make_link(r, l);
			if (ret)
				goto out;
			made[i] = round;
			left--;
			if (!strcmp(l->kind, "veth") && !l->link_outside) {
				int p = link_pos(ne, l->link);

				/* its peer came with it */
				if (p >= 0 && !made[p]) {
					made[p] = round;
					left--;
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			const NetnsLink *l = ne->links[i];
			int m = l->has_master ? link_pos(ne, l->master) : -1;

			if (made[i] && !attached[i] && m >= 0 && made[m]) {
				if (attach(r, l))
					goto out;
				attached[i] = 1;
			}
		}
		if (left == before) {
			pr_err("netns.img: links depend on each other in a circle\n");
			goto out;
		}
	}
	ret = 0;
out:
	free(made);
	free(attached);
	return ret;
}

static int change(struct netns_rst *r, const NetnsLink *l, const char *what, struct nl_msg *m)
{
	int err;

	if (!m) {
		pr_err("out of memory\n");
		return -1;
	}
	err = rtnl_do(&r->rt, m);
	return err ? link_err(what, l, err, &r->rt) : 0;
}

static struct nl_msg *setlink(const NetnsLink *l, unsigned flags, unsigned change_mask)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex, .ifi_flags = flags,
				 .ifi_change = change_mask };

	return rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
}

/*
 * A macvlan on a device outside can't come up while another one there has
 * its address: the dumped namespace's, when the tree was killed on this
 * host, goes only once the kernel's namespace cleanup (a work queue) ran.
 */
static int set_flags(struct netns_rst *r, const NetnsLink *l)
{
	int wait = l->link_outside && !strcmp(l->kind, "macvlan") && (l->flags & IFF_UP) ? 500 : 0;

	for (;;) {
		struct nl_msg *m = setlink(l, l->flags, USER_FLAGS);
		int err;

		if (!m) {
			pr_err("out of memory\n");
			return -1;
		}
		err = rtnl_do(&r->rt, m);
		if (!err)
			return 0;
		if (err != -EADDRINUSE || wait-- <= 0)
			return link_err("set the flags of", l, err, &r->rt);
		if (wait == 499)
			pr_info("macvlan %s: its address is still another's on %s, waiting for it to go\n", l->name,
				l->outside_name ? l->outside_name : "its lower device");
		usleep(10000);
	}
}

static int set_extras(struct netns_rst *r, const NetnsLink *l)
{
	struct nl_msg *m;

	if (l->alias) {
		m = setlink(l, 0, 0);
		if (m && nla_put_string(m, IFLA_IFALIAS, l->alias) < 0) {
			nlmsg_free(m);
			m = NULL;
		}
		if (change(r, l, "set the alias of", m))
			return -1;
	}
	if (l->has_linkmode) {
		m = setlink(l, 0, 0);
		if (m && nla_put_u8(m, IFLA_LINKMODE, l->linkmode) < 0) {
			nlmsg_free(m);
			m = NULL;
		}
		if (change(r, l, "set the link mode of", m))
			return -1;
	}
	for (size_t i = 0; i < l->n_altnames; i++) {
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex };
		struct nlattr *p;

		m = rtnl_msg(RTM_NEWLINKPROP, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
		if (m && (!(p = nla_nest_start(m, IFLA_PROP_LIST)) ||
			  nla_put_string(m, IFLA_ALT_IFNAME, l->altnames[i]) < 0)) {
			nlmsg_free(m);
			m = NULL;
		} else if (m) {
			nla_nest_end(m, p);
		}
		if (change(r, l, "give an alternative name to", m))
			return -1;
	}
	return 0;
}

static struct nl_msg *inet6_msg(const NetnsLink *l, int type, const void *data, size_t len)
{
	struct nl_msg *m = setlink(l, 0, 0);
	struct nlattr *spec, *af;

	if (!m)
		return NULL;
	spec = nla_nest_start(m, IFLA_AF_SPEC);
	af = spec ? nla_nest_start(m, AF_INET6) : NULL;
	if (!af || nla_put(m, type, len, data) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	nla_nest_end(m, af);
	nla_nest_end(m, spec);
	return m;
}

/* The IPv6 address generation mode: the saved one, or none while addresses are restored. */
int netns_link_addrgen(struct netns_rst *r, const NetnsLink *l, int none)
{
	uint8_t mode = none ? IN6_ADDR_GEN_MODE_NONE : l->addr_gen_mode;

	if (!l->has_addr_gen_mode)
		return 0;
	return change(r, l, "set the IPv6 address generation mode of", inet6_msg(l, IFLA_INET6_ADDR_GEN_MODE, &mode, 1));
}

static struct nl_msg *slave_msg(const NetnsLink *l, int state)
{
	struct nl_msg *m = setlink(l, 0, 0);
	struct nlattr *info, *data;

	if (!m)
		return NULL;
	info = nla_nest_start(m, IFLA_LINKINFO);
	if (!info || nla_put_string(m, IFLA_INFO_SLAVE_KIND, l->slave_kind) < 0 ||
	    !(data = nla_nest_start(m, IFLA_INFO_SLAVE_DATA)))
		goto err;
	for (size_t i = 0; i < l->n_slave_data; i++) {
		const NetnsAttr *a = l->slave_data[i];

		if ((a->type == IFLA_BRPORT_STATE) != state)
			continue;
		if (nla_put(m, a->type, a->value.len, a->value.data) < 0)
			goto err;
	}
	nla_nest_end(m, data);
	nla_nest_end(m, info);
	return m;
err:
	nlmsg_free(m);
	return NULL;
}

static const NetnsAttr *attr_of(NetnsAttr *const *a, size_t n, uint32_t type)
{
	for (size_t i = 0; i < n; i++)
		if (a[i]->type == type)
			return a[i];
	return NULL;
}

/*
 * Without STP in the kernel a port waits forward_delay in "learning" before
 * it forwards (and the bridge has no carrier till then): a port that
 * forwarded does at once, as it may be told when STP is off.
 */
static int port_state(struct netns_rst *r, const NetnsLink *l)
{
	const NetnsLink *br = netns_link_by_index(r->ne, l->master);
	const NetnsAttr *stp = br ? attr_of(br->info_data, br->n_info_data, IFLA_BR_STP_STATE) : NULL;
	const NetnsAttr *st = attr_of(l->slave_data, l->n_slave_data, IFLA_BRPORT_STATE);

	if (!st || !(l->flags & IFF_UP) || (stp && stp->value.len == 4 && *(uint32_t *)stp->value.data))
		return 0;
	/* the port's carrier reaches its operational state a little later (linkwatch) */
	for (int i = 0; i < 200; i++) {
		struct nl_msg *m = slave_msg(l, 1);
		int err;

		if (!m)
			return -1;
		err = rtnl_do(&r->rt, m);
		if (err != -ENETDOWN)
			return err ? link_err("set the STP state of", l, err, &r->rt) : 0;
		usleep(5000);
	}
	pr_warn("port %s is not up yet: it forwards once forward_delay has passed\n", l->name);
	return 0;
}

static int addr_one(struct nlmsghdr *h, void *arg)
{
	ProtobufCBinaryData *b = arg;
	struct nlattr *tb[IFLA_MAX + 1] = {};

	if (h->nlmsg_type == RTM_NEWLINK && nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) >= 0 &&
	    tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == (int)b->len)
		b->len = !memcmp(b->data, nla_data(tb[IFLA_ADDRESS]), b->len) ? 0 : b->len;
	return 0;
}

/* A bridge whose address its ports do not give it had it set: set it again. */
static int bridge_address(struct netns_rst *r, const NetnsLink *l)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex };
	ProtobufCBinaryData b = l->address;
	struct nl_msg *m;

	if (strcmp(l->kind, "bridge") || !l->has_address)
		return 0;
	m = rtnl_msg(RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (!m || rtnl_req(&r->rt, m, addr_one, &b))
		return -1;
	if (!b.len)
		return 0;	/* the same */
	m = setlink(l, 0, 0);
	if (m && nla_put(m, IFLA_ADDRESS, l->address.len, l->address.data) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return change(r, l, "set the address of", m);
}

int netns_links_finish(struct netns_rst *r)
{
	const NetnsEntry *ne = r->ne;

	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];

		if (set_extras(r, l))
			return -1;
		if (l->has_inet6_token &&
		    change(r, l, "set the IPv6 token of", inet6_msg(l, IFLA_INET6_TOKEN, l->inet6_token.data, 16)))
			return -1;
	}
	/* every master is there (netns_links_make()): a port's settings may name another port (backup_port) */
	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];

		if (l->slave_kind && l->n_slave_data && change(r, l, "set the port settings of", slave_msg(l, 0)))
			return -1;
		if (bridge_address(r, l))
			return -1;
	}
	/* up: no automatic link-local address (the saved ones come without duplicate detection) */
	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];

		/* a link that stays down gets its mode now (a device's addr_gen_mode sysctl is left to this) */
		if (netns_link_addrgen(r, l, l->flags & IFF_UP))
			return -1;
		if (set_flags(r, l))
			return -1;
	}
	/* carrier changes reach IPv6 (link-local addresses) through linkwatch: now, while no mode makes them */
	netns_links_settle(r);
	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];
		struct nl_msg *m;

		if (l->slave_kind && port_state(r, l))
			return -1;
		/* a tun device's comes on with its first queue, off only once the fds are in (tun.c) */
		if (!l->has_carrier || l->tun)
			continue;
		m = setlink(l, 0, 0);
		if (m && nla_put_u8(m, IFLA_CARRIER, l->carrier) < 0) {
			nlmsg_free(m);
			m = NULL;
		}
		if (change(r, l, "set the carrier of", m))
			return -1;
	}
	return 0;
}

/*
 * A link's operational state follows its carrier through linkwatch, which
 * may take up to a second: asking for the link state (ETHTOOL_GLINK) runs
 * it at once, so that the tasks find the links as they were (RUNNING).
 */
void netns_links_settle(struct netns_rst *r)
{
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sk < 0)
		return;
	for (size_t i = 0; i < r->ne->n_links; i++) {
		struct ethtool_value ev = { .cmd = ETHTOOL_GLINK };
		struct ifreq ifr = { .ifr_data = (void *)&ev };

		if (!(r->ne->links[i]->flags & IFF_UP))
			continue;
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", r->ne->links[i]->name);
		ioctl(sk, SIOCETHTOOL, &ifr);	/* a device without it settles by itself */
	}
	close(sk);
}

/* After the addresses: the generation mode goes back to what it was (this does not make addresses). */
int netns_links_addrgen_restore(struct netns_rst *r)
{
	for (size_t i = 0; i < r->ne->n_links; i++) {
		const NetnsLink *l = r->ne->links[i];

		if ((l->flags & IFF_UP) && l->addr_gen_mode != IN6_ADDR_GEN_MODE_NONE && netns_link_addrgen(r, l, 0))
			return -1;
	}
	return 0;
}
