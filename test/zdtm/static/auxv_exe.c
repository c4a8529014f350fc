// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the kernel keeps about how the program was started: the auxiliary
 * vector (/proc/self/auxv, getauxval()) and the executable
 * (/proc/self/exe, PR_SET_MM_EXE_FILE's file). After C/R both are the
 * same, byte for byte and link for link.
 */
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char exe[4096], exe2[4096], *av, *av2;
	ssize_t n, n2, l, l2;
	unsigned long hw, pg, rnd;
	struct stat s1, s2;

	test_init(argc, argv);
	n = zdtm_read_file("/proc/self/auxv", &av);
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || l <= 0 || stat("/proc/self/exe", &s1))
		test_bug("auxv/exe");
	exe[l] = 0;
	hw = getauxval(AT_HWCAP);
	pg = getauxval(AT_PAGESZ);
	rnd = getauxval(AT_RANDOM);

	test_daemon();
	test_waitsig();

	n2 = zdtm_read_file("/proc/self/auxv", &av2);
	if (n2 != n || memcmp(av, av2, n))
		failv("/proc/self/auxv changed (%zd bytes, was %zd)", n2, n);
	l2 = readlink("/proc/self/exe", exe2, sizeof(exe2) - 1);
	if (l2 < 0)
		fail("readlink /proc/self/exe");
	else {
		exe2[l2] = 0;
		if (strcmp(exe, exe2))
			failv("/proc/self/exe is %s, was %s", exe2, exe);
	}
	if (stat("/proc/self/exe", &s2) || s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
		failv("/proc/self/exe is another file");
	if (getauxval(AT_HWCAP) != hw || getauxval(AT_PAGESZ) != pg || getauxval(AT_RANDOM) != rnd)
		failv("getauxval() differs");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
