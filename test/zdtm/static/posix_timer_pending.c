// SPDX-License-Identifier: GPL-2.0-only
/*
 * A POSIX timer's signal pending at dump: a periodic CLOCK_MONOTONIC timer
 * and a one-shot CLOCK_REALTIME one, their signals blocked, both fired
 * before the dump. The kernel keeps one signal per timer and counts the
 * periodic timer's later expiries as overruns of that signal. After C/R:
 * each signal is pending once (a restore that queues a copy of it beside
 * the timer gives two), the periodic one's si_overrun counts every
 * interval since its first expiry (the dump and restore included), it
 * still fires at its interval, and the one-shot timer is disarmed.
 *
 * With ZDTM_PT_THREAD=1 (posix_timer_pending_thread) all of it happens in
 * a second thread, which the timers signal (SIGEV_THREAD_ID): its own
 * pending signals, taken and made pending again in that thread at dump.
 *
 * With ZDTM_PT_EXTRA=1 (posix_timer_pending_refuse) another signal of the
 * periodic timer's number is queued behind its own: the dump, which would
 * have to take the timer's to learn its overruns, refuses, and the task
 * goes on with both pending.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "zdtmtst.h"

#define SIG_PER		(SIGRTMIN + 4)
#define SIG_ONE		(SIGRTMIN + 5)
#define IV_NS		(100 * 1000 * 1000LL)

static long long now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The signals of @sig pending now: each's overrun and value, at most @max. */
static int take_all(int sig, siginfo_t *si, int max)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;
	int n = 0;

	sigemptyset(&set);
	sigaddset(&set, sig);
	while (n < max && sigtimedwait(&set, &si[n], &zero) == sig)
		n++;
	return n;
}

static int setup_done, go_check;

static void wait_for(int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, flag, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static void set_flag(int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, flag, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void *run(void *arg)
{
	struct itimerspec per = { { 0, IV_NS }, { 0, IV_NS } }, one = { { 0, 0 }, { 0, 1000 * 1000 } }, cur;
	struct sigevent sev = { 0 };
	long long first, elapsed, expect, before;
	struct timespec wait = { 0, 2 * IV_NS };
	int extra = getenv("ZDTM_PT_EXTRA") != NULL;
	int in_thread = arg != NULL;
	timer_t tp, to;
	siginfo_t si[4];
	sigset_t set;
	int n;

	sigemptyset(&set);
	sigaddset(&set, SIG_PER);
	sigaddset(&set, SIG_ONE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	sev.sigev_notify = in_thread ? SIGEV_THREAD_ID : SIGEV_SIGNAL;
	sev._sigev_un._tid = syscall(SYS_gettid);
	sev.sigev_signo = SIG_PER;
	sev.sigev_value.sival_int = 0x1234;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tp))
		test_bug("timer_create");
	sev.sigev_signo = SIG_ONE;
	sev.sigev_value.sival_int = 0x5678;
	if (timer_create(CLOCK_REALTIME, &sev, &to))
		test_bug("timer_create");
	first = now_ns(CLOCK_MONOTONIC) + IV_NS;
	if (timer_settime(tp, 0, &per, NULL) || timer_settime(to, 0, &one, NULL))
		test_bug("timer_settime");
	/* both fire, the periodic one runs over twice or so */
	wait.tv_nsec = 3 * IV_NS + IV_NS / 2;
	nanosleep(&wait, NULL);
	if (sigpending(&set) || !sigismember(&set, SIG_PER) || !sigismember(&set, SIG_ONE))
		test_bug("the timers' signals are not pending");
	if (extra && (in_thread ? syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), SIG_PER,
					  &(siginfo_t){ .si_code = SI_QUEUE, .si_pid = getpid(), .si_uid = getuid() }) :
			     sigqueue(getpid(), SIG_PER, (union sigval){ .sival_int = 1 })))
		test_bug("sigqueue");

	before = (now_ns(CLOCK_MONOTONIC) - first) / IV_NS;	/* overruns at least, at the dump */

	if (in_thread) {
		set_flag(&setup_done);
		wait_for(&go_check);
	} else {
		test_daemon();
		test_waitsig();
	}

	n = take_all(SIG_PER, si, 4);
	elapsed = now_ns(CLOCK_MONOTONIC) - first;
	expect = elapsed / IV_NS;	/* expiries after the first */
	if (n != 1 + extra)
		failv("the periodic timer's signal is pending %d times", n - extra);
	else if (si[0].si_code != SI_TIMER || si[0].si_value.sival_int != 0x1234)
		failv("the periodic timer's signal: code %d, value %#x", si[0].si_code, si[0].si_value.sival_int);
	/*
	 * At least those it had before the dump (the time between dump and
	 * restore does not count: timers are armed again with what was left),
	 * at most the intervals since.
	 */
	else if (si[0].si_overrun < before || si[0].si_overrun > expect)
		failv("the periodic timer's signal has %d overruns, %lld intervals after its first expiry, %lld "
		      "before the dump", si[0].si_overrun, expect, before);
	if (timer_gettime(tp, &cur) || cur.it_interval.tv_nsec != IV_NS || (!cur.it_value.tv_sec && !cur.it_value.tv_nsec) ||
	    cur.it_value.tv_sec || cur.it_value.tv_nsec > IV_NS)
		failv("the periodic timer: %ld.%09ld left, interval %ld.%09ld", (long)cur.it_value.tv_sec,
		      cur.it_value.tv_nsec, (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
	sigemptyset(&set);
	sigaddset(&set, SIG_PER);
	wait.tv_nsec = 2 * IV_NS;
	if (sigtimedwait(&set, &si[0], &wait) != SIG_PER)
		fail("the periodic timer fires no more");

	n = take_all(SIG_ONE, si, 4);
	if (n != 1)
		failv("the one-shot timer's signal is pending %d times", n);
	else if (si[0].si_code != SI_TIMER || si[0].si_value.sival_int != 0x5678 || si[0].si_overrun)
		failv("the one-shot timer's signal: code %d, value %#x, %d overruns", si[0].si_code,
		      si[0].si_value.sival_int, si[0].si_overrun);
	if (timer_gettime(to, &cur) || cur.it_value.tv_sec || cur.it_value.tv_nsec)
		failv("the one-shot timer is armed again");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	sigset_t set;

	test_init(argc, argv);
	if (getenv("ZDTM_PT_THREAD")) {
		/* the timers' signals are for the thread alone: blocked here too, none strays */
		sigemptyset(&set);
		sigaddset(&set, SIG_PER);
		sigaddset(&set, SIG_ONE);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		if (pthread_create(&th, NULL, run, (void *)1))
			test_bug("pthread_create");
		wait_for(&setup_done);
		test_daemon();
		test_waitsig();
		set_flag(&go_check);
		pthread_join(th, NULL);
	} else {
		run(NULL);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
