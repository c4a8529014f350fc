/*
 * inet and inet6 sockets: TCP (listening, bound, unconnected, connections
 * through sk-tcp.c), UDP and UDP-Lite (with their queued datagrams), ICMP
 * ping and raw sockets.
 *
 * Dump: the kind, addresses and state come from sock_diag (TCP, UDP,
 * UDP-Lite), /proc/PID/net/{raw,icmp}[6] (the others) and getsockname/
 * getpeername/TCP_INFO on a pidfd_getfd() copy of the fd; options from
 * getsockopt on it. TCP connections are read once every fd is collected
 * and the network is locked (inet_dump_streams()).
 *
 * Restore: a new socket gets the options that change how it binds, is
 * bound, listens or connects (a connection in repair mode, left so until
 * every task is restored: net_restore_finish()), gets its queued
 * datagrams again (sent from their source by sk-inject.c), then the
 * other options and its file flags.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/icmpv6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>

#include "cr_options.h"
#include "fdkinds.h"
#include "files.h"
#include "log.h"
#include "net.h"
#include "sk-diag.h"
#include "sk-inet.h"
#include "sk-iter.h"
#include "sk-opts.h"
#include "util.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE	51
#endif
#ifndef IP_RECVERR_RFC4884
#define IP_RECVERR_RFC4884	26
#endif
#ifndef IPV6_RECVERR_RFC4884
#define IPV6_RECVERR_RFC4884	31
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL		36
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL	29
#endif
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO		11
#endif
#ifndef IPV6_RECVPATHMTU
#define IPV6_RECVPATHMTU	60
#endif
#ifndef IPV6_FLOWINFO_SEND
#define IPV6_FLOWINFO_SEND	33
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND		78
#endif
#ifndef UDP_NO_CHECK6_TX
#define UDP_NO_CHECK6_TX	101
#define UDP_NO_CHECK6_RX	102
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT		103
#endif
#ifndef UDP_GRO
#define UDP_GRO			104
#endif
#ifndef SOL_UDPLITE
#define SOL_UDPLITE		136
#endif
#define UDPLITE_SEND_CSCOV	10
#define UDPLITE_RECV_CSCOV	11
#ifndef ICMP_FILTER
#define ICMP_FILTER		1
#endif
#define RCV_SHUTDOWN		1
#define SEND_SHUTDOWN		2
#define MAX_DGRAM_BYTES		(64U << 20)	/* queued on one socket */

static const struct sk_opt ip_tab[] = {
	SK_OPT(SOL_IP, IP_TOS, IpOptsEntry, tos, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_TTL, IpOptsEntry, ttl, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_PKTINFO, IpOptsEntry, pktinfo, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVTTL, IpOptsEntry, recvttl, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVTOS, IpOptsEntry, recvtos, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVOPTS, IpOptsEntry, recvopts, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RETOPTS, IpOptsEntry, retopts, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVERR, IpOptsEntry, recverr, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVERR_RFC4884, IpOptsEntry, recverr_rfc4884, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_MTU_DISCOVER, IpOptsEntry, mtu_discover, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_FREEBIND, IpOptsEntry, freebind, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_TRANSPARENT, IpOptsEntry, transparent, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_BIND_ADDRESS_NO_PORT, IpOptsEntry, bind_address_no_port, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_MULTICAST_TTL, IpOptsEntry, mc_ttl, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_MULTICAST_LOOP, IpOptsEntry, mc_loop, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_MULTICAST_ALL, IpOptsEntry, mc_all, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVORIGDSTADDR, IpOptsEntry, recvorigdstaddr, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_MINTTL, IpOptsEntry, minttl, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_LOCAL_PORT_RANGE, IpOptsEntry, local_port_range, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_UNICAST_IF, IpOptsEntry, unicast_if, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_RECVFRAGSIZE, IpOptsEntry, recvfragsize, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_PASSSEC, IpOptsEntry, passsec, SK_OPT_EARLY),
};

/* raw IPv4 sockets only */
static const struct sk_opt ip_raw_tab[] = {
	SK_OPT(SOL_IP, IP_HDRINCL, IpOptsEntry, hdrincl, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_NODEFRAG, IpOptsEntry, nodefrag, SK_OPT_EARLY),
	SK_OPT(SOL_IP, IP_CHECKSUM, IpOptsEntry, checksum, SK_OPT_EARLY),
	SK_OPT(SOL_RAW, ICMP_FILTER, IpOptsEntry, icmp_filter, SK_OPT_EARLY),
};

static const struct sk_opt ip6_tab[] = {
	/* before bind: it can't change afterwards */
	SK_OPT(SOL_IPV6, IPV6_V6ONLY, IpOptsEntry, v6only, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_UNICAST_HOPS, IpOptsEntry, unicast_hops, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MULTICAST_HOPS, IpOptsEntry, mc_hops, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MULTICAST_LOOP, IpOptsEntry, mc6_loop, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MULTICAST_IF, IpOptsEntry, mc6_if, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MULTICAST_ALL, IpOptsEntry, mc6_all, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_TCLASS, IpOptsEntry, tclass, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVPKTINFO, IpOptsEntry, recvpktinfo, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVHOPLIMIT, IpOptsEntry, recvhoplimit, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVTCLASS, IpOptsEntry, recvtclass, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVERR, IpOptsEntry, recverr6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVERR_RFC4884, IpOptsEntry, recverr_rfc4884_6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MTU_DISCOVER, IpOptsEntry, mtu_discover6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_FREEBIND, IpOptsEntry, freebind6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_TRANSPARENT, IpOptsEntry, transparent6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVORIGDSTADDR, IpOptsEntry, recvorigdstaddr6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_AUTOFLOWLABEL, IpOptsEntry, autoflowlabel, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_DONTFRAG, IpOptsEntry, dontfrag, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_UNICAST_IF, IpOptsEntry, unicast_if6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_ADDR_PREFERENCES, IpOptsEntry, addr_preferences, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_MINHOPCOUNT, IpOptsEntry, minhopcount, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVFRAGSIZE, IpOptsEntry, recvfragsize6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_FLOWINFO, IpOptsEntry, flowinfo, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_FLOWINFO_SEND, IpOptsEntry, flowinfo_send, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVHOPOPTS, IpOptsEntry, recvhopopts, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVRTHDR, IpOptsEntry, recvrthdr, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVDSTOPTS, IpOptsEntry, recvdstopts, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_RECVPATHMTU, IpOptsEntry, recvpathmtu, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_2292PKTINFO, IpOptsEntry, pktinfo_2292, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_2292HOPOPTS, IpOptsEntry, hopopts_2292, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_2292DSTOPTS, IpOptsEntry, dstopts_2292, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_2292RTHDR, IpOptsEntry, rthdr_2292, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_2292HOPLIMIT, IpOptsEntry, hoplimit_2292, SK_OPT_EARLY),
};

/* raw IPv6 sockets only */
static const struct sk_opt ip6_raw_tab[] = {
	SK_OPT(SOL_IPV6, IPV6_HDRINCL, IpOptsEntry, hdrincl6, SK_OPT_EARLY),
	SK_OPT(SOL_IPV6, IPV6_CHECKSUM, IpOptsEntry, checksum6, SK_OPT_EARLY),
};

static const struct sk_opt udp_tab[] = {
	SK_OPT(SOL_UDP, UDP_ENCAP, UdpOptsEntry, encap, SK_OPT_EARLY),
	SK_OPT(SOL_UDP, UDP_NO_CHECK6_TX, UdpOptsEntry, no_check6_tx, SK_OPT_EARLY),
	SK_OPT(SOL_UDP, UDP_NO_CHECK6_RX, UdpOptsEntry, no_check6_rx, SK_OPT_EARLY),
	SK_OPT(SOL_UDP, UDP_SEGMENT, UdpOptsEntry, segment, SK_OPT_EARLY),
	SK_OPT(SOL_UDP, UDP_GRO, UdpOptsEntry, gro, SK_OPT_EARLY),
	SK_OPT(SOL_UDP, UDP_CORK, UdpOptsEntry, cork, SK_OPT_LATE),
};

static const struct sk_opt udplite_tab[] = {
	SK_OPT(SOL_UDPLITE, UDPLITE_SEND_CSCOV, UdpOptsEntry, send_cscov, SK_OPT_EARLY),
	SK_OPT(SOL_UDPLITE, UDPLITE_RECV_CSCOV, UdpOptsEntry, recv_cscov, SK_OPT_EARLY),
};

/* ---- addresses ---- */

socklen_t inet_ep_sockaddr(const struct inet_ep *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(ep->port);
		memcpy(&s6->sin6_addr, ep->addr, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(ep->port);
	memcpy(&s4->sin_addr, ep->addr, 4);
	return sizeof(*s4);
}

void inet_ep_from(struct inet_ep *ep, const struct sockaddr_storage *ss)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = ss->ss_family;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		memcpy(ep->addr, &s6->sin6_addr, 16);
		ep->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		ep->family = AF_INET;
		memcpy(ep->addr, &s4->sin_addr, 4);
		ep->port = ntohs(s4->sin_port);
	}
}

const char *inet_ep_str(const struct inet_ep *ep, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(ep->family, ep->addr, a, sizeof(a));
	snprintf(buf, size, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, ep->port);
	return buf;
}

void inet_ep_unmap(struct inet_ep *ep)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ep->family == AF_INET6 && !memcmp(ep->addr, mapped, 12)) {
		memmove(ep->addr, ep->addr + 12, 4);
		memset(ep->addr + 4, 0, 12);
		ep->family = AF_INET;
	}
}

/* A raw socket may have any protocol number: TCP and UDP are also a matter of type. */
static int is_tcp(const InetSkEntry *e)
{
	return e->type == SOCK_STREAM && e->protocol == IPPROTO_TCP;
}

static int addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int addr_any(const uint8_t *a, int family)
{
	for (int i = 0; i < addr_len(family); i++)
		if (a[i])
			return 0;
	return 1;
}

static int set_bytes(ProtobufCBinaryData *b, const void *data, size_t len)
{
	b->data = malloc(len ? len : 1);
	if (!b->data) {
		pr_err("out of memory\n");
		return -1;
	}
	memcpy(b->data, data, len);
	b->len = len;
	return 0;
}

