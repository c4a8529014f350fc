// SPDX-License-Identifier: GPL-2.0-only
/*
 * A ramfs mounted in the test's own mount namespace: criu doesn't make
 * ramfs anew and criu's namespace has no mount of it, so the dump must
 * refuse, naming the mount and its filesystem, and leave the task
 * running; the ramfs still holds its file afterwards.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[600], buf[8] = "";
	int fd;

	test_init(argc, argv);
	snprintf(path, sizeof(path), "%s/ram", test_dir());
	if (mkdir(path, 0755))
		test_bug("mkdir");
	zdtm_mntns();
	if (mount("zdtm-ramfs", path, "ramfs", 0, NULL))
		test_bug("mount ramfs");
	snprintf(path, sizeof(path), "%s/ram/f", test_dir());
	fd = open(path, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || write(fd, "ram", 3) != 3 || close(fd))
		test_bug("write");
	test_daemon();
	test_waitsig();
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 3 || strcmp(buf, "ram"))
		fail("the ramfs lost its file");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
