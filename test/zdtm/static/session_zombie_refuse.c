// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a session whose leader is a zombie. The test process is
 * a subreaper; its child L calls setsid() and forks C, then exits and is
 * left unreaped, so C (re-parented to the test process) is in the session
 * of a zombie. Restore can't rebuild that yet: the dump must refuse it by
 * name and leave everything as it was. After SIGTERM, L is reaped with
 * its status and C is still in L's session.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static char state_of(pid_t pid)
{
	char path[64], *buf, st = '?', *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && p[1])
		st = p[2];
	free(buf);
	return st;
}

int main(int argc, char **argv)
{
	int p[2], status;
	pid_t l, c;

	test_init(argc, argv);
	test_daemon();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe(p))
		test_bug("setup");
	l = fork();
	if (l < 0)
		test_bug("fork");
	if (l == 0) {
		setsid();
		c = fork();
		if (c == 0) {
			while (1)
				pause();
		}
		write(p[1], &c, sizeof(c));
		_exit(5);
	}
	if (read(p[0], &c, sizeof(c)) != sizeof(c))
		test_bug("read");
	while (state_of(l) != 'Z' || getppid() == 0)
		usleep(1000);

	test_waitsig();

	if (getsid(c) != l)
		failv("%d is in session %d, want %d", c, getsid(c), l);
	if (waitpid(l, &status, 0) != l || !WIFEXITED(status) || WEXITSTATUS(status) != 5)
		failv("leader %d: status %#x", l, status);
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
