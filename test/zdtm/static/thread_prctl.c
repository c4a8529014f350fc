// SPDX-License-Identifier: GPL-2.0-only
/*
 * prctl() settings that belong to a thread, not to the process: timer
 * slack, the parent-death signal and no_new_privs. The leader has slack
 * 123456 ns, no pdeath signal and no no_new_privs; a thread has slack
 * 777777 ns, SIGWINCH as pdeath signal (ignored by default: the launcher
 * exits) and no_new_privs set. After C/R each reads back its own.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

static volatile int step;

static int check(unsigned long slack, int pdeath, int nnp)
{
	int s = -1;

	if (prctl(PR_GET_TIMERSLACK) != (long)slack)
		return 1;
	if (prctl(PR_GET_PDEATHSIG, &s) || s != pdeath)
		return 2;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != nnp)
		return 3;
	return 0;
}

static void *thread(void *arg)
{
	if (prctl(PR_SET_TIMERSLACK, 777777) || prctl(PR_SET_PDEATHSIG, SIGWINCH) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return (void *)10;
	step = 1;
	while (step != 2)
		usleep(1000);
	return (void *)(long)check(777777, SIGWINCH, 1);
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;
	int r;

	test_init(argc, argv);
	if (prctl(PR_SET_TIMERSLACK, 123456))
		test_bug("PR_SET_TIMERSLACK");
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if ((r = check(123456, 0, 0)))
		failv("leader: error %d", r);
	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("thread: error %ld", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
