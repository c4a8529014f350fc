// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX timers keep the overrun count of their last signal
 * (timer_getoverrun()): a periodic CLOCK_MONOTONIC timer signalling the
 * process and a periodic CLOCK_REALTIME one signalling the main thread
 * (SIGEV_THREAD_ID), both with their signals blocked, each left to run
 * over a few times before its signal is taken with sigwaitinfo(). Until
 * the next signal is taken the counts stay, across C/R too; after it the
 * timers still fire at their intervals.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SIG_PROC	(SIGRTMIN + 1)
#define SIG_THREAD	(SIGRTMIN + 2)
#define NR		2

static const long interval_ns[NR] = { 2 * 1000 * 1000, 3 * 1000 * 1000 };

/* Runs @t over for a while, then takes its signal: the overruns it had. */
static int overrun_once(timer_t t, int sig)
{
	struct timespec ts = { 0, 40 * 1000 * 1000 };
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	while (nanosleep(&ts, &ts))
		;
	if (sigwaitinfo(&set, &si) != sig || si.si_code != SI_TIMER)
		test_bug("no timer signal %d", sig);
	return si.si_overrun;
}

/* After a while, every signal @sig queued: the most overruns one of them had. */
static int most_overrun(int sig)
{
	struct timespec ts = { 0, 40 * 1000 * 1000 }, none = { 0, 0 };
	int most = -1;
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	while (nanosleep(&ts, &ts))
		;
	while (sigtimedwait(&set, &si, &none) == sig)
		if (si.si_code == SI_TIMER && si.si_overrun > most)
			most = si.si_overrun;
	return most;
}

int main(int argc, char **argv)
{
	struct sigevent sev[NR] = {
		{ .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_PROC },
		{ .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIG_THREAD },
	};
	const clockid_t clock[NR] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	const int sig[NR] = { SIG_PROC, SIG_THREAD };
	int want[NR], got;
	timer_t t[NR];
	sigset_t block;

	test_init(argc, argv);
	sigemptyset(&block);
	sigaddset(&block, SIG_PROC);
	sigaddset(&block, SIG_THREAD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sev[1]._sigev_un._tid = syscall(SYS_gettid);
	for (int i = 0; i < NR; i++) {
		struct itimerspec per = { { 0, interval_ns[i] }, { 0, interval_ns[i] } };

		if (timer_create(clock[i], &sev[i], &t[i]) || timer_settime(t[i], 0, &per, NULL))
			test_bug("timer %d", i);
		want[i] = overrun_once(t[i], sig[i]);
		if (want[i] < 3 || timer_getoverrun(t[i]) != want[i])
			test_bug("timer %d: overrun %d, timer_getoverrun() %d", i, want[i], timer_getoverrun(t[i]));
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		struct itimerspec cur;

		got = timer_getoverrun(t[i]);
		if (got != want[i])
			failv("timer %d: timer_getoverrun() %d, it was %d", i, got, want[i]);
		if (timer_gettime(t[i], &cur) || cur.it_interval.tv_sec || cur.it_interval.tv_nsec != interval_ns[i] ||
		    (!cur.it_value.tv_sec && !cur.it_value.tv_nsec) || cur.it_value.tv_sec ||
		    cur.it_value.tv_nsec > interval_ns[i])
			failv("timer %d: interval %ld.%09ld, next in %ld.%09ld", i, (long)cur.it_interval.tv_sec,
			      cur.it_interval.tv_nsec, (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
		/*
		 * and it still fires, overrunning as it does (its signal pending
		 * at the dump comes back as a signal of its own, taken here too)
		 */
		if (most_overrun(sig[i]) < 3)
			failv("timer %d: too few overruns after the restore", i);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
