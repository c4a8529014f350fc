// SPDX-License-Identifier: GPL-2.0-only
/*
 * A periodic ITIMER_REAL (20 ms) whose SIGALRM is blocked: it fired once,
 * its signal is pending, and the kernel arms it again only when the task
 * takes that signal (getitimer() reads a value of 0 with the interval
 * meanwhile). After C/R the interval is there, SIGALRM is pending; once
 * unblocked, the handler runs and the timer goes on firing.
 */
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

static volatile int alarms;

static void on_alarm(int sig)
{
	alarms++;
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 20 * 1000 }, { 0, 20 * 1000 } }, got;
	sigset_t alrm, pending;

	test_init(argc, argv);
	signal(SIGALRM, on_alarm);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigprocmask(SIG_BLOCK, &alrm, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		test_bug("setitimer");
	do {
		usleep(10000);
		if (getitimer(ITIMER_REAL, &got))
			test_bug("getitimer");
	} while (got.it_value.tv_sec || got.it_value.tv_usec);

	test_daemon();
	test_waitsig();

	if (getitimer(ITIMER_REAL, &got) || got.it_interval.tv_sec || got.it_interval.tv_usec != 20000)
		failv("ITIMER_REAL interval is %ld.%06ld", (long)got.it_interval.tv_sec, (long)got.it_interval.tv_usec);
	if (sigpending(&pending) || !sigismember(&pending, SIGALRM))
		fail("SIGALRM is not pending");
	if (sigprocmask(SIG_UNBLOCK, &alrm, NULL))
		fail("unblock");
	{
		/* the alarms interrupt sleeps: sleep on until 200 ms have passed */
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	if (alarms < 3)
		failv("ITIMER_REAL fired %d times in 200 ms after SIGALRM was unblocked", alarms);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
