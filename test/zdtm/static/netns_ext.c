// SPDX-License-Identifier: GPL-2.0-only
/*
 * The test runs in a network namespace of the runner's (ext_ns "net": it
 * is dumped as --external net[INO]:KEY and handed back with --inherit-fd,
 * or with ext_ns "net-join" restored with --join-ns net:PATH): after C/R
 * it is in that same namespace again, not in a new one.
 */
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat before, after;

	test_init(argc, argv);
	if (stat("/proc/self/ns/net", &before))
		test_bug("stat");
	test_daemon();
	test_waitsig();
	if (stat("/proc/self/ns/net", &after))
		fail("stat");
	else if (after.st_ino != before.st_ino)
		failv("in network namespace %lu, was in %lu", (unsigned long)after.st_ino,
		      (unsigned long)before.st_ino);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
