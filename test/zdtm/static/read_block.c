// SPDX-License-Identifier: GPL-2.0-only
/*
 * Blocked in read() through C/R.  The test holds both ends of a pipe
 * and blocks reading the empty read end.  Only the SIGTERM handler
 * writes a byte into the pipe; the read (restarted thanks to
 * SA_RESTART) must then return exactly that byte.  The two descriptors
 * must still be the two ends of one pipe.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static int pfd[2];

static void on_sigterm(void)
{
	if (write(pfd[1], "x", 1) != 1)
		_exit(3);
}

int main(int argc, char **argv)
{
	struct stat st0, st1;
	char buf[16];
	ssize_t ret;

	test_init(argc, argv);

	if (pipe(pfd))
		test_bug("pipe");
	test_set_sigterm_hook(on_sigterm);

	test_daemon();

	ret = read(pfd[0], buf, sizeof(buf));

	if (ret < 0)
		fail("read");
	else if (ret != 1 || buf[0] != 'x')
		failv("read returned %zd bytes (first %#x)", ret,
		      ret > 0 ? buf[0] : 0);
	if (!test_sigterm)
		failv("read returned before SIGTERM");

	if (fstat(pfd[0], &st0) || fstat(pfd[1], &st1))
		fail("fstat pipe");
	else if (!S_ISFIFO(st0.st_mode) || st0.st_ino != st1.st_ino)
		failv("fds %d and %d are not one pipe any more", pfd[0], pfd[1]);
	if ((fcntl(pfd[0], F_GETFL) & O_ACCMODE) != O_RDONLY ||
	    (fcntl(pfd[1], F_GETFL) & O_ACCMODE) != O_WRONLY)
		failv("pipe ends have wrong access modes");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
