// SPDX-License-Identifier: GPL-2.0-only
/*
 * A task that keeps discarding (MADV_DONTNEED) and rewriting the last MiB of
 * its 256 while `dump -R --snapshot` copies it (its desc asks for that): the
 * page it had at the snapshot instant is gone before the copy reaches it
 * (the copy goes in address order, the discarded MiB is last), so the dump
 * must fail, naming the page, rather than save a page of another instant.
 * The task must run on untouched: after SIGTERM its memory holds what it
 * last wrote (the memory before the tail as first written, the tail its
 * last version).
 */
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PAGE		ZDTM_PAGE_SIZE
#define SIZE		(256 << 20)
#define TAIL		(1 << 20)

int main(int argc, char **argv)
{
	unsigned char *mem;
	uint64_t seed = 0x5eed, ver = 0;
	size_t bad;

	test_init(argc, argv);
	mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, SIZE - TAIL, seed);
	zdtm_fill(mem + SIZE - TAIL, TAIL, seed + ++ver);
	test_daemon();
	while (test_go()) {
		if (madvise(mem + SIZE - TAIL, TAIL, MADV_DONTNEED))
			test_bug("madvise");
		/* no sleep: a task that waits for a timer may not run at all during a short copy on a busy machine */
		zdtm_fill(mem + SIZE - TAIL, TAIL, seed + ++ver);
	}
	bad = zdtm_check(mem, SIZE - TAIL, seed);
	if (bad != (size_t)-1) {
		fail("byte %zu of the memory never discarded changed", bad);
		return 1;
	}
	bad = zdtm_check(mem + SIZE - TAIL, TAIL, seed + ver);
	if (bad != (size_t)-1) {
		fail("byte %zu of the discarded tail is not its last version %lu", bad, (unsigned long)ver);
		return 1;
	}
	pass();
	return 0;
}
