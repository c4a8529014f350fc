// SPDX-License-Identifier: GPL-2.0-only
/*
 * The heap: grown with sbrk() by several MiB to an unaligned break and
 * filled with a pattern.  After C/R the break is the same, the data is
 * intact, the area is still reported as [heap], and both sbrk() and
 * malloc() keep working.
 */
#include <stdlib.h>
#include <string.h>

#include "zdtmtst.h"

#define GROW	((6UL << 20) + 1234)
#define PAGE	ZDTM_PAGE_SIZE

static bool heap_labelled(void *addr)
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[1024];
	bool ret = false;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (a >= s && a < e) {
			ret = strstr(line, "[heap]") != NULL;
			break;
		}
	}
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	void *start, *end, *cur, *p;
	unsigned char *m;
	uint64_t seed;
	size_t off;

	test_init(argc, argv);

	/* Let malloc set up its arena before we move the break. */
	free(malloc(100));

	seed = zdtm_random();
	start = sbrk(GROW);
	if (start == (void *)-1)
		test_bug("sbrk");
	end = sbrk(0);
	if ((char *)end != (char *)start + GROW)
		test_bug("sbrk(0) = %p, expected %p", end,
			 (char *)start + GROW);
	zdtm_fill(start, GROW, seed);

	test_daemon();
	test_waitsig();

	cur = sbrk(0);
	if (cur != end)
		failv("program break is %p, was %p", cur, end);

	off = zdtm_check(start, GROW, seed);
	if (off != (size_t)-1)
		failv("heap data differs at byte %zu", off);

	if (!heap_labelled(start) || !heap_labelled((char *)end - 1))
		failv("grown area is not labelled [heap] in maps");

	/* The break can still move both ways. */
	p = sbrk(3 * PAGE);
	if (p != cur) {
		failv("sbrk(+) returned %p, expected %p", p, cur);
	} else {
		memset(p, 0x3c, 3 * PAGE);
		if (sbrk(-3 * (long)PAGE) == (void *)-1 || sbrk(0) != cur)
			fail("sbrk(-) failed");
	}

	m = malloc(64 << 10);
	if (!m) {
		fail("malloc after restore");
	} else {
		memset(m, 0x42, 64 << 10);
		if (m[(64 << 10) - 1] != 0x42)
			failv("malloc'ed memory is broken");
		free(m);
	}

	if (test_failures)
		return 1;
	pass();
	return 0;
}
