// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-process state beyond the basics: interval timers (ITIMER_REAL with
 * an interval, ITIMER_VIRTUAL), timer slack, child-subreaper, THP
 * disabled, nice, SCHED_RESET_ON_FORK and the OOM score adjustment. After
 * C/R all read back the same, and the real timer keeps firing.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

static volatile int alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static int oom_adj(void)
{
	char *buf;
	int v;

	if (zdtm_read_file("/proc/self/oom_score_adj", &buf) < 0)
		return -10000;
	v = atoi(buf);
	free(buf);
	return v;
}

int main(int argc, char **argv)
{
	struct itimerval it = { { 0, 100 * 1000 }, { 0, 100 * 1000 } }, vt = { { 7, 0 }, { 50, 0 } }, got;
	struct sched_param sp = { 0 };
	int subreaper = 0, before;
	FILE *f;

	test_init(argc, argv);
	signal(SIGALRM, on_alarm);
	if (setitimer(ITIMER_REAL, &it, NULL) || setitimer(ITIMER_VIRTUAL, &vt, NULL))
		test_bug("setitimer");
	if (prctl(PR_SET_TIMERSLACK, 123456) || prctl(PR_SET_CHILD_SUBREAPER, 1) ||
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		test_bug("prctl");
	if (setpriority(PRIO_PROCESS, 0, 7))
		test_bug("setpriority");
	if (sched_setscheduler(0, SCHED_BATCH | SCHED_RESET_ON_FORK, &sp))
		test_bug("sched_setscheduler");
	f = fopen("/proc/self/oom_score_adj", "w");
	if (!f || fprintf(f, "345") < 0 || fclose(f))
		test_bug("oom_score_adj");

	test_daemon();
	test_waitsig();

	if (getitimer(ITIMER_REAL, &got) || got.it_interval.tv_usec != 100000 || got.it_interval.tv_sec)
		failv("ITIMER_REAL interval is %ld.%06ld", (long)got.it_interval.tv_sec, (long)got.it_interval.tv_usec);
	before = alarms;
	/*
	 * 2 alarms take 200 ms; a nice SCHED_BATCH process on a busy machine
	 * may wait long to take them (the timer is re-armed as each is taken)
	 */
	for (int i = 0; i < 60 && alarms - before < 2; i++) {
		/* the alarms interrupt sleeps: sleep on until 50 ms have passed */
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	if (alarms - before < 2)
		failv("ITIMER_REAL fired %d times in 3 s", alarms - before);
	if (getitimer(ITIMER_VIRTUAL, &got) || got.it_interval.tv_sec != 7 || got.it_value.tv_sec > 50 ||
	    got.it_value.tv_sec < 40)
		failv("ITIMER_VIRTUAL is %ld/%ld", (long)got.it_interval.tv_sec, (long)got.it_value.tv_sec);
	if (prctl(PR_GET_TIMERSLACK) != 123456)
		failv("timer slack is %d", prctl(PR_GET_TIMERSLACK));
	if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) || subreaper != 1)
		failv("not a child subreaper any more");
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1)
		failv("THP not disabled any more");
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != 7)
		failv("nice is %d", getpriority(PRIO_PROCESS, 0));
	if (sched_getscheduler(0) != (SCHED_BATCH | SCHED_RESET_ON_FORK))
		failv("scheduling policy is %#x", sched_getscheduler(0));
	if (oom_adj() != 345)
		failv("oom_score_adj is %d", oom_adj());

	if (test_failures)
		return 1;
	pass();
	return 0;
}