static void entry_ep(const InetSkEntry *e, int peer, struct inet_ep *ep)
{
	const ProtobufCBinaryData *a = peer ? &e->dst_addr : &e->src_addr;

	memset(ep, 0, sizeof(*ep));
	ep->family = e->family;
	if (a->data && (int)a->len == addr_len(e->family))
		memcpy(ep->addr, a->data, a->len);
	ep->port = peer ? e->dst_port : e->src_port;
}

static const char *state_name(int state)
{
	static const char *const names[] = { "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
					     "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
					     "NEW_SYN_RECV" };

	return state >= 0 && state < (int)ARRAY_SIZE(names) ? names[state] : "?";
}

static const char *kind_name(const InetSkEntry *e)
{
	int v6 = e->family == AF_INET6;

	if (e->type == SOCK_RAW)
		return v6 ? "raw6" : "raw";
	switch (e->protocol) {
	case IPPROTO_TCP: return v6 ? "TCPv6" : "TCP";
	case IPPROTO_UDP: return v6 ? "UDPv6" : "UDP";
	case IPPROTO_UDPLITE: return v6 ? "UDP-Litev6" : "UDP-Lite";
	case IPPROTO_ICMP: return "ICMP ping";
	case IPPROTO_ICMPV6: return "ICMPv6 ping";
	default: return "inet";
	}
}

/* ---- dump ---- */

struct dump_ctx {
	pid_t pid;
	int fd, sk;
	char who[128];
};

static int get_int(int sk, int level, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(sk, level, opt, val, &len);
}

/* Multicast groups joined on this host, per device, from /proc/PID/net/igmp[6]. */
struct mc_group {
	int family;
	uint32_t ifindex;
	uint8_t addr[16];
};

static struct mc_group *mc_groups;
static size_t nr_mc_groups;
static int mc_read;

static int add_group(int family, uint32_t ifindex, const uint8_t *a)
{
	struct mc_group *n = realloc(mc_groups, (nr_mc_groups + 1) * sizeof(*n));

	if (!n)
		return -1;
	mc_groups = n;
	n[nr_mc_groups].family = family;
	n[nr_mc_groups].ifindex = ifindex;
	memcpy(n[nr_mc_groups].addr, a, addr_len(family));
	nr_mc_groups++;
	return 0;
}

static int read_mc_groups(pid_t pid)
{
	char path[64], line[256];
	uint32_t idx = 0;
	FILE *f;
	int r;

	if (mc_read)
		return 0;
	mc_read = 1;
	snprintf(path, sizeof(path), "/proc/%d/net/igmp", pid);
	f = fopen(path, "re");
	if (!f && errno != ENOENT)
		goto err_open;
	if (f) {
		while ((r = read_line(f, line, sizeof(line), path)) > 0) {
			unsigned int i, g;

			if (line[0] >= '0' && line[0] <= '9' && sscanf(line, "%u", &i) == 1)
				idx = i;
			else if (line[0] == '\t' && sscanf(line, " %8x", &g) == 1 && add_group(AF_INET, idx, (uint8_t *)&g))
				goto oom;
		}
		fclose(f);
		if (r < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/net/igmp6", pid);
	f = fopen(path, "re");
	if (!f && errno != ENOENT)
		goto err_open;
	if (f) {
		while ((r = read_line(f, line, sizeof(line), path)) > 0) {
			char hex[33];
			uint8_t a[16];
			unsigned int i;

			if (sscanf(line, "%u %*s %32s", &i, hex) != 2 || strlen(hex) != 32)
				continue;
			for (int k = 0; k < 16; k++) {
				unsigned int b;

				sscanf(hex + 2 * k, "%2x", &b);
				a[k] = b;
			}
			if (add_group(AF_INET6, i, a))
				goto oom;
		}
		fclose(f);
		if (r < 0)
			return -1;
	}
	return 0;
oom:
	fclose(f);
	pr_err("out of memory\n");
	return -1;
err_open:
	pr_perror("can't open %s", path);
	return -1;
}

static int add_mc(IpOptsEntry *ip, const struct mc_group *g, const struct group_filter *gf)
{
	IpMcEntry *m = calloc(1, sizeof(*m)), **n;

	if (!m)
		return -1;
	ip_mc_entry__init(m);
	if (set_bytes(&m->group, g->addr, addr_len(g->family)))
		goto err;
	m->ifindex = g->ifindex;
	m->fmode = gf->gf_fmode;
	m->sources = calloc(gf->gf_numsrc + 1, sizeof(*m->sources));
	if (!m->sources)
		goto err;
	for (uint32_t i = 0; i < gf->gf_numsrc; i++) {
		const struct sockaddr_storage *s = &gf->gf_slist[i];
		const void *a = s->ss_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)s)->sin6_addr
							 : (const void *)&((const struct sockaddr_in *)s)->sin_addr;

		if (set_bytes(&m->sources[i], a, addr_len(s->ss_family)))
			goto err;
		m->n_sources++;
	}
	n = realloc(ip->mc, (ip->n_mc + 1) * sizeof(*n));
	if (!n)
		goto err;
	ip->mc = n;
	ip->mc[ip->n_mc++] = m;
	return 0;
err:
	for (size_t i = 0; i < m->n_sources; i++)
		free(m->sources[i].data);
	free(m->sources);
	free(m->group.data);
	free(m);
	return -1;
}

/*
 * There is no per-socket list of memberships; MCAST_MSFILTER tells, for one
 * group on one device, whether this socket joined it and with which source
 * filter. Ask it for every group some socket of the namespace joined.
 */
static int dump_memberships(struct dump_ctx *c, IpOptsEntry *ip, int family)
{
	size_t size = sizeof(struct group_filter) + 64 * sizeof(struct sockaddr_storage);
	struct group_filter *gf = malloc(size);
	int ret = -1;

	if (!gf || read_mc_groups(c->pid))
		goto out;
	for (size_t i = 0; i < nr_mc_groups; i++) {
		struct mc_group *g = &mc_groups[i];
		struct inet_ep ep = { .family = g->family };
		socklen_t len = size;

		if (family == AF_INET && g->family == AF_INET6)
			continue;
		memset(gf, 0, size);
		gf->gf_interface = g->ifindex;
		gf->gf_numsrc = 64;
		memcpy(ep.addr, g->addr, addr_len(g->family));
		inet_ep_sockaddr(&ep, &gf->gf_group);
		if (getsockopt(c->sk, g->family == AF_INET6 ? SOL_IPV6 : SOL_IP, MCAST_MSFILTER, gf, &len)) {
			if (errno == EADDRNOTAVAIL || errno == EINVAL || errno == ENOPROTOOPT || errno == EPROTO)
				continue;	/* not joined by this socket */
			pr_perror("can't read the multicast filter of %s", c->who);
			goto out;
		}
		if (gf->gf_numsrc > 64) {
			pr_err("can't dump %s: a multicast membership with %u sources\n", c->who, gf->gf_numsrc);
			goto out;
		}
		if (add_mc(ip, g, gf)) {
			pr_err("out of memory\n");
			goto out;
		}
	}
	ret = 0;
out:
	free(gf);
	return ret;
}

static int dump_ip_opts(struct dump_ctx *c, InetSkEntry *e)
{
	IpOptsEntry *ip = calloc(1, sizeof(*ip));
	struct in_addr mcif;
	uint8_t buf[40];
	socklen_t len;

	if (!ip)
		return -1;
	ip_opts_entry__init(ip);
	e->ip = ip;
	/* an inet6 raw socket has no IPv4 level; other inet6 sockets use it for v4-mapped traffic */
	if (!(e->family == AF_INET6 && e->type == SOCK_RAW)) {
		if (sk_opts_read(c->sk, ip_tab, ARRAY_SIZE(ip_tab), ip, c->who))
			return -1;
		len = sizeof(mcif);
		if (!getsockopt(c->sk, SOL_IP, IP_MULTICAST_IF, &mcif, &len) && len == 4 && mcif.s_addr &&
		    set_bytes(&ip->mc_addr, &mcif, 4))
			return -1;
		ip->has_mc_addr = ip->mc_addr.data != NULL;
		len = sizeof(buf);
		if (!getsockopt(c->sk, SOL_IP, IP_OPTIONS, buf, &len) && len) {
			if (set_bytes(&ip->options, buf, len))
				return -1;
			ip->has_options = 1;
		}
	}
	if (e->family == AF_INET && e->type == SOCK_RAW && sk_opts_read(c->sk, ip_raw_tab, ARRAY_SIZE(ip_raw_tab), ip, c->who))
		return -1;
	if (e->family == AF_INET6 && sk_opts_read(c->sk, ip6_tab, ARRAY_SIZE(ip6_tab), ip, c->who))
		return -1;
	if (e->family == AF_INET6 && e->type == SOCK_RAW) {
		struct icmp6_filter f;

		if (sk_opts_read(c->sk, ip6_raw_tab, ARRAY_SIZE(ip6_raw_tab), ip, c->who))
			return -1;
		len = sizeof(f);
		if (e->protocol == IPPROTO_ICMPV6 && !getsockopt(c->sk, SOL_ICMPV6, ICMPV6_FILTER, &f, &len)) {
			if (set_bytes(&ip->icmp6_filter, &f, len))
				return -1;
			ip->has_icmp6_filter = 1;
		}
	}
	if (is_tcp(e)) {
		/* multicast doesn't apply to stream sockets (they can't set it either) */
		ip->has_mc_ttl = ip->has_mc_loop = ip->has_mc_all = ip->has_mc_addr = 0;
		ip->has_mc_hops = ip->has_mc6_loop = ip->has_mc6_if = ip->has_mc6_all = 0;
		return 0;
	}
	return dump_memberships(c, ip, e->family);
}

static int dump_udp_opts(struct dump_ctx *c, InetSkEntry *e)
{
	UdpOptsEntry *u = calloc(1, sizeof(*u));
	int outq = 0;

	if (!u)
		return -1;
	udp_opts_entry__init(u);
	e->udp = u;
	if (sk_opts_read(c->sk, udp_tab, ARRAY_SIZE(udp_tab), u, c->who))
		return -1;
	if (e->protocol == IPPROTO_UDPLITE && sk_opts_read(c->sk, udplite_tab, ARRAY_SIZE(udplite_tab), u, c->who))
		return -1;
	/* a corked datagram being built can't be read back */
	if (ioctl(c->sk, SIOCOUTQ, &outq)) {
		pr_perror("can't read the send queue of %s", c->who);
		return -1;
	}
	if (outq > 0 && u->cork) {
		pr_err("can't dump %s: it has %d bytes of a corked datagram (UDP_CORK) not sent yet; the kernel gives "
		       "no way to read them\n", c->who, outq);
		return -1;
	}
	return 0;
}

