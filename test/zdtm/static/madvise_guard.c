// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guard regions (MADV_GUARD_INSTALL, Linux 6.13+) survive C/R: in a
 * private anonymous area with data around them, in a private and in a
 * shared file mapping, and in an area where guards were installed and
 * removed again. Afterwards exactly the guard pages are guards (pagemap
 * bit 58; reading them with process_vm_readv fails with EFAULT), every
 * other page keeps its data, and a guard can be removed and the page used.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "zdtmtst.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif
#define PM_GUARD	(1ULL << 58)

#define NP	16
#define PG	ZDTM_PAGE_SIZE

enum { ANON, FPRIV, FSHARED, REMOVED, NR_AREAS };

static char *area[NR_AREAS];
/* guard pages of each area, as a bit mask of page numbers */
static const unsigned int guards[NR_AREAS] = {
	[ANON] = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 15),
	[FPRIV] = (1 << 2) | (1 << 7),
	[FSHARED] = 1 << 5,
	[REMOVED] = 0,
};

static int is_guard_pm(int pm, char *p)
{
	uint64_t e;

	if (pread(pm, &e, 8, ((uintptr_t)p / PG) * 8) != 8)
		return -1;
	return !!(e & PM_GUARD);
}

static int readable(char *p)
{
	char buf[8];
	struct iovec l = { buf, sizeof(buf) }, r = { p, sizeof(buf) };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == sizeof(buf);
}

static void check_area(int pm, int a, int seed)
{
	for (int i = 0; i < NP; i++) {
		char *p = area[a] + i * PG;
		int want = !!(guards[a] & (1u << i));

		if (is_guard_pm(pm, p) != want)
			failv("area %d page %d: guard bit %d, want %d", a, i, !want, want);
		if (readable(p) == want)
			failv("area %d page %d: %sreadable", a, i, want ? "" : "not ");
		if (!want && zdtm_check(p, PG, seed * 100 + i) != (size_t)-1)
			failv("area %d page %d: lost its data", a, i);
	}
}

int main(int argc, char **argv)
{
	char path[4096];
	int fd, pm;

	test_init(argc, argv);
	test_path(path, sizeof(path), "guard.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * NP * PG))
		test_bug("create %s", path);
	area[ANON] = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	area[FPRIV] = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	area[FSHARED] = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, NP * PG);
	area[REMOVED] = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	close(fd);
	for (int a = 0; a < NR_AREAS; a++) {
		if (area[a] == MAP_FAILED)
			test_bug("mmap");
		for (int i = 0; i < NP; i++)
			zdtm_fill(area[a] + i * PG, PG, a * 100 + i);
		for (int i = 0; i < NP; i++)
			if (guards[a] & (1u << i) && madvise(area[a] + i * PG, PG, MADV_GUARD_INSTALL))
				test_bug("MADV_GUARD_INSTALL");
	}
	/* installed and removed: smaps says it may hold guards, it holds none */
	if (madvise(area[REMOVED] + 2 * PG, PG, MADV_GUARD_INSTALL) ||
	    madvise(area[REMOVED] + 2 * PG, PG, MADV_GUARD_REMOVE))
		test_bug("guard install/remove");
	zdtm_fill(area[REMOVED] + 2 * PG, PG, REMOVED * 100 + 2);

	test_daemon();
	test_waitsig();

	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0) {
		fail("open pagemap");
		return 1;
	}
	for (int a = 0; a < NR_AREAS; a++)
		check_area(pm, a, a);
	close(pm);
	/* a restored guard is a real one: removing it gives a usable zero page */
	if (madvise(area[ANON] + 3 * PG, PG, MADV_GUARD_REMOVE))
		fail("MADV_GUARD_REMOVE");
	else if (zdtm_check_zero(area[ANON] + 3 * PG, PG) != (size_t)-1)
		failv("a removed guard page is not zero");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
