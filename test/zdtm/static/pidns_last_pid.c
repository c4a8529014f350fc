// SPDX-License-Identifier: GPL-2.0-only
/*
 * ns_last_pid of the test's pid namespace (ns flavors): the test forks
 * and reaps a few children before the dump, so the namespace's next pid
 * is the last one's plus one; after C/R a new child gets exactly that pid
 * (restore sets ns_last_pid back after the tasks and criu's own helper
 * took theirs).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	pid_t last = 0, next;
	int status;

	test_init(argc, argv);
	for (int i = 0; i < 10; i++) {
		last = zdtm_fork();
		if (last == 0)
			_exit(0);
		if (zdtm_reap(last, &status) != 0)
			test_bug("a child failed");
	}
	if (getpid() > 100)
		test_bug("pid %d: not in a pid namespace of the test's own (run in the ns flavors)", getpid());
	test_daemon();
	test_waitsig();
	next = zdtm_fork();
	if (next == 0)
		_exit(0);
	zdtm_reap(next, &status);
	if (next != last + 1)
		failv("the first child after the restore is %d, want %d", next, last + 1);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