static int add_dgram(InetSkEntry *e, const void *data, size_t len, const struct inet_ep *src, const void *dst)
{
	InetDgramEntry *d = calloc(1, sizeof(*d)), **n;

	if (!d)
		return -1;
	inet_dgram_entry__init(d);
	if (set_bytes(&d->data, data, len) || set_bytes(&d->src_addr, src->addr, addr_len(src->family)))
		goto err;
	d->src_port = src->port;
	if (dst) {
		if (set_bytes(&d->dst_addr, dst, addr_len(e->family)))
			goto err;
		d->has_dst_addr = 1;
	}
	n = realloc(e->queue, (e->n_queue + 1) * sizeof(*n));
	if (!n)
		goto err;
	e->queue = n;
	e->queue[e->n_queue++] = d;
	return 0;
err:
	free(d->data.data);
	free(d->src_addr.data);
	free(d->dst_addr.data);
	free(d);
	return -1;
}

/*
 * The datagrams queued on a UDP socket, peeked one by one at an offset we
 * move (SO_PEEK_OFF), each with its source and (IP_PKTINFO, turned on for
 * the while) the address it was sent to. Nothing is taken away.
 */
/*
 * Empty datagrams already peeked at are skipped by a peek at an offset; a
 * BPF socket iterator (sk-iter.c) tells where they are. @*q: this
 * socket's queue by it, or NULL: no iterator (@*noiter), or nothing
 * queued (no receive memory charged). -1: refused.
 */
static int iter_dgrams(struct dump_ctx *c, InetSkEntry *e, const struct dgram_queue **q, int *noiter)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);
	const char *why;
	int r;

	*q = NULL;
	*noiter = 0;
	if (getsockopt(c->sk, SOL_SOCKET, SO_MEMINFO, mem, &len)) {
		pr_perror("can't read the memory of %s", c->who);
		return -1;
	}
	if (!mem[SK_MEMINFO_RMEM_ALLOC])
		return 0;
	r = dgram_iter_queue(DGRAM_ITER_UDP, e->ino, q, &why);
	if (r == 0 && e->protocol == IPPROTO_UDPLITE) {
		/*
		 * bpf_iter_udp walks the UDP table only, UDP-Lite has its own:
		 * read as before the iterator, an empty datagram already peeked
		 * at would be lost. Not refused: UDP-Lite queues were dumped so.
		 */
		pr_warn("%s: criu's socket iterator does not walk UDP-Lite sockets: an empty datagram already peeked "
			"at in its queue, if any, is not seen (lost)\n", c->who);
		*q = NULL;
		return 0;
	}
	if (r <= 0) {
		/* none here, or a socket it doesn't walk (another namespace) */
		*q = NULL;
		*noiter = r < 0 ? 1 : 2;
		return 0;
	}
	if ((*q)->overflow) {
		pr_err("can't dump %s: it has more datagrams (%u) or empty ones already peeked (%u) than criu's socket "
		       "iterator reports\n", c->who, (*q)->nr_skbs, (*q)->nr_empty);
		return -1;
	}
	return 0;
}

/* A datagram the iterator read the headers of, from where they say; -1: refused. */
static int add_iter_dgram(struct dump_ctx *c, InetSkEntry *e, const struct dgram_empty *d)
{
	struct inet_ep ep = { .family = e->family, .port = d->sport };
	uint8_t dst[16] = { 0 };

	if (!d->has_addr || (e->family == AF_INET && !d->v4)) {
		pr_err("can't dump %s: it has an empty datagram already peeked at (datagram #%u, after %llu bytes) "
		       "whose addresses criu's socket iterator could not read\n", c->who, d->idx,
		       (unsigned long long)d->before);
		return -1;
	}
	if (e->family == AF_INET6 && d->v4) {
		/* a v6 socket sees an IPv4 packet from a v4-mapped address */
		ep.addr[10] = ep.addr[11] = dst[10] = dst[11] = 0xff;
		memcpy(ep.addr + 12, d->saddr, 4);
		memcpy(dst + 12, d->daddr, 4);
	} else {
		memcpy(ep.addr, d->saddr, addr_len(e->family));
		memcpy(dst, d->daddr, addr_len(e->family));
	}
	pr_debug("%s: empty datagram #%u already peeked at, from the socket iterator\n", c->who, d->idx);
	return add_dgram(e, "", 0, &ep, dst);
}

static int peek_dgrams(struct dump_ctx *c, InetSkEntry *e)
{
	int v6 = e->family == AF_INET6, pk_level = v6 ? SOL_IPV6 : SOL_IP;
	int pk_opt = v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, pk_orig = 0, on = 1, off = 0, ret = -1, peek_orig = -1, keep;
	size_t size = 65536, total = 0, first = e->n_queue;
	uint8_t *buf = malloc(size);
	union {
		char b[256];
		struct cmsghdr align;
	} ctl;
	const struct dgram_queue *q;
	uint32_t next = 0;
	int noiter;

	if (iter_dgrams(c, e, &q, &noiter)) {
		free(buf);
		return -1;
	}

	if (!buf || get_int(c->sk, pk_level, pk_opt, &pk_orig) || get_int(c->sk, SOL_SOCKET, SO_PEEK_OFF, &peek_orig)) {
		pr_perror("can't prepare to read the queue of %s", c->who);
		free(buf);
		return -1;
	}
	/* should criu die while they are ours, the keeper puts them back (the tree runs on) */
	{
		struct net_keep_opt o[] = { { SOL_SOCKET, SO_PEEK_OFF, peek_orig }, { pk_level, pk_opt, pk_orig } };

		keep = net_keeper_sockopts(c->sk, o, ARRAY_SIZE(o), c->who);
	}
	if (keep < 0 || setsockopt(c->sk, pk_level, pk_opt, &on, sizeof(on))) {
		if (keep > 0)
			pr_perror("can't prepare to read the queue of %s", c->who);
		net_keeper_sockopts_done(keep);
		free(buf);
		return -1;
	}
	for (;;) {
		struct sockaddr_storage src;
		struct iovec iov = { buf, size };
		struct msghdr mh = { .msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		const void *dst = NULL;
		struct inet_ep ep;
		ssize_t n;
		int at = off, head = 0;

		/* the iterator's empty datagrams already peeked that come next */
		while (q && next < q->nr_empty && q->empty[next].idx == e->n_queue - first) {
			if (q->empty[next].idx == 0) {
				/* at the head: a peek at no offset returns it, with its addresses */
				head = 1;
				at = -1;
				break;
			}
			if (add_iter_dgram(c, e, &q->empty[next++]))
				goto out;
		}
		if (setsockopt(c->sk, SOL_SOCKET, SO_PEEK_OFF, &at, sizeof(at))) {
			pr_perror("can't set SO_PEEK_OFF on %s", c->who);
			goto out;
		}
		n = recvmsg(c->sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (head && n != 0) {
			pr_err("can't dump %s: its first datagram is not the empty one criu's socket iterator saw "
			       "there\n", c->who);
			goto out;
		}
		next += head;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			pr_perror("can't peek the queue of %s", c->who);
			goto out;
		}
		if ((size_t)n > size) {
			uint8_t *nb = realloc(buf, n);

			if (!nb)
				goto out;
			buf = nb;
			size = n;
			continue;	/* again from the same offset */
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (!v6 && cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_PKTINFO)
				dst = &((struct in_pktinfo *)CMSG_DATA(cm))->ipi_addr;
			if (v6 && cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_PKTINFO)
				dst = &((struct in6_pktinfo *)CMSG_DATA(cm))->ipi6_addr;
		}
		total += n;
		if (total > MAX_DGRAM_BYTES) {
			pr_err("can't dump %s: more than %u bytes of datagrams queued\n", c->who, MAX_DGRAM_BYTES);
			goto out;
		}
		inet_ep_from(&ep, &src);
		if (ep.family != e->family) {
			pr_err("can't dump %s: a datagram from a family %d address\n", c->who, ep.family);
			goto out;
		}
		if (add_dgram(e, buf, n, &ep, dst)) {
			pr_err("out of memory\n");
			goto out;
		}
		/*
		 * Peeking an empty datagram marks it peeked, and a peek at an
		 * offset skips a marked empty one: the offset stays where it is.
		 */
		off += n;
	}
	while (q && next < q->nr_empty && q->empty[next].idx == e->n_queue - first)
		if (add_iter_dgram(c, e, &q->empty[next++]))
			goto out;
	/* fewer than the iterator saw: some skipped; more: arrived since its pass, at the tail */
	if (q && (e->n_queue - first < q->nr_skbs || next != q->nr_empty)) {
		pr_err("can't dump %s: it holds %u datagrams by criu's socket iterator, criu read %zu\n", c->who,
		       q->nr_skbs, e->n_queue - first);
		goto out;
	}
	if (q && e->n_queue - first > q->nr_skbs)
		pr_info("%s: %zu datagrams arrived since the socket iterator's pass\n", c->who,
			e->n_queue - first - q->nr_skbs);
	if (noiter) {
		struct iovec iov = { buf, size };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		int none = -1;
		ssize_t n = 0;

		/* nothing read: a peek at no offset returns an empty one already peeked (packet info comes with it) */
		if (e->n_queue == first && !setsockopt(c->sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none)))
			n = recvmsg(c->sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (e->n_queue > first || (n >= 0 && (n > 0 || mh.msg_controllen > 0))) {
			pr_err("can't dump %s: it has datagrams queued and %s: it can't tell whether they include "
			       "an empty one already peeked, which its peeks skip\n", c->who,
			       noiter == 1 ? "criu has no socket iterator here (see above)"
					   : "criu's socket iterator does not see it (another network namespace)");
			goto out;
		}
	}
	ret = 0;
out:
	/* the task's own peek offset (off, -1, by default): its peeks would start past what we peeked */
	if ((setsockopt(c->sk, SOL_SOCKET, SO_PEEK_OFF, &peek_orig, sizeof(peek_orig)) &&
	     setsockopt(c->sk, SOL_SOCKET, SO_PEEK_OFF, &peek_orig, sizeof(peek_orig))) ||
	    setsockopt(c->sk, pk_level, pk_opt, &pk_orig, sizeof(pk_orig))) {
		pr_perror("can't put the peek offset and packet info option of %s back", c->who);
		ret = -1;
	}
	net_keeper_sockopts_done(keep);
	free(buf);
	return ret;
}

/* A pending error (POLLERR) is read only by taking it away: refused. */
static int check_error(struct dump_ctx *c, InetSkEntry *e)
{
	struct pollfd p = { .fd = c->sk, .events = 0 };

	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll %s", c->who);
		return -1;
	}
	if (p.revents & POLLERR) {
		pr_err("can't dump %s: it has an error pending (or queued with IP_RECVERR) that can only be read by "
		       "taking it away; the kernel gives no way to put it back\n", c->who);
		return -1;
	}
	(void)e;
	return 0;
}

