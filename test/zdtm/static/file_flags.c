// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open flags beyond the access mode: O_PATH (a file), an opened directory
 * (O_DIRECTORY, used with openat and fchdir), O_DIRECT and O_NOATIME. After
 * C/R every fd has its flags and still works for what it is.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096], dir[4096];
	int p, d, dio, na, fl[4], t;
	struct stat st;

	test_init(argc, argv);
	test_path(path, sizeof(path), "flags.file");
	snprintf(dir, sizeof(dir), "%s", test_dir());
	t = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (t < 0 || ftruncate(t, 8192))
		test_bug("create");
	close(t);
	p = open(path, O_PATH);
	d = open(dir, O_RDONLY | O_DIRECTORY);
	dio = open(path, O_RDONLY | O_DIRECT);
	na = open(path, O_RDONLY | O_NOATIME);
	if (p < 0 || d < 0 || dio < 0 || na < 0)
		test_bug("open");
	fl[0] = fcntl(p, F_GETFL);
	fl[1] = fcntl(d, F_GETFL);
	fl[2] = fcntl(dio, F_GETFL);
	fl[3] = fcntl(na, F_GETFL);

	test_daemon();
	test_waitsig();

	if (fcntl(p, F_GETFL) != fl[0] || fcntl(d, F_GETFL) != fl[1] || fcntl(dio, F_GETFL) != fl[2] ||
	    fcntl(na, F_GETFL) != fl[3])
		failv("flags changed: %#x %#x %#x %#x, were %#x %#x %#x %#x", fcntl(p, F_GETFL), fcntl(d, F_GETFL),
		      fcntl(dio, F_GETFL), fcntl(na, F_GETFL), fl[0], fl[1], fl[2], fl[3]);
	if (fstat(p, &st) || st.st_size != 8192)
		failv("the O_PATH fd does not name the file");
	t = openat(d, "flags.file", O_RDONLY);
	if (t < 0)
		failv("openat through the directory fd failed");
	else
		close(t);
	if (fchdir(d))
		fail("fchdir");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
