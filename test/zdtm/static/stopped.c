// SPDX-License-Identifier: GPL-2.0-only
/*
 * A single-threaded process in a group stop (the runner sends SIGSTOP
 * before the dump). It must come back stopped (state T) without its
 * SIGCONT handler having run; after the runner's SIGCONT the handler runs
 * exactly once. A blocked SIGUSR2 queued before the stop must still be
 * pending, with its value, and the memory unchanged.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SZ	(2 << 20)
#define VALUE	0x5eed

static volatile int conts;

static void on_cont(int sig)
{
	conts++;
}

int main(int argc, char **argv)
{
	union sigval v = { .sival_int = VALUE };
	siginfo_t si;
	sigset_t set;
	char *mem;

	test_init(argc, argv);
	signal(SIGCONT, on_cont);
	mem = malloc(SZ);
	if (!mem)
		test_bug("malloc");
	zdtm_fill(mem, SZ, 11);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		test_bug("sigprocmask");

	if (sigqueue(getpid(), SIGUSR2, v))
		test_bug("sigqueue");
	test_daemon();
	test_waitsig();

	if (conts != 1)
		failv("SIGCONT came %d times, want exactly once", conts);
	if (zdtm_check(mem, SZ, 11) != (size_t)-1)
		failv("memory changed");
	if (sigtimedwait(&set, &si, &(struct timespec){ 0 }) != SIGUSR2)
		failv("SIGUSR2 is no longer pending");
	else if (si.si_value.sival_int != VALUE || si.si_pid != getpid())
		failv("SIGUSR2 came back with value %x from %d", si.si_value.sival_int, si.si_pid);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
