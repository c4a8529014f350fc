// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unlinked files opened with O_NOFOLLOW, as shm_open() opens POSIX shared
 * memory (Python's multiprocessing.shared_memory, for one): a segment
 * made, mapped, written and removed by its name while held by an fd and a
 * mapping. The file is made again from the image and opened again through
 * /proc, where O_NOFOLLOW must not refuse the link (the flag is dropped:
 * it has no effect once the file is open). After C/R: the contents are
 * back in the fd and the mapping, and a write through one shows through
 * the other.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define SZ	8192

int main(int argc, char **argv)
{
	char name[64], buf[8];
	volatile char *map;
	int fd;

	test_init(argc, argv);
	snprintf(name, sizeof(name), "/zdtm-ghost-nofollow-%d", getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, SZ) || pwrite(fd, "shared", 6, 0) != 6)
		test_bug("shm_open");
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || shm_unlink(name))
		test_bug("mapping and removing it");
	map[4096] = 'm';

	test_daemon();
	test_waitsig();

	if (pread(fd, buf, 6, 0) != 6 || memcmp(buf, "shared", 6) || memcmp((char *)map, "shared", 6) ||
	    pread(fd, buf, 1, 4096) != 1 || buf[0] != 'm')
		fail("the contents are not back");
	if (pwrite(fd, "F", 1, 100) != 1 || map[100] != 'F')
		fail("a write through the fd does not show in the mapping");
	map[200] = 'M';
	if (pread(fd, buf, 1, 200) != 1 || buf[0] != 'M')
		fail("a write through the mapping does not show through the fd");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
