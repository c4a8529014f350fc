// SPDX-License-Identifier: GPL-2.0-only
/*
 * The images go to a 1 MiB tmpfs (see the desc) while the task has 16 MiB
 * of data: the dump fails half way through writing pages, after the
 * parasite is in. The task must be left running exactly as it was: the
 * runner compares /proc, and the task checks its memory and mask.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "zdtmtst.h"

#define SZ	(16 << 20)

int main(int argc, char **argv)
{
	sigset_t set, cur;
	char *mem;

	test_init(argc, argv);
	mem = malloc(SZ);
	if (!mem)
		test_bug("malloc");
	zdtm_fill(mem, SZ, 7);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	test_daemon();
	test_waitsig();

	if (zdtm_check(mem, SZ, 7) != (size_t)-1)
		failv("memory changed");
	sigprocmask(SIG_SETMASK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR2) || sigismember(&cur, SIGUSR1))
		failv("signal mask changed");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
