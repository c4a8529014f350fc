// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a stream socket at fd 81 whose peer is held by a process
 * outside the dumped tree (a grandchild whose parent exited, so it was
 * reparented away). The dump must fail naming the fd and the outside
 * peer, and leave the test running: afterwards the connection still
 * works both ways.
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SOCK_FD	81

int main(int argc, char **argv)
{
	char buf[8] = {};
	int sk[2], st;
	pid_t pid;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk) || dup2(sk[0], SOCK_FD) != SOCK_FD)
		test_bug("socketpair");
	close(sk[0]);
	pid = zdtm_fork();
	if (pid == 0) {
		/* the grandchild echoes one message, then goes when we close our end */
		if (fork() == 0) {
			close(SOCK_FD);
			if (read(sk[1], buf, 4) == 4)
				write(sk[1], buf, 4);
			read(sk[1], buf, 1);
			_exit(0);
		}
		_exit(0);
	}
	close(sk[1]);
	if (waitpid(pid, &st, 0) != pid)
		test_bug("waitpid");

	test_daemon();
	test_waitsig();

	if (write(SOCK_FD, "echo", 4) != 4 || read(SOCK_FD, buf, 4) != 4 || memcmp(buf, "echo", 4))
		fail("the connection outside doesn't work any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
