// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private file mappings: a writable MAP_PRIVATE mapping of a file that
 * was partly written (copy-on-write pages), partly read and partly
 * never touched, plus a read-only private mapping at a file offset.
 * After C/R the memory shows the written bytes, the file does not, and
 * untouched pages still come from the file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define PAGE		ZDTM_PAGE_SIZE
#define FILE_SIZE	(4 * PAGE + 1000)
#define MAP_PAGES	5

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	unsigned char *m1, *m2, *file, *disk, *p;
	uint64_t fseed, wseed;
	char path[4096];
	ssize_t len;
	size_t off;
	int fd, i;

	test_init(argc, argv);
	test_path(path, sizeof(path), "file_private.data");

	fseed = zdtm_random();
	wseed = ~fseed;

	file = malloc(FILE_SIZE);
	if (!file)
		test_bug("malloc");
	zdtm_fill(file, FILE_SIZE, fseed);

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("open %s", path);
	if (write(fd, file, FILE_SIZE) != FILE_SIZE)
		test_bug("write %s", path);

	m1 = mmap(NULL, MAP_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		  fd, 0);
	m2 = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 2 * PAGE);
	if (m1 == MAP_FAILED || m2 == MAP_FAILED)
		test_bug("mmap");
	close(fd);

	sink += m1[10];				/* page 0: read only */
	zdtm_fill(m1 + PAGE, PAGE, wseed);	/* page 1: all written */
	memset(m1 + 2 * PAGE, 0xab, 100);	/* page 2: partly written */
	/* page 3: never touched */
	m1[4 * PAGE + 1500] = 0x77;		/* page 4: beyond EOF */
	sink += m2[PAGE + 5];

	test_daemon();
	test_waitsig();

	/* Memory */
	if (memcmp(m1, file, PAGE))
		failv("page 0 differs from the file");
	off = zdtm_check(m1 + PAGE, PAGE, wseed);
	if (off != (size_t)-1)
		failv("page 1 lost the written data at byte %zu", off);
	for (i = 0; i < 100; i++)
		if (m1[2 * PAGE + i] != 0xab)
			break;
	if (i != 100)
		failv("page 2 lost the written data at byte %d", i);
	if (memcmp(m1 + 2 * PAGE + 100, file + 2 * PAGE + 100, PAGE - 100))
		failv("page 2 unwritten part differs from the file");
	if (memcmp(m1 + 3 * PAGE, file + 3 * PAGE, PAGE))
		failv("page 3 differs from the file");
	if (memcmp(m1 + 4 * PAGE, file + 4 * PAGE, 1000))
		failv("page 4 differs from the file before EOF");
	p = m1 + 4 * PAGE;
	for (i = 1000; i < (int)PAGE; i++)
		if (p[i] != (i == 1500 ? 0x77 : 0))
			break;
	if (i != (int)PAGE)
		failv("page 4 beyond EOF: byte %d is %#x", i, p[i]);
	if (memcmp(m2, file + 2 * PAGE, 2 * PAGE))
		failv("offset mapping differs from the file");

	{
		char prot[5];

		if (zdtm_find_vma(m1, NULL, NULL, prot) || strcmp(prot, "rw-p"))
			failv("rw private mapping is gone or changed");
		if (zdtm_find_vma(m2, NULL, NULL, prot) || strcmp(prot, "r--p"))
			failv("ro private mapping is gone or changed");
	}

	/* The file itself must not have seen the private writes. */
	len = zdtm_read_file(path, (char **)&disk);
	if (len < 0) {
		fail("read %s", path);
	} else {
		if (len != FILE_SIZE)
			failv("file size is %zd instead of %lu", len,
			      (unsigned long)FILE_SIZE);
		else if (memcmp(disk, file, FILE_SIZE))
			failv("file content changed on disk");
		free(disk);
	}

	/*
	 * A page never touched is backed by the file: a change of the
	 * file shows through it, while copied-on-write pages stay.
	 */
	fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, "ZDTM", 4, 3 * PAGE + 8) != 4 ||
	    pwrite(fd, "ZDTM", 4, PAGE + 8) != 4) {
		fail("rewrite %s", path);
	} else {
		if (memcmp(m1 + 3 * PAGE + 8, "ZDTM", 4))
			failv("untouched page 3 is not backed by the file");
		if (zdtm_check(m1 + PAGE, PAGE, wseed) != (size_t)-1)
			failv("written page 1 changed with the file");
	}
	if (fd >= 0)
		close(fd);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
