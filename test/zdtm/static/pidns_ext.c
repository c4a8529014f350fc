// SPDX-License-Identifier: GPL-2.0-only
/*
 * The test runs in a pid namespace of the runner's, whose init is not in
 * the dump (ext_ns "pid": dumped with --external pid[INO]:KEY, restored
 * with --inherit-fd fd[N]:KEY, as podman does for a pod): after C/R the
 * test is in that same namespace with the same pid in it.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat before, after;
	pid_t me;

	test_init(argc, argv);
	me = getpid();
	if (stat("/proc/self/ns/pid", &before))
		test_bug("stat");
	test_daemon();
	test_waitsig();
	if (stat("/proc/self/ns/pid", &after))
		fail("stat");
	else if (after.st_ino != before.st_ino)
		failv("in pid namespace %lu, was in %lu", (unsigned long)after.st_ino, (unsigned long)before.st_ino);
	if (getpid() != me)
		failv("pid %d in the namespace, was %d", getpid(), me);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
