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
	/*
	 * The tail's two halves in turn, so that whenever the snapshot is
	 * taken one half is whole (a snapshot between a discard and the
	 * refill of the whole tail would have no tail pages to lose), and the
	 * next step discards it. No sleep: the copy is short.
	 */
	while (test_go()) {
		unsigned char *half = mem + SIZE - TAIL + (ver % 2) * (TAIL / 2);

		if (madvise(half, TAIL / 2, MADV_DONTNEED))
			test_bug("madvise");
		zdtm_fill(half, TAIL / 2, seed + ver + 1);
		ver++;
	}
	bad = zdtm_check(mem, SIZE - TAIL, seed);
	if (bad != (size_t)-1) {
		fail("byte %zu of the memory never discarded changed", bad);
		return 1;
	}
	for (int h = 0; h < 2; h++) {
		/* half h was last filled with the last version that had (v % 2) == h, as seed + v + 1 */
		uint64_t v = (ver - 1) % 2 == (uint64_t)h ? ver - 1 : ver >= 2 ? ver - 2 : 0;

		bad = zdtm_check(mem + SIZE - TAIL + h * (TAIL / 2), TAIL / 2, seed + v + 1);
		if (bad != (size_t)-1) {
			fail("byte %zu of half %d of the discarded tail is not its last version %lu", bad, h,
			     (unsigned long)v + 1);
			return 1;
		}
	}
	pass();
	return 0;
}
