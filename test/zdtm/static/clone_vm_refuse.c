// SPDX-License-Identifier: GPL-2.0-only
/*
 * What stays refused of CLONE_VM | CLONE_SIGHAND children: one that also
 * shares its parent's fd table (CLONE_FILES). The dump must refuse it by
 * name and leave both running: afterwards the child writes a variable the
 * parent sees (the memory is still shared) and exits with its status.
 */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static volatile int go, written;

static int child(void *arg)
{
	while (!go)
		usleep(10 * 1000);
	written = 42;
	return 7;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	test_init(argc, argv);
	pid = zdtm_clone(child, CLONE_VM | CLONE_SIGHAND | CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	test_daemon();
	test_waitsig();

	go = 1;
	if (zdtm_reap(pid, &status) != 7)
		failv("the child did not finish with 7 (%#x)", status);
	if (written != 42)
		failv("the memory is not shared any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
