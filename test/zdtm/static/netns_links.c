// SPDX-License-Identifier: GPL-2.0-only
/*
 * The contents of the test's own network namespace (made by the test in
 * the h flavor, the flavor's in the others), built with ip/nft/iptables,
 * come back as they were: the runner compares everything the tools show
 * ("netns_snapshot"), the test what the kernel does with it. The first
 * argument picks what is built (each variant's .desc gives it):
 *
 *   links     veth pairs (one down), a bridge with a port and their
 *             settings, a macvlan, an ifb device; MTU, hardware address,
 *             promiscuous and allmulti, txqueuelen, group, alias, altname,
 *             no ARP, the IPv6 address generation mode
 *   addrs     IPv4 (primary, secondary, label, peer, no prefix route,
 *             metric) and IPv6 addresses (after DAD, nodad, no prefix
 *             route, lifetimes, deprecated), a removed link-local one
 *   routes    routes of several tables and types (gateway, multipath,
 *             metrics, blackhole, unreachable, prohibit, expiring IPv6,
 *             preference), rules (source, fwmark, iif, goto, suppress,
 *             not, ip proto and ports, IPv6), a removed default rule and
 *             kernel route, permanent and proxy neighbours
 *   sysctl    global and per-device sysctls of ipv4, ipv6, core and unix
 *             (ip_forward with one device not forwarding, a gid range)
 *   nft       nftables tables: sets, named counters, chains of two families
 *   iptables  iptables-nft rules (an xtables match too), ip6tables, a user
 *             chain, nat, and legacy iptables next to them
 *   macvlan_ext  a macvlan on a device of the runner's namespace
 *             (--external macvlan[mv0]:LOWER at restore)
 *   kind_refuse, qdisc_refuse, sysctl_refuse: what can't be rebuilt (a
 *             vxlan link, a tc qdisc, a read-only sysctl that differs from
 *             a new namespace's: tcp_ehash_entries, which the parent
 *             namespace chose) is refused by name and the namespace stays
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define RUN(...)                                            \
	do {                                                \
		if (zdtm_run(NULL, __VA_ARGS__))            \
			test_bug(__VA_ARGS__);    \
	} while (0)

static const char *what;

static int write_sysctl(const char *name, const char *value)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int read_sysctl(const char *name, char *buf, size_t size)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static void wait_dad(void)
{
	if (zdtm_wait_dad())
		test_bug("IPv6 addresses stay tentative");
}

static void setup_links(void)
{
	RUN("ip link add v0 type veth peer name v1");
	RUN("ip link set v0 mtu 1400 address 02:11:22:33:44:55 txqueuelen 500 group 5 promisc on allmulticast on");
	RUN("ip link set v0 alias zdtm-alias");
	RUN("ip link property add dev v0 altname zdtm-v0-alt");
	RUN("ip link add br0 type bridge forward_delay 300 hello_time 300 ageing_time 20000 priority 100");
	RUN("ip link set v1 master br0");
	RUN("ip link set v1 type bridge_slave cost 7 priority 10 hairpin on learning off");
	RUN("ip link add mv0 link v0 type macvlan mode private");
	RUN("ip link set mv0 address 02:aa:bb:cc:dd:01");
	RUN("ip link add ifb7 type ifb");
	RUN("ip link set ifb7 arp off");
	RUN("ip link add v2 type veth peer name v3");
	RUN("ip link set v3 addrgenmode none");
	RUN("ip link set v0 up");
	RUN("ip link set v1 up");
	RUN("ip link set br0 up");
	RUN("ip link set mv0 up");
	RUN("ip link set ifb7 up");
	RUN("ip link set v3 up");
	wait_dad();
}

static void check_links(void)
{
	struct ifreq ifr = { .ifr_name = "v0" };
	int sk = socket(AF_INET, SOCK_DGRAM, 0);
	int f = zdtm_link_flags("v0");

	if (f < 0 || (f & (IFF_UP | IFF_PROMISC | IFF_ALLMULTI)) != (IFF_UP | IFF_PROMISC | IFF_ALLMULTI))
		failv("v0 has flags %#x", f);
	if (ioctl(sk, SIOCGIFMTU, &ifr) || ifr.ifr_mtu != 1400)
		failv("v0 has MTU %d", ifr.ifr_mtu);
	if (ioctl(sk, SIOCGIFHWADDR, &ifr) || memcmp(ifr.ifr_hwaddr.sa_data, "\x02\x11\x22\x33\x44\x55", 6))
		fail("v0 has another hardware address");
	if (if_nametoindex("v2") == 0 || (zdtm_link_flags("v2") & IFF_UP))
		failv("v2 is not there, down");
	f = zdtm_link_flags("ifb7");
	if (f < 0 || !(f & IFF_NOARP))
		failv("ifb7 has flags %#x", f);
	if (!(zdtm_link_flags("br0") & IFF_RUNNING))
		failv("br0 does not run (flags %#x)", zdtm_link_flags("br0"));
	close(sk);
}

static void setup_addrs(void)
{
	RUN("ip link add v0 type veth peer name v1");
	RUN("ip link set v0 up");
	RUN("ip link set v1 up");
	RUN("ip addr add 10.1.0.1/24 brd + dev v0 label v0:a");
	RUN("ip addr add 10.1.0.2/24 dev v0");
	RUN("ip addr add 10.2.0.1 peer 10.2.0.9/32 dev v1");
	RUN("ip addr add 10.3.0.1/16 dev v1 noprefixroute");
	RUN("ip addr add 10.4.0.1/16 dev v1 metric 77");
	RUN("ip -6 addr add 2001:db8:1::1/64 dev v0");
	RUN("ip -6 addr add 2001:db8:1::2/64 dev v0 nodad");
	RUN("ip -6 addr add 2001:db8:2::1/64 dev v1 noprefixroute");
	RUN("ip -6 addr add 2001:db8:3::1/64 dev v1 valid_lft 3000 preferred_lft 2000");
	RUN("ip -6 addr add 2001:db8:4::1/64 dev v1 valid_lft 3000 preferred_lft 0");
	wait_dad();
	RUN("ip -6 addr flush dev v1 scope link");
}

static void bind_to(int family, const char *addr)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int sk = socket(family, SOCK_DGRAM, 0);

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		len = sizeof(*a);
	}
	if (sk < 0 || bind(sk, (struct sockaddr *)&ss, len))
		fail("can't bind to %s", addr);
	if (sk >= 0)
		close(sk);
}

static void check_addrs(void)
{
	/* there, and not tentative */
	bind_to(AF_INET, "10.1.0.2");
	bind_to(AF_INET, "10.2.0.1");
	bind_to(AF_INET6, "2001:db8:1::1");
	bind_to(AF_INET6, "2001:db8:3::1");
}

