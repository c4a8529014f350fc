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
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static void mkdir_p(const char *path)
{
	char buf[1024], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			test_bug("mkdir %s", buf);
		*s = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		test_bug("mkdir %s", buf);
}

/* The skeleton both roots have: mountpoints, the merged-/usr links, a marker. */
static char exe_dir[600];

static void make_rootfs(const char *name)
{
	char root[600], path[1200];
	int fd;

	snprintf(root, sizeof(root), "%s/%s", test_dir(), name);
	static const char *const sub[] = { "usr", "dev", "proc" };

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, sub[i]);
		mkdir_p(path);
	}
	snprintf(path, sizeof(path), "%s%s", root, test_dir());
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s%s", root, exe_dir);
	mkdir_p(path);
	static const char *const links[][2] = { { "usr/lib", "lib" }, { "usr/lib64", "lib64" }, { "usr/bin", "bin" } };

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, links[i][1]);
		if (symlink(links[i][0], path))
			test_bug("symlink %s", path);
	}
	snprintf(path, sizeof(path), "%s/marker", root);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name) || close(fd))
		test_bug("marker");
}

static void bind_in(const char *root, const char *what)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s%s", root, what);
	if (mount(what, path, NULL, MS_BIND, NULL))
		test_bug("bind %s", what);
}

int main(int argc, char **argv)
{
	char root[600], path[1200], buf[32] = "";
	struct stat usr_before, st;
	struct statvfs sv;
	int fd;

	test_init(argc, argv);
	/* the test's own executable must be reachable in the new root */
	ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof(exe_dir) - 1);

	if (n <= 0)
		test_bug("readlink /proc/self/exe");
	exe_dir[n] = '\0';
	*strrchr(exe_dir, '/') = '\0';
	make_rootfs("rootfs");
	make_rootfs("rootfs2");
	if (stat("/usr", &usr_before))
		test_bug("stat /usr");
	snprintf(root, sizeof(root), "%s/rootfs", test_dir());
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(root, root, NULL, MS_BIND, NULL))
		test_bug("the root");
	bind_in(root, "/usr");
	bind_in(root, "/dev");
	bind_in(root, test_dir());
	bind_in(root, exe_dir);
	snprintf(path, sizeof(path), "%s/proc", root);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		test_bug("proc");
	if (chdir(root) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) ||
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) || chdir(test_dir()))
		test_bug("pivot");

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
