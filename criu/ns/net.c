/*
 * The network namespace kind. Dump (in the tree's namespace, which criu
 * entered) saves its contents in netns.img: links, addresses, routes,
 * rules, neighbours, sysctls, netfilter tables (net-*.c), and refuses by
 * name what it can't rebuild; then locks the whole namespace (criu's
 * netfilter table drops everything but what criu sends itself) until the
 * tree is gone. --empty-ns net leaves the contents to the caller;
 * --external net[INO]:KEY and --join-ns net:PATH give an existing one.
 *
 * Restore: criu makes the namespace itself, owned by the tree's user
 * namespace, before any task is in it (net_ns_make()): the links whose
 * other end is outside from its own namespace, the rest in a helper
 * process inside, then takes the network lock there; the root restore
 * process gets the namespace's fd and enters it.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_sched.h>
#include <netlink/msg.h>

#include "cr_options.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "net.h"
#include "netns.h"
#include "util.h"

#ifndef RTM_GETNEXTHOP
#define RTM_GETNEXTHOP 106
#endif

static NetnsEntry *dumped;

/* A new network namespace owned by @userns_pid's user namespace (0: criu's): its fd, or -1. */
int net_ns_new(pid_t userns_pid)
{
	int go[2], done[2], fd = -1, status;
	char path[64], c;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(done, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		return -1;
	}
	if (pid == 0) {
		close(go[0]);
		close(done[1]);
		if (userns_pid) {
			snprintf(path, sizeof(path), "/proc/%d/ns/user", userns_pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWUSER)) {
				pr_perror("can't enter the user namespace of %d", userns_pid);
				_exit(1);
			}
		}
		if (unshare(CLONE_NEWNET)) {
			pr_perror("can't make a network namespace");
			_exit(1);
		}
		if (write(go[1], "n", 1) != 1)
			_exit(1);
		/* until criu holds it */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	if (read(go[0], &c, 1) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			pr_perror("can't open %s", path);
	}
	close(go[0]);
	close(done[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- dump ---- */

static int qdisc_one(struct nlmsghdr *h, void *arg)
{
	struct netns_dump *d = arg;
	struct tcmsg *tc = nlmsg_data(h);
	struct nlattr *tb[TCA_MAX + 1] = {};
	const NetnsLink *l;

	if (h->nlmsg_type != RTM_NEWQDISC || nlmsg_parse(h, sizeof(*tc), tb, TCA_MAX, NULL) < 0)
		return 0;
	/* the qdiscs a device gets by itself have handle 0 */
	if (!tc->tcm_handle)
		return 0;
	l = netns_link_by_index(d->ne, tc->tcm_ifindex);
	pr_err("can't dump the network namespace of %d: link %s has a traffic control qdisc (%s, handle %x:%x), "
	       "which criu does not save\n", d->pid, l ? l->name : "?", tb[TCA_KIND] ? nla_get_string(tb[TCA_KIND]) : "?",
	       tc->tcm_handle >> 16, tc->tcm_handle & 0xffff);
	return -1;
}

static int nexthop_one(struct nlmsghdr *h, void *arg)
{
	struct netns_dump *d = arg;

	if (h->nlmsg_type != RTM_GETNEXTHOP - 2)	/* RTM_NEWNEXTHOP */
		return 0;
	pr_err("can't dump the network namespace of %d: it has nexthop objects (ip nexthop), which criu does not "
	       "save\n", d->pid);
	return -1;
}

int netns_check_unsupported(struct netns_dump *d)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC };
	struct rtmsg nh = { .rtm_family = AF_UNSPEC };	/* struct nhmsg: family first, 8 bytes */
	int ret;

	ret = rtnl_dump(&d->rt, RTM_GETQDISC, &tc, sizeof(tc), qdisc_one, d);
	if (ret) {
		if (ret != -1)
			pr_err("can't list the qdiscs of the network namespace of %d: %s\n", d->pid, strerror(-ret));
		return -1;
	}
	ret = rtnl_dump(&d->rt, RTM_GETNEXTHOP, &nh, 8, nexthop_one, d);
	if (ret == -1)
		return -1;
	return 0;	/* a kernel without nexthop objects says so */
}

int net_ns_dump(pid_t pid, NsEntry *e)
{
	struct netns_dump d = { .pid = pid };
	int fresh = -1, ret = -1;
	uint64_t t[4];

	if (ns_id_of(0, "net") != ns_id_of(pid, "net")) {
		pr_err("the dump is not in the network namespace of %d\n", pid);
		return -1;
	}
	d.in_userns = ns_id_of(pid, "user") != ns_self_id(NS_USER);
	d.ne = malloc(sizeof(*d.ne));
	if (!d.ne) {
		pr_err("out of memory\n");
		return -1;
	}
	netns_entry__init(d.ne);
	/* to compare the sysctls with: a new one as the restore makes it, in the tree's user namespace */
	fresh = net_ns_new(d.in_userns ? pid : 0);
	if (fresh < 0 || rtnl_open(&d.rt))
		goto out;
	t[0] = now_us();
	if (netns_links_dump(&d) || netns_addrs_dump(&d) || netns_routes_dump(&d) || netns_rules_dump(&d) ||
	    netns_neighs_dump(&d) || netns_check_unsupported(&d))
		goto out;
	t[1] = now_us();
	if (netns_sysctls_dump(&d, fresh))
		goto out;
	t[2] = now_us();
	if (netns_nf_dump(&d))
		goto out;
	t[3] = now_us();
	pr_debug("network namespace of %d: rtnetlink %lu us, sysctls %lu us, netfilter %lu us\n", pid,
		 (unsigned long)(t[1] - t[0]), (unsigned long)(t[2] - t[1]), (unsigned long)(t[3] - t[2]));
	for (size_t i = 0; i < d.ne->n_links; i++)
		if (!strcmp(d.ne->links[i]->kind, "loopback")) {
			e->has_lo_up = true;
			e->lo_up = !!(d.ne->links[i]->flags & IFF_UP);
		}
	pr_info("network namespace of %d: %zu links, %zu addresses, %zu routes, %zu rules, %zu neighbours, "
		"%zu sysctls, %zu netfilter tables\n", pid, d.ne->n_links, d.ne->n_addrs, d.ne->n_routes,
		d.ne->n_rules, d.ne->n_neighs, d.ne->n_sysctls, d.ne->n_nf);
	dumped = d.ne;
	d.ne = NULL;
	/* from here on nothing reaches the tree's sockets but what criu sends */
	ret = net_lock_netns(netns_of(pid));
out:
	rtnl_close(&d.rt);
	free(d.outside_nsid);
	if (fresh >= 0)
		close(fresh);
	netns_entry_free(d.ne);
	return ret;
}

int net_ns_dump_write(int dfd)
{
	struct cr_img *img;
	int ret;

	if (!dumped)
		return 0;
	img = open_image_at(dfd, CR_FD_NETNS, O_DUMP);
	if (!img)
		return -1;
	ret = pb_write_one(img, dumped);
	return finish_image(img, ret);
}

/*
 * The tree is dead and its namespace goes when criu leaves it, but the
 * kernel tears a namespace down in steps: its netfilter tables (our lock)
 * may go while its links still take packets, and a peer's segment then
 * meets a stack without the connection and is answered with a reset. With
 * every link down first nothing gets in. Only for a namespace whose
 * contents the images hold (the restore makes it anew) and whose tasks are
 * gone: locked whole, it was of no use to anybody any more.
 */
static int quiesced;

static void set_links(int up);

void net_ns_dump_quiesce(void)
{
	set_links(0);
}

/* The tree runs on after all (its init was not killed): its links up again */
void net_ns_dump_unquiesce(void)
{
	if (quiesced)
		set_links(1);
}

static void set_links(int up)
{
	struct rtnl rt;

	if (!dumped || rtnl_open(&rt))
		return;
	quiesced = !up;
	for (size_t i = 0; i < dumped->n_links; i++) {
		const NetnsLink *l = dumped->links[i];
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = l->ifindex, .ifi_change = IFF_UP,
					 .ifi_flags = up ? IFF_UP : 0 };
		struct nl_msg *m;
		int ret;

		if (!(l->flags & IFF_UP) || !strcmp(l->kind, "loopback"))
			continue;
		m = rtnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
		ret = m ? rtnl_do(&rt, m) : -ENOMEM;
		if (ret)
			pr_warn("can't set link %u (%s) of the dumped network namespace %s: %s\n", l->ifindex,
				l->kind, up ? "up again" : "down", strerror(ret < 0 ? -ret : EIO));
	}
	rtnl_close(&rt);
}

