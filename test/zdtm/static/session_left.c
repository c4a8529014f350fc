// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session whose leader is gone, with members of two parents: the test,
 * a child subreaper, forks H, which calls setsid() and forks D and T; D
 * forks M (in session H), then calls setsid() itself and forks C (in
 * session D), as a daemon that makes its own session late does; H exits,
 * the test reaps it, D and T are re-parented to it. M's parent D is not
 * in M's session any more. After C/R: T and M are in session H, in H's
 * group; D leads session D with C in it; the parents are the same; no
 * helper is left to reap and H's pid is nobody's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

enum { D, T, M, C, NR };

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
	pid_t h, pids[NR] = { -1, -1, -1, -1 };
	int p[2], status, n;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) || pipe(p))
		test_bug("subreaper");
	h = fork();
	if (h < 0)
		test_bug("fork");
	if (h == 0) {
		pid_t t[NR];
		int g[2];

		if (setsid() < 0 || pipe(g))
			_exit(1);
		t[D] = fork();
		if (t[D] == 0) {
			pid_t mc[2];

			mc[0] = fork();
			if (mc[0] == 0)
				idle();
			if (mc[0] < 0 || setsid() < 0)
				_exit(1);
			mc[1] = fork();
			if (mc[1] == 0)
				idle();
			if (mc[1] < 0 || write(g[1], mc, sizeof(mc)) != sizeof(mc))
				_exit(1);
			idle();
		}
		t[T] = fork();
		if (t[T] == 0)
			idle();
		if (t[D] < 0 || t[T] < 0 || read(g[0], &t[M], 2 * sizeof(pid_t)) != 2 * sizeof(pid_t) ||
		    write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	if (read(p[0], pids, sizeof(pids)) != sizeof(pids) || waitpid(h, &status, 0) != h || status)
		test_bug("the helper");
	for (n = 0; n < 5000 && (ppid_of(pids[D]) != getpid() || ppid_of(pids[T]) != getpid()); n++)
		usleep(1000);
	if (n == 5000)
		test_bug("the session's members did not come to us");

	test_daemon();
	test_waitsig();

	if (getsid(pids[T]) != h || getsid(pids[M]) != h || getsid(pids[D]) != pids[D] || getsid(pids[C]) != pids[D])
		failv("the sessions: T %d, M %d, D %d, C %d; expected %d, %d, %d, %d", getsid(pids[T]), getsid(pids[M]),
		      getsid(pids[D]), getsid(pids[C]), h, h, pids[D], pids[D]);
	if (getpgid(pids[T]) != h || getpgid(pids[M]) != h || getpgid(pids[D]) != pids[D] ||
	    getpgid(pids[C]) != pids[D])
		failv("the groups: T %d, M %d, D %d, C %d", getpgid(pids[T]), getpgid(pids[M]), getpgid(pids[D]),
		      getpgid(pids[C]));
	if (ppid_of(pids[D]) != getpid() || ppid_of(pids[T]) != getpid() || ppid_of(pids[M]) != pids[D] ||
	    ppid_of(pids[C]) != pids[D])
		fail("the parents changed");
	if (waitpid(-1, &status, WNOHANG) != 0)
		fail("a child to reap that was not there (a helper of the restore?)");
	if (kill(h, 0) == 0 || errno != ESRCH)
		failv("pid %d (the session's) is somebody's", h);
	for (int i = 0; i < NR; i++)
		kill(pids[i], SIGKILL);
	/* M and C come to us too (a subreaper) */
	while (waitpid(-1, &status, 0) > 0)
		;
	if (test_failures)
		return 1;
	pass();
	return 0;
}
