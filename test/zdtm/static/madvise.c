// SPDX-License-Identifier: GPL-2.0-only
/*
 * What madvise() (KSM's MADV_MERGEABLE too) and mlock() set on memory, and a shared file mapping
 * that is read-only now but was mapped from a file opened read-write:
 * after C/R the VmFlags in smaps are the same (the runner compares them
 * too) and the behaviour follows: wipe-on-fork memory reads zero in a
 * child, the shared mapping can be made writable and writes reach the
 * file.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define NR	9
#define SZ	(4 * 4096)

static const struct {
	int advice;
	const char *flag;
} advs[NR] = {
	{ MADV_DONTFORK, "dc" },
	{ MADV_DONTDUMP, "dd" },
	{ MADV_WIPEONFORK, "wf" },
	{ MADV_HUGEPAGE, "hg" },
	{ MADV_NOHUGEPAGE, "nh" },
	{ MADV_SEQUENTIAL, "sr" },
	{ MADV_RANDOM, "rr" },
	{ MADV_MERGEABLE, "mg" },
	{ -1, "lo" },		/* mlock */
};

/* Does the smaps entry of the area at addr list VmFlag flag? */
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
	char *area[NR], *shm, path[4096];
	int fd, status;
	pid_t pid;

	test_init(argc, argv);
	for (int i = 0; i < NR; i++) {
		/* a PROT_NONE page between areas keeps them from merging */
		char *m = mmap(NULL, SZ + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			test_bug("mmap");
		mprotect(m + SZ, 4096, PROT_NONE);
		zdtm_fill(m, SZ, i + 1);
		area[i] = m;
		if (advs[i].advice >= 0 && madvise(m, SZ, advs[i].advice))
			test_bug("madvise %s", advs[i].flag);
		if (advs[i].advice < 0 && mlock(m, SZ))
			test_bug("mlock");
		if (has_flag(m, advs[i].flag) != 1)
			test_bug("%s not in VmFlags before the dump", advs[i].flag);
	}

	test_path(path, sizeof(path), "madvise.shared");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096))
		test_bug("create %s", path);
	shm = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		test_bug("mmap shared");
	close(fd);

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		if (has_flag(area[i], advs[i].flag) != 1)
			failv("area %d lost VmFlag %s", i, advs[i].flag);
		if (zdtm_check(area[i], SZ, i + 1) != (size_t)-1)
			failv("area %d (%s) lost its data", i, advs[i].flag);
	}

	pid = fork();
	if (pid == 0) {
		/* wipe-on-fork reads zero in the child */
		_exit(zdtm_check_zero(area[2], SZ) == (size_t)-1 ? 0 : 1);
	}
	if (pid < 0 || zdtm_reap(pid, &status))
		failv("wipe-on-fork memory is not zero in a child (status %#x)", status);

	if (mprotect(shm, 4096, PROT_READ | PROT_WRITE))
		fail("making the shared file mapping writable");
	else {
		char buf[8] = { 0 };

		memcpy(shm, "zdtm-ok", 8);
		msync(shm, 4096, MS_SYNC);
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, 8) != 8 || memcmp(buf, "zdtm-ok", 8))
			failv("write through the shared mapping did not reach the file");
		if (fd >= 0)
			close(fd);
	}

	if (test_failures)
		return 1;
	pass();
	return 0;
}
