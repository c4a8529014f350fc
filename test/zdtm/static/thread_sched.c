// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scheduling attributes are per thread: the leader runs SCHED_OTHER at
 * nice 3, one thread SCHED_BATCH at nice 9, another SCHED_IDLE. After C/R
 * each thread reads back its own policy and nice value, not the
 * leader's.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

struct want {
	int policy, nice;
	volatile int step;
};

static int check(const struct want *w)
{
	pid_t tid = syscall(SYS_gettid);

	errno = 0;
	if (sched_getscheduler(0) != w->policy)
		return 1;
	if (getpriority(PRIO_PROCESS, tid) != w->nice || errno)
		return 2;
	return 0;
}

static void *thread(void *arg)
{
	struct want *w = arg;
	struct sched_param sp = { 0 };

	if (sched_setscheduler(0, w->policy, &sp) ||
	    setpriority(PRIO_PROCESS, syscall(SYS_gettid), w->nice))
		return (void *)10;
	w->step = 1;
	while (w->step != 2)
		usleep(1000);
	return (void *)(long)check(w);
}

int main(int argc, char **argv)
{
	struct want lead = { SCHED_OTHER, 3 }, w[2] = { { SCHED_BATCH, 9 }, { SCHED_IDLE, 5 } };
	pthread_t th[2];
	void *ret;
	int i, r;

	test_init(argc, argv);
	if (setpriority(PRIO_PROCESS, 0, lead.nice))
		test_bug("setpriority");
	for (i = 0; i < 2; i++) {
		if (pthread_create(&th[i], NULL, thread, &w[i]))
			test_bug("pthread_create");
		while (!w[i].step)
			usleep(1000);
	}

	test_daemon();
	test_waitsig();

	if ((r = check(&lead)))
		failv("leader: error %d (policy %d, nice %d)", r, sched_getscheduler(0), getpriority(PRIO_PROCESS, 0));
	for (i = 0; i < 2; i++) {
		w[i].step = 2;
		if (pthread_join(th[i], &ret) || ret)
			failv("thread %d: error %ld", i, (long)ret);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