static void setup_routes(void)
{
	RUN("ip link add v0 type veth peer name v1");
	RUN("ip link set v0 up");
	RUN("ip link set v1 up");
	RUN("ip addr add 10.1.0.1/24 dev v0");
	RUN("ip -6 addr add 2001:db8:1::1/64 dev v0 nodad");
	RUN("ip route add 192.168.10.0/24 via 10.1.0.254");
	RUN("ip route add 192.168.11.0/24 dev v0 src 10.1.0.1 metric 7 mtu lock 1300");
	RUN("ip route add 192.168.12.0/24 nexthop via 10.1.0.253 weight 2 nexthop via 10.1.0.252 weight 1");
	RUN("ip route add blackhole 192.168.13.0/24");
	RUN("ip route add unreachable 192.168.14.0/24");
	RUN("ip route add prohibit 192.168.15.0/24");
	RUN("ip route add 192.168.16.0/24 via 10.1.0.254 table 100");
	RUN("ip route add default via 10.1.0.254 table 1000");
	RUN("ip -6 route add 2001:db8:9::/64 via 2001:db8:1::fe");
	RUN("ip -6 route add 2001:db8:a::/64 dev v0 table 200 pref high");
	RUN("ip -6 route add 2001:db8:b::/64 via 2001:db8:1::fe expires 3000");
	RUN("ip rule add from 10.1.0.0/24 table 100 pref 1000");
	RUN("ip rule add fwmark 0x10/0xff table 1000 pref 1001");
	RUN("ip rule add iif v0 goto 1003 pref 1002");
	RUN("ip rule add to 10.9.0.0/16 lookup main suppress_prefixlength 0 pref 1003");
	RUN("ip rule add not from 10.8.0.0/16 table 100 pref 1004");
	RUN("ip rule add ipproto tcp dport 80-90 table 100 pref 1005");
	RUN("ip -6 rule add from 2001:db8::/32 table 200 pref 2000");
	RUN("ip rule del pref 32767");
	RUN("ip neigh add 10.1.0.200 lladdr 02:00:00:00:00:c8 dev v0 nud permanent");
	RUN("ip -6 neigh add 2001:db8:1::200 lladdr 02:00:00:00:00:c9 dev v0 nud permanent");
	RUN("ip neigh add proxy 10.1.0.201 dev v0");
	RUN("ip -6 route del ff00::/8 dev v1 table local");
}

