// SPDX-License-Identifier: GPL-2.0-only
/*
 * Working directory and umask.  The test moves into a directory of its
 * own (with a space in its name) and sets umask 027; after C/R both
 * are the same, relative paths resolve there and new files get the
 * masked mode.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define DIRNAME	"cwd dir.d"
#define MASK	027

int main(int argc, char **argv)
{
	char dir[4096], cwd[4096], path[4096 + 16];
	struct stat before, st, fst;
	mode_t old;
	int fd;

	test_init(argc, argv);

	test_path(dir, sizeof(dir), DIRNAME);
	if (mkdir(dir, 0755) && errno != EEXIST)
		test_bug("mkdir %s", dir);
	if (chdir(dir))
		test_bug("chdir %s", dir);
	if (stat(".", &before))
		test_bug("stat .");
	umask(MASK);

	test_daemon();
	test_waitsig();

	if (!getcwd(cwd, sizeof(cwd)))
		fail("getcwd");
	else if (strcmp(cwd, dir))
		failv("cwd is \"%s\", expected \"%s\"", cwd, dir);
	if (stat(".", &st))
		fail("stat .");
	else if (st.st_dev != before.st_dev || st.st_ino != before.st_ino)
		failv("cwd is another directory now");

	old = umask(MASK);
	if (old != MASK)
		failv("umask is %03o, expected %03o", old, MASK);

	fd = open("new file", O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0) {
		fail("create a file in the cwd");
	} else {
		close(fd);
		snprintf(path, sizeof(path), "%s/new file", dir);
		if (stat(path, &fst))
			fail("the new file is not in %s", dir);
		else if ((fst.st_mode & 0777) != (0666 & ~MASK))
			failv("new file mode %03o, expected %03o",
			      fst.st_mode & 0777, 0666 & ~MASK);
		unlink(path);
	}

	if (test_failures)
		return 1;
	pass();
	return 0;
}
