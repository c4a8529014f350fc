// SPDX-License-Identifier: GPL-2.0-only
/*
 * MFD_HUGETLB memfds: one of 2 huge pages held as an fd only, with data,
 * and one mapped shared (fd closed) and written through the mapping.
 * After C/R both are hugetlbfs memfds again (st_blksize the huge page
 * size), with their data, and the mapping is still the memfd's (a
 * write through it shows in a second mapping of /proc/self/map_files).
 * Root only: huge pages are reserved for the test (vm.nr_hugepages) if
 * none are free, and given back at the end.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "zdtmtst.h"

#define HUGE	(2UL << 20)
#define NR_HP	"/proc/sys/vm/nr_hugepages"
#define HUGETLBFS_MAGIC	0x958458f6

static long read_long(const char *path)
{
	char *buf;
	long v;

	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	v = strtol(buf, NULL, 10);
	free(buf);
	return v;
}

static int write_long(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY), n = snprintf(buf, sizeof(buf), "%ld\n", v), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, buf, n) == n ? 0 : -1;
	close(fd);
	return ret;
}

static long free_huge(void)
{
	return read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
}

static int is_hugetlb(int fd)
{
	struct statfs sf;
	struct stat st;

	return !fstatfs(fd, &sf) && sf.f_type == HUGETLBFS_MAGIC && !fstat(fd, &st) && st.st_blksize == HUGE;
}

int main(int argc, char **argv)
{
	long old = -1, added = 0;
	int fd, mfd, mf;
	char *buf, *map, *map2, path[128];

	test_init(argc, argv);
	old = read_long(NR_HP);
	if (free_huge() < 8) {
		added = 8 - free_huge();
		if (old < 0 || write_long(NR_HP, old + added) || free_huge() < 8) {
			if (old >= 0)
				write_long(NR_HP, old);
			test_bug("can't reserve huge pages");
		}
	}
	fd = memfd_create("zdtm-huge-fd", MFD_HUGETLB | MFD_CLOEXEC);
	mfd = memfd_create("zdtm-huge-map", MFD_HUGETLB | MFD_CLOEXEC);
	if (fd < 0 || mfd < 0 || ftruncate(fd, 2 * HUGE) || ftruncate(mfd, HUGE))
		test_bug("memfd_create(MFD_HUGETLB)");
	buf = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (buf == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(buf, 2 * HUGE, 1);
	munmap(buf, 2 * HUGE);
	map = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	close(mfd);
	zdtm_fill(map, HUGE, 2);

	test_daemon();
	test_waitsig();

	if (!is_hugetlb(fd))
		failv("the fd is no hugetlbfs memfd any more");
	buf = mmap(NULL, 2 * HUGE, PROT_READ, MAP_SHARED, fd, 0);
	if (buf == MAP_FAILED || zdtm_check(buf, 2 * HUGE, 1) != (size_t)-1)
		failv("the memfd lost its data");
	if (zdtm_check(map, HUGE, 2) != (size_t)-1)
		failv("the mapping lost its data");
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)map, (unsigned long)map + HUGE);
	mf = open(path, O_RDWR);
	if (mf < 0 || !is_hugetlb(mf))
		failv("the mapping is no hugetlbfs memfd any more");
	map2 = mf < 0 ? MAP_FAILED : mmap(NULL, HUGE, PROT_READ, MAP_SHARED, mf, 0);
	memcpy(map, "zdtm", 4);
	if (map2 == MAP_FAILED || memcmp(map2, "zdtm", 4))
		failv("the mapping is not shared with its memfd");
	if (added)
		write_long(NR_HP, old);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