static int connect_udp(const char *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	int sk = socket(AF_INET, SOCK_DGRAM, 0), ret;

	inet_pton(AF_INET, addr, &a.sin_addr);
	ret = connect(sk, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(sk);
	return ret;
}

static void check_routes(void)
{
	int e;

	if ((e = connect_udp("192.168.13.1")) != EINVAL)
		failv("a blackhole route gives %s", strerror(e));
	if ((e = connect_udp("192.168.14.1")) != EHOSTUNREACH)
		failv("an unreachable route gives %s", strerror(e));
	if ((e = connect_udp("192.168.15.1")) != EACCES)
		failv("a prohibit route gives %s", strerror(e));
	if ((e = connect_udp("192.168.10.1")))
		failv("a gateway route gives %s", strerror(e));
}

static const char *const sysctls[][2] = {
	{ "ipv4/ip_default_ttl", "33" },
	{ "core/somaxconn", "200" },
	{ "unix/max_dgram_qlen", "37" },
	{ "ipv4/tcp_keepalive_time", "3333" },
	{ "ipv4/ip_local_port_range", "20000\t30000" },
	{ "ipv4/ping_group_range", "0\t1000" },
	{ "ipv4/conf/all/rp_filter", "2" },
	{ "ipv4/ip_forward", "1" },
	{ "ipv4/conf/v0/forwarding", "0" },
	{ "ipv6/conf/default/hop_limit", "77" },
	{ "ipv6/conf/v0/mtu", "1300" },
	{ "ipv6/conf/v1/disable_ipv6", "1" },
	{ "ipv4/neigh/v0/base_reachable_time_ms", "12000" },
	{ "ipv6/conf/v0/stable_secret", "2001:0db8:0000:0000:0000:0000:0000:0099" },
};

static void setup_sysctl(void)
{
	RUN("ip link add v0 type veth peer name v1");
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++)
		if (write_sysctl(sysctls[i][0], sysctls[i][1]))
			test_bug("can't set %s", sysctls[i][0]);
}

static void check_sysctl(void)
{
	char buf[256];

	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++)
		if (read_sysctl(sysctls[i][0], buf, sizeof(buf)) || strcmp(buf, sysctls[i][1]))
			failv("%s is %s, not %s", sysctls[i][0], buf, sysctls[i][1]);
	/* set with all, not changed since: a device made then took it */
	if (read_sysctl("ipv4/conf/v1/forwarding", buf, sizeof(buf)) || strcmp(buf, "1"))
		failv("ipv4/conf/v1/forwarding is %s", buf);
}

static const char nft_rules[] = "table inet zt {\n"
				"	set blocked { type ipv4_addr; elements = { 10.9.9.9, 10.9.9.10 } }\n"
				"	counter cnt { }\n"
				"	chain in {\n"
				"		type filter hook input priority 0; policy accept;\n"
				"		udp dport 7777 counter drop\n"
				"		ip saddr @blocked drop\n"
				"		udp dport 7778 counter name \"cnt\" accept\n"
				"	}\n"
				"	chain out { type filter hook output priority 10; policy accept; meta mark 0x5 accept; }\n"
				"}\n"
				"table ip6 zt6 {\n"
				"	chain pre { type filter hook prerouting priority -150; policy accept; udp dport 7777 drop; }\n"
				"}\n";

static void setup_nft(void)
{
	if (zdtm_run(nft_rules, "nft -f -"))
		test_bug("nft -f");
}

static void setup_iptables(void)
{
	/* the host's /run/xtables.lock is not ours in a user namespace */
	setenv("XTABLES_LOCKFILE", "/tmp/zdtm-xtables.lock", 1);
	RUN("iptables -w -A INPUT -p udp --dport 7777 -j DROP");
	RUN("iptables -w -A INPUT -m comment --comment zdtm -p udp --dport 7779 -j DROP");
	RUN("iptables -w -N ZCHAIN");
	RUN("iptables -w -A ZCHAIN -j RETURN");
	RUN("iptables -w -A OUTPUT -j ZCHAIN");
	RUN("iptables -w -t nat -A POSTROUTING -s 10.1.0.0/24 -j MASQUERADE");
	RUN("ip6tables -w -A INPUT -p udp --dport 7777 -j DROP");
	RUN("iptables-legacy -w -A INPUT -p udp --dport 7780 -j DROP");
}

