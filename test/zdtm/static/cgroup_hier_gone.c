// SPDX-License-Identifier: GPL-2.0-only
/*
 * A cgroup v1 hierarchy that some tool mounted for a while: while it
 * exists every process shows in its root ("N:name=zdtmgone:/" in
 * /proc/PID/cgroup), the test too at the dump; the runner unmounts it
 * (the kernel destroys it a moment later) before the restore, which must
 * go on without it.
 * After C/R the test runs and its other cgroups are what they were.
 * Root only (mounting); the hierarchy is unmounted at the end in any case.
 */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static char *cgroups_but_gone(void)
{
	static char buf[8192];
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "r");
	size_t n = 0;

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (!strstr(line, "name=zdtmgone") && n + strlen(line) < sizeof(buf)) {
			strcpy(buf + n, line);
			n += strlen(line);
		}
	if (f)
		fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	char before[8192], line[512];
	int seen = 0;
	FILE *f;

	test_init(argc, argv);
	if (mkdir("hier", 0755) || mount("cgroup", "hier", "cgroup", 0, "none,name=zdtmgone"))
		test_bug("mounting a named cgroup hierarchy");
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f))
		seen |= !!strstr(line, "name=zdtmgone:/\n");
	if (f)
		fclose(f);
	if (!seen) {
		umount2("hier", MNT_DETACH);
		test_bug("the new hierarchy is not in /proc/self/cgroup");
	}
	strcpy(before, cgroups_but_gone());
	test_daemon();
	test_waitsig();
	umount2("hier", MNT_DETACH);
	if (strcmp(before, cgroups_but_gone()))
		failv("the cgroups changed:\n%s---\n%s", before, cgroups_but_gone());
	if (test_failures)
		return 1;
	pass();
	return 0;
}
