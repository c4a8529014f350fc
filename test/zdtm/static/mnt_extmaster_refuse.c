// SPDX-License-Identifier: GPL-2.0-only
/*
 * A slave of a peer group of criu's namespace (the runner's shared
 * tmpfs), dumped without --enable-external-masters: the dump must refuse
 * naming the mount and the option; the mount stays a slave of the group.
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
	if (mount(NULL, shared, NULL, MS_SLAVE, NULL))
		test_bug("slave");
	test_daemon();
	test_waitsig();
	if (zdtm_mountinfo(shared, &m) || m.shared || m.master != host.shared)
		failv("host-shared is shared:%d master:%d, not a slave of group %d", m.shared, m.master, host.shared);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