/* Shutdown sides of a socket sock_diag doesn't list: POLLRDHUP tells the receive side, POLLHUP both. */
static uint32_t poll_shutdown(int sk)
{
	struct pollfd p = { .fd = sk, .events = POLLRDHUP };

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & POLLHUP)
		return RCV_SHUTDOWN | SEND_SHUTDOWN;
	return p.revents & POLLRDHUP ? RCV_SHUTDOWN : 0;
}

/*
 * Shutdown of a TCP socket sock_diag doesn't list (not bound, CLOSE). TCP
 * polls POLLHUP for every CLOSE socket, so only POLLRDHUP tells something:
 * the receive side. The send side of a socket that is not connected shows
 * nowhere. A socket shut for receiving here is one whose connection is over
 * or one criu restored closed (--tcp-close): both were shut both ways, and
 * so they stay, also through further dumps. (A task that shuts only one
 * side of a socket never connected gets both, or none for SHUT_WR.)
 */
static uint32_t tcp_poll_shutdown(int sk)
{
	struct pollfd p = { .fd = sk, .events = POLLRDHUP };

	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLRDHUP))
		return 0;
	return RCV_SHUTDOWN | SEND_SHUTDOWN;
}

static int set_ep(InetSkEntry *e, const struct inet_ep *ep, int peer)
{
	if (peer) {
		e->has_dst_addr = e->has_dst_port = 1;
		e->dst_port = ep->port;
		return set_bytes(&e->dst_addr, ep->addr, addr_len(e->family));
	}
	e->has_src_addr = e->has_src_port = 1;
	e->src_port = ep->port;
	return set_bytes(&e->src_addr, ep->addr, addr_len(e->family));
}

static int dump_names(struct dump_ctx *c, InetSkEntry *e, int connected)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct inet_ep ep;

	if (getsockname(c->sk, (struct sockaddr *)&ss, &len)) {
		pr_perror("can't read the address of %s", c->who);
		return -1;
	}
	inet_ep_from(&ep, &ss);
	if (set_ep(e, &ep, 0))
		return -1;
	if (!connected)
		return 0;
	len = sizeof(ss);
	if (getpeername(c->sk, (struct sockaddr *)&ss, &len)) {
		pr_perror("can't read the peer address of %s", c->who);
		return -1;
	}
	inet_ep_from(&ep, &ss);
	return set_ep(e, &ep, 1);
}

/* Raw and ping sockets: state and addresses from /proc/PID/net/ (sock_diag may not know them). */
static int dump_proc_net(struct dump_ctx *c, InetSkEntry *e)
{
	const char *name = e->type == SOCK_RAW ? (e->family == AF_INET6 ? "raw6" : "raw")
					       : (e->family == AF_INET6 ? "icmp6" : "icmp");
	struct proc_net_sk p;
	struct inet_ep ep = { .family = e->family };
	int ret = proc_net_find(c->pid, name, e->ino, &p);

	if (ret < 0)
		return -1;
	if (ret > 0) {
		pr_err("can't dump %s: it is not in /proc/%d/net/%s\n", c->who, c->pid, name);
		return -1;
	}
	e->state = p.state;
	memcpy(ep.addr, p.src, addr_len(e->family));
	ep.port = e->type == SOCK_RAW ? 0 : p.sport;
	if (set_ep(e, &ep, 0))
		return -1;
	e->has_bound = 1;
	e->bound = !addr_any(ep.addr, e->family) || ep.port;
	if (p.state == TCP_ESTABLISHED) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		/* /proc shows no peer port; getpeername does, unless the peer port is 0 */
		memcpy(ep.addr, p.dst, addr_len(e->family));
		ep.port = e->type == SOCK_RAW ? 0 : p.dport;
		if (!getpeername(c->sk, (struct sockaddr *)&ss, &len))
			inet_ep_from(&ep, &ss);
		if (set_ep(e, &ep, 1))
			return -1;
	}
	e->has_shutdown = 1;
	e->shutdown = poll_shutdown(c->sk);
	return 0;
}

static int dump_udp(struct dump_ctx *c, InetSkEntry *e, struct inet_diag_info *di)
{
	int inq = 0;

	e->state = di ? di->state : TCP_CLOSE;
	e->has_shutdown = 1;
	e->shutdown = di ? di->shutdown : poll_shutdown(c->sk);
	if (dump_names(c, e, e->state == TCP_ESTABLISHED))
		return -1;
	e->has_bound = 1;
	e->bound = e->src_port != 0;
	if (dump_udp_opts(c, e))
		return -1;
	if (ioctl(c->sk, SIOCINQ, &inq)) {
		pr_perror("can't read the receive queue of %s", c->who);
		return -1;
	}
	return peek_dgrams(c, e);
}

/*
 * A connect() whose SYN got no answer yet: nothing of a connection exists
 * (the peer has at most a request of its own), so restore connects again
 * from the same port and the kernel sends a SYN of its own. The peer's
 * address only sock_diag tells (getpeername() says ENOTCONN). Data a
 * TCP Fast Open SYN carries would be lost: refused.
 */
static int dump_syn_sent(struct dump_ctx *c, InetSkEntry *e, const struct inet_diag_info *di)
{
	struct inet_ep peer = { .family = e->family };
	int outq = 0;

	if (!di) {
		pr_err("can't dump %s: a connection being made (SYN_SENT) that sock_diag does not show\n", c->who);
		return -1;
	}
	if (ioctl(c->sk, SIOCOUTQ, &outq) || outq) {
		pr_err("can't dump %s: a connection being made (SYN_SENT) with %d bytes of TCP Fast Open data; "
		       "not supported\n", c->who, outq);
		return -1;
	}
	if (dump_names(c, e, 0))
		return -1;
	memcpy(peer.addr, di->dst, addr_len(e->family));
	peer.port = di->dport;
	e->has_bound = e->bound = 1;
	return set_ep(e, &peer, 1);
}

static int dump_tcp(struct dump_ctx *c, InetSkEntry *e, struct inet_diag_info *di)
{
	struct tcp_info_ext tx;
	struct tcp_info *tip = &tx.base;
	socklen_t len = sizeof(tx);
	char ulp[32] = "";
	char a[64], b[64];
	struct inet_ep l, r;

	memset(&tx, 0, sizeof(tx));
	if (getsockopt(c->sk, SOL_TCP, TCP_INFO, &tx, &len)) {
		pr_perror("can't read TCP_INFO of %s", c->who);
		return -1;
	}
	len = sizeof(ulp);
	if (!getsockopt(c->sk, SOL_TCP, TCP_ULP, ulp, &len) && ulp[0]) {
		pr_err("can't dump %s: it runs the upper layer protocol \"%s\" (e.g. kernel TLS); not supported\n",
		       c->who, ulp);
		return -1;
	}
	if (di && di->md5) {
		pr_err("can't dump %s: it has TCP-MD5 keys; not supported\n", c->who);
		return -1;
	}
	e->state = tip->tcpi_state;
	e->has_shutdown = 1;
	e->shutdown = di ? di->shutdown : tcp_poll_shutdown(c->sk);
	if (tcp_dump_opts(c->sk, e, c->who))
		return -1;
	switch (e->state) {
	case TCP_LISTEN:
		if (dump_names(c, e, 0))
			return -1;
		e->has_bound = e->bound = 1;
		e->has_backlog = 1;
		e->backlog = tip->tcpi_sacked;	/* sk_max_ack_backlog, for a listener */
		return 0;
	case TCP_CLOSE:
		if (dump_names(c, e, 0))
			return -1;
		e->has_bound = 1;
		/* a connection that is over keeps its old port in the name but no longer holds it */
		e->bound = !(tx.segs_out || tx.segs_in) && (e->src_port || !addr_any(e->src_addr.data, e->family));
		if (!e->bound && (tx.segs_out || tx.segs_in)) {
			e->shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
			/* TCP_MAXSEG shows the MSS the connection used, not one the task set */
			e->tcp->has_maxseg = 0;
		}
		return 0;
	case TCP_SYN_SENT:
		return dump_syn_sent(c, e, di);
	case TCP_SYN_RECV:
		pr_err("can't dump %s: a connection being made (%s); not supported yet\n", c->who,
		       state_name(e->state));
		return -1;
	}
	if (!tcp_connection_state(e->state)) {
		pr_err("can't dump %s: TCP state %s (%d)\n", c->who, state_name(e->state), e->state);
		return -1;
	}
	if (dump_names(c, e, 1))
		return -1;
	entry_ep(e, 0, &l);
	entry_ep(e, 1, &r);
	if (opts.tcp_close) {
		/* no repair, no lock: restore makes it a closed socket */
		e->has_closed = e->closed = 1;
		return 0;
	}
	if (!opts.tcp_established) {
		pr_err("can't dump %s: it is a TCP connection %s -> %s (%s); dump with --tcp-established to save it, "
		       "or --tcp-close to restore it closed\n", c->who, inet_ep_str(&l, a, sizeof(a)),
		       inet_ep_str(&r, b, sizeof(b)), state_name(e->state));
		return -1;
	}
	/* the connection itself is read by inet_dump_streams(), once the network is locked */
	return 0;
}

