// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handlers for the signals that ptrace and the checkpointer's own
 * machinery use (SIGTRAP, SIGCHLD, SIGSEGV, SIGILL, SIGBUS, SIGSYS,
 * SIGCONT, SIGURG, SIGWINCH) and for every other catchable signal. After
 * C/R each handler is called when its signal is raised (SIGTRAP from a
 * real int3 too), with the right signal number, exactly once.
 */
#include <signal.h>
#include <string.h>

#include "zdtmtst.h"

static volatile int count[65], wrong;

static void handler(int sig, siginfo_t *si, void *uc)
{
	if (sig < 1 || sig > 64 || si->si_signo != sig)
		wrong++;
	else
		count[sig]++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };

	test_init(argc, argv);
	for (int s = 1; s <= 64; s++) {
		if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33 || s == SIGTERM)
			continue;
		if (sigaction(s, &sa, NULL))
			test_bug("sigaction %d", s);
	}

	test_daemon();
	test_waitsig();

	for (int s = 1; s <= 64; s++) {
		if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33 || s == SIGTERM)
			continue;
		if (raise(s))
			fail("raise %d", s);
		if (count[s] != 1)
			failv("signal %d: handler called %d times", s, count[s]);
	}
	asm volatile("int3");
	if (count[SIGTRAP] != 2)
		failv("int3: the SIGTRAP handler was called %d times in all", count[SIGTRAP]);
	if (wrong)
		failv("%d handler calls with a wrong signal number", wrong);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
