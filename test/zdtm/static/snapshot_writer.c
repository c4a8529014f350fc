// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory written all the time, also while it is dumped with --snapshot
 * (its desc asks for it): the images must hold the memory of one instant,
 * the one the registers are of, though the pages are copied while the
 * task runs on.
 *
 * Sweeps over 64 MiB: sweep g writes g into the first and the last word of
 * every page, in order, and before each write checks that the page holds
 * g - 1, the previous sweep's. The restored task goes on from the instant
 * of the images: a page saved after it was written (newer than the
 * registers say), or before an earlier write (older), breaks the chain at
 * its turn. Every eighth page's last word is written by the kernel, by a
 * read() from a pipe: kernel-mode writes to a write-protected page must
 * wait for its copy as user-mode ones do, not fail. After SIGTERM one more
 * whole sweep checks every page.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PAGE		ZDTM_PAGE_SIZE
#define NPAGES		16384
#define WORDS		(PAGE / 8)

static uint64_t *mem;
#ifdef SNAP_STILL_PAGES
/* written once before the dumps, never after: the pre-dump's pages (in_prev) */
static uint64_t *still;

static uint64_t still_word(size_t pg)
{
	return pg * 7919 + 0x5eed;
}
#endif
static int pfd[2];
static uint64_t bad, first_bad, bad_was, bad_want, kfail;
static int kerr;

static void sweep(uint64_t gen)
{
	for (size_t pg = 0; pg < NPAGES; pg++) {
		uint64_t *w = mem + pg * WORDS;

		if (w[0] != gen - 1 || w[WORDS - 1] != gen - 1) {
			if (!bad++) {
				first_bad = pg;
				bad_was = w[0] != gen - 1 ? w[0] : w[WORDS - 1];
				bad_want = gen - 1;
			}
		}
		w[0] = gen;
		if (pg % 8 == 0) {
			/* the kernel writes it: copy_to_user() into a page that may be write-protected */
			if (write(pfd[1], &gen, sizeof(gen)) != sizeof(gen) ||
			    read(pfd[0], &w[WORDS - 1], sizeof(gen)) != sizeof(gen)) {
				if (!kfail++)
					kerr = errno;
				w[WORDS - 1] = gen;
			}
		} else {
			w[WORDS - 1] = gen;
		}
		if (pg % 64 == 63)
			usleep(100);
	}
}

int main(int argc, char **argv)
{
	uint64_t gen = 1;

	test_init(argc, argv);
	if (pipe(pfd))
		test_bug("pipe");
	mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	for (size_t pg = 0; pg < NPAGES; pg++)
		mem[pg * WORDS] = mem[pg * WORDS + WORDS - 1] = 0;
#ifdef SNAP_STILL_PAGES
	still = mmap(NULL, SNAP_STILL_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (still == MAP_FAILED)
		test_bug("mmap");
	for (size_t pg = 0; pg < SNAP_STILL_PAGES; pg++)
		still[pg * WORDS] = still[pg * WORDS + WORDS - 1] = still_word(pg);
#endif
	test_daemon();
	while (test_go())
		sweep(gen++);
	/* the last sweep may have begun before the restore: one more, whole, after it */
	sweep(gen++);
#ifdef SNAP_STILL_PAGES
	for (size_t pg = 0; pg < SNAP_STILL_PAGES; pg++)
		if (still[pg * WORDS] != still_word(pg) || still[pg * WORDS + WORDS - 1] != still_word(pg)) {
			fail("page %zu of the area never written after the start holds %lx, not %lx", pg,
			     (unsigned long)still[pg * WORDS], (unsigned long)still_word(pg));
			return 1;
		}
#endif
	if (bad)
		fail("%lu pages not of the images' instant: page %lu held %lu where %lu was due (one sweep "
		     "before the next write)", (unsigned long)bad, (unsigned long)first_bad, (unsigned long)bad_was,
		     (unsigned long)bad_want);
	else if (kfail)
		fail("%lu kernel-mode writes (read() into the memory) failed: %s", (unsigned long)kfail,
		     strerror(kerr));
	else
		pass();
	return 0;
}
