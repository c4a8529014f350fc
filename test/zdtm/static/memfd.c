// SPDX-License-Identifier: GPL-2.0-only
/*
 * memfds: one named "zdtm-data" with 1 MiB of contents around a hole, at
 * an offset, sealed against shrinking and growing, dup'ed to a second fd;
 * one without sealing allowed. After C/R the names, sizes, contents, hole,
 * seals, offsets and the sharing between the two fds are back.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SZ	(4 << 20)

static char buf[1 << 20];

static int name_is(int fd, const char *name)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return strstr(link, name) != NULL;
}

int main(int argc, char **argv)
{
	int a, b, c, seals;

	test_init(argc, argv);
	a = memfd_create("zdtm-data", MFD_ALLOW_SEALING);
	c = memfd_create("zdtm-plain", 0);
	if (a < 0 || c < 0 || ftruncate(a, SZ) || ftruncate(c, 100))
		test_bug("memfd");
	zdtm_fill(buf, sizeof(buf), 3);
	if (pwrite(a, buf, sizeof(buf), 0) != sizeof(buf) || pwrite(a, buf, 4096, SZ - 4096) != 4096 ||
	    fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) || lseek(a, 12345, SEEK_SET) != 12345)
		test_bug("filling");
	b = dup(a);

	test_daemon();
	test_waitsig();

	if (!name_is(a, "memfd:zdtm-data") || !name_is(c, "memfd:zdtm-plain"))
		failv("memfd names lost");
	if (lseek(b, 0, SEEK_CUR) != 12345)
		failv("offset lost or not shared");
	if (pread(a, buf, sizeof(buf), 0) != sizeof(buf) || zdtm_check(buf, sizeof(buf), 3) != (size_t)-1)
		failv("contents changed");
	if (pread(a, buf, 4096, 2 << 20) != 4096 || zdtm_check_zero(buf, 4096) != (size_t)-1)
		failv("the hole is not zero");
	if (lseek(a, 0, SEEK_END) != SZ || lseek(c, 0, SEEK_END) != 100)
		failv("sizes changed");
	seals = fcntl(a, F_GET_SEALS);
	if (seals != (F_SEAL_SHRINK | F_SEAL_GROW))
		failv("seals are %#x", seals);
	if (ftruncate(a, SZ / 2) == 0)
		failv("shrinking a sealed memfd worked");
	if (fcntl(c, F_ADD_SEALS, F_SEAL_WRITE) == 0)
		failv("sealing a memfd made without sealing worked");
	lseek(a, 0, SEEK_SET);
	if (lseek(b, 0, SEEK_CUR) != 0)
		failv("the two fds are not one file description any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
