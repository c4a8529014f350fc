// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dump's root is a task inside a pid namespace, not its init (the ns
 * flavors with ns_root_task): restore makes a pid namespace held by a
 * helper init, and the test and its child come back with their pids
 * inside (new ones outside), the child still the test's child, and the
 * test's parent outside the namespace (0 inside).
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	pid_t me, child, ppid;
	int status;

	test_init(argc, argv);
	child = zdtm_fork();
	if (child == 0) {
		/* not the test's readiness pipe (to the launcher, outside the tree) */
		syscall(SYS_close_range, 3, ~0U, 0);
		while (1)
			pause();
	}
	me = getpid();
	ppid = getppid();
	test_daemon();
	test_waitsig();
	if (getpid() != me)
		failv("pid %d inside, was %d", getpid(), me);
	if (me == 1)
		failv("the test is the init: run it with ns_root_task");
	/* its own parent is criu's business (outside the namespace, as before: 0 inside) */
	if (getppid() != 0)
		failv("parent %d inside, was %d, should be outside", getppid(), ppid);
	if (kill(child, 0))
		fail("the child %d is not there", child);
	kill(child, SIGKILL);
	if (waitpid(child, &status, 0) != child)
		fail("the child %d is not ours", child);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
