// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a child C of the test is in the middle of a vfork(): its
 * vfork child G shares its memory and sleeps, so C waits in vfork. The
 * dump must fail naming the vfork (see vfork_refuse.desc) and leave all
 * three as they were. After SIGTERM the test checks that C still waits in
 * the vfork syscall, kills G, and requires C to come out of vfork and
 * exit with 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

/* The syscall C sleeps in, from /proc/C/syscall, or -1. */
static long syscall_of(pid_t pid)
{
	char path[64], *buf;
	long nr = -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	if (sscanf(buf, "%ld", &nr) != 1)
		nr = -1;
	free(buf);
	return nr;
}

/* G: C's only child */
static pid_t child_of(pid_t pid)
{
	char path[64], *buf;
	pid_t g = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	if (sscanf(buf, "%d", &g) != 1)
		g = -1;
	free(buf);
	return g;
}

int main(int argc, char **argv)
{
	int status, tries;
	long nr;
	pid_t c, g;

	test_init(argc, argv);
	c = zdtm_fork();
	if (c == 0) {
		if (vfork() == 0) {
			/* only raw syscalls in a vfork child */
			for (;;)
				syscall(SYS_pause);
		}
		_exit(0);
	}
	for (tries = 0; syscall_of(c) != SYS_vfork && tries < 500; tries++)
		usleep(10000);
	if (syscall_of(c) != SYS_vfork)
		test_bug("the child doesn't wait in vfork");
	test_daemon();
	test_waitsig();

	nr = syscall_of(c);
	if (nr != SYS_vfork)
		failv("the child %d waits in syscall %ld, not vfork", c, nr);
	g = child_of(c);
	if (g <= 0 || kill(g, SIGKILL))
		failv("the vfork child of %d is gone (%d)", c, g);
	if (zdtm_reap(c, &status) != 0)
		failv("the child did not come out of vfork and exit with 0 (%#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
