// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process in a group stop (the runner sends SIGSTOP before the dump)
 * with four threads. Dump and restore must leave every thread stopped
 * (state T) without running its SIGCONT handler; the runner's SIGCONT
 * then lets it go on, and the handler runs exactly once. Memory and the
 * threads' results are checked after SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"

#define SZ		(4 << 20)
#define NR_THREADS	3

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
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t[NR_THREADS];
	void *ret;
	char *mem;

	test_init(argc, argv);
	signal(SIGCONT, on_cont);
	mem = malloc(SZ);
	if (!mem)
		test_bug("malloc");
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(42L + i)))
			test_bug("pthread_create");
	zdtm_fill(mem, SZ, 5);

	test_daemon();
	test_waitsig();

	if (conts != 1)
		failv("SIGCONT came %d times, want exactly once", conts);
	if (zdtm_check(mem, SZ, 5) != (size_t)-1)
		failv("memory changed");
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_join(t[i], &ret) || ret != (void *)(42L + i))
			failv("thread %d did not finish well", i);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
