// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signal dispositions: handlers with distinct flags (SA_SIGINFO,
 * SA_RESTART, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_NOCLDSTOP) and
 * masks, ignored and default signals.  After C/R the kernel reports
 * the same handler/flags/restorer/mask for every signal, and the
 * handlers behave accordingly when signals are raised.
 */
#include <string.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

struct ksigaction {
	unsigned long handler;
	unsigned long flags;
	unsigned long restorer;
	uint64_t mask;
};

#define NSIGS 64

static struct ksigaction before[NSIGS + 1];

static volatile int last_sig, last_code, last_val, calls;
static sigset_t last_mask;

static void h_info(int sig, siginfo_t *si, void *uc)
{
	last_sig = sig;
	last_code = si->si_code;
	last_val = si->si_value.sival_int;
	sigprocmask(SIG_BLOCK, NULL, &last_mask);
	calls++;
}

static void h_plain(int sig)
{
	last_sig = sig;
	last_code = 0;
	sigprocmask(SIG_BLOCK, NULL, &last_mask);
	calls++;
}

static void set(int sig, void *handler, int flags, const int *mask_sigs)
{
	struct sigaction sa = {};

	if (flags & SA_SIGINFO)
		sa.sa_sigaction = handler;
	else
		sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask_sigs && *mask_sigs; mask_sigs++)
		sigaddset(&sa.sa_mask, *mask_sigs);
	if (sigaction(sig, &sa, NULL))
		test_bug("sigaction(%d)", sig);
}

static int get_kact(int sig, struct ksigaction *k)
{
	return syscall(SYS_rt_sigaction, sig, NULL, k, 8);
}

static void expect_mask(const char *what, int sig, bool blocked)
{
	if (sigismember(&last_mask, sig) != blocked)
		failv("%s: signal %d is %sblocked in the handler", what, sig,
		      blocked ? "not " : "");
}

int main(int argc, char **argv)
{
	int rtsig = SIGRTMIN + 1;
	const int usr1_mask[] = { SIGUSR2, SIGINT, 0 };
	const int usr2_mask[] = { SIGHUP, 0 };
	const int alrm_mask[] = { SIGQUIT, SIGRTMIN + 3, SIGRTMAX, 0 };
	const int rt_mask[] = { SIGUSR1, 0 };
	struct ksigaction k;
	union sigval v;
	sigset_t unblock;
	int sig;

	test_init(argc, argv);

	set(SIGUSR1, h_info, SA_SIGINFO, usr1_mask);
	set(SIGUSR2, h_plain, SA_RESTART | SA_NODEFER, usr2_mask);
	set(SIGHUP, h_plain, SA_ONSTACK | SA_RESETHAND, NULL);
	set(SIGALRM, h_plain, SA_RESTART, alrm_mask);
	set(SIGCHLD, h_plain, SA_NOCLDSTOP | SA_NOCLDWAIT, NULL);
	set(rtsig, h_info, SA_SIGINFO | SA_RESTART | SA_NODEFER, rt_mask);
	set(SIGINT, SIG_IGN, 0, NULL);
	set(SIGPIPE, SIG_IGN, 0, NULL);
	set(SIGWINCH, SIG_IGN, SA_RESTART, NULL);
	set(SIGQUIT, SIG_DFL, 0, NULL);

	for (sig = 1; sig <= NSIGS; sig++)
		if (get_kact(sig, &before[sig]))
			test_bug("rt_sigaction(%d)", sig);

	test_daemon();
	test_waitsig();

	for (sig = 1; sig <= NSIGS; sig++) {
		if (get_kact(sig, &k)) {
			fail("rt_sigaction(%d)", sig);
			continue;
		}
		if (memcmp(&k, &before[sig], sizeof(k)))
			failv("signal %d: handler %#lx flags %#lx restorer %#lx mask %#llx, was %#lx %#lx %#lx %#llx",
			      sig, k.handler, k.flags, k.restorer,
			      (unsigned long long)k.mask, before[sig].handler,
			      before[sig].flags, before[sig].restorer,
			      (unsigned long long)before[sig].mask);
	}

	sigemptyset(&unblock);
	sigaddset(&unblock, SIGUSR1);
	sigaddset(&unblock, SIGUSR2);
	sigaddset(&unblock, SIGHUP);
	sigaddset(&unblock, SIGINT);
	sigaddset(&unblock, rtsig);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);

	calls = 0;
	v.sival_int = 0xc0ffee;
	sigqueue(getpid(), SIGUSR1, v);
	if (calls != 1 || last_sig != SIGUSR1 || last_code != SI_QUEUE ||
	    last_val != 0xc0ffee)
		failv("SIGUSR1: calls %d sig %d code %d value %#x", calls,
		      last_sig, last_code, last_val);
	expect_mask("SIGUSR1", SIGUSR1, true);
	expect_mask("SIGUSR1", SIGUSR2, true);
	expect_mask("SIGUSR1", SIGINT, true);
	expect_mask("SIGUSR1", SIGHUP, false);

	calls = 0;
	raise(SIGUSR2);
	if (calls != 1 || last_sig != SIGUSR2)
		failv("SIGUSR2: calls %d sig %d", calls, last_sig);
	expect_mask("SIGUSR2", SIGUSR2, false);	/* SA_NODEFER */
	expect_mask("SIGUSR2", SIGHUP, true);

	calls = 0;
	v.sival_int = 77;
	sigqueue(getpid(), rtsig, v);
	if (calls != 1 || last_sig != rtsig || last_val != 77)
		failv("SIGRTMIN+1: calls %d sig %d value %d", calls, last_sig,
		      last_val);
	expect_mask("SIGRTMIN+1", rtsig, false);
	expect_mask("SIGRTMIN+1", SIGUSR1, true);

	calls = 0;
	raise(SIGINT);		/* ignored: we must survive it */
	if (calls)
		failv("ignored SIGINT reached a handler");

	raise(SIGHUP);
	if (calls != 1 || last_sig != SIGHUP)
		failv("SIGHUP: calls %d sig %d", calls, last_sig);
	if (get_kact(SIGHUP, &k) || k.handler != (unsigned long)SIG_DFL)
		failv("SA_RESETHAND did not reset the SIGHUP handler");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
