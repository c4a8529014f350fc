// SPDX-License-Identifier: GPL-2.0-only
/*
 * A bind of a directory that was removed afterwards (the mount keeps it
 * alive, nameless): no restore could bind it again, so the dump must
 * refuse naming the mount, and the task goes on with the bind working.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char src[600], dst[600], path[700], buf[8] = "";
	int fd;

	test_init(argc, argv);
	snprintf(src, sizeof(src), "%s/gone", test_dir());
	snprintf(dst, sizeof(dst), "%s/b", test_dir());
	if (mkdir(src, 0755) || mkdir(dst, 0755))
		test_bug("mkdir");
	zdtm_mntns();
	if (mount(src, dst, NULL, MS_BIND, NULL) || rmdir(src))
		test_bug("bind, rmdir");
	test_daemon();
	test_waitsig();
	snprintf(path, sizeof(path), "%s/f", dst);
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd >= 0 || errno != ENOENT)
		fail("a file could be made in a removed directory");
	if (access(src, F_OK) == 0 || access(dst, F_OK))
		fail("the bind");
	(void)buf;
	if (test_failures)
		return 1;
	pass();
	return 0;
}
