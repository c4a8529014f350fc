// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory restored through huge pages (cow.c: 2 MiB runs all of whose pages
 * were dumped are filled in huge pages by several threads and moved into
 * place): an area starting off a 2 MiB boundary whose 2 MiB blocks are in
 * turn all data, all data, data with one page missing and untouched; an
 * area told MADV_NOHUGEPAGE and one told MADV_HUGEPAGE, both all data.
 * After restore: every page as it was (holes zero), each area with its
 * own flags ("hg" only where the test asked for it, "nh" kept, no huge
 * page in the "nh" one), and the process with its one thread (no filler
 * thread left).
 *
 * With HUGE_FILL_FULL=1 (huge_fill_bad) every block is all data, so the
 * page zdtm damages in the middle of the pages file is in a huge run:
 * the restore must fail naming it, and leave nothing behind. With
 * HUGE_FILL_TEXT=1 (huge_fill_compress) each page repeats 256 bytes of
 * its own, so that --compress makes real frames.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define MB		(1UL << 20)
#define HUGE		(2 * MB)
#define PAGE		ZDTM_PAGE_SIZE
#define MAIN_SIZE	(160 * MB + 5 * PAGE)
#define SIDE_SIZE	(8 * MB)

static uint64_t seed;
static int full, text;

#define TEXT_PIECE	256

static void fill_page(unsigned char *p, uint64_t sd)
{
	if (!text) {
		zdtm_fill(p, PAGE, sd);
		return;
	}
	zdtm_fill(p, TEXT_PIECE, sd);
	for (size_t k = TEXT_PIECE; k < PAGE; k += TEXT_PIECE)
		memcpy(p + k, p, TEXT_PIECE);
}

/* The offset of the first byte of page @p that differs, or -1. */
static size_t check_page(const unsigned char *p, uint64_t sd)
{
	unsigned char want[PAGE];

	if (!text)
		return zdtm_check(p, PAGE, sd);
	fill_page(want, sd);
	for (size_t k = 0; k < PAGE; k++)
		if (p[k] != want[k])
			return k;
	return (size_t)-1;
}

/* Block kinds, by the index of the 2 MiB block an address is in. */
static int is_hole(unsigned long addr)
{
	unsigned long blk = addr / HUGE;

	if (full)
		return 0;
	if (blk % 4 == 3)
		return 1;
	return blk % 4 == 2 && (addr / PAGE) % (HUGE / PAGE) == 77;
}

static void fill(unsigned char *a, size_t len, int holes)
{
	for (size_t off = 0; off < len; off += PAGE)
		if (!holes || !is_hole((unsigned long)a + off))
			fill_page(a + off, seed ^ ((unsigned long)a + off));
}

static size_t check(const char *what, unsigned char *a, size_t len, int holes)
{
	size_t bad = 0;

	for (size_t off = 0; off < len; off += PAGE) {
		int hole = holes && is_hole((unsigned long)a + off);
		size_t at = hole ? zdtm_check_zero(a + off, PAGE) : check_page(a + off, seed ^ ((unsigned long)a + off));

		if (at != (size_t)-1 && bad++ < 5)
			failv("%s: page at +%zu (%s) differs at byte %zu", what, off, hole ? "hole" : "data", at);
	}
	return bad;
}

/* The VmFlags and AnonHugePages of the area at @start. 0, or -1 if not found. */
static int area_info(unsigned char *start, char *flags, size_t len, long *anon_huge)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = -1;

	if (!f)
		test_bug("/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = s == (unsigned long)start;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", anon_huge) == 1)
			continue;
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

static int has_flag(const char *flags, const char *fl)
{
	char pat[8];

	snprintf(pat, sizeof(pat), " %s ", fl);
	return strstr(flags, pat) != NULL;
}

static int nr_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		test_bug("/proc/self/task");
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static unsigned char *map_at_odd(size_t len)
{
	/* 1 MiB and a page past a 2 MiB boundary: runs don't start where the area does */
	unsigned char *m = mmap(NULL, len + 4 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long a;

	if (m == MAP_FAILED)
		test_bug("mmap");
	a = (((unsigned long)m + HUGE - 1) & ~(HUGE - 1)) + MB + PAGE;
	munmap(m, a - (unsigned long)m);
	munmap((void *)(a + len), (unsigned long)m + len + 4 * HUGE - a - len);
	return (unsigned char *)a;
}

int main(int argc, char **argv)
{
	unsigned char *main_a, *nohuge, *huge;
	char flags[512];
	long ah = 0;

	test_init(argc, argv);
	full = getenv("HUGE_FILL_FULL") != NULL;
	text = getenv("HUGE_FILL_TEXT") != NULL;
	seed = zdtm_random();
	main_a = map_at_odd(MAIN_SIZE);
	nohuge = map_at_odd(SIDE_SIZE);
	huge = map_at_odd(SIDE_SIZE);
	if (madvise(nohuge, SIDE_SIZE, MADV_NOHUGEPAGE) || madvise(huge, SIDE_SIZE, MADV_HUGEPAGE))
		test_bug("madvise");
	fill(main_a, MAIN_SIZE, 1);
	fill(nohuge, SIDE_SIZE, 0);
	fill(huge, SIDE_SIZE, 0);

	test_daemon();
	test_waitsig();

	if (check("main", main_a, MAIN_SIZE, 1) + check("nohuge", nohuge, SIDE_SIZE, 0) +
	    check("huge", huge, SIDE_SIZE, 0))
		failv("memory differs");
	if (area_info(main_a, flags, sizeof(flags), &ah) || has_flag(flags, "hg") || has_flag(flags, "nh"))
		failv("the main area has the flags%s (no hg, no nh wanted)", flags);
	if (area_info(nohuge, flags, sizeof(flags), &ah) || !has_flag(flags, "nh") || has_flag(flags, "hg"))
		failv("the MADV_NOHUGEPAGE area has the flags%s", flags);
	if (ah)
		failv("the MADV_NOHUGEPAGE area has %ld kB in huge pages", ah);
	if (area_info(huge, flags, sizeof(flags), &ah) || !has_flag(flags, "hg"))
		failv("the MADV_HUGEPAGE area has the flags%s", flags);
	if (nr_threads() != 1)
		failv("%d threads, not 1", nr_threads());
	if (test_failures)
		return 1;
	pass();
	return 0;
}