void net_ns_dump_free(void)
{
	netns_entry_free(dumped);
	dumped = NULL;
}

/* ---- restore ---- */

/* Every link an entry names must be one of the image's (the image is believed only so far). */
static int check_image(const NetnsEntry *ne)
{
	for (size_t i = 0; i < ne->n_links; i++) {
		const NetnsLink *l = ne->links[i];
		const NetnsLink *o;

		if (!strcmp(l->kind, "tun") && !l->tun)
			goto bad;
		if (l->has_master && !netns_link_by_index(ne, l->master))
			goto bad;
		if (l->has_link && !l->link_outside) {
			o = netns_link_by_index(ne, l->link);
			if (!o || (!strcmp(l->kind, "veth") && (strcmp(o->kind, "veth") || o->link != l->ifindex)))
				goto bad;
		}
		if (!strcmp(l->kind, "veth") && !l->has_link)
			goto bad;
		continue;
bad:
		pr_err("netns.img: link %s (ifindex %u) refers to links the image does not have\n", l->name, l->ifindex);
		return -1;
	}
	return 0;
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr)) {
		pr_perror("can't read the flags of lo");
		goto err;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr)) {
		pr_perror("can't bring lo up");
		goto err;
	}
	close(sk);
	return 0;
err:
	if (sk >= 0)
		close(sk);
	return -1;
}

