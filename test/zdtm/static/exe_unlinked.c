// SPDX-License-Identifier: GPL-2.0-only
/*
 * A program whose executable was removed while it runs (a daemon whose
 * binary a package upgrade replaced): the test runs a copy of itself,
 * which unlinks its file. After C/R /proc/self/exe still names that
 * file, "(deleted)", the same inode as before the restore's eyes (its
 * size and contents), and executable.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define ENV	"ZDTM_EXE_UNLINKED"

static int copy_self(const char *to)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	return close(out) || n < 0 ? -1 : 0;
}

static char *read_exe(ssize_t *len)
{
	char *data;

	*len = zdtm_read_file("/proc/self/exe", &data);
	return *len < 0 ? NULL : data;
}

int main(int argc, char **argv)
{
	char path[4096], exe[4096], exe2[4096];
	struct stat s1, s2;
	ssize_t l, len1, len2;
	char *data1, *data2;

	/* before test_init(): its readiness pipe would not survive the exec (the test dir is the cwd) */
	if (!getenv(ENV)) {
		if (!getcwd(path, sizeof(path) - 32))
			return 1;
		strcat(path, "/exe_unlinked.bin");
		if (copy_self(path) || setenv(ENV, path, 1))
			return 1;
		execv(path, argv);
		return 1;
	}
	test_init(argc, argv);
	if (unlink(getenv(ENV)))
		test_bug("unlink");
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	data1 = read_exe(&len1);
	if (l <= 0 || !data1 || stat("/proc/self/exe", &s1))
		test_bug("exe");
	exe[l] = 0;
	if (!strstr(exe, " (deleted)"))
		test_bug("/proc/self/exe is %s", exe);

	test_daemon();
	test_waitsig();

	l = readlink("/proc/self/exe", exe2, sizeof(exe2) - 1);
	if (l <= 0)
		fail("readlink /proc/self/exe");
	else {
		exe2[l] = 0;
		if (strcmp(exe, exe2))
			failv("/proc/self/exe is %s, was %s", exe2, exe);
	}
	data2 = read_exe(&len2);
	if (stat("/proc/self/exe", &s2) || s2.st_nlink || !(s2.st_mode & S_IXUSR) || s2.st_size != s1.st_size)
		failv("/proc/self/exe: not the unlinked executable");
	if (!data2 || len2 != len1 || memcmp(data1, data2, len1))
		failv("/proc/self/exe has other contents");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
