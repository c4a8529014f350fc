// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session whose leader is a zombie. The test process is a subreaper;
 * its child L calls setsid() and forks C, then exits and is left
 * unreaped, so C (re-parented to the test process) is in the session and
 * group of a zombie. After C/R, L is still a zombie, is reaped with its
 * status, C is alive, still our child, in L's session and group.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

/* State letter and parent of a process, from /proc/PID/stat. */
static char state_of(pid_t pid, pid_t *ppid)
{
	char path[64], *buf, st = '?', *p;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %c %d", &st, &pp) != 2)
		st = '?';
	free(buf);
	if (ppid)
		*ppid = pp;
	return st;
}

int main(int argc, char **argv)
{
	int p[2], status;
	pid_t l, c, pp;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe(p))
		test_bug("setup");
	l = zdtm_fork();
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
	while (state_of(l, NULL) != 'Z' || state_of(c, &pp) == '?' || pp != getpid())
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (state_of(l, NULL) != 'Z')
		failv("the leader %d is not a zombie", l);
	if (state_of(c, &pp) != 'S' || pp != getpid())
		failv("%d is not a sleeping child of ours (parent %d)", c, pp);
	if (getsid(c) != l || getpgid(c) != l)
		failv("%d is in session %d, group %d, want %d", c, getsid(c), getpgid(c), l);
	if (zdtm_reap(l, &status) != 5)
		failv("leader %d: status %#x", l, status);
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
