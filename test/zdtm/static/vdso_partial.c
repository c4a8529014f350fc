// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vDSO the program partly unmapped: [vvar] and [vvar_vclock] are gone
 * (a program that makes no time calls may drop them), and [vdso] alone
 * was moved elsewhere. After C/R exactly the same parts are there, at the
 * same addresses (the runner compares the maps), and the rest of the
 * memory is intact. Time calls go through raw syscalls only: the vDSO's
 * own would now fault.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static int find(const char *name, unsigned long *s, unsigned long *e)
{
	char line[1024];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *n = strstr(line, name);

		if (n && n[strlen(name)] == '\n' && sscanf(line, "%lx-%lx", s, e) == 2)
			found = 1;
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	unsigned long s, e, vs, ve, s2, e2;
	char *mem, *to;

	test_init(argc, argv);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, 1 << 20, 5);
	if (find("[vdso]", &vs, &ve) != 1)
		test_bug("no [vdso]");
	if (find("[vvar]", &s, &e) == 1 && munmap((void *)s, e - s))
		test_bug("munmap [vvar]");
	if (find("[vvar_vclock]", &s, &e) == 1 && munmap((void *)s, e - s))
		test_bug("munmap [vvar_vclock]");
	to = mmap(NULL, ve - vs + (16 << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED)
		test_bug("mmap");
	to += 8 << 20;
	if (mremap((void *)vs, ve - vs, ve - vs, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
		test_bug("moving [vdso]");
	ve = (unsigned long)to + (ve - vs);
	vs = (unsigned long)to;

	test_daemon();
	test_waitsig();

	if (find("[vvar]", &s, &e) || find("[vvar_vclock]", &s, &e))
		failv("[vvar] or [vvar_vclock] is back");
	if (find("[vdso]", &s2, &e2) != 1 || s2 != vs || e2 != ve)
		failv("[vdso] is not at %lx-%lx", vs, ve);
	if (zdtm_check(mem, 1 << 20, 5) != (size_t)-1)
		failv("memory changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
