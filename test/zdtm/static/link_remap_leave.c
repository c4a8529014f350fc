// SPDX-License-Identifier: GPL-2.0-only
/*
 * --link-remap with --leave-running: a file open by a removed name (it
 * has another link) is linked back at dump; the tree runs on, and the
 * temporary link stays for a restore from these images. Afterwards the
 * directory holds exactly one link-remap file, of the same inode as the fd
 * (the test removes it).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char x[4096], y[4096], r[4400];
	struct stat sf, sr;
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	test_init(argc, argv);
	test_path(x, sizeof(x), "lrl.x");
	test_path(y, sizeof(y), "lrl.y");
	fd = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || link(x, y) || unlink(x))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	d = opendir(test_dir());
	if (!d)
		fail("opendir");
	while (d && (de = readdir(d))) {
		if (!strstr(de->d_name, ".criu-link-remap."))
			continue;
		n++;
		snprintf(r, sizeof(r), "%s/%s", test_dir(), de->d_name);
		if (fstat(fd, &sf) || stat(r, &sr) || sf.st_ino != sr.st_ino)
			failv("%s is not the file of the fd", r);
		unlink(r);
	}
	if (d)
		closedir(d);
	if (n != 1)
		failv("%d link-remap files instead of one", n);
	unlink(y);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
