// SPDX-License-Identifier: GPL-2.0-only
/*
 * A task in a group stop (the runner sends SIGSTOP before the dump) with
 * two threads. Dumping stopped tasks is not supported yet: the dump must
 * refuse it and leave it stopped and untouched; SIGCONT then lets it go on
 * (it counts SIGCONT deliveries: exactly one). Memory and the thread are
 * checked after SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"

#define SZ	(4 << 20)

static volatile int conts;

static void on_cont(int sig)
{
	conts++;
}

static void *worker(void *arg)
{
	sigset_t term;

	/* SIGTERM is for the main thread, which waits for it in sigsuspend */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	while (test_go())
		usleep(10 * 1000);
	return (void *)42L;
}

int main(int argc, char **argv)
{
	pthread_t t;
	void *ret;
	char *mem;

	test_init(argc, argv);
	signal(SIGCONT, on_cont);
	mem = malloc(SZ);
	if (!mem || pthread_create(&t, NULL, worker, NULL))
		test_bug("setup");
	zdtm_fill(mem, SZ, 5);

	test_daemon();
	test_waitsig();

	if (conts != 1)
		failv("SIGCONT came %d times, want exactly once", conts);
	if (zdtm_check(mem, SZ, 5) != (size_t)-1)
		failv("memory changed");
	if (pthread_join(t, &ret) || ret != (void *)42L)
		failv("the thread did not finish well");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
