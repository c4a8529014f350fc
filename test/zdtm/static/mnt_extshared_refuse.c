// SPDX-License-Identifier: GPL-2.0-only
/*
 * A mount in a peer group that mounts of criu's namespace are in too
 * (the runner's shared tmpfs), dumped without --enable-external-sharing:
 * the dump must refuse naming the mount and the option, and the mount
 * stays in the group.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char shared[600];
	struct zdtm_mnt host, m;

	test_init(argc, argv);
	snprintf(shared, sizeof(shared), "%s/host-shared", test_dir());
	if (zdtm_mountinfo(shared, &host) || !host.shared)
		test_bug("the runner's shared mount");
	zdtm_mntns_keep(shared);
	test_daemon();
	test_waitsig();
	if (zdtm_mountinfo(shared, &m) || m.shared != host.shared)
		failv("host-shared is shared:%d, not in group %d", m.shared, host.shared);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
