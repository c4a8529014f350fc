// SPDX-License-Identifier: GPL-2.0-only
/*
 * A task in a network namespace of its own holding loopback alone, up:
 * it comes back in a new namespace (not criu's) with lo up, 127.0.0.1
 * reachable through it (a UDP datagram to itself), and the namespace's
 * ip_default_ttl as it was (the kernel's default: a changed one would be
 * refused, see netns_sysctl_refuse).
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

static int lo_flags(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk = socket(AF_INET, SOCK_DGRAM, 0);

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr))
		return -1;
	close(sk);
	return ifr.ifr_flags;
}

/* a datagram from 127.0.0.1 to itself, through lo */
static int lo_works(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char buf[8] = "";
	int sk = socket(AF_INET, SOCK_DGRAM, 0), ok;

	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) || getsockname(sk, (struct sockaddr *)&a, &len))
		return 0;
	ok = sendto(sk, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)) == 4 && recv(sk, buf, sizeof(buf), 0) == 4 &&
	     !memcmp(buf, "ping", 4);
	close(sk);
	return ok;
}

int main(int argc, char **argv)
{
	struct stat before, after, host;
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk;

	test_init(argc, argv);
	if (stat("/proc/self/ns/net", &host))
		test_bug("stat");
	if (unshare(CLONE_NEWNET))
		test_bug("unshare(CLONE_NEWNET)");
	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr))
		test_bug("SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr))
		test_bug("SIOCSIFFLAGS");
	close(sk);
	if (stat("/proc/self/ns/net", &before) || !lo_works())
		test_bug("lo does not work");
	test_daemon();
	test_waitsig();
	if (stat("/proc/self/ns/net", &after))
		fail("stat");
	else if (after.st_ino == host.st_ino)
		failv("back in the network namespace the test started in");
	if (lo_flags() < 0 || !(lo_flags() & IFF_UP))
		failv("lo is not up (flags %#x)", lo_flags());
	if (!lo_works())
		failv("127.0.0.1 does not reach itself");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
