// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory protections: a PROT_NONE area holding data, a read-only area
 * with data, an area split into pieces of different protection, a
 * never touched PROT_NONE area and an executable area with code.
 * Protections are checked both in /proc/self/maps and by actually
 * touching the memory.
 */
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define PAGE	ZDTM_PAGE_SIZE
#define NPAGES	28

#define RW	(PROT_READ | PROT_WRITE)
#define RWX	(PROT_READ | PROT_WRITE | PROT_EXEC)

/*
 * Page layout of one mapping.  Fences are rwx pages, a protection no
 * other mapping has, so the areas between them never merge with
 * anything and their bounds can be checked exactly.
 */
enum {
	FENCE0 = 0,
	A_START = 1,		/* 4 pages of data, PROT_NONE */
	FENCE1 = 5,
	B_START = 6,		/* 4 pages of data, PROT_READ */
	FENCE2 = 10,
	C_START = 11,		/* rw rw r- -- rw */
	FENCE3 = 16,
	D_START = 17,		/* 8 untouched pages, PROT_NONE */
	FENCE4 = 25,
	E_START = 26,		/* code, r-x */
	FENCE5 = 27,
};

static unsigned char *base;
static uint64_t seed;
static sigjmp_buf probe_env;
static volatile int probing;

#define PG(n)	(base + (n) * PAGE)

static const unsigned char code[] = {
	0xb8, 0x2a, 0x00, 0x00, 0x00,	/* mov $42, %eax */
	0xc3,				/* ret */
};

static void segv_handler(int sig)
{
	if (probing)
		siglongjmp(probe_env, 1);
	_exit(2);
}

/* Returns 1 if accessing the byte faults, 0 otherwise. */
static int faults(volatile unsigned char *p, bool write)
{
	int ret = 0;

	probing = 1;
	if (sigsetjmp(probe_env, 1) == 0) {
		if (write)
			*p = *p;
		else
			(void)*p;
	} else {
		ret = 1;
	}
	probing = 0;
	return ret;
}

static void check_vma(const char *name, int first, int npages,
		      const char *prot)
{
	unsigned long s, e;
	char p[5];

	if (zdtm_find_vma(PG(first), &s, &e, p)) {
		failv("%s: no mapping at %p", name, PG(first));
		return;
	}
	if (s != (unsigned long)PG(first) ||
	    e != (unsigned long)PG(first + npages) || strcmp(p, prot))
		failv("%s: expected %p-%p %s, got %lx-%lx %s", name,
		      PG(first), PG(first + npages), prot, s, e, p);
}

static void check_data(const char *name, int pg, int npages)
{
	int i;
	size_t off;

	for (i = pg; i < pg + npages; i++) {
		off = zdtm_check(PG(i), PAGE, seed + i);
		if (off != (size_t)-1)
			failv("%s: page %d differs at byte %zu", name, i, off);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {};
	int (*fn)(void);
	size_t off;
	int i;

	test_init(argc, argv);

	seed = zdtm_random();
	base = mmap(NULL, NPAGES * PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (base == MAP_FAILED)
		test_bug("mmap");

	for (i = 0; i < NPAGES; i++)
		if (i < D_START || i >= FENCE4)
			zdtm_fill(PG(i), PAGE, seed + i);
	memcpy(PG(E_START), code, sizeof(code));

	if (mprotect(PG(FENCE0), PAGE, RWX) ||
	    mprotect(PG(FENCE1), PAGE, RWX) ||
	    mprotect(PG(FENCE2), PAGE, RWX) ||
	    mprotect(PG(FENCE3), PAGE, RWX) ||
	    mprotect(PG(FENCE4), PAGE, RWX) ||
	    mprotect(PG(FENCE5), PAGE, RWX))
		test_bug("mprotect fences");
	if (mprotect(PG(A_START), 4 * PAGE, PROT_NONE) ||
	    mprotect(PG(B_START), 4 * PAGE, PROT_READ) ||
	    mprotect(PG(C_START + 2), PAGE, PROT_READ) ||
	    mprotect(PG(C_START + 3), PAGE, PROT_NONE) ||
	    mprotect(PG(D_START), 8 * PAGE, PROT_NONE) ||
	    mprotect(PG(E_START), PAGE, PROT_READ | PROT_EXEC))
		test_bug("mprotect areas");

	test_daemon();
	test_waitsig();

	sa.sa_handler = segv_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	check_vma("fence0", FENCE0, 1, "rwxp");
	check_vma("fence5", FENCE5, 1, "rwxp");
	check_vma("A", A_START, 4, "---p");
	check_vma("B", B_START, 4, "r--p");
	check_vma("C0", C_START, 2, "rw-p");
	check_vma("C2", C_START + 2, 1, "r--p");
	check_vma("C3", C_START + 3, 1, "---p");
	check_vma("C4", C_START + 4, 1, "rw-p");
	check_vma("D", D_START, 8, "---p");
	check_vma("E", E_START, 1, "r-xp");

	/* Protections must be real, not only reported. */
	if (!faults(PG(A_START), false))
		failv("A: PROT_NONE area is readable");
	if (!faults(PG(B_START + 3) + 100, true))
		failv("B: read-only area is writable");
	if (faults(PG(B_START + 3) + 100, false))
		failv("B: read-only area is not readable");
	if (!faults(PG(C_START + 2), true))
		failv("C2: read-only page is writable");
	if (!faults(PG(C_START + 3), false))
		failv("C3: PROT_NONE page is readable");
	if (faults(PG(C_START + 4), true))
		failv("C4: rw page is not writable");
	if (!faults(PG(D_START + 7), false))
		failv("D: PROT_NONE area is readable");

	check_data("fence0", FENCE0, 1);
	check_data("B", B_START, 4);
	check_data("C0", C_START, 3);
	check_data("C4", C_START + 4, 1);

	if (mprotect(PG(A_START), 4 * PAGE, RW) ||
	    mprotect(PG(C_START + 3), PAGE, PROT_READ) ||
	    mprotect(PG(D_START), 8 * PAGE, PROT_READ))
		fail("mprotect after restore");
	check_data("A", A_START, 4);
	check_data("C3", C_START + 3, 1);
	off = zdtm_check_zero(PG(D_START), 8 * PAGE);
	if (off != (size_t)-1)
		failv("D: untouched PROT_NONE area has data at %zu", off);

	fn = (int (*)(void))PG(E_START);
	i = fn();
	if (i != 42)
		failv("E: code returned %d instead of 42", i);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
