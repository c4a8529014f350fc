// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a unix socket pair (fds 79 and 80, with a queued
 * message) is not supported, so the dump must fail, name the resource
 * and leave the process running untouched (see socket_refuse.desc).
 * After SIGTERM the test checks its memory and that the queued message
 * is still there.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define SOCK_FD		79
#define MEM_SIZE	(1UL << 20)
#define MSG		"still queued"

int main(int argc, char **argv)
{
	unsigned char *mem;
	char buf[64] = {};
	int sk[2];
	uint64_t seed;
	size_t bad;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sk))
		test_bug("socketpair");
	if (dup2(sk[0], SOCK_FD) != SOCK_FD || dup2(sk[1], SOCK_FD + 1) !=
	    SOCK_FD + 1)
		test_bug("dup2");
	close(sk[0]);
	close(sk[1]);
	if (send(SOCK_FD, MSG, sizeof(MSG), 0) != sizeof(MSG))
		test_bug("send");

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);
	if (recv(SOCK_FD + 1, buf, sizeof(buf), MSG_DONTWAIT) != sizeof(MSG))
		fail("recv");
	else if (strcmp(buf, MSG))
		failv("received \"%s\"", buf);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
