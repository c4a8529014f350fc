// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files renamed while open: "renamed.d/a" is opened read-write at an
 * offset and mapped MAP_SHARED, then renamed to "renamed.d/b" and the
 * directory to "renamed.e". After C/R the fd and the mapping are of the
 * file now at "renamed.e/b" (same inode, shown under that path, contents
 * and offset kept), and writes through the path, the fd and the mapping
 * all reach the one file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define SZ	8192

int main(int argc, char **argv)
{
	char d1[4096], d2[4096], a[4200], b[4200], mid[4200], link[4200], path[64], buf[4];
	volatile char *map;
	int fd, pfd;
	ssize_t n;

	test_init(argc, argv);
	test_path(d1, sizeof(d1), "renamed.d");
	test_path(d2, sizeof(d2), "renamed.e");
	snprintf(a, sizeof(a), "%s/a", d1);
	snprintf(b, sizeof(b), "%s/b", d2);
	if (mkdir(d1, 0755))
		test_bug("mkdir");
	fd = open(a, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, SZ) || pwrite(fd, "hello", 5, 0) != 5 || lseek(fd, 333, SEEK_SET) != 333)
		test_bug("file");
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	snprintf(mid, sizeof(mid), "%s/b", d1);
	if (map == MAP_FAILED || rename(a, mid) || rename(d1, d2))
		test_bug("mmap/rename");

	test_daemon();
	test_waitsig();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || (link[n] = '\0', strcmp(link, b)))
		failv("the fd shows '%s', not '%s'", n < 0 ? "?" : link, b);
	if (!zdtm_fd_is_path(fd, b, 1))
		failv("the fd is not the file at %s", b);
	if (lseek(fd, 0, SEEK_CUR) != 333 || memcmp((char *)map, "hello", 5))
		failv("offset or contents lost");
	pfd = open(b, O_RDWR);
	if (pfd < 0 || pwrite(pfd, "P", 1, 100) != 1)
		fail("writing by path");
	if (map[100] != 'P')
		failv("a write by path does not show in the mapping");
	map[200] = 'M';
	if (pread(fd, buf, 1, 200) != 1 || buf[0] != 'M')
		failv("a write through the mapping does not show through the fd");
	unlink(b);
	rmdir(d2);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
