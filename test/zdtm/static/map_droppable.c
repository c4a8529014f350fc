// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_DROPPABLE memory (Linux 6.11+), whose contents the kernel may drop
 * under memory pressure, and MAP_NORESERVE memory: both come back as
 * such (VmFlags "dp" and "nr", compared by the runner too), each page of
 * the droppable area either with its data or zero (it may have been
 * dropped), the other area with its data; a droppable area is still
 * wiped in a child (wipe-on-fork is part of the kind).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08
#endif

#define NP	32
#define PG	ZDTM_PAGE_SIZE

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

int main(int argc, char **argv)
{
	char *drop, *nores;
	int status;
	pid_t pid;

	test_init(argc, argv);
	drop = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	nores = mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (drop == MAP_FAILED || nores == MAP_FAILED)
		test_bug("mmap");
	for (int i = 0; i < NP; i++) {
		zdtm_fill(drop + i * PG, PG, i);
		zdtm_fill(nores + i * PG, PG, 1000 + i);
	}
	if (has_flag(drop, "dp") != 1 || has_flag(nores, "nr") != 1)
		test_bug("no dp/nr VmFlags before the dump");

	test_daemon();
	test_waitsig();

	if (has_flag(drop, "dp") != 1)
		failv("the droppable area lost VmFlag dp");
	if (has_flag(nores, "nr") != 1)
		failv("the MAP_NORESERVE area lost VmFlag nr");
	for (int i = 0; i < NP; i++) {
		if (zdtm_check(drop + i * PG, PG, i) != (size_t)-1 && zdtm_check_zero(drop + i * PG, PG) != (size_t)-1)
			failv("droppable page %d is neither its data nor zero", i);
		if (zdtm_check(nores + i * PG, PG, 1000 + i) != (size_t)-1)
			failv("MAP_NORESERVE page %d lost its data", i);
	}
	zdtm_fill(drop, PG, 7);
	pid = fork();
	if (pid == 0)
		_exit(zdtm_check_zero(drop, PG) == (size_t)-1 ? 0 : 1);
	if (pid < 0 || zdtm_reap(pid, &status))
		failv("droppable memory is not wiped in a child (status %#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
