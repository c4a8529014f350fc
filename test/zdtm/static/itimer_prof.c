// SPDX-License-Identifier: GPL-2.0-only
/*
 * ITIMER_PROF (CPU time in user and kernel mode) armed with 30 s left and
 * a 20 ms interval, and ITIMER_VIRTUAL with a value only. After C/R both
 * read back (the values no higher than before, intervals exact), and
 * after the PROF timer is brought to 10 ms, burning CPU makes SIGPROF
 * come, again and again.
 */
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

static volatile int profs;

static void on_prof(int sig)
{
	profs++;
}

int main(int argc, char **argv)
{
	struct itimerval pt = { { 0, 20000 }, { 30, 0 } }, vt = { { 0, 0 }, { 40, 0 } }, got;
	struct timespec t0, t;

	test_init(argc, argv);
	signal(SIGPROF, on_prof);
	if (setitimer(ITIMER_PROF, &pt, NULL) || setitimer(ITIMER_VIRTUAL, &vt, NULL))
		test_bug("setitimer");

	test_daemon();
	test_waitsig();

	if (getitimer(ITIMER_PROF, &got) || got.it_interval.tv_sec || got.it_interval.tv_usec != 20000 ||
	    got.it_value.tv_sec > 30 || got.it_value.tv_sec < 25)
		failv("ITIMER_PROF is %ld.%06ld/%ld", (long)got.it_value.tv_sec, (long)got.it_value.tv_usec,
		      (long)got.it_interval.tv_usec);
	if (getitimer(ITIMER_VIRTUAL, &got) || got.it_interval.tv_sec || got.it_interval.tv_usec ||
	    got.it_value.tv_sec > 40 || got.it_value.tv_sec < 35)
		failv("ITIMER_VIRTUAL is %ld/%ld", (long)got.it_value.tv_sec, (long)got.it_interval.tv_sec);
	got = (struct itimerval){ { 0, 10000 }, { 0, 10000 } };
	setitimer(ITIMER_PROF, &got, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (profs < 3 && (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
	if (profs < 3)
		failv("SIGPROF came %d times", profs);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
