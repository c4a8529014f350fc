// SPDX-License-Identifier: GPL-2.0-only
/*
 * A pipe to the outside: the runner hands us the write end of its own
 * pipe ($ZDTM_EXT_FD, kept at fd 70), dumps with --external pipe:[INO] and
 * restores with --inherit-fd fd[N]:pipe:[INO]. After restore fd 70 must be
 * that very pipe (same inode, write-only, FD_CLOEXEC clear), and what we
 * write there reaches the runner, which checks for the line "ext-pipe-ok"
 * after "before" written ahead of the dump.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	const char *env = getenv("ZDTM_EXT_FD");
	struct stat before, after;
	int fd;

	test_init(argc, argv);
	if (!env)
		test_bug("no $ZDTM_EXT_FD: run with \"ext_pipe\" in the desc");
	fd = atoi(env);
	if (dup2(fd, 70) != 70 || close(fd) || fstat(70, &before) || !S_ISFIFO(before.st_mode))
		test_bug("the runner's pipe");
	if (write(70, "before\n", 7) != 7)
		test_bug("write");

	test_daemon();
	test_waitsig();

	if (fstat(70, &after) || after.st_ino != before.st_ino || after.st_dev != before.st_dev)
		failv("fd 70 is not the runner's pipe any more (inode %lu, was %lu)", (unsigned long)after.st_ino,
		      (unsigned long)before.st_ino);
	if ((fcntl(70, F_GETFL) & O_ACCMODE) != O_WRONLY || fcntl(70, F_GETFD) != 0)
		failv("fd 70 has flags %x, fd flags %x", fcntl(70, F_GETFL), fcntl(70, F_GETFD));
	if (write(70, "ext-pipe-ok\n", 12) != 12)
		fail("write after restore");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
