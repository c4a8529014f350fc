// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child in another user namespace than the tree's root: restore makes
 * one user namespace for the whole tree, so the dump refuses the child by
 * name. Both run on, the child still in its namespace.
 */
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef PIDFD_GET_USER_NAMESPACE
#define PIDFD_GET_USER_NAMESPACE	_IO(0xFF, 9)
#endif

static int child_main(void *arg)
{
	(void)arg;
	while (1)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	int pfd, ufd;
	struct stat a, b;
	int status;
	pid_t c;

	test_init(argc, argv);
	c = zdtm_clone(child_main, CLONE_NEWUSER | SIGCHLD, NULL);
	if (c < 0)
		test_bug("clone(CLONE_NEWUSER)");
	test_daemon();
	test_waitsig();
	/* by pidfd: /proc may be of another pid namespace than ours (the ns flavors) */
	pfd = syscall(SYS_pidfd_open, c, 0);
	ufd = pfd < 0 ? -1 : ioctl(pfd, PIDFD_GET_USER_NAMESPACE, 0);
	if (ufd < 0 || fstat(ufd, &a) || stat("/proc/self/ns/user", &b) || a.st_ino == b.st_ino)
		failv("the child is not in a user namespace of its own");
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
