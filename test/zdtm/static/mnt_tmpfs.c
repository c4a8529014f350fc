// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tmpfs of the test's own mount namespace comes back with its contents:
 * directories, regular files (data, holes, empty), symlinks (one
 * dangling), a hard link, a FIFO, a socket node, character and block
 * device nodes, with modes (setuid, sticky), owners, access and
 * modification times to the nanosecond, xattrs (user, trusted, on a
 * symlink too) and inode flags (append-only, noatime); a file below a
 * directory another tmpfs covers; the filesystem's options (size,
 * nr_inodes, mode, uid, gid). Also: a read-only bind of one of its
 * directories (the same filesystem), an fd at an offset and a MAP_SHARED
 * mapping of its files, writes through both reaching the files.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include "zdtmtst.h"

#define SPARSE_HOLE	(4 << 20)

static char top[512];

static const char *P(const char *rel)
{
	static char buf[8][600];
	static int n;

	n = (n + 1) % 8;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", top, rel);
	return buf[n];
}

static const char *const nodes[] = {
	"", "d", "d/sub", "d/data", "d/hard", "sparse", "empty", "link", "dangle", "fifo", "sock",
	"null", "blk", "append", "covered",
};
static struct stat before[sizeof(nodes) / sizeof(nodes[0])];

static void set_times(const char *path, long sec)
{
	struct timespec ts[2] = { { sec, 123456789 }, { sec + 1000, 987654321 } };

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW))
		test_bug("utimensat %s", path);
}

static void make_tree(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char data[10000];
	int fd, sk;

	if (mkdir(P("d"), 0750) || mkdir(P("d/sub"), 0700) || mkdir(P("covered"), 0755))
		test_bug("mkdir");
	zdtm_fill(data, sizeof(data), 7);
	fd = open(P("d/data"), O_CREAT | O_WRONLY, 0640);
	if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data) || close(fd))
		test_bug("d/data");
	if (link(P("d/data"), P("d/hard")) || chown(P("d"), 1000, 100) || chown(P("d/data"), 1001, 101))
		test_bug("link, chown");
	fd = open(P("sparse"), O_CREAT | O_RDWR, 0600);
	if (fd < 0 || pwrite(fd, data, 4096, 0) != 4096 || pwrite(fd, data, 4096, SPARSE_HOLE) != 4096 || close(fd))
		test_bug("sparse");
	fd = open(P("empty"), O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || close(fd) || chown(P("empty"), 1000, 1000) || chmod(P("empty"), 04755))
		test_bug("empty");
	if (symlink("d/data", P("link")) || symlink("/nonexistent/x", P("dangle")) || mkfifo(P("fifo"), 0620))
		test_bug("symlink, mkfifo");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", P("sock"));
	sk = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sk < 0 || bind(sk, (struct sockaddr *)&sun, sizeof(sun)) || close(sk) || chmod(P("sock"), 0751))
		test_bug("socket node");
	if (mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) || mknod(P("blk"), S_IFBLK | 0600, makedev(7, 200)))
		test_bug("mknod");
	if (setxattr(P("d/data"), "user.zdtm", "hello", 5, 0) || setxattr(P("d"), "trusted.zdtm", "x\0y", 3, 0) ||
	    lsetxattr(P("link"), "trusted.link", "L", 1, 0))
		test_bug("xattrs");
	fd = open(P("append"), O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "first\n", 6) != 6 || close(fd))
		test_bug("append");
	fd = open(P("covered/hidden"), O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "under", 5) != 5 || close(fd))
		test_bug("covered/hidden");
}

static int stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_nlink == b->st_nlink && a->st_size == b->st_size && a->st_rdev == b->st_rdev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_atim.tv_sec == b->st_atim.tv_sec && a->st_atim.tv_nsec == b->st_atim.tv_nsec;
}

