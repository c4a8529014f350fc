// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zero pages: an area that was only read (the shared zero page is
 * mapped), an area that was memset to zero and an area that held data
 * and was cleared.  All must read as zero after C/R, and data next to
 * them must be intact.
 */
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define AREA_SIZE	(8UL << 20)
#define PAGE		ZDTM_PAGE_SIZE

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	unsigned char *rd, *zeroed, *cleared, *mixed;
	uint64_t seed;
	size_t i, off;

	test_init(argc, argv);

	seed = zdtm_random();
	rd = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	zeroed = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cleared = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mixed = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rd == MAP_FAILED || zeroed == MAP_FAILED ||
	    cleared == MAP_FAILED || mixed == MAP_FAILED)
		test_bug("mmap");

	/* Read faults map the zero page. */
	for (i = 0; i < AREA_SIZE; i += PAGE)
		sink += rd[i];

	memset(zeroed, 0, AREA_SIZE);

	zdtm_fill(cleared, AREA_SIZE, seed);
	memset(cleared, 0, AREA_SIZE);

	/* Even pages hold data, odd pages were read only. */
	for (i = 0; i < AREA_SIZE / PAGE; i++) {
		if (i % 2 == 0)
			zdtm_fill(mixed + i * PAGE, PAGE, seed + i);
		else
			sink += mixed[i * PAGE + 17];
	}

	test_daemon();
	test_waitsig();

	off = zdtm_check_zero(rd, AREA_SIZE);
	if (off != (size_t)-1)
		failv("read-only touched area: non-zero byte at %zu", off);
	off = zdtm_check_zero(zeroed, AREA_SIZE);
	if (off != (size_t)-1)
		failv("memset area: non-zero byte at %zu", off);
	off = zdtm_check_zero(cleared, AREA_SIZE);
	if (off != (size_t)-1)
		failv("cleared area: non-zero byte at %zu", off);
	for (i = 0; i < AREA_SIZE / PAGE; i++) {
		if (i % 2 == 0)
			off = zdtm_check(mixed + i * PAGE, PAGE, seed + i);
		else
			off = zdtm_check_zero(mixed + i * PAGE, PAGE);
		if (off != (size_t)-1) {
			failv("mixed area: page %zu (%s) bad at byte %zu", i,
			      i % 2 ? "zero" : "data", off);
			break;
		}
	}

	/* The areas must still be private and writable. */
	rd[5] = 0x5a;
	zeroed[AREA_SIZE - 1] = 0xa5;
	if (rd[5] != 0x5a || zeroed[AREA_SIZE - 1] != 0xa5)
		failv("areas are not writable");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
