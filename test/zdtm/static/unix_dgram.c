// SPDX-License-Identifier: GPL-2.0-only
/*
 * Datagram boundaries: a dgram socketpair with 6 datagrams of different
 * sizes (one empty) queued, and a path-bound dgram socket with datagrams
 * from a bound sender (connected to it) and from an unbound one. After
 * C/R every datagram comes back whole, in order, with its sender's
 * address, and nothing more. A third one is bound to a name relative to
 * its cwd (not criu's) and has a datagram from the unbound sender.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zdtmtst.h"

static const size_t sizes[] = { 1, 0, 4000, 17, 65000, 3 };
static unsigned char data[65000], buf[70000];

static void fill(unsigned char *p, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = i * 13 + seed;
}

static socklen_t addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof(a->sun_path) - 1);
	return sizeof(*a);
}

static void expect(int fd, const void *want, size_t len, const char *from, int i)
{
	struct sockaddr_un src;
	socklen_t slen = sizeof(src);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &slen);

	if (n != (ssize_t)len || memcmp(buf, want, len)) {
		failv("datagram %d: %zd bytes, want %zu", i, n, len);
		return;
	}
	if (from && (slen <= sizeof(sa_family_t) || strcmp(src.sun_path, from)))
		failv("datagram %d: from \"%s\", want \"%s\"", i, slen > 2 ? src.sun_path : "", from);
	if (!from && slen > sizeof(sa_family_t))
		failv("datagram %d: from \"%s\", want nobody", i, src.sun_path);
}

int main(int argc, char **argv)
{
	char rpath[108], spath[108];
	struct sockaddr_un a;
	int sk[2], r, s, u, rel;

	test_init(argc, argv);
	test_path(rpath, sizeof(rpath), "zdtm.dgram.r");
	test_path(spath, sizeof(spath), "zdtm.dgram.s");
	unlink(rpath);
	unlink(spath);
	if (chdir(test_dir()))
		test_bug("chdir");
	unlink("zdtm.dgram.rel");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk))
		test_bug("socketpair");
	for (int i = 0; i < 6; i++) {
		fill(data, sizes[i], i);
		if (send(sk[0], data, sizes[i], 0) != (ssize_t)sizes[i])
			test_bug("send %d", i);
	}
	r = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(r, (struct sockaddr *)&a, addr(&a, rpath)) || bind(s, (struct sockaddr *)&a, addr(&a, spath)) ||
	    connect(s, (struct sockaddr *)&a, addr(&a, rpath)))
		test_bug("bind/connect");
	fill(data, 100, 40);
	if (send(s, data, 100, 0) != 100 || sendto(u, data, 7, 0, (struct sockaddr *)&a, addr(&a, rpath)) != 7 ||
	    send(s, data, 30, 0) != 30)
		test_bug("send to the bound socket");
	rel = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(rel, (struct sockaddr *)&a, addr(&a, "zdtm.dgram.rel")) ||
	    sendto(u, data, 9, 0, (struct sockaddr *)&a, addr(&a, "zdtm.dgram.rel")) != 9)
		test_bug("the socket bound to a relative name");

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 6; i++) {
		fill(data, sizes[i], i);
		expect(sk[1], data, sizes[i], NULL, i);
	}
	errno = 0;
	if (recv(sk[1], buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		failv("more datagrams on the pair");
	fill(data, 100, 40);
	expect(r, data, 100, spath, 10);
	expect(r, data, 7, NULL, 11);
	expect(r, data, 30, spath, 12);
	errno = 0;
	if (recv(r, buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		failv("more datagrams on the bound socket");
	if (send(s, "x", 1, 0) != 1)
		fail("the connected sender can't send");
	expect(r, "x", 1, spath, 13);
	expect(rel, data, 9, NULL, 14);
	unlink("zdtm.dgram.rel");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
