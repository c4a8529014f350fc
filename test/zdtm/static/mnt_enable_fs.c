// SPDX-License-Identifier: GPL-2.0-only
/*
 * Filesystems criu makes anew only when asked (--enable-fs, as LXC passes
 * it): a hugetlbfs with a page size and a size limit, and tracefs, neither
 * mounted in criu's namespace. After restore both are mounted where they
 * were, with their options (tracefs is the kernel's one instance: its
 * files are there).
 */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char huge[600], trace[600], path[700];
	struct zdtm_mnt m;

	test_init(argc, argv);
	snprintf(huge, sizeof(huge), "%s/huge", test_dir());
	snprintf(trace, sizeof(trace), "%s/trace", test_dir());
	if (mkdir(huge, 0755) || mkdir(trace, 0755))
		test_bug("mkdir");
	zdtm_mntns();
	if (mount("zdtm-huge", huge, "hugetlbfs", 0, "pagesize=2M,size=4M,mode=0700") ||
	    mount("tracefs", trace, "tracefs", 0, NULL))
		test_bug("mounts");
	test_daemon();
	test_waitsig();
	if (zdtm_mountinfo(huge, &m) || strcmp(m.fstype, "hugetlbfs") || !strstr(m.sbopts, "pagesize=2M") ||
	    !strstr(m.sbopts, "size=4194304") || !strstr(m.sbopts, "mode=700"))
		failv("huge: %s %s", m.fstype, m.sbopts);
	snprintf(path, sizeof(path), "%s/available_tracers", trace);
	if (zdtm_mountinfo(trace, &m) || strcmp(m.fstype, "tracefs") || access(path, F_OK))
		failv("trace: %s", m.fstype);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