static int check_kind(struct dump_ctx *c, int family, int type, int protocol)
{
	const char *what = NULL;

	if (type == SOCK_STREAM && protocol == IPPROTO_TCP)
		return 0;
	if (type == SOCK_DGRAM &&
	    (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE ||
	     (family == AF_INET && protocol == IPPROTO_ICMP) || (family == AF_INET6 && protocol == IPPROTO_ICMPV6)))
		return 0;
	if (type == SOCK_RAW)
		return 0;
	if (protocol == IPPROTO_MPTCP)
		what = "an MPTCP socket (the kernel has no repair mode for MPTCP; for Go programs, "
		       "GODEBUG=multipathtcp=0 makes plain TCP sockets)";
	else if (protocol == IPPROTO_SCTP)
		what = "an SCTP socket";
	else if (protocol == IPPROTO_DCCP)
		what = "a DCCP socket";
	pr_err("can't dump %s: %s%s (type %d, protocol %d); not supported\n", c->who,
	       what ? what : "an inet socket of an unsupported kind", "", type, protocol);
	return -1;
}

static void free_isk(FileEntry *fe);

static int dump_isk(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		    FileEntry *fe)
{
	struct dump_ctx c = { .pid = pid, .fd = fd, .sk = -1 };
	int family = 0, type = 0, protocol = 0, ret = -1;
	struct netns_state *ns = netns_of(pid);
	struct inet_diag_info *di = NULL;
	unsigned long ino;
	InetSkEntry *e;

	(void)ft;
	(void)info;
	if (!ns || sk_fd_ino(pid, fd, &ino))
		return -1;
	c.sk = task_fd(pid, fd);
	if (c.sk < 0)
		return -1;
	snprintf(c.who, sizeof(c.who), "fd %d of %d (inet socket %lu)", fd, pid, ino);
	if (get_int(c.sk, SOL_SOCKET, SO_DOMAIN, &family) || get_int(c.sk, SOL_SOCKET, SO_TYPE, &type) ||
	    get_int(c.sk, SOL_SOCKET, SO_PROTOCOL, &protocol)) {
		pr_perror("can't read the kind of %s", c.who);
		goto close;
	}
	if (check_kind(&c, family, type, protocol))
		goto close;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto close;
	inet_sk_entry__init(e);
	fe->isk = e;
	e->ino = ino;
	e->family = family;
	e->type = type;
	e->protocol = protocol;
	e->flags = fi->flags & ~(O_ACCMODE | O_CLOEXEC);
	snprintf(c.who, sizeof(c.who), "fd %d of %d (%s socket %lu)", fd, pid, kind_name(e), ino);
	if (type != SOCK_RAW && protocol != IPPROTO_ICMP && protocol != IPPROTO_ICMPV6) {
		struct inet_diag_table *t = netns_inet_diag(ns, 0);

		if (!t)
			goto out;
		di = inet_diag_find(t, ino);
	}
	e->opts = calloc(1, sizeof(*e->opts));
	if (!e->opts || sk_opts_dump(c.sk, e->opts, c.who))
		goto out;
	if (check_error(&c, e) || dump_ip_opts(&c, e))
		goto out;
	if (type == SOCK_STREAM)
		ret = dump_tcp(&c, e, di);
	else if (type == SOCK_DGRAM && (protocol == IPPROTO_UDP || protocol == IPPROTO_UDPLITE))
		ret = dump_udp(&c, e, di);
	else
		ret = dump_proc_net(&c, e);
	if (!ret && (type == SOCK_RAW || protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6)) {
		int inq = 0;

		/* no SO_PEEK_OFF on these: only the first packet could be read without taking it */
		if (!ioctl(c.sk, SIOCINQ, &inq) && inq > 0)
			pr_warn("%s: packets queued on it are not saved (the kernel can't read past the first one "
				"without taking it away); they are lost as on a lossy network\n", c.who);
	}
	if (!ret)
		pr_debug("%s: %s state %s, %zu datagrams queued\n", c.who, kind_name(e), state_name(e->state),
			 e->n_queue);
out:
	if (ret)
		free_isk(fe);
close:
	close(c.sk);
	return ret;
}

static void free_ip(IpOptsEntry *ip)
{
	if (!ip)
		return;
	for (size_t i = 0; i < ip->n_mc; i++) {
		for (size_t j = 0; j < ip->mc[i]->n_sources; j++)
			free(ip->mc[i]->sources[j].data);
		free(ip->mc[i]->sources);
		free(ip->mc[i]->group.data);
		free(ip->mc[i]);
	}
	free(ip->mc);
	free(ip->mc_addr.data);
	free(ip->options.data);
	free(ip->icmp6_filter.data);
	free(ip);
}

static void free_isk(FileEntry *fe)
{
	InetSkEntry *e = fe->isk;

	if (!e)
		return;
	sk_opts_free(e->opts);
	free(e->opts);
	free_ip(e->ip);
	if (e->tcp)
		free(e->tcp->congestion);
	free(e->tcp);
	free(e->udp);
	if (e->stream) {
		free(e->stream->inq.data);
		free(e->stream->outq.data);
		free(e->stream);
	}
	for (size_t i = 0; i < e->n_queue; i++) {
		free(e->queue[i]->data.data);
		free(e->queue[i]->src_addr.data);
		free(e->queue[i]->dst_addr.data);
		free(e->queue[i]);
	}
	free(e->queue);
	free(e->src_addr.data);
	free(e->dst_addr.data);
	free(e);
	fe->isk = NULL;
}

/* ---- the tree-wide part of the dump: locking and reading the connections ---- */

/*
 * A connection this dump read. It is in repair mode only while it is
 * read, and again from inet_dump_commit() on, when the tree is about to
 * be killed (so that its end is silent): a tree that criu leaves when it
 * dies runs at once, and its calls on a connection in repair mode fail
 * (recv() EPERM, send() EINVAL) until the keeper (net.c) has taken it
 * out. Meanwhile the lock keeps everything from and to the peer away, and
 * the tree is frozen: nothing the images hold of it changes.
 */
struct repaired {
	pid_t pid;
	int fd;
	int sk;			/* our copy */
	int reuseaddr;
	int state;
};

static struct repaired *repaired;
static size_t nr_repaired;

static int needs_stream(const FileEntry *fe)
{
	const InetSkEntry *e = fe->type == FILE_TYPE__FT_INETSK ? fe->isk : NULL;

	return e && is_tcp(e) && tcp_connection_state(e->state) && !e->closed;
}

/*
 * Is @c, from sock_diag, a connection in the accept queue of the listener
 * @l? Those have no inode yet, but neither have the orphans: connections
 * accepted and closed since (FIN_WAIT*, LAST_ACK, CLOSING) and the
 * TIME_WAIT ones, of which a busy server has hundreds on its port. A
 * child is ESTABLISHED, or CLOSE_WAIT if its client closed first, and its
 * local address is the listener's unless that is a wildcard. (A Fast Open
 * child, SYN_RECV, can't be told from a request: only counted.)
 */
static int in_accept_queue(const struct inet_diag_info *c, const struct inet_ep *l)
{
	static const uint8_t any[16];
	struct inet_ep s;

	if (c->ino || c->protocol != IPPROTO_TCP || c->sport != l->port)
		return 0;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)
		return 0;
	if (!memcmp(l->addr, any, sizeof(any)))
		return 1;
	memset(&s, 0, sizeof(s));
	s.family = c->family;
	memcpy(s.addr, c->src, 16);
	inet_ep_unmap(&s);
	return s.family == l->family && !memcmp(s.addr, l->addr, sizeof(s.addr));
}

/* Listeners with connections in their accept queue: refused, or with --skip-in-flight left behind. */
static int check_in_flight(struct file_desc *d, struct inet_diag_table *t)
{
	InetSkEntry *e = d->fe.isk;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct inet_ep l, lu, r;
	char a[64], b[64];
	int sk;

	sk = task_fd(d->owner_pid, d->owner_fd);
	if (sk < 0)
		return -1;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, SOL_TCP, TCP_INFO, &ti, &len)) {
		pr_perror("can't read TCP_INFO of fd %d of %d", d->owner_fd, d->owner_pid);
		close(sk);
		return -1;
	}
	close(sk);
	if (!ti.tcpi_unacked)	/* sk_ack_backlog, for a listener */
		return 0;
	entry_ep(e, 0, &l);
	lu = l;
	inet_ep_unmap(&lu);
	inet_ep_str(&l, a, sizeof(a));
	if (opts.skip_in_flight)
		pr_warn("fd %d of %d: %u connection%s not accepted yet by the listener %s dropped "
			"(--skip-in-flight)\n", d->owner_fd, d->owner_pid, ti.tcpi_unacked,
			ti.tcpi_unacked == 1 ? "" : "s", a);
	else
		pr_err("can't dump task %d: fd %d (TCP listener %s) has %u connection%s not accepted yet; the "
		       "kernel gives no way to put them back in the queue (--skip-in-flight drops them)\n",
		       d->owner_pid, d->owner_fd, a, ti.tcpi_unacked, ti.tcpi_unacked == 1 ? "" : "s");
	for (size_t i = 0; i < t->nr; i++) {
		struct inet_diag_info *c = &t->s[i];

		if (!in_accept_queue(c, &lu))
			continue;
		r.family = c->family;
		memcpy(r.addr, c->dst, 16);
		r.port = c->dport;
		inet_ep_str(&r, b, sizeof(b));
		if (opts.skip_in_flight)
			pr_warn("fd %d of %d: the connection from %s to the listener %s, not accepted yet, is dropped\n",
				d->owner_fd, d->owner_pid, b, a);
		else
			pr_err("can't dump task %d: fd %d (TCP listener %s): the connection from %s is not accepted "
			       "yet\n", d->owner_pid, d->owner_fd, a, b);
	}
	return opts.skip_in_flight ? 0 : -1;
}

/* ---- before the freeze: the tree's listeners take no new connection ---- */

#define HOLD_MAX_PROCS	4096
#define HOLD_DRAIN_MS	1000

/* The TCP listeners and handshakes (SYN_RECV) of our network namespace. */
struct hold_scan {
	struct inet_diag_info *s;
	size_t nr, cap;
	int failed;
};