/* In the new namespace: its contents, in the order that each part needs the one before. */
static int fill(const NetnsEntry *ne, int nsfd)
{
	struct netns_rst r = { .ne = ne, .nsfd = nsfd };
	uint64_t t[4];
	int ret = -1;

	if (rtnl_open(&r.rt))
		return -1;
	t[0] = now_us();
	if (netns_sysctls_restore(&r, 0) || netns_links_make(&r) || netns_sysctls_restore(&r, 1))
		goto out;
	t[1] = now_us();
	if (netns_links_finish(&r) || netns_addrs_restore(&r) || netns_links_addrgen_restore(&r) ||
	    netns_routes_restore(&r) || netns_rules_restore(&r) || netns_neighs_restore(&r))
		goto out;
	t[2] = now_us();
	if (netns_nf_restore(&r))
		goto out;
	netns_links_settle(&r);
	t[3] = now_us();
	pr_debug("network namespace filled: links and sysctls %lu us, up, addresses and routes %lu us, netfilter %lu us\n",
		 (unsigned long)(t[1] - t[0]), (unsigned long)(t[2] - t[1]), (unsigned long)(t[3] - t[2]));
	ret = 0;
out:
	rtnl_close(&r.rt);
	return ret;
}

static int fill_in_child(const NetnsEntry *ne, const NsEntry *e, int nsfd)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		pr_perror("fork");
		return -1;
	}
	if (pid == 0) {
		if (setns(nsfd, CLONE_NEWNET)) {
			pr_perror("can't enter the new network namespace");
			_exit(1);
		}
		if (ne)
			_exit(fill(ne, nsfd) ? 1 : 0);
		/* --empty-ns net, or an image of before the contents: lo as it was */
		_exit(((e->has_empty && e->empty) || e->lo_up) && lo_up() ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("can't fill the new network namespace\n");
		return -1;
	}
	return 0;
}

static NetnsEntry *read_image(int dfd)
{
	struct cr_img *img;
	NetnsEntry *ne = NULL;

	if (!image_exists(dfd, CR_FD_NETNS))
		return NULL;
	img = open_image_at(dfd, CR_FD_NETNS, O_RDONLY);
	if (!img)
		return (NetnsEntry *)-1L;
	if (pb_read_one_required(img, (void **)&ne))
		ne = (NetnsEntry *)-1L;
	close_image(img);
	return ne;
}

int net_ns_make(int dfd, const NsEntry *e, pid_t userns_pid)
{
	NetnsEntry *ne = NULL;
	uint64_t t0 = now_us();
	int nsfd = -1;

	if (!(e->has_empty && e->empty)) {
		ne = read_image(dfd);
		if (ne == (NetnsEntry *)-1L)
			return -1;
		if (ne && check_image(ne))
			goto fail;
	}
	nsfd = net_ns_new(userns_pid);
	/* nothing that reaches the namespace while it is filled may answer for the tree's connections */
	if (nsfd < 0 || net_restore_lock_first(dfd, nsfd))
		goto fail;
	if (ne && netns_ext_links_make(ne, nsfd))
		goto fail;
	if (fill_in_child(ne, e, nsfd) || net_restore_lock_new_ns(dfd, nsfd))
		goto fail;
	pr_info("network namespace made and filled in %lu us\n", (unsigned long)(now_us() - t0));
	netns_entry_free(ne);
	return nsfd;
fail:
	netns_ext_links_undo();
	if (nsfd >= 0) {
		net_restore_lock_forget(nsfd);
		close(nsfd);
	}
	netns_entry_free(ne);
	return -1;
}
