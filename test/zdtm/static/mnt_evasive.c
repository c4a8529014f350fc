// SPDX-License-Identifier: GPL-2.0-only
/*
 * --evasive-devices (runc sets it): a child holds /dev/nullx open, a
 * null device node of the /dev it has, an external mount. The restore
 * maps that mount to a directory with the same device only at /dev/null:
 * the child's fd is that device again (number 1:3, writes vanish), opened
 * by the other path. Without the option the restore would fail.
 */
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "zdtmtst.h"

static void node(const char *dir, const char *name)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s/%s", test_dir(), dir, name);
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)))
		test_bug("mknod %s", path);
}

int main(int argc, char **argv)
{
	char dev[600];
	int status, p[2];
	pid_t child;

	test_init(argc, argv);
	snprintf(dev, sizeof(dev), "%s/dev1", test_dir());
	if (mkdir(dev, 0755))
		test_bug("mkdir");
	snprintf(dev, sizeof(dev), "%s/dev2", test_dir());
	if (mkdir(dev, 0755))
		test_bug("mkdir");
	node("dev1", "nullx");
	node("dev2", "null");
	zdtm_mntns();
	snprintf(dev, sizeof(dev), "%s/dev1", test_dir());
	if (mount(dev, "/dev", NULL, MS_BIND, NULL) || pipe(p))
		test_bug("bind dev1 on /dev");
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (child == 0) {
		struct stat st;
		int fd = open("/dev/nullx", O_WRONLY);

		/* the device at 200, nothing else: test_init's readiness pipe is ours too until test_daemon() */
		if (fd < 0 || dup2(fd, 200) != 200)
			_exit(2);
		fd = 200;
		syscall(SYS_close_range, 3, 199, 0);
		zdtm_wait_usr1();
		_exit(fstat(fd, &st) || st.st_rdev != makedev(1, 3) || !S_ISCHR(st.st_mode) || write(fd, "x", 1) != 1);
	}
	close(p[1]);
	if (zdtm_wait_ready(p))
		test_bug("the child");
	test_daemon();
	test_waitsig();
	if (zdtm_wake_and_reap(child, &status))
		fail("the child's device fd (exit %d)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
