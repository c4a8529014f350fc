// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child made by clone() with SIGUSR2 as its exit signal instead of
 * SIGCHLD, and one with none at all. After C/R (the runner compares
 * exit_signal in /proc/PID/stat of the test; here each child's own is
 * read) the first child's death raises SIGUSR2 in the parent and is
 * reaped with __WCLONE; the second raises nothing.
 */
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <stdlib.h>

#include "zdtmtst.h"

static volatile int usr2, chld;

static void on_usr2(int sig)
{
	usr2++;
}

static void on_chld(int sig)
{
	chld++;
}

static int child_fn(void *arg)
{
	if (zdtm_wait_usr1())
		return 2;
	return 7;
}

/* field 38 of /proc/PID/stat */
static int exit_sig(pid_t pid)
{
	char path[64], *buf, *p;
	int i, sig = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	p = strrchr(buf, ')');
	for (i = 2; p && i < 38; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sig = atoi(p + 1);
	free(buf);
	return sig;
}

int main(int argc, char **argv)
{
	pid_t a, b;
	int st;

	test_init(argc, argv);
	signal(SIGUSR2, on_usr2);
	signal(SIGCHLD, on_chld);
	zdtm_block_usr1(true);
	a = zdtm_clone(child_fn, SIGUSR2, NULL);
	b = zdtm_clone(child_fn, 0, NULL);
	if (a < 0 || b < 0)
		test_bug("clone");
	if (exit_sig(a) != SIGUSR2 || exit_sig(b) != 0)
		test_bug("exit signals %d %d", exit_sig(a), exit_sig(b));

	test_daemon();
	test_waitsig();

	if (exit_sig(a) != SIGUSR2 || exit_sig(b) != 0)
		failv("exit signals are %d and %d", exit_sig(a), exit_sig(b));
	kill(a, SIGUSR1);
	if (waitpid(a, &st, __WCLONE) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		failv("child a: status %#x", st);
	kill(b, SIGUSR1);
	if (waitpid(b, &st, __WCLONE) != b || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		failv("child b: status %#x", st);
	if (usr2 != 1 || chld != 0)
		failv("%d SIGUSR2 and %d SIGCHLD came", usr2, chld);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
