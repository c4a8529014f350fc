// SPDX-License-Identifier: GPL-2.0-only
/*
 * What stays refused of clone() sharing between processes: a child
 * created with clone(CLONE_VM) shares the address space of its parent
 * without being a thread, which a restore would split into two. (A
 * shared fd table or fs is restored: tests clone_files, clone_fs.) The
 * dump must refuse it by name and leave both running: the child later
 * writes a variable and the parent sees it (the memory is still shared).
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
	return 0;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	test_init(argc, argv);
	pid = zdtm_clone(child, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	test_daemon();
	test_waitsig();

	go = 1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		failv("the child did not finish (%#x)", status);
	if (written != 42)
		failv("the memory is not shared any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
