// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: the test holds the slave of a pty (fd 78) whose master
 * is held only by a process outside the dumped tree (a grandchild that
 * was orphaned to the runner). Without --shell-job the dump must fail
 * naming the fd, the pts index and the master being outside; the slave
 * still works afterwards (written on the slave, read by the helper,
 * which reports it back by its own write on the master).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>

#include "zdtmtst.h"

#define S_FD	78

/* Echo one line from the master back to it, then wait to be killed. */
static void helper(int m)
{
	char buf[64];
	ssize_t n;

	close(S_FD);
	alarm(600);
	n = read(m, buf, sizeof(buf));
	if (n > 0 && write(m, buf, n) != n)
		_exit(1);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char name[64], buf[64] = {};
	struct pollfd pfd = { .fd = S_FD, .events = POLLIN };
	struct termios t;
	int m, s, status;
	pid_t mid;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		test_bug("posix_openpt");
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0 || dup2(s, S_FD) != S_FD)
		test_bug("open %s", name);
	close(s);
	if (tcgetattr(S_FD, &t))
		test_bug("tcgetattr");
	cfmakeraw(&t);
	if (tcsetattr(S_FD, TCSANOW, &t))
		test_bug("tcsetattr");

	mid = zdtm_fork();
	if (mid == 0) {
		if (fork() == 0)
			helper(m);
		_exit(0);
	}
	if (waitpid(mid, &status, 0) != mid)
		test_bug("waitpid");
	close(m);	/* the master lives on in the orphaned helper only */

	test_daemon();
	test_waitsig();

	if (write(S_FD, "back\n", 5) != 5)
		fail("write on the slave");
	if (poll(&pfd, 1, 5000) != 1 || read(S_FD, buf, sizeof(buf)) != 5 || strcmp(buf, "back\n"))
		failv("the slave read \"%s\" back", buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
