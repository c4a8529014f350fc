// SPDX-License-Identifier: GPL-2.0-only
/*
 * The write end of a pipe at fd 40, whose read end a process outside the
 * tree holds (a grandchild whose parent exited, now the runner's child):
 * the dump must refuse, naming the pipe and pointing at --external, and
 * leave us running. Afterwards the pipe still reaches that reader, which
 * exits once it read the line we write.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	int p[2], status;
	pid_t kid;

	test_init(argc, argv);
	if (pipe(p) || dup2(p[1], 40) != 40)
		test_bug("pipe");
	/* the reader is outside before we may be dumped */
	kid = zdtm_fork();
	if (kid == 0) {
		if (fork() == 0) {
			char buf[16];

			/* nothing of ours stays open in it but the read end: it leaves the tree */
			for (int i = 0; i < 1024; i++)
				if (i != p[0])
					close(i);
			_exit(read(p[0], buf, sizeof(buf)) == 3 && !memcmp(buf, "ok\n", 3) ? 0 : 1);
		}
		_exit(0);
	}
	if (waitpid(kid, &status, 0) != kid || close(p[0]) || close(p[1]))
		test_bug("waitpid");
	test_daemon();
	test_waitsig();

	if (write(40, "ok\n", 3) != 3)
		fail("the pipe to the outside reader");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
