// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two tmpfs mounted on the same directory, one over the other (LXC's
 * /dev/shm with a container's own lxc.mount.entry over it): each comes
 * back with its own files, the top one's held open by an fd too.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static char dir[512], path[600];

static void put(const char *name, const char *what)
{
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, what, strlen(what)) != (ssize_t)strlen(what) || close(fd))
		test_bug("write %s", path);
}

static int has(const char *name, const char *what)
{
	char buf[64] = "";
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == (int)strlen(what) && !memcmp(buf, what, n);
}

int main(int argc, char **argv)
{
	char buf[16] = "";
	int fd;

	test_init(argc, argv);
	zdtm_mntns();
	snprintf(dir, sizeof(dir), "%s/s", test_dir());
	if (mkdir(dir, 0755) || mount("zdtm-lower", dir, "tmpfs", 0, "size=1m"))
		test_bug("mount the lower tmpfs");
	put("low", "lower");
	if (mount("zdtm-upper", dir, "tmpfs", 0, "size=1m"))
		test_bug("mount the upper tmpfs");
	put("up", "upper");
	snprintf(path, sizeof(path), "%s/up", dir);
	fd = open(path, O_RDWR);
	if (fd < 0)
		test_bug("open %s", path);

	test_daemon();
	test_waitsig();

	if (pread(fd, buf, sizeof(buf), 0) != 5 || memcmp(buf, "upper", 5))
		fail("the open file of the upper tmpfs lost its bytes: '%s'", buf);
	if (!has("up", "upper") || has("low", "lower"))
		fail("the upper tmpfs is not the one on top with its file (up %d, low %d)", has("up", "upper"),
		     has("low", "lower"));
	close(fd);
	if (umount(dir))
		test_bug("umount the upper tmpfs");
	if (!has("low", "lower") || has("up", "upper"))
		fail("the lower tmpfs lost its file (low %d, up %d)", has("low", "lower"), has("up", "upper"));
	umount(dir);
	pass();
	return 0;
}
