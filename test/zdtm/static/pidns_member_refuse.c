// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child in a pid namespace it is not the init of, whose parent is not
 * in it (the parent joined the namespace of another child with setns()
 * and forked): restore makes a nested namespace only through its init,
 * so the dump refuses the child by name. Both children run on, the
 * second still pid 2 in the first one's namespace.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static int init_main(void *arg)
{
	(void)arg;
	while (1)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	int own, ns, p[2], status;
	pid_t init, member;
	char c;

	test_init(argc, argv);
	init = zdtm_clone(init_main, CLONE_NEWPID | SIGCHLD, NULL);
	if (init < 0)
		test_bug("clone(CLONE_NEWPID)");
	/* by pidfd: /proc may be of another pid namespace than ours (the ns flavors) */
	own = open("/proc/self/ns/pid", O_RDONLY);
	ns = syscall(SYS_pidfd_open, init, 0);
	if (own < 0 || ns < 0 || setns(ns, CLONE_NEWPID) || pipe(p))
		test_bug("setns");
	member = zdtm_fork();
	if (member == 0) {
		close(p[0]);
		c = getpid();
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		while (1)
			pause();
	}
	if (setns(own, CLONE_NEWPID))
		test_bug("setns back");
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != 2)
		test_bug("the member is not pid 2 in the namespace");
	test_daemon();
	test_waitsig();
	if (kill(member, 0) || kill(init, 0))
		failv("a child is gone");
	kill(member, SIGKILL);
	kill(init, SIGKILL);
	waitpid(member, &status, 0);
	waitpid(init, &status, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
