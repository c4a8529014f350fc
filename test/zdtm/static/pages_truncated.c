// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an ordinary memory test (32 MiB of patterned private
 * anonymous memory).  Its .desc tells the runner to cut the dumped
 * pages image to half its size: the restore must then fail and leave
 * no process behind.  Run without C/R it simply checks its memory.
 */
#include <sys/mman.h>

#include "zdtmtst.h"

#define MEM_SIZE (32UL << 20)

int main(int argc, char **argv)
{
	unsigned char *mem;
	uint64_t seed;
	size_t bad;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
