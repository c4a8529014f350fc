// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dumped with -R: the task must go on as if nothing happened, sleeping
 * in nanosleep through the dump, with its memory, a pipe's queued data,
 * its signal mask and its registers as they were; the parasite leaves
 * no trace in /proc (the runner compares it after the dump).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "zdtmtst.h"

#define SZ	(32 << 20)

int main(int argc, char **argv)
{
	int pfd[2], queued = 0, sleeps = 0;
	sigset_t set, cur;
	char *mem, buf[16];

	test_init(argc, argv);
	mem = malloc(SZ);
	if (!mem || pipe(pfd) || write(pfd[1], "queued", 6) != 6)
		test_bug("setup");
	zdtm_fill(mem, SZ, 42);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);

	test_daemon();
	while (test_go()) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		sleeps++;
	}

	if (zdtm_check(mem, SZ, 42) != (size_t)-1)
		failv("memory changed");
	if (ioctl(pfd[0], FIONREAD, &queued) || queued != 6 || read(pfd[0], buf, 6) != 6 ||
	    memcmp(buf, "queued", 6))
		failv("pipe data changed (%d bytes queued)", queued);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR1) || sigismember(&cur, SIGUSR2))
		failv("signal mask changed");
	if (sleeps < 2)
		failv("the task did not run on (%d sleeps)", sleeps);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
