// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory sealed with mseal() (Linux 6.10+): a read-write area with data
 * and a read-only one, both sealed, next to an unsealed area. After C/R
 * the sealed areas are sealed again (VmFlags "sl", compared by the
 * runner too: munmap, mprotect and mremap fail with EPERM), keep their
 * data and protection, and the unsealed neighbour can still be unmapped.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#ifndef __NR_mseal
#define __NR_mseal	462
#endif

#define PG	ZDTM_PAGE_SIZE
#define NP	8

static int has_flag(void *addr, const char *flag)
{
	char *buf, *p, hdr[32];
	int found = -1;

	if (zdtm_read_file("/proc/self/smaps", &buf) < 0)
		return -1;
	snprintf(hdr, sizeof(hdr), "%lx-", (unsigned long)addr);
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, hdr, strlen(hdr)))
			continue;
		p = strstr(p, "VmFlags:");
		if (!p)
			break;
		char *end = strchr(p, '\n');

		if (end)
			*end = '\0';
		found = strstr(p, flag) != NULL;
		break;
	}
	free(buf);
	return found;
}

static void check_sealed(char *m, const char *what)
{
	if (has_flag(m, "sl") != 1)
		failv("%s: no VmFlag sl", what);
	if (munmap(m, PG) == 0 || errno != EPERM)
		failv("%s: munmap did not fail with EPERM", what);
	if (mprotect(m, PG, PROT_NONE) == 0 || errno != EPERM)
		failv("%s: mprotect did not fail with EPERM", what);
}

int main(int argc, char **argv)
{
	char *m;

	test_init(argc, argv);
	/* rw sealed | ro sealed | rw unsealed */
	m = mmap(NULL, 3 * NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(m, 3 * NP * PG, 9);
	if (mprotect(m + NP * PG, NP * PG, PROT_READ))
		test_bug("mprotect");
	if (syscall(__NR_mseal, m, 2 * NP * PG, 0))
		test_bug("mseal");

	test_daemon();
	test_waitsig();

	check_sealed(m, "the read-write area");
	check_sealed(m + NP * PG, "the read-only area");
	if (zdtm_check(m, 3 * NP * PG, 9) != (size_t)-1)
		failv("the data changed");
	memcpy(m, "zdtm", 4);
	if (has_flag(m + 2 * NP * PG, "sl") != 0)
		failv("the unsealed area is sealed");
	else if (munmap(m + 2 * NP * PG, NP * PG))
		fail("munmap of the unsealed area");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
