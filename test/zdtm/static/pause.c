// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sitting in pause() through C/R.  The test loops in pause() and is
 * taken out of it only by the SIGTERM handler (siglongjmp, so there is
 * no window between checking a flag and entering pause()).  pause()
 * must never return on its own: C/R has to restart it transparently.
 * The pid and the signal mask must be the same afterwards.
 */
#include <setjmp.h>
#include <string.h>

#include "zdtmtst.h"

static sigjmp_buf env;
static volatile sig_atomic_t armed;

static void on_sigterm(void)
{
	if (armed) {
		armed = 0;
		siglongjmp(env, 1);
	}
}

int main(int argc, char **argv)
{
	static volatile unsigned long returns;
	sigset_t blk, before, after;
	pid_t pid;
	int sig;

	test_init(argc, argv);
	test_set_sigterm_hook(on_sigterm);

	sigemptyset(&blk);
	sigaddset(&blk, SIGUSR2);
	sigaddset(&blk, SIGRTMIN + 4);
	sigprocmask(SIG_BLOCK, &blk, NULL);
	sigprocmask(SIG_BLOCK, NULL, &before);
	pid = getpid();

	test_daemon();

	if (sigsetjmp(env, 1) == 0) {
		armed = 1;
		if (test_go())
			for (;;) {
				pause();
				returns++;
			}
	}
	armed = 0;

	if (returns)
		failv("pause() returned %lu times", returns);
	if (getpid() != pid)
		failv("pid %d, expected %d", getpid(), pid);
	sigprocmask(SIG_BLOCK, NULL, &after);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&before, sig) != sigismember(&after, sig))
			failv("signal %d changed its blocked state", sig);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
