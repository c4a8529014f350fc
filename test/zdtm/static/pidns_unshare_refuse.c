// SPDX-License-Identifier: GPL-2.0-only
/*
 * unshare(CLONE_NEWPID) without a fork: the task's children would be in
 * a pid namespace that has no task yet, which restore can't make. The
 * dump refuses it by name; the task's children still go there after.
 */
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	int status;
	pid_t c;

	test_init(argc, argv);
	if (unshare(CLONE_NEWPID))
		test_bug("unshare(CLONE_NEWPID)");
	test_daemon();
	test_waitsig();
	c = zdtm_fork();
	if (c == 0)
		_exit(getpid() == 1 ? 0 : 1);
	if (zdtm_reap(c, &status) != 0)
		failv("a child is not the init of the new namespace");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
