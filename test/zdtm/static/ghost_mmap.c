// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mappings of unlinked files. File A (64 KiB, fd kept) is mapped
 * MAP_SHARED read-write by the parent and by a child, and MAP_PRIVATE with
 * one page written (COW); file B (fd closed) is mapped MAP_SHARED
 * read-only. After C/R: the contents are back, a write through A's fd
 * shows in both shared mappings (parent and child), a write through the
 * mapping shows through the fd and in the child, the private copy keeps
 * its own page while its untouched pages follow the file, and both files
 * are still unlinked.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(64 << 10)

static int mapping_deleted(const void *addr)
{
	char *maps, *l;
	char want[32];
	int ret = 0;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	if (zdtm_read_file("/proc/self/maps", &maps) < 0)
		return 0;
	for (l = maps; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, want, strlen(want))) {
			char *eol = strchr(l, '\n');

			if (eol)
				*eol = '\0';
			ret = strstr(l, "ghost_mmap.") && strstr(l, "(deleted)");
			break;
		}
	free(maps);
	return ret;
}

int main(int argc, char **argv)
{
	char pa[4096], pb[4096], buf[16];
	volatile char *shr, *priv, *ro;
	int a, b, pfd[2], qfd[2], status;
	struct stat st;
	pid_t kid;
	char c;

	test_init(argc, argv);
	test_path(pa, sizeof(pa), "ghost_mmap.a");
	test_path(pb, sizeof(pb), "ghost_mmap.b");
	a = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0600);
	b = open(pb, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (a < 0 || b < 0 || ftruncate(a, SZ) || ftruncate(b, SZ))
		test_bug("files");
	shr = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	priv = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, a, 0);
	ro = mmap(NULL, SZ, PROT_READ, MAP_SHARED, b, 0);
	if (shr == MAP_FAILED || priv == MAP_FAILED || ro == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill((char *)shr, SZ, 21);
	{
		static char tmp[SZ];

		zdtm_fill(tmp, SZ, 22);
		if (pwrite(b, tmp, SZ, 0) != SZ)
			test_bug("fill b");
	}
	priv[0] = 'P';		/* this page is the private copy's own */
	if (close(b) || unlink(pa) || unlink(pb) || pipe(pfd) || pipe(qfd))
		test_bug("unlink");

	kid = zdtm_fork();
	if (kid == 0) {
		/* after the restore: see the parent's write, answer through the mapping */
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (shr[100] != 'F')
			_exit(3);
		shr[200] = 'K';
		if (write(qfd[1], "k", 1) != 1)
			_exit(4);
		_exit(0);
	}
	test_daemon();
	test_waitsig();

	if (zdtm_check((char *)shr, SZ, 21) != (size_t)-1)
		failv("the shared mapping lost its contents");
	if (zdtm_check((char *)ro, SZ, 22) != (size_t)-1)
		failv("the read-only mapping of the closed unlinked file lost its contents");
	if (priv[0] != 'P')
		failv("the private copy lost its page");
	if (!mapping_deleted((void *)shr) || !mapping_deleted((void *)ro))
		failv("the mappings are not of unlinked files");
	if (fstat(a, &st) || st.st_nlink != 0 || st.st_size != SZ || (st.st_mode & 0777) != 0600)
		failv("the fd is no unlinked file of the size and mode (nlink %ld)", (long)st.st_nlink);
	/* fd -> mapping (both tasks) */
	if (pwrite(a, "F", 1, 100) != 1 || pwrite(a, "G", 1, 4096 + 100) != 1)
		fail("pwrite");
	if (shr[100] != 'F')
		failv("a write through the fd does not show in the shared mapping");
	if (priv[4096 + 100] != 'G' || priv[100] == 'F')
		failv("an untouched private page does not follow the file");
	if (write(pfd[1], "g", 1) != 1 || read(qfd[0], &c, 1) != 1)
		fail("talking to the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	/* mapping (child) -> fd and parent's mapping */
	if (pread(a, buf, 1, 200) != 1 || buf[0] != 'K' || shr[200] != 'K')
		failv("the child's write through its mapping is not in the file");
	shr[300] = 'M';
	if (pread(a, buf, 1, 300) != 1 || buf[0] != 'M')
		failv("a write through the mapping does not show through the fd");
	if (access(pa, F_OK) == 0 || access(pb, F_OK) == 0)
		failv("a file has a name again");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
