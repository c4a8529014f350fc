// SPDX-License-Identifier: GPL-2.0-only
/*
 * Processes that exit while the dump seizes them, as servers' short-lived
 * helpers do (postgres' backends and autovacuum workers): four workers
 * each fork children that exit at once with status 7, over and over, and
 * reap them. A child caught between being found and being stopped is a
 * zombie by then: it is dumped as one, and its worker reaps it after the
 * restore with its status. At the end every reaped child had status 7
 * and every worker went on forking after the last restore.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define WORKERS	4

static volatile sig_atomic_t stop;

static void on_usr1(int sig)
{
	stop = 1;
}

/* 0: all went well; 2: a child's status was wrong; 3: it did not go on after the last restore */
static int worker(volatile unsigned long *gen)
{
	unsigned long seen = 0, after = 0;

	signal(SIGUSR1, on_usr1);
	while (!stop) {
		int st;
		pid_t c = fork();

		if (c < 0)
			continue;
		if (c == 0)
			_exit(7);
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
			return 2;
		if (*gen != seen) {
			seen = *gen;
			after = 0;
		}
		after++;
	}
	return after ? 0 : 3;
}

int main(int argc, char **argv)
{
	volatile unsigned long *gen;
	pid_t w[WORKERS];
	int status;

	test_init(argc, argv);
	gen = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gen == MAP_FAILED)
		test_bug("mmap");
	test_daemon();
	for (int i = 0; i < WORKERS; i++) {
		w[i] = zdtm_fork();
		if (w[i] == 0)
			_exit(worker(gen));
	}
	test_waitsig();
	/* a new generation: the workers must fork again from here on */
	(*gen)++;
	usleep(200000);
	for (int i = 0; i < WORKERS; i++) {
		kill(w[i], SIGUSR1);
		if (zdtm_reap(w[i], &status) != 0)
			failv("worker %d: status %#x", w[i], status);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
