// SPDX-License-Identifier: GPL-2.0-only
/*
 * Peer groups shared with criu's namespace (--enable-external-sharing)
 * and masters there (--enable-external-masters): the runner mounts a
 * shared tmpfs at host-shared in its own (criu's) namespace; the test
 * keeps a peer of it at the same path in its namespace and makes a slave
 * of it (sl) and a private bind (priv). After restore host-shared is in
 * that very peer group again (the kernel's number: the group is alive in
 * criu's namespace) and sl is its slave; priv is private.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char shared[600], sl[600], priv[600];
	struct zdtm_mnt host, m;

	test_init(argc, argv);
	snprintf(shared, sizeof(shared), "%s/host-shared", test_dir());
	snprintf(sl, sizeof(sl), "%s/sl", test_dir());
	snprintf(priv, sizeof(priv), "%s/priv", test_dir());
	if (zdtm_mountinfo(shared, &host) || !host.shared)
		test_bug("the runner's shared mount");
	if (mkdir(sl, 0755) || mkdir(priv, 0755))
		test_bug("mkdir");
	zdtm_mntns_keep(shared);
	if (mount(shared, sl, NULL, MS_BIND, NULL) || mount(NULL, sl, NULL, MS_SLAVE, NULL) ||
	    mount(shared, priv, NULL, MS_BIND, NULL) || mount(NULL, priv, NULL, MS_PRIVATE, NULL))
		test_bug("binds");
	if (zdtm_mountinfo(shared, &m) || m.shared != host.shared)
		test_bug("the kept peer is not in the group");

	test_daemon();
	test_waitsig();

	if (zdtm_mountinfo(shared, &m) || m.shared != host.shared || m.master)
		failv("host-shared is shared:%d master:%d, not in group %d", m.shared, m.master, host.shared);
	if (zdtm_mountinfo(sl, &m) || m.shared || m.master != host.shared)
		failv("sl is shared:%d master:%d, not a slave of group %d", m.shared, m.master, host.shared);
	if (zdtm_mountinfo(priv, &m) || m.shared || m.master)
		failv("priv is shared:%d master:%d, not private", m.shared, m.master);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