/* A datagram to 127.0.0.1:@port: 1 if it arrives. */
static int udp_arrives(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 0, 200000 };
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0), ok;
	char buf[8];

	if (r < 0 || s < 0 || bind(r, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ok = sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1 && recv(r, buf, sizeof(buf), 0) == 1;
	close(r);
	close(s);
	return ok;
}

static void check_filter(const int *dropped, int nd, const int *passed, int np)
{
	for (int i = 0; i < nd; i++)
		if (udp_arrives(dropped[i]))
			failv("a datagram to port %d went through", dropped[i]);
	for (int i = 0; i < np; i++)
		if (udp_arrives(passed[i]) != 1)
			failv("a datagram to port %d did not go through", passed[i]);
}

static void check_nft(void)
{
	static const int d[] = { 7777 }, p[] = { 7778, 7779 };

	check_filter(d, 1, p, 2);
}

static void check_iptables(void)
{
	static const int d[] = { 7777, 7779, 7780 }, p[] = { 7778 };

	check_filter(d, 3, p, 1);
}

static void setup_macvlan_ext(void)
{
	if (zdtm_macvlan_on_host("mv0"))
		test_bug("a macvlan on the runner's lower device");
	RUN("ip link set mv0 address 02:aa:bb:cc:dd:02");
	RUN("ip addr add 10.9.0.1/24 dev mv0");
	RUN("ip link set mv0 up");
}

static void check_macvlan_ext(void)
{
	struct ifreq ifr = { .ifr_name = "mv0" };
	int sk = socket(AF_INET, SOCK_DGRAM, 0);

	if (!(zdtm_link_flags("mv0") & IFF_UP))
		fail("mv0 is not up");
	if (sk < 0 || ioctl(sk, SIOCGIFHWADDR, &ifr) || memcmp(ifr.ifr_hwaddr.sa_data, "\x02\xaa\xbb\xcc\xdd\x02", 6))
		fail("mv0 has another hardware address");
	bind_to(AF_INET, "10.9.0.1");
	if (sk >= 0)
		close(sk);
}

static void setup_kind_refuse(void)
{
	RUN("ip link add vx7 type vxlan id 5 dstport 4789");
}

static void setup_qdisc_refuse(void)
{
	RUN("tc qdisc add dev lo root pfifo");
}

static void setup_sysctl_refuse(void)
{
	/* a namespace whose parent gave it a hash table of its own size (h flavor) */
	if (write_sysctl("ipv4/tcp_child_ehash_entries", "1024") || unshare(CLONE_NEWNET))
		test_bug("a child namespace with 1024 ehash entries");
}

static void check_sysctl_refuse(void)
{
	char buf[64];

	if (read_sysctl("ipv4/tcp_ehash_entries", buf, sizeof(buf)) || strcmp(buf, "1024"))
		failv("tcp_ehash_entries is %s", buf);
}

static void check_kind_refuse(void)
{
	if (!if_nametoindex("vx7"))
		fail("vx7 is gone");
}

static void check_qdisc_refuse(void)
{
	if (!(zdtm_link_flags("lo") & IFF_UP))
		fail("lo is down");
}

static const struct scenario {
	const char *name;
	void (*setup)(void);
	void (*check)(void);
} scenarios[] = {
	{ "links", setup_links, check_links },
	{ "addrs", setup_addrs, check_addrs },
	{ "routes", setup_routes, check_routes },
	{ "sysctl", setup_sysctl, check_sysctl },
	{ "nft", setup_nft, check_nft },
	{ "iptables", setup_iptables, check_iptables },
	{ "macvlan_ext", setup_macvlan_ext, check_macvlan_ext },
	{ "kind_refuse", setup_kind_refuse, check_kind_refuse },
	{ "qdisc_refuse", setup_qdisc_refuse, check_qdisc_refuse },
	{ "sysctl_refuse", setup_sysctl_refuse, check_sysctl_refuse },
};

int main(int argc, char **argv)
{
	const struct scenario *s = NULL;

	test_init(argc, argv);
	what = test_argc > 1 ? test_argv[1] : "links";
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (!strcmp(scenarios[i].name, what))
			s = &scenarios[i];
	if (!s)
		test_bug("no scenario %s", what);
	if (zdtm_netns_own())
		test_bug("a network namespace of the test's own");
	s->setup();
	/* the links' link-local addresses settled: the runner's snapshot is taken now */
	wait_dad();
	s->check();
	if (test_failures)
		test_bug("%s does not work before the dump", what);

	test_daemon();
	test_waitsig();

	s->check();
	if (test_failures)
		return 1;
	pass();
	return 0;
}
