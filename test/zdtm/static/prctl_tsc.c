// SPDX-License-Identifier: GPL-2.0-only
/*
 * PR_SET_TSC with PR_TSC_SIGSEGV: rdtsc faults. After C/R PR_GET_TSC
 * still says so and rdtsc still raises SIGSEGV; a second thread that
 * allows it (the flag is per thread) still may read the counter.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

static sigjmp_buf jb;
static volatile int step;

static void on_segv(int sig)
{
	siglongjmp(jb, 1);
}

static unsigned long long rdtsc(void)
{
	unsigned int lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}

/* 1 if rdtsc faults here */
static int faults(void)
{
	if (sigsetjmp(jb, 1))
		return 1;
	rdtsc();
	return 0;
}

static void *thread(void *arg)
{
	int v = 0;

	if (prctl(PR_SET_TSC, PR_TSC_ENABLE))
		return (void *)1;
	step = 1;
	while (step != 2)
		usleep(1000);
	if (prctl(PR_GET_TSC, &v) || v != PR_TSC_ENABLE)
		return (void *)2;
	return faults() ? (void *)3 : NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;
	int v = 0;

	test_init(argc, argv);
	signal(SIGSEGV, on_segv);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);
	if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV))
		test_bug("PR_SET_TSC");
	if (!faults())
		test_bug("rdtsc does not fault");

	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_TSC, &v) || v != PR_TSC_SIGSEGV)
		failv("PR_GET_TSC is %d", v);
	if (!faults())
		failv("rdtsc does not fault any more");
	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("the thread: %ld", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
