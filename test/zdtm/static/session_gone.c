// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session whose leader is gone, as a daemon's double fork leaves it
 * (chromium's crash handler, for one): the test, a child subreaper,
 * forks H, which calls setsid() and forks T1 (in H's group, with a child
 * G) and T2 (leading a group of its own), and exits; the test reaps it,
 * and T1 and T2 are re-parented to it. After C/R: T1, T2 and G are in
 * session H again, in their groups, T1 and T2 are the test's children,
 * no helper is left to reap and H's pid is still nobody's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static void __attribute__((noreturn)) idle(void)
{
	while (1)
		pause();
}

static pid_t ppid_of(pid_t pid)
{
	char path[64];
	int ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
		ppid = -1;
	if (f)
		fclose(f);
	return ppid;
}

int main(int argc, char **argv)
{
	pid_t h, pids[3] = { -1, -1, -1 };	/* T1, T2, G */
	int p[2], status, n;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(p))
		test_bug("subreaper");
	h = fork();
	if (h < 0)
		test_bug("fork");
	if (h == 0) {
		pid_t t[3];
		int g[2];

		if (setsid() < 0 || pipe(g))
			_exit(1);
		t[0] = fork();
		if (t[0] == 0) {
			pid_t c = fork();

			if (c == 0)
				idle();
			if (write(g[1], &c, sizeof(c)) != sizeof(c))
				_exit(1);
			idle();
		}
		t[1] = fork();
		if (t[1] == 0) {
			if (setpgid(0, 0))
				_exit(1);
			idle();
		}
		if (t[0] < 0 || t[1] < 0 || read(g[0], &t[2], sizeof(t[2])) != sizeof(t[2]) ||
		    write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	if (read(p[0], pids, sizeof(pids)) != sizeof(pids) || waitpid(h, &status, 0) != h || status)
		test_bug("the helper");
	for (n = 0; n < 5000 && (ppid_of(pids[0]) != getpid() || ppid_of(pids[1]) != getpid() ||
				 getpgid(pids[1]) != pids[1]); n++)
		usleep(1000);
	if (n == 5000)
		test_bug("the session's members did not come to us");

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 3; i++)
		if (getsid(pids[i]) != h)
			failv("process %d is in session %d, not %d", pids[i], getsid(pids[i]), h);
	if (getpgid(pids[0]) != h || getpgid(pids[2]) != h || getpgid(pids[1]) != pids[1])
		failv("the groups: %d %d %d", getpgid(pids[0]), getpgid(pids[1]), getpgid(pids[2]));
	if (ppid_of(pids[0]) != getpid() || ppid_of(pids[1]) != getpid() || ppid_of(pids[2]) != pids[0])
		fail("the parents changed");
	if (waitpid(-1, &status, WNOHANG) != 0)
		fail("a child to reap that was not there (a helper of the restore?)");
	if (kill(h, 0) == 0 || errno != ESRCH)
		failv("pid %d (the session's) is somebody's", h);
	for (int i = 0; i < 3; i++)
		kill(pids[i], SIGKILL);
	/* G comes to us too (a subreaper) */
	while (waitpid(-1, &status, 0) > 0)
		;
	if (test_failures)
		return 1;
	pass();
	return 0;
}
