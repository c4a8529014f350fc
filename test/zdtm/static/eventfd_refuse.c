// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an eventfd (fd 78, counter 5) is not supported, so the
 * dump must fail, name the resource and leave the process running
 * untouched (see eventfd_refuse.desc).  After SIGTERM the test checks
 * its memory and that the eventfd still holds its counter.
 */
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define EVENT_FD	78
#define MEM_SIZE	(1UL << 20)

int main(int argc, char **argv)
{
	unsigned char *mem;
	uint64_t seed, cnt;
	size_t bad;
	int fd;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	fd = eventfd(5, EFD_NONBLOCK);
	if (fd < 0 || dup2(fd, EVENT_FD) != EVENT_FD)
		test_bug("eventfd");
	close(fd);

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);
	if (read(EVENT_FD, &cnt, sizeof(cnt)) != sizeof(cnt))
		fail("read eventfd");
	else if (cnt != 5)
		failv("eventfd counter is %llu, expected 5",
		      (unsigned long long)cnt);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
