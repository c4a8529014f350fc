// SPDX-License-Identifier: GPL-2.0-only
/*
 * A one-shot ITIMER_REAL (alarm) that goes off while the task is being
 * dumped: the desc's post-dump hook holds the frozen tree for 3 s, and
 * the alarm is due 1 s after the test is ready. Its SIGALRM, sent while
 * criu held the task, is pending in the images; the timer is spent. After
 * C/R the handler must have run exactly once, however the alarm fell
 * against the dump: restored armed as read before it went off, it went
 * off twice.
 */
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

int main(int argc, char **argv)
{
	struct itimerval it = { .it_value = { .tv_sec = 1 } }, got;
	struct timespec ts = { .tv_sec = 2 };

	test_init(argc, argv);
	signal(SIGALRM, on_alarm);
	if (setitimer(ITIMER_REAL, &it, NULL))
		test_bug("setitimer");
	test_daemon();
	test_waitsig();

	/* an alarm restored armed is due within 1 s of the restore: wait it out */
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	if (getitimer(ITIMER_REAL, &got))
		fail("getitimer");
	else if (got.it_value.tv_sec || got.it_value.tv_usec)
		failv("ITIMER_REAL is armed again: %ld.%06ld s left", (long)got.it_value.tv_sec,
		      (long)got.it_value.tv_usec);
	if (alarms != 1)
		failv("the one-shot alarm went off %d times", alarms);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