static int hold_one(struct nlmsghdr *h, void *arg)
{
	struct hold_scan *sc = arg;

	if (sc->nr == sc->cap) {
		size_t c = sc->cap ? sc->cap * 2 : 64;
		struct inet_diag_info *n = realloc(sc->s, c * sizeof(*n));

		if (!n) {
			sc->failed = 1;
			return -1;
		}
		sc->s = n;
		sc->cap = c;
	}
	if (inet_diag_parse(h, IPPROTO_TCP, &sc->s[sc->nr]))
		return -1;
	sc->nr++;
	return 0;
}

static int hold_scan(struct hold_scan *sc, uint32_t states)
{
	static const int families[] = { AF_INET, AF_INET6 };

	sc->nr = 0;
	for (size_t f = 0; f < 2; f++) {
		struct inet_diag_req_v2 req = {
			.sdiag_family = families[f],
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = states,
		};

		if (sk_diag_request(&req, sizeof(req), hold_one, sc, "the TCP listeners"))
			return -1;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct pid_list {
	pid_t *pids;
	size_t np;
};

static int add_pid(pid_t child, void *arg)
{
	struct pid_list *l = arg;

	if (l->np == HOLD_MAX_PROCS)
		return 1;
	l->pids[l->np++] = child;
	return 0;
}

/* The socket inodes of the tree of @root, sorted, in *@inos; their number, or -1. */
static ssize_t tree_socket_inodes(pid_t root, uint32_t **inos)
{
	struct pid_list l = { .pids = malloc(HOLD_MAX_PROCS * sizeof(*l.pids)) };
	pid_t *pids = l.pids;
	size_t ni = 0, cap = 0;
	uint32_t *in = NULL;

	if (!pids)
		return -1;
	pids[l.np++] = root;
	for (size_t i = 0; i < l.np; i++) {
		char path[64], link[64];
		struct dirent *de;
		DIR *d;

		/* the children of every thread: a walk of a running tree, which the freeze makes sure of later */
		proc_children(pids[i], add_pid, &l);
		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			char fp[320];
			uint32_t ino;

			snprintf(fp, sizeof(fp), "/proc/%d/fd/%s", pids[i], de->d_name);
			if (de->d_name[0] == '.' || read_link(fp, link, sizeof(link)) < 0 ||
			    sscanf(link, "socket:[%u]", &ino) != 1)
				continue;
			if (ni == cap) {
				uint32_t *n = realloc(in, (cap = cap ? cap * 2 : 64) * sizeof(*in));

				if (!n) {
					closedir(d);
					free(in);
					free(pids);
					return -1;
				}
				in = n;
			}
			in[ni++] = ino;
		}
		if (d)
			closedir(d);
	}
	free(pids);
	if (ni)
		qsort(in, ni, sizeof(*in), cmp_u32);
	*inos = in;
	return ni;
}

/* Is @c, a handshake or a listener of the scan, on listener @l (unmapped; its address zeros: any)? */
static int on_listener(const struct inet_diag_info *c, const struct net_lock_conn *l)
{
	static const uint8_t any[16];
	struct inet_ep s;

	if (c->sport != l->sport)
		return 0;
	if (!memcmp(l->src, any, sizeof(any)))
		return 1;
	memset(&s, 0, sizeof(s));
	s.family = c->family;
	memcpy(s.addr, c->src, 16);
	inet_ep_unmap(&s);
	return s.family == l->family && !memcmp(s.addr, l->src, 16);
}

/*
 * A server under load has connections coming in all the time: one that
 * comes while the tree is frozen waits in the accept queue, which no API
 * refills on restore, and the dump is refused (check_in_flight()), most
 * of the time for a busy one. So before the freeze (--tcp-established,
 * the nftables lock), new connections to the tree's listeners wait (their
 * SYN is dropped, sent again by the client a second later), and the tree,
 * still running, takes what its accept queues hold and the handshakes
 * under way, up to HOLD_DRAIN_MS. Whatever is left then is refused as
 * before. The hold goes when the dump is over (after the kills, or when
 * the tree goes on). Nothing here fails the dump: without the hold it
 * is what it was.
 */
void inet_dump_hold_listeners(pid_t root)
{
	struct hold_scan sc = { 0 };
	struct net_lock_conn *l = NULL;
	uint32_t *inos = NULL;
	ssize_t ni;
	size_t nl = 0;
	uint64_t t0 = now_us();
	int left = 0;

	if (!opts.tcp_established || opts.network_lock != NET_LOCK_NFTABLES)
		return;
	ni = tree_socket_inodes(root, &inos);
	if (ni <= 0 || hold_scan(&sc, 1 << TCP_LISTEN))
		goto out;
	l = calloc(sc.nr + 1, sizeof(*l));
	if (!l)
		goto out;
	for (size_t i = 0; i < sc.nr; i++) {
		struct inet_ep e = { .family = sc.s[i].family, .port = sc.s[i].sport };

		if (!bsearch(&sc.s[i].ino, inos, ni, sizeof(*inos), cmp_u32))
			continue;
		memcpy(e.addr, sc.s[i].src, 16);
		inet_ep_unmap(&e);
		l[nl].family = e.family;
		memcpy(l[nl].src, e.addr, 16);
		l[nl].sport = e.port;
		nl++;
	}
	if (!nl || net_hold_listeners(l, nl)) {
		if (nl)
			pr_warn("new connections to the tree's listeners are not held: one that comes while it is "
				"frozen fails the dump\n");
		goto out;
	}
	for (int ms = 0; ms <= HOLD_DRAIN_MS; ms += 10) {
		if (hold_scan(&sc, (1 << TCP_LISTEN) | (1 << TCP_SYN_RECV)))
			goto out;
		left = 0;
		for (size_t i = 0; i < sc.nr; i++)
			for (size_t j = 0; j < nl; j++)
				if (on_listener(&sc.s[i], &l[j]) &&
				    ((sc.s[i].state == TCP_LISTEN && sc.s[i].rqueue) ||
				     (sc.s[i].state == TCP_SYN_RECV && !sc.s[i].ino)))
					left++;
		if (!left)
			break;
		usleep(10000);
	}
	if (left)
		pr_info("%d connections to the tree's listeners still not accepted after %d ms\n", left, HOLD_DRAIN_MS);
	else
		pr_info("the tree's %zu listeners have no connection waiting (%lu us)\n", nl,
			(unsigned long)(now_us() - t0));
out:
	free(sc.s);
	free(l);
	free(inos);
}

static int lock_conns(struct file_table *ft, struct netns_state *ns)
{
	struct net_lock_conn *c = calloc(ft->nr + 1, sizeof(*c));
	size_t n = 0;
	int ret;

	if (!c)
		return -1;
	for (size_t i = 0; i < ft->nr; i++) {
		struct inet_ep l, r;

		if (!needs_stream(&ft->d[i].fe))
			continue;
		entry_ep(ft->d[i].fe.isk, 0, &l);
		entry_ep(ft->d[i].fe.isk, 1, &r);
		/* v4-mapped: the packets are IPv4 */
		inet_ep_unmap(&l);
		inet_ep_unmap(&r);
		c[n].family = l.family;
		memcpy(c[n].src, l.addr, 16);
		memcpy(c[n].dst, r.addr, 16);
		c[n].sport = l.port;
		c[n].dport = r.port;
		n++;
	}
	ret = net_lock(ns, c, n);
	free(c);
	return ret;
}

int inet_dump_streams(struct file_table *ft)
{
	struct netns_state *ns = NULL;
	struct inet_diag_table *t = NULL;
	size_t nr = 0;

	for (size_t i = 0; i < ft->nr; i++) {
		FileEntry *fe = &ft->d[i].fe;

		if (fe->type != FILE_TYPE__FT_INETSK || !fe->isk)
			continue;
		if (!ns && !(ns = netns_of(ft->d[i].owner_pid)))
			return -1;
		if (is_tcp(fe->isk) && fe->isk->state == TCP_LISTEN) {
			if (!t && !(t = netns_inet_diag(ns, 1)))
				return -1;
			if (check_in_flight(&ft->d[i], t))
				return -1;
		}
		nr += needs_stream(fe);
	}
	if (!nr)
		return 0;
	repaired = calloc(nr, sizeof(*repaired));
	if (!repaired)
		return -1;
	/* nothing of the connections may change from here on: the peers' packets are dropped */
	if (lock_conns(ft, ns))
		return -1;
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		char who[128];
		int sk, ret;

		if (!needs_stream(&d->fe))
			continue;
		snprintf(who, sizeof(who), "fd %d of %d (%s socket %lu)", d->owner_fd, d->owner_pid,
			 kind_name(d->fe.isk), (unsigned long)d->fe.isk->ino);
		sk = task_fd(d->owner_pid, d->owner_fd);
		if (sk < 0)
			return -1;
		repaired[nr_repaired++] = (struct repaired){ .pid = d->owner_pid, .fd = d->owner_fd, .sk = sk,
			.reuseaddr = d->fe.isk->opts && d->fe.isk->opts->reuseaddr };
		/* should criu die from here on, the keeper takes it out of repair mode */
		ret = net_keeper_socket(sk, repaired[nr_repaired - 1].reuseaddr, who) ?:
		      tcp_dump_stream(sk, d->fe.isk, who) ?:
		      tcp_repair_off(sk, repaired[nr_repaired - 1].reuseaddr, 0, who);
		if (ret)
			return -1;
		repaired[nr_repaired - 1].state = d->fe.isk->state;
	}
	return 0;
}

int inet_dump_commit(void)
{
	int on = 1;

	for (size_t i = 0; i < nr_repaired; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		/* locked and frozen since it was read: only a timer of its own could have ended it */
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(repaired[i].sk, SOL_TCP, TCP_INFO, &ti, &len) ||
		    setsockopt(repaired[i].sk, SOL_TCP, TCP_REPAIR, &on, sizeof(on))) {
			pr_perror("can't put the connection of fd %d of %d in repair mode again", repaired[i].fd,
				  repaired[i].pid);
			return -1;
		}
		if (ti.tcpi_state != repaired[i].state) {
			pr_err("can't dump task %d: the connection of its fd %d went from state %d to %u after it "
			       "was read\n", repaired[i].pid, repaired[i].fd, repaired[i].state, ti.tcpi_state);
			return -1;
		}
	}
	return 0;
}

