// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stopped process (the runner sends SIGSTOP) whose dump fails after the
 * parasite ran in it: the images go to a 1 MiB tmpfs (see the desc) and
 * the task has 16 MiB of data. It must be left stopped, exactly as it was
 * (the runner checks state T and compares /proc), its SIGCONT handler not
 * run: after the runner's SIGCONT it runs exactly once.
 */
#include <signal.h>
#include <stdlib.h>

#include "zdtmtst.h"

#define SZ	(16 << 20)

static volatile int conts;

static void on_cont(int sig)
{
	conts++;
}

int main(int argc, char **argv)
{
	char *mem;

	test_init(argc, argv);
	signal(SIGCONT, on_cont);
	mem = malloc(SZ);
	if (!mem)
		test_bug("malloc");
	zdtm_fill(mem, SZ, 13);

	test_daemon();
	test_waitsig();

	if (conts != 1)
		failv("SIGCONT came %d times, want exactly once", conts);
	if (zdtm_check(mem, SZ, 13) != (size_t)-1)
		failv("memory changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
