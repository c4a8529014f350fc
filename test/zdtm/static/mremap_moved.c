// SPDX-License-Identifier: GPL-2.0-only
/*
 * Areas moved and resized with mremap(): an anonymous area moved to
 * another address, one grown in place, a file mapping (MAP_SHARED) moved
 * so that its start is at file offset 3 pages, and the empty source left
 * by MREMAP_DONTUNMAP. After C/R each has its data at the new place, the
 * file mapping still writes through to the file at the right offset, and
 * the DONTUNMAP source reads zero.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PG	4096UL

int main(int argc, char **argv)
{
	char *a, *b, *f, *d, *dsrc, *tmp, path[4096], c;
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "mremap.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 8 * PG))
		test_bug("file");

	a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tmp = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || tmp == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(a, 4 * PG, 1);
	a = mremap(a, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, tmp + 8 * PG);
	if (a == MAP_FAILED)
		test_bug("mremap move");

	b = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(b, 2 * PG, 2);
	b = mremap(b, 2 * PG, 6 * PG, MREMAP_MAYMOVE);
	if (b == MAP_FAILED)
		test_bug("mremap grow");
	zdtm_fill(b + 2 * PG, 4 * PG, 3);

	f = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		test_bug("mmap file");
	f = mremap(f + 3 * PG, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, tmp);
	if (f == MAP_FAILED)
		test_bug("mremap file");
	f[0] = 'F';

	d = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(d, 2 * PG, 4);
	dsrc = d;
	d = mremap(d, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (d == MAP_FAILED)
		test_bug("mremap dontunmap");

	test_daemon();
	test_waitsig();

	if (zdtm_check(a, 4 * PG, 1) != (size_t)-1)
		failv("moved area");
	if (zdtm_check(b, 2 * PG, 2) != (size_t)-1 || zdtm_check(b + 2 * PG, 4 * PG, 3) != (size_t)-1)
		failv("grown area");
	if (zdtm_check(d, 2 * PG, 4) != (size_t)-1)
		failv("DONTUNMAP target");
	if (zdtm_check_zero(dsrc, 2 * PG) != (size_t)-1)
		failv("DONTUNMAP source is not empty");
	if (f[0] != 'F')
		failv("file mapping lost its byte");
	f[PG + 5] = 'G';
	if (pread(fd, &c, 1, 3 * PG) != 1 || c != 'F')
		failv("file at 3 pages: %c", c);
	if (pread(fd, &c, 1, 4 * PG + 5) != 1 || c != 'G')
		failv("write through the moved mapping went to the wrong offset (%c)", c);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