void inet_dump_fini(int keep)
{
	if (!keep) {
		int failed = 0;

		/* the tree goes on: its connections leave repair mode before the peers may talk again */
		for (size_t i = 0; i < nr_repaired; i++) {
			char who[64];

			snprintf(who, sizeof(who), "fd %d of %d", repaired[i].fd, repaired[i].pid);
			if (tcp_repair_off(repaired[i].sk, repaired[i].reuseaddr, 0, who)) {
				pr_err("%s: can't take the connection out of repair mode\n", who);
				failed = 1;
			}
		}
		if (net_unlock_all())
			failed = 1;
		/*
		 * All undone: the keeper has nothing left to do. Else it undoes
		 * it all, with runs of its own, before the tree runs (a lock
		 * left was the tree's network cut off for good).
		 */
		if (!failed || net_keeper_undo())
			net_keeper_end();
	}
	for (size_t i = 0; i < nr_repaired; i++)
		close(repaired[i].sk);
	free(repaired);
	repaired = NULL;
	nr_repaired = 0;
	free(mc_groups);
	mc_groups = NULL;
	nr_mc_groups = 0;
	mc_read = 0;
}

/* ---- restore ---- */

static int restore_memberships(int sk, const InetSkEntry *e, const char *who)
{
	const IpOptsEntry *ip = e->ip;
	size_t size = sizeof(struct group_filter) + 64 * sizeof(struct sockaddr_storage);
	struct group_filter *gf;
	int ret = -1;

	if (!ip || !ip->n_mc)
		return 0;
	gf = calloc(1, size);
	if (!gf)
		return -1;
	for (size_t i = 0; i < ip->n_mc; i++) {
		const IpMcEntry *m = ip->mc[i];
		int family = m->group.len == 16 ? AF_INET6 : AF_INET, level = family == AF_INET6 ? SOL_IPV6 : SOL_IP;
		struct group_req gr = { .gr_interface = m->ifindex };
		struct inet_ep ep = { .family = family };

		if ((m->group.len != 4 && m->group.len != 16) || m->n_sources > 64) {
			pr_err("%s: a bad multicast membership\n", who);
			goto out;
		}
		memcpy(ep.addr, m->group.data, m->group.len);
		inet_ep_sockaddr(&ep, &gr.gr_group);
		if (setsockopt(sk, level, MCAST_JOIN_GROUP, &gr, sizeof(gr))) {
			pr_perror("can't join the multicast group #%zu of %s", i, who);
			goto out;
		}
		if (m->fmode == MCAST_EXCLUDE && !m->n_sources)
			continue;
		/* a source filter replaces the any-source one the join gave */
		memset(gf, 0, size);
		gf->gf_interface = m->ifindex;
		gf->gf_group = gr.gr_group;
		gf->gf_fmode = m->fmode;
		gf->gf_numsrc = m->n_sources;
		for (size_t j = 0; j < m->n_sources; j++) {
			struct inet_ep s = { .family = family };

			if (m->sources[j].len != m->group.len) {
				pr_err("%s: a bad multicast source\n", who);
				goto out;
			}
			memcpy(s.addr, m->sources[j].data, m->group.len);
			inet_ep_sockaddr(&s, &gf->gf_slist[j]);
		}
		if (setsockopt(sk, level, MCAST_MSFILTER, gf, GROUP_FILTER_SIZE(m->n_sources))) {
			pr_perror("can't set the multicast source filter #%zu of %s", i, who);
			goto out;
		}
	}
	ret = 0;
out:
	free(gf);
	return ret;
}

static int restore_ip_opts(int sk, const InetSkEntry *e, const char *who)
{
	const IpOptsEntry *ip = e->ip;

	if (!ip)
		return 0;
	if (!(e->family == AF_INET6 && e->type == SOCK_RAW)) {
		if (sk_opts_write(sk, ip_tab, ARRAY_SIZE(ip_tab), ip, SK_OPT_EARLY, who))
			return -1;
		if (ip->has_mc_addr && ip->mc_addr.len == 4 &&
		    setsockopt(sk, SOL_IP, IP_MULTICAST_IF, ip->mc_addr.data, 4)) {
			pr_perror("can't set IP_MULTICAST_IF of %s", who);
			return -1;
		}
		if (ip->has_options && setsockopt(sk, SOL_IP, IP_OPTIONS, ip->options.data, ip->options.len)) {
			pr_perror("can't set IP_OPTIONS of %s", who);
			return -1;
		}
	}
	if (e->family == AF_INET && e->type == SOCK_RAW &&
	    sk_opts_write(sk, ip_raw_tab, ARRAY_SIZE(ip_raw_tab), ip, SK_OPT_EARLY, who))
		return -1;
	if (e->family == AF_INET6 && sk_opts_write(sk, ip6_tab, ARRAY_SIZE(ip6_tab), ip, SK_OPT_EARLY, who))
		return -1;
	if (e->family == AF_INET6 && e->type == SOCK_RAW) {
		if (sk_opts_write(sk, ip6_raw_tab, ARRAY_SIZE(ip6_raw_tab), ip, SK_OPT_EARLY, who))
			return -1;
		if (ip->has_icmp6_filter &&
		    setsockopt(sk, SOL_ICMPV6, ICMPV6_FILTER, ip->icmp6_filter.data, ip->icmp6_filter.len)) {
			pr_perror("can't set ICMPV6_FILTER of %s", who);
			return -1;
		}
	}
	return 0;
}

static int restore_udp_opts(int sk, const InetSkEntry *e, int stage, const char *who)
{
	if (!e->udp)
		return 0;
	if (sk_opts_write(sk, udp_tab, ARRAY_SIZE(udp_tab), e->udp, stage, who))
		return -1;
	if (e->protocol == IPPROTO_UDPLITE && sk_opts_write(sk, udplite_tab, ARRAY_SIZE(udplite_tab), e->udp, stage, who))
		return -1;
	return 0;
}

/* Bytes the receive queue takes (SK_MEMINFO_RMEM_ALLOC): each datagram queued adds to it. */
static int rmem_alloc(int sk, uint32_t *rmem, const char *who)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(sk, SOL_SOCKET, SO_MEMINFO, mi, &len) || len <= SK_MEMINFO_RMEM_ALLOC * sizeof(mi[0])) {
		pr_perror("can't read SO_MEMINFO of %s", who);
		return -1;
	}
	*rmem = mi[SK_MEMINFO_RMEM_ALLOC];
	return 0;
}

/* The queued datagrams, sent again from where they came from, in order. */
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF	68
#endif

/*
 * A socket of a SO_REUSEPORT group gets a datagram the kernel picks it for
 * by a hash of the addresses (the namespace's own) and the order the group
 * was joined in: restore need repeat neither, and a datagram queued again
 * could land on another socket of the group. While criu queues a socket's
 * datagrams, a program of its own picks that socket for every datagram of
 * the group (BPF_PROG_TYPE_SK_REUSEPORT, with the socket in a
 * REUSEPORT_SOCKARRAY). The group has one program: an abstract name of the
 * port held meanwhile keeps other restoring processes with a socket of the
 * same group waiting.
 */
struct steer {
	int map, prog, mutex;
};

static int bpf_sys(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int steer_lock(const InetSkEntry *e, const char *who)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int m = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	if (m < 0) {
		pr_perror("socket");
		return -1;
	}
	len = offsetof(struct sockaddr_un, sun_path) + 1 +
	      snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "criu-reuseport-%u-%u-%u", e->family, e->protocol,
		       e->src_port);
	for (int i = 0; bind(m, (struct sockaddr *)&a, len); i++) {
		if (errno != EADDRINUSE || i == 10000) {
			pr_perror("%s: can't take the name that guards its SO_REUSEPORT group", who);
			close(m);
			return -1;
		}
		usleep(1000);
	}
	return m;
}

static void unsteer(int sk, struct steer *st)
{
	int zero = 0;

	if (st->prog >= 0 && setsockopt(sk, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof(zero)))
		pr_perror("can't take criu's program off a SO_REUSEPORT group");
	if (st->prog >= 0)
		close(st->prog);
	if (st->map >= 0)
		close(st->map);
	if (st->mutex >= 0)
		close(st->mutex);
	st->prog = st->map = st->mutex = -1;
}

/* 1: steered; 0: not needed or not possible (no CAP_BPF: the kernel's hash picks); -1: error */
static int steer(int sk, const InetSkEntry *e, struct steer *st, const char *who)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1 },
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_2, .src_reg = BPF_PSEUDO_MAP_FD },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = -4 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_sk_select_reuseport },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	uint32_t key = 0;
	uint64_t val = sk;

	st->map = st->prog = st->mutex = -1;
	if (!e->opts || !e->opts->has_reuseport || !e->opts->reuseport || !e->n_queue)
		return 0;
	st->mutex = steer_lock(e, who);
	if (st->mutex < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
	attr.key_size = sizeof(key);
	attr.value_size = sizeof(val);
	attr.max_entries = 1;
	st->map = bpf_sys(BPF_MAP_CREATE, &attr);
	if (st->map < 0)
		goto none;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = st->map;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&val;
	if (bpf_sys(BPF_MAP_UPDATE_ELEM, &attr))
		goto none;
	insns[2].imm = st->map;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
	attr.expected_attach_type = BPF_SK_REUSEPORT_SELECT;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = ARRAY_SIZE(insns);
	attr.license = (uintptr_t)"GPL";
	st->prog = bpf_sys(BPF_PROG_LOAD, &attr);
	if (st->prog < 0)
		goto none;
	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &st->prog, sizeof(st->prog))) {
		close(st->prog);
		st->prog = -1;
		goto none;
	}
	return 1;
none:
	pr_warn("%s: can't steer its queued datagrams to it in its SO_REUSEPORT group (%s): the kernel's hash picks "
		"the socket\n", who, strerror(errno));
	unsteer(sk, st);
	return 0;
}

