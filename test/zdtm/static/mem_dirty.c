// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory that keeps changing in every way a page can change, for
 * incremental dumps (its desc asks for pre-dumps before each dump): pages
 * rewritten, discarded with MADV_DONTNEED (and some written again), areas
 * moved with mremap, unmapped and mapped afresh at the same address,
 * protected read-only and back, heap pages rewritten. It keeps
 * doing so while the runner pre-dumps and dumps it, and records what
 * every page must hold (a version per page, in its own memory, which is
 * dumped with the rest). After restore and SIGTERM every page is checked:
 * a page taken from an older dump of the chain where it had changed since
 * would show here.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PAGE		ZDTM_PAGE_SIZE
#define NPAGES		512
#define AREA		(NPAGES * PAGE)
#define HEAP_MAX	(256 * PAGE)

enum { REWRITE, DISCARD, MOVE, REMAP, PROTECT, NR_AREAS };

struct state {
	unsigned char *area[NR_AREAS];
	unsigned char *move_spot[2];		/* MOVE alternates between these */
	int move_at;
	int32_t ver[NR_AREAS][NPAGES];		/* -1: must read as zero */
	unsigned char *heap;
	size_t heap_pages;
	int32_t heap_ver[HEAP_MAX / PAGE];
	uint64_t steps;
};

static struct state *st;
static uint64_t seed;

static uint64_t page_seed(int a, size_t i, int32_t v)
{
	return seed ^ ((uint64_t)a << 56) ^ ((uint64_t)i << 32) ^ (uint32_t)v;
}

static void write_page(unsigned char *p, int a, size_t i, int32_t *ver)
{
	int32_t v = *ver < 0 ? 1 : *ver + 1;

	zdtm_fill(p, PAGE, page_seed(a, i, v));
	*ver = v;
}

static uint64_t rnd(void)
{
	static uint64_t x = 88172645463325252ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static unsigned char *map_area(void *at)
{
	unsigned char *p = mmap(at, AREA, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED : 0), -1, 0);

	if (p == MAP_FAILED)
		test_bug("mmap");
	return p;
}

static void step(void)
{
	size_t i = rnd() % NPAGES;
	int r = rnd() % 16;

	/* rewrite a page anywhere, most of the time */
	for (int a = 0; a < NR_AREAS; a++) {
		size_t k = rnd() % NPAGES;

		if (a != PROTECT)
			write_page(st->area[a] + k * PAGE, a, k, &st->ver[a][k]);
	}
	switch (r) {
	case 0:
	case 1:
		if (madvise(st->area[DISCARD] + i * PAGE, PAGE, MADV_DONTNEED))
			test_bug("madvise");
		st->ver[DISCARD][i] = -1;
		break;
	case 2: {
		unsigned char *to = st->move_spot[!st->move_at];
		void *m = mremap(st->area[MOVE], AREA, AREA, MREMAP_MAYMOVE | MREMAP_FIXED, to);

		if (m != to)
			test_bug("mremap");
		st->area[MOVE] = to;
		st->move_at = !st->move_at;
		/* what was there before is a hole now: map it back for the next move */
		st->move_spot[!st->move_at] = map_area(st->move_spot[!st->move_at]);
		break;
	}
	case 3:
		if (rnd() % 4)
			break;
		map_area(st->area[REMAP]);
		for (size_t k = 0; k < NPAGES; k++)
			st->ver[REMAP][k] = -1;
		for (size_t k = 0; k < NPAGES; k += 2)
			write_page(st->area[REMAP] + k * PAGE, REMAP, k, &st->ver[REMAP][k]);
		break;
	case 4:
		if (mprotect(st->area[PROTECT], AREA, PROT_READ) ||
		    mprotect(st->area[PROTECT], AREA, PROT_READ | PROT_WRITE))
			test_bug("mprotect");
		write_page(st->area[PROTECT] + i * PAGE, PROTECT, i, &st->ver[PROTECT][i]);
		break;
	case 5:
		/* the heap keeps its size: the runner compares the areas before and after */
		write_page(st->heap + i % st->heap_pages * PAGE, NR_AREAS, i % st->heap_pages,
			   &st->heap_ver[i % st->heap_pages]);
		break;
	}
	st->steps++;
}

static int check_page(const unsigned char *p, int a, size_t i, int32_t v)
{
	size_t off = v < 0 ? zdtm_check_zero(p, PAGE) : zdtm_check(p, PAGE, page_seed(a, i, v));

	int32_t holds = -2;

	if (off == (size_t)-1)
		return 0;
	/* which version it holds instead, if any: an older one means a stale page */
	if (zdtm_check_zero(p, PAGE) == (size_t)-1)
		holds = -1;
	for (int32_t w = 1; w < v + 64 && holds == -2; w++)
		if (zdtm_check(p, PAGE, page_seed(a, i, w)) == (size_t)-1)
			holds = w;
	failv("area %d page %zu at %p (version %d) differs at byte %zu after %lu steps; it holds %s %d", a, i,
	      (void *)p, v, off, (unsigned long)st->steps, holds == -2 ? "none" : holds == -1 ? "zeroes" : "version",
	      holds);
	return -1;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);

	seed = zdtm_random();
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		test_bug("mmap");
	for (int a = 0; a < NR_AREAS; a++) {
		st->area[a] = map_area(NULL);
		for (size_t k = 0; k < NPAGES; k++)
			write_page(st->area[a] + k * PAGE, a, k, &st->ver[a][k]);
	}
	st->move_spot[0] = st->area[MOVE];
	st->move_spot[1] = map_area(NULL);
	st->heap = sbrk(HEAP_MAX);
	if (st->heap == (void *)-1)
		test_bug("sbrk");
	st->heap_pages = HEAP_MAX / PAGE;
	for (size_t k = 0; k < st->heap_pages; k++)
		write_page(st->heap + k * PAGE, NR_AREAS, k, &st->heap_ver[k]);

	test_daemon();
	while (test_go()) {
		step();
		usleep(500);
	}

	for (int a = 0; a < NR_AREAS; a++)
		for (size_t k = 0; k < NPAGES; k++)
			if (check_page(st->area[a] + k * PAGE, a, k, st->ver[a][k]))
				return 1;
	for (size_t k = 0; k < st->heap_pages; k++)
		if (check_page(st->heap + k * PAGE, NR_AREAS, k, st->heap_ver[k]))
			return 1;
	test_msg("%lu steps\n", (unsigned long)st->steps);
	pass();
	return 0;
}
