// SPDX-License-Identifier: GPL-2.0-only
/*
 * memfd mappings. "zdtm-shared" (256 KiB, pattern) is mapped MAP_SHARED
 * read-write by the parent, which keeps an fd, and by a child, which
 * closed its fd; "zdtm-maponly" is mapped MAP_PRIVATE by the parent with
 * no fd left, one page written. After C/R: contents, names in maps, the
 * parent's fd write shows in the child's mapping, the child's mapping
 * write shows through the parent's fd and mapping, and the private
 * mapping keeps its own page over the memfd's contents. A second open
 * file description of "zdtm-shared" (read-only, own offset) reads the
 * same memfd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(256 << 10)

static int maps_has(const char *what)
{
	char *maps;
	int ret;

	if (zdtm_read_file("/proc/self/maps", &maps) < 0)
		return 0;
	ret = strstr(maps, what) != NULL;
	free(maps);
	return ret;
}

int main(int argc, char **argv)
{
	volatile char *shr, *priv;
	int m, o, r, pfd[2], qfd[2], status;
	char path[64];
	char c, buf[4];
	pid_t kid;

	test_init(argc, argv);
	m = memfd_create("zdtm-shared", 0);
	o = memfd_create("zdtm-maponly", 0);
	if (m < 0 || o < 0 || ftruncate(m, SZ) || ftruncate(o, SZ))
		test_bug("memfd");
	shr = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	priv = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, o, 0);
	if (shr == MAP_FAILED || priv == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill((char *)shr, SZ, 31);
	if (pwrite(o, "memfd", 5, 8192) != 5)
		test_bug("pwrite");
	priv[0] = 'P';
	close(o);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
	r = open(path, O_RDONLY);
	if (r < 0 || lseek(r, 12345, SEEK_SET) != 12345)
		test_bug("reopen");
	if (pipe(pfd) || pipe(qfd))
		test_bug("pipe");

	kid = zdtm_fork();
	if (kid == 0) {
		close(m);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (shr[100] != 'F')
			_exit(3);
		shr[200] = 'K';
		_exit(write(qfd[1], "k", 1) == 1 ? 0 : 4);
	}
	test_daemon();
	test_waitsig();

	if (zdtm_check((char *)shr, SZ, 31) != (size_t)-1)
		failv("the shared memfd mapping lost its contents");
	if (priv[0] != 'P' || memcmp((char *)priv + 8192, "memfd", 5))
		failv("the private memfd mapping lost its contents");
	if (!maps_has("/memfd:zdtm-shared (deleted)") || !maps_has("/memfd:zdtm-maponly (deleted)"))
		failv("maps does not show the memfds");
	if (pwrite(m, "F", 1, 100) != 1)
		fail("pwrite");
	if (shr[100] != 'F')
		failv("a write through the fd does not show in the mapping");
	if (write(pfd[1], "g", 1) != 1 || read(qfd[0], &c, 1) != 1)
		fail("talking to the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x (3: the parent's fd write is not in the child's mapping)", status);
	if (pread(m, buf, 1, 200) != 1 || buf[0] != 'K' || shr[200] != 'K')
		failv("the child's write through its mapping is not in the memfd");
	if (lseek(r, 0, SEEK_CUR) != 12345 || (fcntl(r, F_GETFL) & O_ACCMODE) != O_RDONLY)
		failv("the second description lost its offset or mode");
	if (pread(r, buf, 1, 200) != 1 || buf[0] != 'K')
		failv("the second description is not of the same memfd");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
