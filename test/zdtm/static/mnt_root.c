// SPDX-License-Identifier: GPL-2.0-only
/*
 * A root made the way runc makes one: a bind of a directory (rootfs),
 * with the host's /usr, /dev and the test directory bound in and a proc of
 * its own, pivoted into and remounted read-only. The restore gets
 * --root with another directory (rootfs2, the desc), as runc passes its
 * own bind of the rootfs: after restore "/" is that directory (its
 * marker says so), still read-only, with the same mounts on it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct stat usr_before, st;
	char buf[32] = "";
	struct statvfs sv;
	int fd;

	test_init(argc, argv);
	zdtm_rootfs("rootfs");
	zdtm_rootfs("rootfs2");
	if (stat("/usr", &usr_before))
		test_bug("stat /usr");
	zdtm_mntns_rootfs("rootfs", true);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) ||
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
		test_bug("mounts");

	test_daemon();
	test_waitsig();

	fd = open("/marker", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0 || strcmp(buf, "rootfs2"))
		failv("/ is %s, not rootfs2 (--root)", buf);
	if (statvfs("/", &sv) || !(sv.f_flag & ST_RDONLY))
		fail("/ is not read-only");
	if (stat("/usr", &st) || st.st_dev != usr_before.st_dev || st.st_ino != usr_before.st_ino)
		fail("/usr is not the host's");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
