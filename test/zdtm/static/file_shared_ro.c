// SPDX-License-Identifier: GPL-2.0-only
/*
 * Read-only shared file mappings (the whole file and a window at an
 * offset, the file descriptor closed).  After C/R the content is the
 * file's and the mappings are still shared with the file: a write to
 * the file shows through both.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define PAGE		ZDTM_PAGE_SIZE
#define FILE_SIZE	(3 * PAGE + 100)

static volatile unsigned long sink;

int main(int argc, char **argv)
{
	unsigned char *m1, *m2, *file;
	char path[4096], prot[5];
	uint64_t seed;
	size_t off;
	int fd;

	test_init(argc, argv);
	test_path(path, sizeof(path), "file_shared_ro.data");

	seed = zdtm_random();
	file = malloc(FILE_SIZE);
	if (!file)
		test_bug("malloc");
	zdtm_fill(file, FILE_SIZE, seed);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, file, FILE_SIZE) != FILE_SIZE || close(fd))
		test_bug("create %s", path);

	fd = open(path, O_RDONLY);
	if (fd < 0)
		test_bug("open %s", path);
	m1 = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	m2 = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
	if (m1 == MAP_FAILED || m2 == MAP_FAILED)
		test_bug("mmap");
	close(fd);

	sink += m1[0] + m1[3 * PAGE + 50] + m2[PAGE];

	test_daemon();
	test_waitsig();

	if (memcmp(m1, file, FILE_SIZE))
		failv("whole-file mapping differs from the file");
	off = zdtm_check_zero(m1 + FILE_SIZE, 4 * PAGE - FILE_SIZE);
	if (off != (size_t)-1)
		failv("tail beyond EOF is not zero at %zu", off);
	if (memcmp(m2, file + PAGE, 2 * PAGE))
		failv("offset mapping differs from the file");

	if (zdtm_find_vma(m1, NULL, NULL, prot) || strcmp(prot, "r--s"))
		failv("whole-file mapping is not r--s");
	if (zdtm_find_vma(m2, NULL, NULL, prot) || strcmp(prot, "r--s"))
		failv("offset mapping is not r--s");

	/* Still shared: file updates are visible through the mappings. */
	fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, "shared!", 7, PAGE + 42) != 7) {
		fail("update %s", path);
	} else {
		if (memcmp(m1 + PAGE + 42, "shared!", 7))
			failv("whole-file mapping does not see file updates");
		if (memcmp(m2 + 42, "shared!", 7))
			failv("offset mapping does not see file updates");
	}
	if (fd >= 0)
		close(fd);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
