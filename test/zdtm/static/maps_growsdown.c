// SPDX-License-Identifier: GPL-2.0-only
/*
 * A MAP_GROWSDOWN area (a hand-made stack), its top page written. After
 * C/R the area is still grows-down ("gd" in VmFlags), its data is there,
 * and touching the page just below its start makes it grow instead of
 * faulting.
 */
#include <setjmp.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>

#include "zdtmtst.h"

#define PG	4096UL

static int vmflags_has(unsigned long start, const char *flag)
{
	char *buf, *p, hdr[32];
	int ret = -1;

	if (zdtm_read_file("/proc/self/smaps", &buf) < 0)
		return -1;
	snprintf(hdr, sizeof(hdr), "%lx-", start);
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char *f, *eol;

		if (strncmp(p, hdr, strlen(hdr)))
			continue;
		f = strstr(p, "VmFlags:");
		if (!f)
			break;
		eol = strchr(f, '\n');
		if (eol)
			*eol = 0;
		ret = strstr(f, flag) != NULL;
		break;
	}
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long start, end;
	char *hole, *area;

	test_init(argc, argv);
	/* room below it to grow into (the kernel keeps a guard gap) */
	hole = mmap(NULL, 1024 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED)
		test_bug("mmap");
	if (munmap(hole, 1024 * PG))
		test_bug("munmap");
	area = mmap(hole + 1020 * PG, 4 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
	if (area == MAP_FAILED)
		test_bug("mmap growsdown");
	zdtm_fill(area + 3 * PG, PG, 11);
	if (vmflags_has((unsigned long)area, " gd") != 1)
		test_bug("no gd flag");

	test_daemon();
	test_waitsig();

	if (vmflags_has((unsigned long)area, " gd") != 1)
		failv("the area is not grows-down any more");
	if (zdtm_check(area + 3 * PG, PG, 11) != (size_t)-1)
		failv("data of the grows-down area");
	area[-1] = 1;	/* grows; SIGSEGV (test fails) if it does not */
	if (zdtm_find_vma(area - 1, &start, &end, NULL) || start > (unsigned long)area - PG ||
	    end != (unsigned long)area + 4 * PG)
		failv("the area did not grow: %lx-%lx", start, end);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
