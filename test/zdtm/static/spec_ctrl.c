// SPDX-License-Identifier: GPL-2.0-only
/*
 * Speculation mitigations asked for with PR_SET_SPECULATION_CTRL belong
 * to each thread: the leader disables speculative store bypass, a thread
 * force-disables indirect branch speculation, another thread asks for
 * nothing. After C/R each reads back its own (a restore that dropped
 * them would leave the task open to what it guarded against). Where the
 * CPU or kernel gives no per-task control the test checks nothing.
 */
#include <pthread.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

#define MODES	(PR_SPEC_ENABLE | PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE | PR_SPEC_DISABLE_NOEXEC)

static volatile int step;
static int ssb_ok, ib_ok;

static long spec(int which)
{
	return prctl(PR_GET_SPECULATION_CTRL, which, 0, 0, 0);
}

/* 0 when the modes of @which are as wanted (or @which can't be controlled) */
static int check(int ok, int which, long want)
{
	return ok && (spec(which) & MODES) != want;
}

static void *forced(void *arg)
{
	while (step != 1)
		usleep(1000);
	if (ib_ok && prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE, 0, 0))
		return (void *)10;
	step = 2;
	while (step != 4)
		usleep(1000);
	if (check(ib_ok, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_FORCE_DISABLE))
		return (void *)1;
	if (check(ssb_ok, PR_SPEC_STORE_BYPASS, PR_SPEC_ENABLE))
		return (void *)2;
	return NULL;
}

static void *plain(void *arg)
{
	while (step != 4)
		usleep(1000);
	if (check(ib_ok, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_ENABLE) || check(ssb_ok, PR_SPEC_STORE_BYPASS, PR_SPEC_ENABLE))
		return (void *)3;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	void *ret;

	test_init(argc, argv);
	/* controllable and enabled now: PR_SPEC_PRCTL | PR_SPEC_ENABLE */
	ssb_ok = spec(PR_SPEC_STORE_BYPASS) == (PR_SPEC_PRCTL | PR_SPEC_ENABLE);
	ib_ok = spec(PR_SPEC_INDIRECT_BRANCH) == (PR_SPEC_PRCTL | PR_SPEC_ENABLE);
	if (!ssb_ok && !ib_ok)
		test_msg("no per-task speculation control here: nothing to check\n");
	if (pthread_create(&th[0], NULL, forced, NULL) || pthread_create(&th[1], NULL, plain, NULL))
		test_bug("pthread_create");
	if (ssb_ok && prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE, 0, 0))
		test_bug("PR_SET_SPECULATION_CTRL");
	step = 1;
	while (step != 2)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (check(ssb_ok, PR_SPEC_STORE_BYPASS, PR_SPEC_DISABLE))
		failv("leader: store bypass %#lx", spec(PR_SPEC_STORE_BYPASS));
	if (check(ib_ok, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_ENABLE))
		failv("leader: indirect branch %#lx", spec(PR_SPEC_INDIRECT_BRANCH));
	step = 4;
	for (int i = 0; i < 2; i++)
		if (pthread_join(th[i], &ret) || ret)
			failv("thread %d: error %ld", i, (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
