// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlockall(MCL_FUTURE | MCL_ONFAULT): no area is locked now, but every
 * new mapping is. After C/R a fresh mmap() still comes locked-on-fault
 * ("lo" in its VmFlags, and not populated), an area locked before the
 * dump is still locked on fault ("lf": its pages not touched are not
 * brought in), and munlockall() clears the setting.
 */
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>

#include "zdtmtst.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* 1 if the area at @addr has VmFlags @flag ("lo": locked, "lf": on fault), 0 if not, -1 on error */
static int has_flag(void *addr, const char *flag)
{
	char *buf, *p, *flags, hdr[32], word[8];
	int ret = -1;

	if (zdtm_read_file("/proc/self/smaps", &buf) < 0)
		return -1;
	snprintf(hdr, sizeof(hdr), "%lx-", (unsigned long)addr);
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, hdr, strlen(hdr)))
			continue;
		flags = strstr(p, "VmFlags:");
		if (flags) {
			char *eol = strchr(flags, '\n');

			if (eol)
				*eol = 0;
			snprintf(word, sizeof(word), " %s ", flag);
			ret = strstr(flags, word) != NULL;
		}
		break;
	}
	free(buf);
	return ret;
}

static int locked(void *addr)
{
	return has_flag(addr, "lo");
}

int main(int argc, char **argv)
{
	unsigned char vec[8];

	char *before, *after;

	test_init(argc, argv);
	if (mlockall(MCL_FUTURE | MCL_ONFAULT))
		test_bug("mlockall");
	before = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (before == MAP_FAILED)
		test_bug("mmap");
	memset(before, 0x5a, 4096);
	if (locked(before) != 1)
		test_bug("a new area is not locked (%d)", locked(before));

	test_daemon();
	test_waitsig();

	if (locked(before) != 1)
		failv("the area locked before the dump: %d", locked(before));
	if (has_flag(before, "lf") != 1)
		failv("the area locked on fault before the dump is locked at once (%d)", has_flag(before, "lf"));
	if (mincore(before, sizeof(vec) * 4096, vec))
		fail("mincore");
	else if (!(vec[0] & 1) || (vec[7] & 1))
		failv("the pages in: %d %d, not 1 0", vec[0] & 1, vec[7] & 1);
	if (before[0] != 0x5a || before[4096])
		failv("the locked area's data");
	after = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (after == MAP_FAILED)
		fail("mmap");
	else {
		unsigned char vec = 0;

		if (locked(after) != 1)
			failv("MCL_FUTURE lost: a new area is not locked (%d)", locked(after));
		if (mincore(after, 4096, &vec) || (vec & 1))
			failv("MCL_ONFAULT lost: a new locked area is populated at once");
	}
	if (munlockall())
		fail("munlockall");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
