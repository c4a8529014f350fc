// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process mapping 400 different files, each a private mapping written
 * to and a shared one (more files than restore keeps an fd for each of:
 * the areas of the rest are built before the restorer runs and moved into
 * place). After C/R every private mapping has its own bytes over the
 * file's, every shared one still reads and writes its file, and the
 * restore left no fd behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define NR	400
#define PG	ZDTM_PAGE_SIZE

static char *priv[NR], *shr[NR];

static int nr_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1;	/* the one reading the directory */
}

int main(int argc, char **argv)
{
	char path[4096], name[64], buf[PG];
	int fds_before;

	test_init(argc, argv);
	for (int i = 0; i < NR; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%03d", i);
		test_path(path, sizeof(path), name);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		zdtm_fill(buf, PG, 1000 + i);
		if (fd < 0 || write(fd, buf, PG) != PG || write(fd, buf, PG) != PG)
			test_bug("create %s", path);
		priv[i] = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		shr[i] = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
		close(fd);
		if (priv[i] == MAP_FAILED || shr[i] == MAP_FAILED)
			test_bug("mmap");
		zdtm_fill(priv[i], PG, i);
	}
	test_daemon();
	fds_before = nr_fds();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		if (zdtm_check(priv[i], PG, i) != (size_t)-1)
			failv("private mapping %d lost its bytes", i);
		if (zdtm_check(shr[i], PG, 1000 + i) != (size_t)-1)
			failv("shared mapping %d does not read its file", i);
		memcpy(shr[i], "zdtm", 4);
		snprintf(name, sizeof(name), "f%03d", i);
		test_path(path, sizeof(path), name);
		int fd = open(path, O_RDONLY);

		if (fd < 0 || pread(fd, buf, 4, PG) != 4 || memcmp(buf, "zdtm", 4))
			failv("shared mapping %d does not write its file", i);
		if (fd >= 0)
			close(fd);
	}
	if (nr_fds() != fds_before)
		failv("%d fds after restore, %d before", nr_fds(), fds_before);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