static void check_contents(struct stat *st_top)
{
	char data[10000], buf[10000], target[64], x[8];
	struct stat a, b;
	unsigned int fl;
	ssize_t n;
	int fd;

	zdtm_fill(data, sizeof(data), 7);
	fd = open(P("d/data"), O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(buf) || memcmp(buf, data, sizeof(buf)))
		fail("d/data lost its bytes");
	close(fd);
	if (stat(P("d/data"), &a) || stat(P("d/hard"), &b) || a.st_ino != b.st_ino || a.st_dev != st_top->st_dev)
		failv("d/hard is no longer a link of d/data");
	fd = open(P("sparse"), O_RDONLY);
	if (fd < 0 || pread(fd, buf, 4096, SPARSE_HOLE) != 4096 || memcmp(buf, data, 4096) ||
	    lseek(fd, 4096, SEEK_DATA) != SPARSE_HOLE)
		failv("sparse lost its data or its hole");
	close(fd);
	if ((n = readlink(P("link"), target, sizeof(target) - 1)) != 6 || memcmp(target, "d/data", 6) ||
	    (n = readlink(P("dangle"), target, sizeof(target) - 1)) != 14 || memcmp(target, "/nonexistent/x", 14))
		failv("symlinks");
	if (getxattr(P("d/data"), "user.zdtm", x, sizeof(x)) != 5 || memcmp(x, "hello", 5) ||
	    getxattr(P("d"), "trusted.zdtm", x, sizeof(x)) != 3 || memcmp(x, "x\0y", 3) ||
	    lgetxattr(P("link"), "trusted.link", x, sizeof(x)) != 1 || x[0] != 'L')
		fail("xattrs");
	fd = open(P("append"), O_WRONLY | O_APPEND);
	if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &fl) || !(fl & FS_APPEND_FL) || !(fl & FS_NOATIME_FL) ||
	    write(fd, "x", 1) != 1 || lseek(fd, 0, SEEK_END) != 7)
		failv("the append-only file (flags %x)", fl);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	struct zdtm_mnt m, mb;
	struct statvfs sv;
	struct stat st, st_top;
	char buf[64], *map;
	int fd;

	test_init(argc, argv);
	zdtm_mntns();
	snprintf(top, sizeof(top), "%s/t", test_dir());
	if (mkdir(top, 0755) || mount("zdtm-tmpfs", top, "tmpfs", 0, "size=8m,nr_inodes=1000,mode=1751,uid=1234,gid=5678"))
		test_bug("mount tmpfs");
	make_tree();
	if (mount("zdtm-cover", P("covered"), "tmpfs", 0, "size=1m") || mkdir(P("dbind"), 0755) ||
	    mount(P("d"), P("dbind"), NULL, MS_BIND, NULL) ||
	    mount(NULL, P("dbind"), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
		test_bug("cover, bind");
	fd = open(P("d/data"), O_RDWR);
	if (fd < 0 || lseek(fd, 123, SEEK_SET) != 123)
		test_bug("open d/data");
	int sfd = open(P("sparse"), O_RDWR);

	map = sfd < 0 ? MAP_FAILED : mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (map == MAP_FAILED || close(sfd))
		test_bug("mmap sparse");
	/* times last: the ones a check later reads are the ones it set */
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (strcmp(nodes[i], "covered"))
			set_times(P(nodes[i]), 1000000000 + i);
	/* an append-only file's times can't be set any more */
	unsigned int fl = FS_APPEND_FL | FS_NOATIME_FL;
	int afd = open(P("append"), O_RDONLY);

	if (afd < 0 || ioctl(afd, FS_IOC_SETFLAGS, &fl) || close(afd))
		test_bug("FS_IOC_SETFLAGS");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (lstat(P(nodes[i]), &before[i]))
			test_bug("lstat %s", nodes[i]);

	test_daemon();
	test_waitsig();

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (lstat(P(nodes[i]), &st)) {
			fail("%s is gone", nodes[i]);
			continue;
		}
		if (!stat_same(&st, &before[i]))
			failv("%s: mode %o uid %u gid %u nlink %lu size %ld rdev %lx mtime %ld.%09ld atime %ld.%09ld; "
			      "was %o %u %u %lu %ld %lx %ld.%09ld %ld.%09ld", nodes[i], st.st_mode, st.st_uid,
			      st.st_gid, (unsigned long)st.st_nlink, (long)st.st_size, (unsigned long)st.st_rdev,
			      (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long)st.st_atim.tv_sec,
			      st.st_atim.tv_nsec, before[i].st_mode, before[i].st_uid, before[i].st_gid,
			      (unsigned long)before[i].st_nlink, (long)before[i].st_size,
			      (unsigned long)before[i].st_rdev, (long)before[i].st_mtim.tv_sec,
			      before[i].st_mtim.tv_nsec, (long)before[i].st_atim.tv_sec, before[i].st_atim.tv_nsec);
	}
	if (stat(top, &st_top))
		fail("stat %s", top);
	check_contents(&st_top);
	/* the fd and the mapping are the files' */
	if (lseek(fd, 0, SEEK_CUR) != 123 || write(fd, "ZZ", 2) != 2 || pread(fd, buf, 2, 123) != 2 ||
	    memcmp(buf, "ZZ", 2))
		fail("the fd of d/data");
	fd = open(P("d/hard"), O_RDONLY);
	if (fd < 0 || pread(fd, buf, 2, 123) != 2 || memcmp(buf, "ZZ", 2))
		failv("a write through the fd does not reach the file");
	map[10] = 'M';
	fd = open(P("sparse"), O_RDONLY);
	if (fd < 0 || pread(fd, buf, 1, 10) != 1 || buf[0] != 'M')
		failv("a write through the mapping does not reach the file");
	/* the mounts: options, the bind of the same filesystem, read-only */
	if (zdtm_mountinfo(top, &m) || strcmp(m.fstype, "tmpfs") ||
	    !strstr(m.sbopts, "size=8192k") || !strstr(m.sbopts, "nr_inodes=1000") ||
	    !strstr(m.sbopts, "mode=1751") || !strstr(m.sbopts, "uid=1234") || !strstr(m.sbopts, "gid=5678"))
		failv("the tmpfs options are now %s", m.sbopts);
	if (zdtm_mountinfo(P("dbind"), &mb) || strcmp(mb.root, "/d") || strncmp(mb.opts, "ro", 2) ||
	    stat(P("dbind"), &st) || stat(P("d"), &st_top) || st.st_dev != st_top.st_dev ||
	    st.st_ino != st_top.st_ino || statvfs(P("dbind"), &sv) || !(sv.f_flag & ST_RDONLY))
		failv("the bind of d is not a read-only bind of it (root %s, %s)", mb.root, mb.opts);
	/* what the other tmpfs covers is there below it */
	if (umount2(P("covered"), 0) || (fd = open(P("covered/hidden"), O_RDONLY)) < 0 ||
	    read(fd, buf, 5) != 5 || memcmp(buf, "under", 5))
		fail("the file below the covering tmpfs");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
