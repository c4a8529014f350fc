// SPDX-License-Identifier: GPL-2.0-only
/*
 * A task in a network namespace of its own: namespaces are not supported
 * yet, so the dump must refuse it by name and leave it running; afterwards
 * it is still in that namespace (its loopback is its own and down).
 */
#include <sched.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat before, after;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		test_bug("unshare(CLONE_NEWNET)");
	if (stat("/proc/self/ns/net", &before))
		test_bug("stat");
	test_daemon();
	test_waitsig();
	if (stat("/proc/self/ns/net", &after) || after.st_ino != before.st_ino)
		failv("the network namespace changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
