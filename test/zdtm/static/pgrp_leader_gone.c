// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process group whose leader has exited: child A makes group A, two
 * more children (B, C) join it, then A exits and is reaped, so no process
 * has pid A while the group lives on. After C/R, B and C are still in
 * group A, A's pid is still free, and kill(-A, SIGUSR1) reaches both
 * (each exits with 7 on it).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static void on_usr1(int sig)
{
	_exit(7);
}

static pid_t member(pid_t pgid)
{
	pid_t pid = zdtm_fork();

	if (pid == 0) {
		sigset_t none;

		signal(SIGUSR1, on_usr1);
		sigemptyset(&none);
		if (pgid && setpgid(0, pgid))
			_exit(2);
		while (1)
			sigsuspend(&none);
	}
	if (setpgid(pid, pgid ? pgid : pid) && errno != EACCES)
		test_bug("setpgid");
	return pid;
}

int main(int argc, char **argv)
{
	pid_t a, m[2];
	int status;

	test_init(argc, argv);

	a = member(0);
	m[0] = member(a);
	m[1] = member(a);
	kill(a, SIGKILL);
	if (waitpid(a, &status, 0) != a)
		test_bug("waitpid");
	for (int i = 0; i < 2; i++)
		if (getpgid(m[i]) != a)
			test_bug("not in the group");

	test_daemon();
	test_waitsig();

	if (kill(a, 0) == 0 || errno != ESRCH)
		failv("pid %d exists again", a);
	for (int i = 0; i < 2; i++)
		if (getpgid(m[i]) != a)
			failv("member %d is in group %d, want %d", m[i], getpgid(m[i]), a);
	if (kill(-a, SIGUSR1))
		failv("kill(-%d): %m", a);
	for (int i = 0; i < 2; i++) {
		alarm(10);
		if (zdtm_reap(m[i], &status) != 7)
			failv("member %d: status %#x", m[i], status);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
