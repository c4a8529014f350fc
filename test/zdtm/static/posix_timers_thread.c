// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX timers owned by threads: two worker threads each get a periodic
 * timer that signals that very thread (SIGEV_THREAD_ID) with its own
 * value, and the main thread one that signals the process. After C/R
 * the timers have their ids and targets: each worker keeps receiving its
 * own timer's signal (and only that one), with its value.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "zdtmtst.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id	_sigev_un._tid
#endif

#define NR_W	2

static volatile int hits[NR_W + 1], bad;
static __thread int self = -1;
static pid_t tids[NR_W];
static timer_t tm[NR_W + 1];
static volatile int ready, stop;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	int v = si->si_value.sival_int;

	if (v < 0 || v > NR_W || si->si_code != SI_TIMER) {
		bad++;
		return;
	}
	if (v < NR_W && v != self)
		bad++;		/* a thread's timer came to another thread */
	/* expirations: a signal taken late stands for those it overran too */
	hits[v] += 1 + (si->si_overrun > 0 ? si->si_overrun : 0);
}

static void *worker(void *arg)
{
	sigset_t set;

	self = (int)(long)arg;
	tids[self] = syscall(SYS_gettid);
	/* process-directed signals go to the main thread */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (!stop)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sig, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct itimerspec per = { { 0, 20 * 1000 * 1000 }, { 0, 20 * 1000 * 1000 } };
	pthread_t th[NR_W];
	int before[NR_W + 1];

	test_init(argc, argv);
	sigaction(SIGRTMIN, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	for (long i = 0; i < NR_W; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			test_bug("pthread_create");
	while (ready < NR_W)
		usleep(1000);
	for (int i = 0; i <= NR_W; i++) {
		struct sigevent sev = { .sigev_value.sival_int = i };

		if (i < NR_W) {
			sev.sigev_notify = SIGEV_THREAD_ID;
			sev.sigev_signo = SIGRTMIN;
			sev.sigev_notify_thread_id = tids[i];
		} else {
			sev.sigev_notify = SIGEV_SIGNAL;
			sev.sigev_signo = SIGRTMIN + 1;
		}
		if (timer_create(CLOCK_MONOTONIC, &sev, &tm[i]) || timer_settime(tm[i], 0, &per, NULL))
			test_bug("timer %d", i);
	}
	{
		/* the main thread takes no thread-directed timer signal of the workers */
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGRTMIN);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i <= NR_W; i++)
		before[i] = hits[i];
	/* 3 expirations take 60 ms; a busy machine may be slow to let the threads take them */
	for (int n = 0; n < 60; n++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		int short_of = 0;

		for (int i = 0; i <= NR_W; i++)
			short_of += hits[i] - before[i] < 3;
		if (!short_of)
			break;
		while (nanosleep(&ts, &ts))
			;
	}
	for (int i = 0; i <= NR_W; i++)
		if (hits[i] - before[i] < 3)
			failv("timer %d fired %d times in 3 s after restore", i, hits[i] - before[i]);
	if (bad)
		failv("%d timer signals came to the wrong thread or with a wrong value", bad);
	stop = 1;
	for (int i = 0; i < NR_W; i++) {
		pthread_kill(th[i], SIGRTMIN + 1);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
