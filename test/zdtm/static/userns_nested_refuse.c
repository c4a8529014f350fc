// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child in another user namespace than the tree's root: restore makes
 * one user namespace for the whole tree, so the dump refuses the child by
 * name. Both run on, the child still in its namespace.
 */
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static int child_main(void *arg)
{
	(void)arg;
	while (1)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	char path[64];
	struct stat a, b;
	int status;
	pid_t c;

	test_init(argc, argv);
	c = zdtm_clone(child_main, CLONE_NEWUSER | SIGCHLD, NULL);
	if (c < 0)
		test_bug("clone(CLONE_NEWUSER)");
	test_daemon();
	test_waitsig();
	snprintf(path, sizeof(path), "/proc/%d/ns/user", c);
	if (stat(path, &a) || stat("/proc/self/ns/user", &b) || a.st_ino == b.st_ino)
		failv("the child is not in a user namespace of its own");
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
