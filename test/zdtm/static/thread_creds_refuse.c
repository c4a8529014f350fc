// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a thread that changed its effective uid with a raw
 * setresuid syscall (glibc's wrapper would change every thread) has
 * credentials of its own, which restore can't give back yet: the dump
 * must refuse it by name and leave it as it was. After SIGTERM the thread
 * checks that its euid is still its own and the main thread's is 0.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define THREAD_EUID	65534

static volatile int ready, done, thread_ok;

static void *worker(void *arg)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (syscall(SYS_setresuid, -1, THREAD_EUID, -1))
		return NULL;
	ready = 1;
	while (!done)
		usleep(10 * 1000);
	thread_ok = syscall(SYS_geteuid) == THREAD_EUID;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	test_init(argc, argv);
	if (pthread_create(&t, NULL, worker, NULL))
		test_bug("pthread_create");
	while (!ready)
		usleep(1000);

	test_daemon();
	test_waitsig();

	done = 1;
	pthread_join(t, NULL);
	if (!thread_ok)
		failv("the thread lost its euid");
	if (geteuid() != 0)
		failv("the main thread's euid is %d", geteuid());
	if (test_failures)
		return 1;
	pass();
	return 0;
}
