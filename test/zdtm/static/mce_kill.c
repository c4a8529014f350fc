// SPDX-License-Identifier: GPL-2.0-only
/*
 * PR_MCE_KILL: a thread's policy for memory errors (killed early, at the
 * first corrupted page it maps, or late, at access; a database's way to
 * drop a bad page itself). Per thread: the leader sets early, a second
 * thread late, a third keeps the system's default; all three must read
 * the same after C/R (threads are cloned from the leader at restore and
 * must not keep its policy).
 */
#include <pthread.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

static volatile int step;

static void *thread(void *arg)
{
	long want = (long)arg;

	if (want != PR_MCE_KILL_DEFAULT && prctl(PR_MCE_KILL, PR_MCE_KILL_SET, want, 0, 0))
		return (void *)1;
	__atomic_add_fetch(&step, 1, __ATOMIC_SEQ_CST);
	while (step < 10)
		usleep(1000);
	return prctl(PR_MCE_KILL_GET, 0, 0, 0, 0) == want ? NULL : (void *)2;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	void *ret;
	int i;

	test_init(argc, argv);
	if (pthread_create(&th[0], NULL, thread, (void *)PR_MCE_KILL_LATE) ||
	    pthread_create(&th[1], NULL, thread, (void *)PR_MCE_KILL_DEFAULT))
		test_bug("pthread_create");
	while (step < 2)
		usleep(1000);
	if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		test_bug("PR_MCE_KILL");

	test_daemon();
	test_waitsig();

	if (prctl(PR_MCE_KILL_GET, 0, 0, 0, 0) != PR_MCE_KILL_EARLY)
		failv("the leader's policy is %d", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
	step = 10;
	for (i = 0; i < 2; i++)
		if (pthread_join(th[i], &ret) || ret)
			failv("thread %d: %ld", i, (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
