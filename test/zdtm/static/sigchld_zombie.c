// SPDX-License-Identifier: GPL-2.0-only
/*
 * SIGCHLD blocked, a child exited with code 7: its SIGCHLD is pending,
 * with a siginfo naming it (CLD_EXITED, si_pid, si_status), and it is a
 * zombie. After C/R that one SIGCHLD is still pending with the same
 * siginfo (not a second one from the zombie made again), and the zombie
 * is reaped with status 7.
 */
#include <signal.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct timespec zero = { 0 };
	siginfo_t si, w;
	sigset_t s;
	pid_t child;
	int st;

	test_init(argc, argv);
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigprocmask(SIG_BLOCK, &s, NULL);
	child = zdtm_fork();
	if (!child)
		_exit(7);
	do {
		w.si_pid = 0;
		if (waitid(P_PID, child, &w, WEXITED | WNOHANG | WNOWAIT))
			test_bug("waitid");
	} while (!w.si_pid && !usleep(1000));

	test_daemon();
	test_waitsig();

	if (sigtimedwait(&s, &si, &zero) != SIGCHLD)
		fail("no SIGCHLD pending");
	else if (si.si_code != CLD_EXITED || si.si_pid != child || si.si_status != 7)
		failv("SIGCHLD siginfo: code %d pid %d status %d", si.si_code, si.si_pid, si.si_status);
	if (sigtimedwait(&s, &si, &zero) != -1)
		failv("a second SIGCHLD (from pid %d)", si.si_pid);
	if (waitpid(child, &st, WNOHANG) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		failv("zombie status %#x", st);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
