// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX timers keep the overrun count of their last signal
 * (timer_getoverrun()): a periodic CLOCK_MONOTONIC timer signalling the
 * process and a periodic CLOCK_REALTIME one signalling the main thread
 * (SIGEV_THREAD_ID), both with their signals blocked, each armed a few
 * intervals in the past so that it runs over at once, its signal taken
 * with sigwaitinfo(). Their intervals are long (a minute): no signal is
 * pending at the dump (that case is posix_timer_pending's, where
 * timer_getoverrun() reads 0 until the signal is taken). Until the next
 * signal is taken the counts stay, across C/R too, and the timers are
 * still armed with what was left of their intervals.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SIG_PROC	(SIGRTMIN + 1)
#define SIG_THREAD	(SIGRTMIN + 2)
#define NR		2
#define NSEC		1000000000LL

static const long long interval_ns[NR] = { 60 * NSEC, 70 * NSEC };
static const int runs[NR] = { 5, 7 };

/*
 * Arms @t @n and a half intervals in the past: it fires at once and its
 * signal, taken, has @n overruns; next due half an interval from now.
 */
static int overrun_once(timer_t t, clockid_t clock, long long iv, int n, int sig)
{
	struct itimerspec per = { { iv / NSEC, iv % NSEC } };
	struct timespec now;
	long long at;
	siginfo_t si;
	sigset_t set;

	clock_gettime(clock, &now);
	at = now.tv_sec * NSEC + now.tv_nsec - n * iv - iv / 2;
	per.it_value.tv_sec = at / NSEC;
	per.it_value.tv_nsec = at % NSEC;
	if (timer_settime(t, TIMER_ABSTIME, &per, NULL))
		test_bug("timer_settime");
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigwaitinfo(&set, &si) != sig || si.si_code != SI_TIMER)
		test_bug("no timer signal %d", sig);
	return si.si_overrun;
}

int main(int argc, char **argv)
{
	struct sigevent sev[NR] = {
		{ .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIG_PROC },
		{ .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIG_THREAD },
	};
	const clockid_t clock[NR] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	const int sig[NR] = { SIG_PROC, SIG_THREAD };
	long long due[NR];
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
		struct timespec now;

		if (timer_create(clock[i], &sev[i], &t[i]))
			test_bug("timer %d", i);
		want[i] = overrun_once(t[i], clock[i], interval_ns[i], runs[i], sig[i]);
		clock_gettime(clock[i], &now);
		due[i] = now.tv_sec * NSEC + now.tv_nsec + interval_ns[i] / 2;
		if (want[i] != runs[i] || timer_getoverrun(t[i]) != want[i])
			test_bug("timer %d: overrun %d, timer_getoverrun() %d", i, want[i], timer_getoverrun(t[i]));
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		struct itimerspec cur;
		struct timespec now;
		long long left;
		sigset_t pend;

		got = timer_getoverrun(t[i]);
		if (got != want[i])
			failv("timer %d: timer_getoverrun() %d, it was %d", i, got, want[i]);
		clock_gettime(clock[i], &now);
		if (timer_gettime(t[i], &cur)) {
			fail("timer_gettime");
			continue;
		}
		left = cur.it_value.tv_sec * NSEC + cur.it_value.tv_nsec;
		/* due no later than it was (what is left is kept, the time criu took comes on top) */
		if (cur.it_interval.tv_sec * NSEC + cur.it_interval.tv_nsec != interval_ns[i] || left <= 0 ||
		    left > interval_ns[i] / 2)
			failv("timer %d: interval %ld.%09ld, next in %ld.%09ld, %lld ns off", i,
			      (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec, (long)cur.it_value.tv_sec,
			      cur.it_value.tv_nsec, now.tv_sec * NSEC + now.tv_nsec + left - due[i]);
		if (sigpending(&pend) || sigismember(&pend, sig[i]))
			failv("timer %d: a signal came from nowhere", i);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
