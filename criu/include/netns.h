/*
 * The network namespace's contents (criu/ns/net*.c), one concern per file:
 * net.c the kind (what is dumped, the order of the restore), net-rtnl.c
 * rtnetlink requests, net-link.c links, net-addr.c addresses,
 * net-route.c routes and rules, net-neigh.c neighbours, net-sysctl.c the
 * namespace's sysctls, net-nf.c netfilter rules; net-ext.c the links whose
 * other end is outside (--external veth[IN]:OUT[@BRIDGE], macvlan[IN]:OUT).
 *
 * Dump runs in the tree's network namespace (criu entered it), restore in a
 * helper process of criu's that made the new namespace: links first (their
 * ifindexes are the dump's, which everything else refers to), then their
 * sysctls, masters and state, addresses, routes, rules, neighbours and the
 * netfilter tables, the last thing the network lock.
 */
#ifndef CR_NETNS_H
#define CR_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/netlink.h>

#include "netns.pb-c.h"

struct nl_msg;

/* ---- rtnetlink (net-rtnl.c) ---- */

struct rtnl {
	int fd;
	uint32_t seq;
	char err[256];		/* the kernel's extended ack of the last failed request, if any */
};

/* A NETLINK_ROUTE socket in the caller's network namespace: 0, or -1 with a message. */
int rtnl_open(struct rtnl *r);
void rtnl_close(struct rtnl *r);
/* A request of @type with @flags (NLM_F_REQUEST and NLM_F_ACK are added) and its fixed header. */
struct nl_msg *rtnl_msg(int type, int flags, const void *hdr, size_t len);
/* Send @m (freed) and wait for the answer: 0 or -errno (r->err says more). */
int rtnl_do(struct rtnl *r, struct nl_msg *m);
/* The same, with the answers (of a get request) to @cb. */
typedef int (*rtnl_cb)(struct nlmsghdr *h, void *arg);
int rtnl_req(struct rtnl *r, struct nl_msg *m, rtnl_cb cb, void *arg);
/* A dump request: every answer to @cb (which returns 0 or -1); 0, -errno, or -1 if @cb failed. */
int rtnl_dump(struct rtnl *r, int type, const void *hdr, size_t len, rtnl_cb cb, void *arg);
/* ": " and the kernel's message, or "" */
const char *rtnl_why(const struct rtnl *r);

/* ---- protobuf helpers ---- */

/* Append a new (zeroed) element to a repeated field: the element, or NULL. */
void *pb_grow(void ***arr, size_t *n, size_t size);
NetnsAttr *netns_attr_new(uint32_t type, const void *data, size_t len);
void netns_entry_free(NetnsEntry *ne);

/* ---- dump, in the tree's network namespace ---- */

struct netns_dump {
	pid_t pid;		/* the tree's root, for messages */
	int in_userns;		/* the namespace belongs to a user namespace of the tree's */
	struct rtnl rt;
	NetnsEntry *ne;
	int32_t *outside_nsid;	/* per link: the nsid of its other end's namespace, if link_outside */
};

int netns_links_dump(struct netns_dump *d);
int netns_addrs_dump(struct netns_dump *d);
int netns_routes_dump(struct netns_dump *d);
int netns_rules_dump(struct netns_dump *d);
int netns_neighs_dump(struct netns_dump *d);
/* Sysctls: compared with a new namespace's, made by @fresh_fd's owner (an nsfs fd). */
int netns_sysctls_dump(struct netns_dump *d, int fresh_fd);
int netns_nf_dump(struct netns_dump *d);
/* What criu can't rebuild and the links' kinds don't show: tc qdiscs, nexthop objects. */
int netns_check_unsupported(struct netns_dump *d);

const NetnsLink *netns_link_by_index(const NetnsEntry *ne, uint32_t ifindex);

/* ---- restore, in the new namespace ---- */

struct netns_rst {
	const NetnsEntry *ne;
	int nsfd;		/* the new namespace */
	struct rtnl rt;		/* in it */
};

/* Host side, before entering the namespace: the links whose other end is outside. */
int netns_ext_links_make(const NetnsEntry *ne, int nsfd);
void netns_ext_links_undo(void);
/* --external veth[IN]:OUT[@BRIDGE], macvlan[IN]:OUT (restore) */
int netns_ext_add(const char *arg);
int netns_is_ext_arg(const char *arg);

int netns_links_make(struct netns_rst *r);
int netns_links_finish(struct netns_rst *r);	/* masters, port settings, flags (up) */
int netns_sysctls_restore(struct netns_rst *r, int per_device);
int netns_addrs_restore(struct netns_rst *r);
int netns_routes_restore(struct netns_rst *r);
int netns_rules_restore(struct netns_rst *r);
int netns_neighs_restore(struct netns_rst *r);
int netns_nf_restore(struct netns_rst *r);

/* "IPv4 route to 10.0.0.0/8 (table 254, type 1)", for messages */
void netns_route_str(const NetnsRoute *r, int rule, char *buf, size_t size);
int netns_link_addrgen(struct netns_rst *r, const NetnsLink *l, int none);
int netns_links_addrgen_restore(struct netns_rst *r);
void netns_links_settle(struct netns_rst *r);
int netns_put_veth_peer(struct nl_msg *m, const NetnsLink *peer, int nsfd);

/* A sysctl path below /proc/sys/net that belongs to one device: its name, else NULL. */
const char *netns_sysctl_device(const char *name, char *dev, size_t size);

/*
 * tun devices (criu/net/tun.c): the namespace's dump tells what it saw
 * (@queues attached), the fds' dump counts the tree's; restore gives the
 * devices that were not persistent back their state once the fds are in.
 */
int net_tun_dev_seen(const char *name, int persist, uint32_t queues, int carrier);
/* Dump, once every fd is collected: no device of the namespace has queues outside the tree. */
int tun_check_queues(void);
void tun_dump_fini(void);

/* Run @argv with @input on stdin in the caller's namespaces; its output in @out (malloc'ed) if not NULL. */
int netns_run(char *const argv[], const char *input, char **out);

#endif
