// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zombies: children that exited (with 42) or were killed (SIGKILL)
 * before the dump and are not reaped yet. After C/R they are zombies
 * still, and reaping them gives the same statuses.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static char state_of(pid_t pid)
{
	char path[64], *buf, st = '?', *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && p[1])
		st = p[2];
	free(buf);
	return st;
}

int main(int argc, char **argv)
{
	pid_t a, b;
	int status;

	test_init(argc, argv);
	a = fork();
	if (a == 0)
		_exit(42);
	b = fork();
	if (b == 0) {
		pause();
		_exit(0);
	}
	kill(b, SIGKILL);
	while (state_of(a) != 'Z' || state_of(b) != 'Z')
		usleep(10 * 1000);

	test_daemon();
	test_waitsig();

	if (state_of(a) != 'Z' || state_of(b) != 'Z')
		failv("not zombies any more: %c %c", state_of(a), state_of(b));
	if (zdtm_reap(a, &status) != 42)
		failv("child a: status %#x", status);
	if (waitpid(b, &status, 0) != b || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		failv("child b: status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
