// SPDX-License-Identifier: GPL-2.0-only
/*
 * A removed cwd: the task enters a directory of mode 0751 and removes it.
 * After C/R the cwd is still a removed directory: getcwd fails with
 * ENOENT, /proc/self/cwd reads "PATH (deleted)", "." is a directory with
 * no links and mode 0751 that openat(".") opens, nothing can be made in
 * it, and PATH does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char dir[4096], want[4200], link[4200], buf[4096];
	struct stat st;
	ssize_t n;
	int fd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "cwd_deleted.dir");
	if (mkdir(dir, 0700) || chmod(dir, 0751) || chdir(dir) || rmdir(dir))
		test_bug("mkdir/chdir/rmdir %s", dir);

	test_daemon();
	test_waitsig();

	errno = 0;
	if (getcwd(buf, sizeof(buf)) || errno != ENOENT)
		fail("getcwd does not say the cwd was removed");
	snprintf(want, sizeof(want), "%s (deleted)", dir);
	n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
	if (n < 0 || (link[n] = '\0', strcmp(link, want)))
		failv("/proc/self/cwd is '%s', not '%s'", n < 0 ? "?" : link, want);
	if (stat(".", &st) || !S_ISDIR(st.st_mode) || st.st_nlink != 0 || (st.st_mode & 07777) != 0751)
		failv("'.' is not a removed directory of mode 0751 (mode %o, nlink %ld)", st.st_mode, (long)st.st_nlink);
	fd = openat(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		fail("openat(\".\")");
	else
		close(fd);
	errno = 0;
	if (open("newfile", O_CREAT | O_RDWR, 0600) >= 0 || errno != ENOENT)
		fail("a file could be made in the removed cwd");
	if (access(dir, F_OK) == 0)
		failv("%s exists again", dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
