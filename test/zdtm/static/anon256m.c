// SPDX-License-Identifier: GPL-2.0-only
/*
 * 256 MiB of private anonymous memory filled with an offset and seed
 * dependent pattern, with holes of never touched pages inside it and
 * a separate never touched mapping; all must survive C/R.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define AREA_SIZE	(256UL << 20)
#define UNTOUCHED_SIZE	(16UL << 20)
#define PAGE		ZDTM_PAGE_SIZE

/* Every page whose index gives this remainder is left untouched. */
#define HOLE_STRIDE	97
#define HOLE_REM	13

static bool is_hole(size_t pg)
{
	return pg % HOLE_STRIDE == HOLE_REM;
}

int main(int argc, char **argv)
{
	size_t npages = AREA_SIZE / PAGE, pg, off, bad_pages = 0;
	unsigned char *area, *untouched;
	uint64_t seed;

	test_init(argc, argv);

	seed = zdtm_random();
	area = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	untouched = mmap(NULL, UNTOUCHED_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || untouched == MAP_FAILED)
		test_bug("mmap");

	/* The page index goes into the seed: pages differ from each other. */
	for (pg = 0; pg < npages; pg++)
		if (!is_hole(pg))
			zdtm_fill(area + pg * PAGE, PAGE, seed ^ pg);

	test_daemon();
	test_waitsig();

	for (pg = 0; pg < npages; pg++) {
		if (is_hole(pg))
			off = zdtm_check_zero(area + pg * PAGE, PAGE);
		else
			off = zdtm_check(area + pg * PAGE, PAGE, seed ^ pg);
		if (off == (size_t)-1)
			continue;
		if (bad_pages++ < 10)
			failv("page %zu (%s) differs at byte %zu", pg,
			      is_hole(pg) ? "hole" : "data", off);
	}
	if (bad_pages)
		failv("%zu of %zu pages corrupted", bad_pages, npages);

	off = zdtm_check_zero(untouched, UNTOUCHED_SIZE);
	if (off != (size_t)-1)
		failv("untouched area has non-zero byte at %zu", off);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
