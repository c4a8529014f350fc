// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX timers on CPU-time clocks: one on CLOCK_PROCESS_CPUTIME_ID (30 s
 * of CPU time away, 20 ms interval) and one on CLOCK_THREAD_CPUTIME_ID
 * (40 s). After C/R both keep their clock, interval and about the time
 * left, and once brought to 10 ms of CPU time the process timer's
 * signal comes while the task burns CPU.
 */
#include <signal.h>
#include <time.h>

#include "zdtmtst.h"

static volatile int ticks;

static void on_sig(int sig)
{
	ticks++;
}

int main(int argc, char **argv)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	struct itimerspec p = { { 0, 20000000 }, { 30, 0 } }, t = { { 0, 0 }, { 40, 0 } }, got;
	struct timespec t0, now;
	timer_t tp, tt;

	test_init(argc, argv);
	signal(SIGUSR2, on_sig);
	if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tp) || timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &tt))
		test_bug("timer_create");
	if (timer_settime(tp, 0, &p, NULL) || timer_settime(tt, 0, &t, NULL))
		test_bug("timer_settime");

	test_daemon();
	test_waitsig();

	if (timer_gettime(tp, &got) || got.it_interval.tv_nsec != 20000000 || got.it_value.tv_sec > 30 ||
	    got.it_value.tv_sec < 25)
		failv("process CPU timer: %ld s left, interval %ld ns", (long)got.it_value.tv_sec,
		      (long)got.it_interval.tv_nsec);
	if (timer_gettime(tt, &got) || got.it_interval.tv_sec || got.it_value.tv_sec > 40 || got.it_value.tv_sec < 35)
		failv("thread CPU timer: %ld s left", (long)got.it_value.tv_sec);
	p.it_value.tv_sec = 0;
	p.it_value.tv_nsec = 10000000;
	if (timer_settime(tp, 0, &p, NULL))
		fail("timer_settime");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while (ticks < 2 && (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
	if (ticks < 2)
		failv("the process CPU timer fired %d times", ticks);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
