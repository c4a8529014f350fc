// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files open on the mounts of the test's own mount namespace are
 * reopened through the mount they were on: fdinfo's mnt_id is the id of
 * that mount (mountinfo) after restore too. A file on a bind of a host
 * directory that is reachable by its path; a file on a tmpfs that another
 * tmpfs was then mounted over (its path now leads to the other one); a
 * file on a bind hidden below a sibling mounted over its parent
 * directory; the cwd on a tmpfs. Offsets, flags, and data written
 * through each fd land in the right file. And with --link-remap, a file
 * open by a removed name that has another link: linked back for the
 * restore in the test's namespace, and that link gone again after it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static char dir[512];

static const char *P(const char *rel)
{
	static char buf[8][600];
	static int n;

	n = (n + 1) % 8;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, rel);
	return buf[n];
}

static int open_at(const char *rel, const char *text, off_t off)
{
	int fd = open(P(rel), O_CREAT | O_RDWR, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || lseek(fd, off, SEEK_SET) != off)
		test_bug("open %s", rel);
	return fd;
}

/* fd is on the mount at @point made from @source, at @off, and writes reach @rel once uncovered */
static void check_fd(int fd, const char *point, const char *source, off_t off)
{
	struct zdtm_mnt m;
	int id = zdtm_fd_mnt_id(fd);

	if (zdtm_mountinfo_src(P(point), source, &m) || id != m.id)
		failv("fd %d is on mount %d, not on the %s mount %d at %s", fd, id, source, m.id, point);
	if (lseek(fd, 0, SEEK_CUR) != off || write(fd, "W", 1) != 1)
		fail("fd %d: offset or write", fd);
}

static void check_file(const char *rel, const char *text)
{
	char buf[64] = "";
	int fd = open(P(rel), O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)strlen(text) || strcmp(buf, text))
		failv("%s holds '%s', not '%s'", rel, buf, text);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	struct stat st, cwd_before;
	int fh, ft, fo, fl;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", test_dir());
	if (mkdir(P("src"), 0755) || mkdir(P("b"), 0755) || mkdir(P("t"), 0755) || mkdir(P("ov"), 0755) ||
	    mkdir(P("ov/in"), 0755) || mkdir(P("w"), 0755))
		test_bug("mkdir");
	zdtm_mntns();
	if (mount(P("src"), P("b"), NULL, MS_BIND, NULL) || mount("zdtm-t", P("t"), "tmpfs", 0, "size=1m") ||
	    mount(P("src"), P("ov/in"), NULL, MS_BIND, NULL) || mount("zdtm-w", P("w"), "tmpfs", 0, "size=1m"))
		test_bug("mounts");
	fh = open_at("b/host", "host-file", 2);
	ft = open_at("t/hidden", "tmpfs-file", 3);
	fo = open_at("ov/in/under", "under-file", 4);
	fl = open_at("b/removed", "remapped", 5);
	if (link(P("b/removed"), P("b/other")) || unlink(P("b/removed")))
		test_bug("link, unlink");
	if (mount("zdtm-cover", P("t"), "tmpfs", 0, "size=1m") || mount("zdtm-ov", P("ov"), "tmpfs", 0, "size=1m"))
		test_bug("cover");
	if (mkdir(P("w/cwd"), 0710) || chdir(P("w/cwd")) || stat(".", &cwd_before))
		test_bug("cwd");

	test_daemon();
	test_waitsig();

	check_fd(fh, "b", NULL, 2);
	check_fd(ft, "t", "zdtm-t", 3);
	check_fd(fo, "ov/in", NULL, 4);
	if (stat(".", &st) || st.st_mode != cwd_before.st_mode ||
	    stat(P("w/cwd"), &cwd_before) || st.st_ino != cwd_before.st_ino || st.st_dev != cwd_before.st_dev)
		fail("the cwd is not w/cwd");
	check_file("b/host", "hoWt-file");
	if (!zdtm_fd_is_path(fl, P("b/other"), 1) || zdtm_dir_count(P("src"), "link-remap", NULL, 0) != 0)
		fail("the removed name's file: not the one at b/other with one link, or a link-remap file is left");
	check_file("src/host", "hoWt-file");
	if (umount2(P("t"), 0) || umount2(P("ov"), 0))
		fail("uncover");
	check_file("t/hidden", "tmpWs-file");
	check_file("ov/in/under", "undeW-file");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
