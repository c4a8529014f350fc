// SPDX-License-Identifier: GPL-2.0-only
/*
 * prctl(PR_SET_MEMORY_MERGE) (systemd's MemoryKSM=): KSM may merge any
 * area of the mm. Set, with one area taken out by MADV_UNMERGEABLE.
 * After C/R it is still set, an area mapped after the restore is
 * mergeable ("mg" in smaps), and the one taken out is still out (the
 * runner compares every area's VmFlags too).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif
#define SZ	(16 << 12)

/* 1 if the area at @addr shows "mg" in smaps, 0 if not, -1 if not found */
static int mergeable(void *addr)
{
	char *smaps, *p, *flags;
	char head[32];
	int ret = -1;

	if (zdtm_read_file("/proc/self/smaps", &smaps) < 0)
		return -1;
	snprintf(head, sizeof(head), "\n%lx-", (unsigned long)addr);
	p = strstr(smaps, head);
	flags = p ? strstr(p, "VmFlags:") : NULL;
	if (flags) {
		char *eol = strchr(flags, '\n');

		if (eol)
			*eol = '\0';
		ret = strstr(flags, " mg") != NULL;
	}
	free(smaps);
	return ret;
}

int main(int argc, char **argv)
{
	char *in, *out, *late;

	test_init(argc, argv);
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		test_bug("PR_SET_MEMORY_MERGE");
	in = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out = mmap(NULL, SZ, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (in == MAP_FAILED || out == MAP_FAILED || madvise(out, SZ, MADV_UNMERGEABLE))
		test_bug("mmap");
	memset(in, 'a', SZ);
	memset(out, 'a', SZ);
	if (mergeable(in) != 1 || mergeable(out) != 0)
		test_bug("smaps: %d %d", mergeable(in), mergeable(out));

	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) != 1)
		failv("PR_GET_MEMORY_MERGE: %d", prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0));
	late = mmap(NULL, SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (late == MAP_FAILED)
		fail("mmap");
	else if (mergeable(late) != 1)
		failv("an area mapped after the restore is not mergeable");
	if (mergeable(in) != 1)
		failv("the mergeable area is not any more");
	if (mergeable(out) != 0)
		failv("the area taken out by MADV_UNMERGEABLE is mergeable again");
	if (in[100] != 'a' || out[100] != 'a')
		failv("contents");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
