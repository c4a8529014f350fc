// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX timers: a periodic CLOCK_MONOTONIC timer signalling SIGUSR1 with
 * a sigev_value, a one-shot 60 s CLOCK_REALTIME timer, and a SIGEV_NONE
 * timer. After C/R the timers have the same ids, the periodic one keeps
 * firing with its value, the one-shot has a sane remaining time, and the
 * SIGEV_NONE one is still there.
 */
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "zdtmtst.h"

static volatile int fired, bad_value;

/* expirations: a signal taken late stands for those it overran too */
static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	fired += 1 + (si->si_overrun > 0 ? si->si_overrun : 0);
	if (si->si_value.sival_int != 1234 || si->si_code != SI_TIMER)
		bad_value++;
}

int main(int argc, char **argv)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	struct itimerspec per = { { 0, 50 * 1000 * 1000 }, { 0, 50 * 1000 * 1000 } };
	struct itimerspec once = { { 0, 0 }, { 60, 0 } }, big = { { 100, 0 }, { 100, 0 } }, got;
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO | SA_RESTART };
	timer_t t1, t2, t3, ids[3];
	int before;

	test_init(argc, argv);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGUSR2, SIG_IGN);
	sev.sigev_value.sival_int = 1234;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t1))
		test_bug("timer_create 1");
	sev.sigev_signo = SIGUSR2;
	sev.sigev_value.sival_int = 0;
	if (timer_create(CLOCK_REALTIME, &sev, &t2))
		test_bug("timer_create 2");
	sev.sigev_notify = SIGEV_NONE;
	if (timer_create(CLOCK_MONOTONIC, &sev, &t3))
		test_bug("timer_create 3");
	if (timer_settime(t1, 0, &per, NULL) || timer_settime(t2, 0, &once, NULL) || timer_settime(t3, 0, &big, NULL))
		test_bug("timer_settime");
	ids[0] = t1;
	ids[1] = t2;
	ids[2] = t3;

	test_daemon();
	test_waitsig();

	before = fired;
	/* 3 expirations take 150 ms; a busy machine may be slow to let us take them */
	for (int i = 0; i < 60 && fired - before < 3; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		while (nanosleep(&ts, &ts))
			;
	}
	if (fired - before < 3)
		failv("the periodic timer fired %d times in 3 s", fired - before);
	if (bad_value)
		failv("%d timer signals came with the wrong value or code", bad_value);
	if (timer_gettime(ids[0], &got) || got.it_interval.tv_nsec != 50 * 1000 * 1000)
		failv("timer 1 interval is %ld ns", (long)got.it_interval.tv_nsec);
	if (timer_gettime(ids[1], &got) || got.it_value.tv_sec > 60 || got.it_value.tv_sec < 30 ||
	    got.it_interval.tv_sec)
		failv("timer 2 has %ld s left", (long)got.it_value.tv_sec);
	if (timer_gettime(ids[2], &got) || got.it_interval.tv_sec != 100)
		failv("timer 3 interval is %ld s", (long)got.it_interval.tv_sec);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