static int restore_dgrams(int sk, const InetSkEntry *e, const char *who)
{
	struct inet_ep self;
	struct steer st;
	size_t total = 0;
	uint32_t before, now;
	int tries, ret = -1, cscov = e->udp && e->udp->has_send_cscov ? (int)e->udp->send_cscov : 0;

	if (!e->n_queue)
		return 0;
	for (size_t i = 0; i < e->n_queue; i++)
		total += e->queue[i]->data.len;
	if (sk_raise_bufs(sk, total + e->n_queue * 1024, who))
		return -1;
	if (steer(sk, e, &st, who) < 0)
		return -1;
	entry_ep(e, 0, &self);
	for (size_t i = 0; i < e->n_queue; i++) {
		const InetDgramEntry *d = e->queue[i];
		struct inet_ep from = { .family = e->family, .port = d->src_port }, to = self;

		if ((int)d->src_addr.len != addr_len(e->family) ||
		    (d->has_dst_addr && (int)d->dst_addr.len != addr_len(e->family))) {
			pr_err("%s: datagram #%zu has a bad address\n", who, i);
			goto out;
		}
		memcpy(from.addr, d->src_addr.data, d->src_addr.len);
		if (d->has_dst_addr)
			memcpy(to.addr, d->dst_addr.data, d->dst_addr.len);
		inet_ep_unmap(&from);
		inet_ep_unmap(&to);
		if (rmem_alloc(sk, &before, who))
			goto out;
		if (inject_udp(e->protocol, &from, &to, d->data.data, d->data.len, cscov)) {
			pr_err("can't queue datagram #%zu on %s again\n", i, who);
			goto out;
		}
		/*
		 * Loopback delivers it from a softirq, maybe later: wait for it
		 * before the next one, which keeps the order. Not by peeking:
		 * that marks an empty datagram peeked, and a later dump's peeks
		 * at an offset could not see it any more.
		 */
		for (tries = 0; tries < 1000; tries++) {
			if (rmem_alloc(sk, &now, who))
				goto out;
			if (now != before)
				break;
			usleep(1000);
		}
		if (tries == 1000) {
			pr_err("%s: datagram #%zu of %zu did not come back\n", who, i, e->n_queue);
			goto out;
		}
	}
	ret = 0;
out:
	unsteer(sk, &st);
	return ret;
}

/*
 * A datagram queued from someone other than the peer: it came before the
 * socket connected. A connected socket takes only its peer's, so such a
 * queue goes in before the connect.
 */
static int queued_from_others(const InetSkEntry *e)
{
	for (size_t i = 0; i < e->n_queue; i++) {
		const InetDgramEntry *d = e->queue[i];

		if (d->src_port != e->dst_port || d->src_addr.len != e->dst_addr.len ||
		    memcmp(d->src_addr.data, e->dst_addr.data, d->src_addr.len))
			return 1;
	}
	return 0;
}

static int bind_ep(int sk, const InetSkEntry *e, const char *who)
{
	struct sockaddr_storage ss;
	struct inet_ep ep;
	char a[64];
	socklen_t len;

	entry_ep(e, 0, &ep);
	len = inet_ep_sockaddr(&ep, &ss);
	if (bind(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("can't bind %s to %s", who, inet_ep_str(&ep, a, sizeof(a)));
		return -1;
	}
	return 0;
}

static int connect_ep(int sk, const InetSkEntry *e, const char *who)
{
	struct sockaddr_storage ss;
	struct inet_ep ep;
	char a[64];
	socklen_t len;

	entry_ep(e, 1, &ep);
	len = inet_ep_sockaddr(&ep, &ss);
	if (connect(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("can't connect %s to %s", who, inet_ep_str(&ep, a, sizeof(a)));
		return -1;
	}
	return 0;
}

/* SYN_SENT again: a connect() that does not wait (the task's own flags come last, sk_set_flags()). */
static int connect_again(int sk, const InetSkEntry *e, const char *who)
{
	struct sockaddr_storage ss;
	struct inet_ep ep;
	char a[64];
	socklen_t len;

	if (!e->has_dst_addr) {
		pr_err("%s: a connection being made without a peer\n", who);
		return -1;
	}
	entry_ep(e, 1, &ep);
	len = inet_ep_sockaddr(&ep, &ss);
	if (fcntl(sk, F_SETFL, O_NONBLOCK)) {
		pr_perror("can't make %s non-blocking", who);
		return -1;
	}
	if (connect(sk, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		pr_perror("can't start connecting %s to %s again", who, inet_ep_str(&ep, a, sizeof(a)));
		return -1;
	}
	return 0;
}

static int check_entry(const FileEntry *fe)
{
	const InetSkEntry *e = fe->isk;

	if (!e || (e->family != AF_INET && e->family != AF_INET6) ||
	    (e->has_src_addr && (int)e->src_addr.len != addr_len(e->family)) ||
	    (e->has_dst_addr && (int)e->dst_addr.len != addr_len(e->family)) || e->src_port > 65535 ||
	    e->dst_port > 65535) {
		pr_err("file %u: a bad inet socket record\n", fe->id);
		return -1;
	}
	if (e->stream && !e->has_dst_addr) {
		pr_err("file %u: a TCP connection without a peer\n", fe->id);
		return -1;
	}
	return 0;
}

static int do_shutdown(int sk, uint32_t how, const char *who)
{
	int h = (how & RCV_SHUTDOWN) && (how & SEND_SHUTDOWN) ? SHUT_RDWR : how & RCV_SHUTDOWN ? SHUT_RD : SHUT_WR;

	/* on a socket that isn't connected it says ENOTCONN, and still shuts */
	if (how && shutdown(sk, h) && errno != ENOTCONN) {
		pr_perror("can't shut %s down", who);
		return -1;
	}
	return 0;
}

static int open_isk(struct fd_rst *c, FileEntry *fe)
{
	const InetSkEntry *e = fe->isk;
	int sk, one = 1, repair;
	char who[64];

	(void)c;
	if (check_entry(fe))
		return -1;
	repair = e->stream && !e->closed && !opts.tcp_close;
	snprintf(who, sizeof(who), "%s socket %lu", kind_name(e), (unsigned long)e->ino);
	sk = socket(e->family, e->type | SOCK_CLOEXEC, e->protocol);
	if (sk < 0) {
		if (errno == EACCES && (e->protocol == IPPROTO_ICMP || e->protocol == IPPROTO_ICMPV6))
			pr_err("can't make %s: net.ipv4.ping_group_range does not allow criu's group\n", who);
		else
			pr_perror("can't make %s", who);
		return -1;
	}
	if (restore_ip_opts(sk, e, who) || sk_opts_restore(sk, e->opts, SK_OPT_EARLY, 0, who) ||
	    restore_udp_opts(sk, e, SK_OPT_EARLY, who))
		goto err;
	if (is_tcp(e) && tcp_restore_opts(sk, e, SK_OPT_EARLY, who))
		goto err;
	if (repair) {
		if (tcp_restore_stream(sk, e, who))
			goto err;
	} else if (is_tcp(e) && (e->closed || e->stream)) {
		/* --tcp-close: a connection that is over, as if the peer had gone */
		if (do_shutdown(sk, RCV_SHUTDOWN | SEND_SHUTDOWN, who))
			goto err;
	} else {
		/* the port may be held by a connection of the tree restored before (in repair mode) */
		if (e->type != SOCK_RAW && e->protocol != IPPROTO_ICMP && e->protocol != IPPROTO_ICMPV6 &&
		    setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) {
			pr_perror("can't set SO_REUSEADDR on %s", who);
			goto err;
		}
		if (e->bound && bind_ep(sk, e, who))
			goto err;
		if (e->state == TCP_LISTEN && listen(sk, e->has_backlog ? (int)e->backlog : SOMAXCONN)) {
			pr_perror("can't listen on %s", who);
			goto err;
		}
		if (is_tcp(e) && e->state == TCP_SYN_SENT && connect_again(sk, e, who))
			goto err;
		/* multicast datagrams queued come back through the groups */
		if (restore_memberships(sk, e, who))
			goto err;
		if (e->type != SOCK_STREAM && e->state == TCP_ESTABLISHED && e->has_dst_addr) {
			int early = queued_from_others(e);

			if ((early && restore_dgrams(sk, e, who)) || connect_ep(sk, e, who))
				goto err;
			if (!early && restore_dgrams(sk, e, who))
				goto err;
		} else if (restore_dgrams(sk, e, who)) {
			goto err;
		}
	}
	if (sk_opts_restore(sk, e->opts, SK_OPT_LATE, repair || e->n_queue, who) ||
	    restore_udp_opts(sk, e, SK_OPT_LATE, who))
		goto err;
	if (is_tcp(e) && tcp_restore_opts(sk, e, SK_OPT_LATE, who))
		goto err;
	if (!repair && !is_tcp(e) && do_shutdown(sk, e->shutdown, who))
		goto err;
	if (!repair && is_tcp(e) && !e->closed && !e->stream && e->state != TCP_LISTEN &&
	    do_shutdown(sk, e->shutdown, who))
		goto err;
	if (e->opts) {
		SkOptsEntry last = *e->opts;

		/* SO_REUSEADDR of a connection goes back once it leaves repair mode (net_restore_finish()) */
		if (repair)
			last.has_reuseaddr = 0;
		if (sk_opts_restore(sk, &last, SK_OPT_LAST, 0, who))
			goto err;
	}
	if (sk_set_flags(sk, e->flags, who))
		goto err;
	return sk;
err:
	close(sk);
	return -1;
}

int inet_in_repair(const FileEntry *fe)
{
	return fe->isk && fe->isk->stream && !fe->isk->closed && !opts.tcp_close;
}

/*
 * A connection in flight on a unix socket (SCM_RIGHTS) leaves criu's reach
 * once it is queued: it comes out of repair mode now, still behind the lock,
 * without the window probe the lock would drop anyway.
 */
int inet_inflight_repair_off(int sk, const FileEntry *fe)
{
	char who[96];

	if (fe->type != FILE_TYPE__FT_INETSK || !inet_in_repair(fe))
		return 0;
	snprintf(who, sizeof(who), "%s socket %lu in flight", kind_name(fe->isk), (unsigned long)fe->isk->ino);
	return tcp_repair_off(sk, fe->isk->opts && fe->isk->opts->reuseaddr, 0, who);
}

const struct fd_kind inetsk_kind = {
	.link = "socket:[",
	.prefix = 1,
	.sk_families = 1ULL << AF_INET | 1ULL << AF_INET6,
	.type = FILE_TYPE__FT_INETSK,
	.dump = dump_isk,
	.open = open_isk,
	.free = free_isk,
};
