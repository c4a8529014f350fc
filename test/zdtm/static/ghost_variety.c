// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unlinked files, removed directories and nodes of every shape:
 *  - fds 40, 41: one inode opened by two names (hard links), both names
 *    removed: after restore still one inode, each fd shows its own name;
 *  - fd 42: a file that grew after it was unlinked (ftruncate, a write far
 *    out): its size, data and hole;
 *  - fds 43, 44: a removed directory inside a removed directory;
 *  - fd 45: the removed directory that is also our cwd: the same inode;
 *  - fd 46 (root only): a device node (/dev/null's) removed while open;
 *  - fd 47: 3 MiB with data in every other 4 KiB of its first MiB (512 KiB
 *    of data): under the default --ghost-limit (1 MiB) counting data, and
 *    saved and restored sparse (its holes are holes again).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "zdtmtst.h"

#define SPARSE_SPAN	(1 << 20)
#define SPARSE_SIZE	(3 << 20)

static char base[2048];

static int open_at(const char *name, int flags, int at)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	fd = open(path, flags, 0640);
	if (fd < 0 || dup2(fd, at) != at || close(fd))
		return -1;
	return at;
}

static int gone(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", base, name);
	return unlink(path) && rmdir(path) ? -1 : 0;
}

/* /proc/self/fd/@fd must read "BASE/@name (deleted)". */
static void check_link(int fd, const char *name)
{
	char path[64], got[4200], want[4200];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, got, sizeof(got) - 1);
	got[n < 0 ? 0 : n] = '\0';
	snprintf(want, sizeof(want), "%s/%s (deleted)", base, name);
	if (strcmp(got, want))
		failv("fd %d shows %s, not %s", fd, got, want);
}

int main(int argc, char **argv)
{
	char buf[8192], want[8192], a[4096], b[4096];
	struct stat st, cwd, dir;
	int node = 0;

	test_init(argc, argv);
	snprintf(base, sizeof(base), "%s", test_dir());

	/* hard links */
	snprintf(a, sizeof(a), "%s/hl.a", base);
	snprintf(b, sizeof(b), "%s/hl.b", base);
	if (open_at("hl.a", O_RDWR | O_CREAT, 40) < 0 || link(a, b) || open_at("hl.b", O_RDONLY, 41) < 0 ||
	    write(40, "linked", 6) != 6 || gone("hl.a") || gone("hl.b"))
		test_bug("hard links");
	/* grown after unlinking */
	zdtm_fill(buf, sizeof(buf), 42);
	if (open_at("grown", O_RDWR | O_CREAT, 42) < 0 || write(42, buf, sizeof(buf)) != sizeof(buf) ||
	    gone("grown") || ftruncate(42, 100 << 10) || pwrite(42, buf, 4096, 200 << 10) != 4096)
		test_bug("grown");
	/* nested removed directories */
	if (mkdir(strcat(strcpy(a, base), "/nd"), 0750) || mkdir(strcat(a, "/in"), 0710) ||
	    open_at("nd/in", O_RDONLY | O_DIRECTORY, 43) < 0 || open_at("nd", O_RDONLY | O_DIRECTORY, 44) < 0 ||
	    gone("nd/in") || gone("nd"))
		test_bug("nested directories");
	/* a removed cwd held by an fd too */
	if (mkdir(strcat(strcpy(a, base), "/cw"), 0755) || chdir(a) || open_at("cw", O_RDONLY | O_DIRECTORY, 45) < 0 ||
	    gone("cw"))
		test_bug("removed cwd");
	/* a removed device node */
	snprintf(a, sizeof(a), "%s/null2", base);
	if (!mknod(a, S_IFCHR | 0640, makedev(1, 3))) {
		if (open_at("null2", O_RDWR, 46) < 0 || gone("null2"))
			test_bug("node");
		node = 1;
	} else if (errno != EPERM) {
		test_bug("mknod");
	}
	/* sparse, more than --ghost-limit in size, less in data */
	if (open_at("sparse", O_RDWR | O_CREAT, 47) < 0 || ftruncate(47, SPARSE_SIZE))
		test_bug("sparse");
	for (int off = 0; off < SPARSE_SPAN; off += 8192) {
		zdtm_fill(buf, 4096, off);
		if (pwrite(47, buf, 4096, off) != 4096)
			test_bug("sparse write");
	}
	if (gone("sparse"))
		test_bug("sparse unlink");

	test_daemon();
	test_waitsig();

	if (fstat(40, &st) || fstat(41, &cwd) || st.st_ino != cwd.st_ino || st.st_nlink)
		failv("fds 40 and 41 are not one unlinked inode (%lu, %lu)", (unsigned long)st.st_ino,
		      (unsigned long)cwd.st_ino);
	check_link(40, "hl.a");
	check_link(41, "hl.b");
	if (pwrite(40, "LINKED", 6, 0) != 6 || pread(41, buf, 6, 0) != 6 || memcmp(buf, "LINKED", 6))
		fail("a write through fd 40 is not seen through fd 41");

	if (fstat(42, &st) || st.st_size != (200 << 10) + 4096)
		failv("fd 42 has %ld bytes", (long)st.st_size);
	zdtm_fill(want, sizeof(want), 42);
	if (pread(42, buf, 8192, 0) != 8192 || memcmp(buf, want, 8192) || pread(42, buf, 4096, 200 << 10) != 4096 ||
	    memcmp(buf, want, 4096))
		fail("fd 42's data");
	if (pread(42, buf, 4096, 100 << 10) != 4096 || zdtm_check_zero(buf, 4096) != (size_t)-1)
		fail("fd 42's hole");

	if (fstat(43, &st) || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0710 || st.st_nlink)
		failv("fd 43 is no removed directory of mode 0710 (%o)", st.st_mode);
	if (fstat(44, &st) || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0750)
		failv("fd 44 is no removed directory of mode 0750 (%o)", st.st_mode);
	check_link(43, "nd/in");
	check_link(44, "nd");

	if (stat(".", &cwd) || fstat(45, &dir) || cwd.st_ino != dir.st_ino || cwd.st_dev != dir.st_dev)
		failv("fd 45 (%lu) is not our cwd (%lu)", (unsigned long)dir.st_ino, (unsigned long)cwd.st_ino);
	check_link(45, "cw");

	if (node) {
		if (fstat(46, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3) || st.st_nlink ||
		    write(46, "x", 1) != 1)
			fail("fd 46 is no removed /dev/null node");
		check_link(46, "null2");
	}

	if (fstat(47, &st) || st.st_size != SPARSE_SIZE)
		failv("fd 47 has %ld bytes", (long)st.st_size);
	for (int off = 0; off < SPARSE_SPAN; off += 8192) {
		zdtm_fill(want, 4096, off);
		if (pread(47, buf, 4096, off) != 4096 || memcmp(buf, want, 4096)) {
			failv("fd 47: the data at %d", off);
			break;
		}
	}
	if (lseek(47, 0, SEEK_HOLE) != 4096 || (uint64_t)st.st_blocks * 512 > SPARSE_SPAN / 2 + (256 << 10))
		failv("fd 47 is not sparse (first hole at %ld, %ld blocks)", (long)lseek(47, 0, SEEK_HOLE),
		      (long)st.st_blocks);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
