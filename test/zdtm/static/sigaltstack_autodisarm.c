// SPDX-License-Identifier: GPL-2.0-only
/*
 * An alternate signal stack with SS_AUTODISARM, and a thread whose
 * alternate stack is disabled (SS_DISABLE) although it had one. After C/R
 * sigaltstack() reports the same flags, base and size, and a handler
 * with SA_ONSTACK runs on the alternate stack with it disarmed inside.
 */
#include <pthread.h>
#include <signal.h>

#include "zdtmtst.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static char stk[65536] __attribute__((aligned(16)));
static char th_stk[65536];
static volatile int on_alt, disarmed, step;

static void handler(int sig)
{
	stack_t cur;
	char here;

	on_alt = &here >= stk && &here < stk + sizeof(stk);
	disarmed = !sigaltstack(NULL, &cur) && (cur.ss_flags & SS_DISABLE);
}

static void *thread(void *arg)
{
	stack_t ss = { .ss_sp = th_stk, .ss_size = sizeof(th_stk) }, got;

	if (sigaltstack(&ss, NULL))
		return (void *)1;
	ss.ss_flags = SS_DISABLE;
	if (sigaltstack(&ss, NULL))
		return (void *)2;
	step = 1;
	while (step != 2)
		usleep(1000);
	if (sigaltstack(NULL, &got) || !(got.ss_flags & SS_DISABLE))
		return (void *)3;
	return NULL;
}

int main(int argc, char **argv)
{
	stack_t ss = { .ss_sp = stk, .ss_size = sizeof(stk), .ss_flags = SS_AUTODISARM }, got;
	struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_ONSTACK };
	pthread_t th;
	void *ret;

	test_init(argc, argv);
	if (sigaltstack(&ss, NULL))
		test_bug("sigaltstack");
	sigaction(SIGUSR2, &sa, NULL);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (sigaltstack(NULL, &got))
		fail("sigaltstack");
	else if (got.ss_sp != stk || got.ss_size != sizeof(stk) || got.ss_flags != (int)SS_AUTODISARM)
		failv("altstack %p/%zu/%#x", got.ss_sp, got.ss_size, got.ss_flags);
	raise(SIGUSR2);
	if (!on_alt || !disarmed)
		failv("handler: on alt stack %d, disarmed %d", on_alt, disarmed);
	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("thread: %ld", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
