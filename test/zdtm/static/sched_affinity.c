// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU affinity and SCHED_IDLE. The process is pinned to one CPU (the last
 * one it may use), a second thread to another where there is one, and
 * the process runs under SCHED_IDLE. After C/R each thread has its own
 * mask back and the policy is the same.
 */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static volatile int th_done;
static cpu_set_t th_mask;

static void *thread(void *arg)
{
	cpu_set_t got;

	if (sched_setaffinity(0, sizeof(th_mask), &th_mask))
		return (void *)1;
	th_done = 1;
	while (th_done != 2)
		usleep(1000);
	if (sched_getaffinity(0, sizeof(got), &got) || !CPU_EQUAL(&got, &th_mask))
		return (void *)2;
	return NULL;
}

int main(int argc, char **argv)
{
	cpu_set_t all, one, got;
	struct sched_param sp = { 0 };
	int i, first = -1, last = -1;
	pthread_t th;
	void *ret;

	test_init(argc, argv);
	if (sched_getaffinity(0, sizeof(all), &all))
		test_bug("sched_getaffinity");
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all)) {
			if (first < 0)
				first = i;
			last = i;
		}
	CPU_ZERO(&one);
	CPU_SET(last, &one);
	CPU_ZERO(&th_mask);
	CPU_SET(first, &th_mask);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!th_done)
		usleep(1000);
	if (sched_setaffinity(0, sizeof(one), &one))
		test_bug("sched_setaffinity");
	if (sched_setscheduler(0, SCHED_IDLE, &sp))
		test_bug("SCHED_IDLE");

	test_daemon();
	test_waitsig();

	if (sched_getaffinity(0, sizeof(got), &got) || !CPU_EQUAL(&got, &one))
		failv("main thread's affinity: %d CPUs, cpu %d set: %d", CPU_COUNT(&got), last,
		      CPU_ISSET(last, &got));
	if (sched_getscheduler(0) != SCHED_IDLE)
		failv("policy %d", sched_getscheduler(0));
	th_done = 2;
	if (pthread_join(th, &ret) || ret)
		failv("the thread's affinity is lost (%ld)", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
