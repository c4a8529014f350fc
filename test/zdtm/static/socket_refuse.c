// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a vsock stream socket at fd 79 is of a family criu can't
 * dump, so the dump must fail, name the resource (family and fd) and leave
 * the process running untouched (see socket_refuse.desc). After SIGTERM
 * the test checks its memory and that the socket is still the same vsock
 * socket.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define SOCK_FD		79
#define MEM_SIZE	(1UL << 20)

int main(int argc, char **argv)
{
	struct stat st1, st2;
	unsigned char *mem;
	socklen_t len = sizeof(int);
	uint64_t seed;
	int sk, family = 0;
	size_t bad;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	sk = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (sk < 0)
		test_bug("socket(AF_VSOCK)");
	if (dup2(sk, SOCK_FD) != SOCK_FD)
		test_bug("dup2");
	close(sk);
	if (fstat(SOCK_FD, &st1))
		test_bug("fstat");

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);
	if (fstat(SOCK_FD, &st2) || st2.st_ino != st1.st_ino)
		fail("fd %d is no longer the socket", SOCK_FD);
	if (getsockopt(SOCK_FD, SOL_SOCKET, SO_DOMAIN, &family, &len) || family != AF_VSOCK)
		failv("fd %d is of family %d", SOCK_FD, family);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
