// SPDX-License-Identifier: GPL-2.0-only
/*
 * tun and tap devices of the test's own network namespace and the
 * /dev/net/tun fds on them come back attached to the same devices, with
 * the same settings:
 *   tun0   a tun device (no packet info) that is not persistent: its fd
 *          holds it; it has an address and a route, and a datagram sent
 *          to the route comes out of the fd after the restore; it must
 *          still go with its last fd (not persistent again)
 *   tap0   a multi-queue tap with a vnet header, two fds (two queues), a
 *          send buffer and a header size set through one of them; up, its carrier
 *          turned off by hand
 *   tap1   a persistent tap without any fd
 *   and an fd of /dev/net/tun attached to nothing.
 * With the argument "foreign" (netns_tun_refuse) a non-persistent tun
 * device is made in a network namespace that is not the tree's: the fd is
 * refused by name.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define RUN(...)                                         \
	do {                                             \
		if (zdtm_run(NULL, __VA_ARGS__))         \
			test_bug(__VA_ARGS__); \
	} while (0)

static int tun_open(const char *name, int flags)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0)
		test_bug("open /dev/net/tun");
	if (name) {
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
		if (ioctl(fd, TUNSETIFF, &ifr))
			test_bug("TUNSETIFF %s", name);
	}
	return fd;
}

static void check_fd(int fd, const char *name, int flags)
{
	struct ifreq ifr = {};

	if (ioctl(fd, TUNGETIFF, &ifr)) {
		fail("fd %d: TUNGETIFF (want %s)", fd, name);
		return;
	}
	if (strcmp(ifr.ifr_name, name))
		failv("fd %d is on %s, not %s", fd, ifr.ifr_name, name);
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_PERSIST)) != flags)
		failv("fd %d (%s) has flags %#x, not %#x", fd, name, ifr.ifr_flags, flags);
}

static void check_int(int fd, unsigned long req, const char *what, int want)
{
	int v = 0;

	if (ioctl(fd, req, &v) || v != want)
		failv("fd %d: %s is %d, not %d", fd, what, v, want);
}

/* A datagram to 10.60.0.2 goes out of tun0: its fd reads it (an IPv4 packet, no packet info). */
static void check_traffic(int fd)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5555) };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char buf[2048];
	int sk = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	inet_pton(AF_INET, "10.60.0.2", &to.sin_addr);
	if (sk < 0 || sendto(sk, "zdtm-tun", 8, 0, (struct sockaddr *)&to, sizeof(to)) != 8) {
		fail("send to 10.60.0.2");
		goto out;
	}
	/* IPv6 router solicitations and the like may come first: look for ours */
	for (int i = 0; i < 20; i++) {
		if (poll(&p, 1, 1000) != 1)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n >= 36 && (buf[0] >> 4) == 4 && buf[9] == IPPROTO_UDP && !memcmp(buf + n - 8, "zdtm-tun", 8))
			goto out;
	}
	fail("the datagram to 10.60.0.2 did not come out of tun0's fd");
out:
	if (sk >= 0)
		close(sk);
}

/* Its state follows the carrier now, not when linkwatch gets to it (ETHTOOL_GLINK runs it). */
static void settle(const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GLINK };
	struct ifreq ifr = { .ifr_data = (void *)&ev };
	int sk = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (sk < 0 || ioctl(sk, SIOCETHTOOL, &ifr))
		test_bug("ETHTOOL_GLINK %s", name);
	close(sk);
}

static int foreign(void)
{
	int self = open("/proc/self/ns/net", O_RDONLY), fd;

	/* made in a namespace the test leaves: only its fd holds it */
	if (self < 0 || unshare(CLONE_NEWNET))
		test_bug("a second network namespace");
	fd = tun_open("tunx", IFF_TUN | IFF_NO_PI);
	if (setns(self, CLONE_NEWNET))
		test_bug("back to the test's network namespace");
	close(self);

	test_daemon();
	test_waitsig();
	check_fd(fd, "tunx", IFF_TUN | IFF_NO_PI);
	if (test_failures)
		return 1;
	pass();
	return 0;
}

int main(int argc, char **argv)
{
	int tun, q0, q1, loose, sndbuf = 123456, hdr = 12;
	const int tap_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;

	test_init(argc, argv);
	if (zdtm_netns_own())
		test_bug("a network namespace of the test's own");
	if (test_argc > 1 && !strcmp(test_argv[1], "foreign"))
		return foreign();

	tun = tun_open("tun0", IFF_TUN | IFF_NO_PI);
	/*
	 * No kernel-made link-local addresses: tun0's would have the
	 * stable-privacy flag, which can't be given back; tap0's would be
	 * tentative or not as its detection was when the carrier went.
	 */
	RUN("ip link set tun0 addrgenmode none");
	RUN("ip addr add 10.60.0.1/24 dev tun0");
	RUN("ip link set tun0 up");
	q0 = tun_open("tap0", tap_flags);
	q1 = tun_open("tap0", tap_flags);
	if (ioctl(q1, TUNSETSNDBUF, &sndbuf) || ioctl(q1, TUNSETVNETHDRSZ, &hdr))
		test_bug("tap0 queue settings");
	RUN("ip link set tap0 addrgenmode none");
	RUN("ip link set tap0 up");
	RUN("ip link set tap0 carrier off");
	settle("tap0");
	loose = tun_open("tap1", IFF_TAP | IFF_NO_PI);
	if (ioctl(loose, TUNSETPERSIST, 1))
		test_bug("TUNSETPERSIST tap1");
	close(loose);
	loose = tun_open(NULL, 0);
	check_traffic(tun);
	if (test_failures)
		test_bug("tun0 does not carry a datagram before the dump");

	test_daemon();
	test_waitsig();

	check_fd(tun, "tun0", IFF_TUN | IFF_NO_PI);
	check_fd(q0, "tap0", tap_flags);
	check_fd(q1, "tap0", tap_flags);
	/* both are the device's (set through one queue) */
	check_int(q0, TUNGETSNDBUF, "sndbuf", sndbuf);
	check_int(q1, TUNGETSNDBUF, "sndbuf", sndbuf);
	check_int(q0, TUNGETVNETHDRSZ, "vnet header size", hdr);
	check_int(q1, TUNGETVNETHDRSZ, "vnet header size", hdr);
	if (!(zdtm_link_flags("tun0") & IFF_RUNNING))
		failv("tun0 does not run (flags %#x)", zdtm_link_flags("tun0"));
	if (zdtm_link_flags("tap0") & IFF_RUNNING)
		failv("tap0 runs (flags %#x): its carrier was off", zdtm_link_flags("tap0"));
	if (!if_nametoindex("tap1"))
		fail("tap1 (persistent, no fd) is gone");
	{
		struct ifreq ifr = {};

		if (ioctl(loose, TUNGETIFF, &ifr) == 0 || errno != EBADFD)
			fail("the loose fd is attached (%s) or broken", ifr.ifr_name);
	}
	check_traffic(tun);
	/* not persistent: it goes with its fd */
	close(tun);
	for (int i = 0; i < 100 && if_nametoindex("tun0"); i++)
		usleep(10000);
	if (if_nametoindex("tun0"))
		fail("tun0 stayed after its fd was closed: persistent after the restore");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
