// SPDX-License-Identifier: GPL-2.0-only
/*
 * Regular file descriptors: offsets, access modes, O_APPEND,
 * O_NONBLOCK, FD_CLOEXEC, an offset beyond EOF and a dup()ed
 * descriptor sharing its file description.  After C/R every
 * descriptor refers to the same file with the same offset and flags,
 * and reads/writes behave accordingly.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define RO_SIZE		8000
#define RW_SIZE		5000
#define APP_SIZE	100
#define SPARSE_OFF	((1 << 20) + 3)

enum { F_RO, F_DUP, F_RW, F_APP, F_SPARSE, NR_FDS };

struct fdstate {
	const char *name;	/* file name in the test directory */
	int fd;
	off_t pos;
	int fl, fdfl;
	dev_t dev;
	ino_t ino;
};

static struct fdstate fds[NR_FDS] = {
	[F_RO] = { .name = "fo_ro" },
	[F_DUP] = { .name = "fo_ro" },
	[F_RW] = { .name = "fo_rw" },
	[F_APP] = { .name = "fo_app" },
	[F_SPARSE] = { .name = "fo_sparse" },
};

static unsigned char ro_data[RO_SIZE];
static uint64_t seed;

static void record(struct fdstate *f)
{
	struct stat st;

	f->pos = lseek(f->fd, 0, SEEK_CUR);
	f->fl = fcntl(f->fd, F_GETFL);
	f->fdfl = fcntl(f->fd, F_GETFD);
	if (f->pos < 0 || f->fl < 0 || f->fdfl < 0 || fstat(f->fd, &st))
		test_bug("can't query fd %d", f->fd);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
}

static void compare(const struct fdstate *f)
{
	struct stat st, pst;
	char path[4096];
	off_t pos;
	int fl, fdfl;

	pos = lseek(f->fd, 0, SEEK_CUR);
	fl = fcntl(f->fd, F_GETFL);
	fdfl = fcntl(f->fd, F_GETFD);
	if (pos < 0 || fl < 0 || fdfl < 0 || fstat(f->fd, &st)) {
		fail("fd %d (%s) is broken", f->fd, f->name);
		return;
	}
	if (pos != f->pos)
		failv("fd %d (%s): offset %lld, expected %lld", f->fd, f->name,
		      (long long)pos, (long long)f->pos);
	if (fl != f->fl)
		failv("fd %d (%s): F_GETFL %#o, expected %#o", f->fd, f->name,
		      fl, f->fl);
	if (fdfl != f->fdfl)
		failv("fd %d (%s): F_GETFD %#x, expected %#x", f->fd, f->name,
		      fdfl, f->fdfl);
	test_path(path, sizeof(path), f->name);
	if (stat(path, &pst))
		fail("stat %s", path);
	else if (st.st_dev != f->dev || st.st_ino != f->ino ||
		 pst.st_dev != st.st_dev || pst.st_ino != st.st_ino)
		failv("fd %d is not %s any more", f->fd, f->name);
}

static int create(const char *name, int flags, const void *data, size_t len)
{
	char path[4096];
	int fd;

	test_path(path, sizeof(path), name);
	fd = open(path, flags | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("open %s", path);
	if (len && write(fd, data, len) != (ssize_t)len)
		test_bug("write %s", path);
	return fd;
}

static off_t file_size(const char *name)
{
	char path[4096];
	struct stat st;

	test_path(path, sizeof(path), name);
	if (stat(path, &st))
		return -1;
	return st.st_size;
}

int main(int argc, char **argv)
{
	unsigned char rw_data[RW_SIZE], app_data[APP_SIZE], buf[16];
	char path[4096];
	int fd, i;

	test_init(argc, argv);

	seed = zdtm_random();
	zdtm_fill(ro_data, RO_SIZE, seed);
	zdtm_fill(rw_data, RW_SIZE, seed + 1);
	zdtm_fill(app_data, APP_SIZE, seed + 2);

	fd = create("fo_ro", O_WRONLY, ro_data, RO_SIZE);
	close(fd);
	test_path(path, sizeof(path), "fo_ro");
	fds[F_RO].fd = open(path, O_RDONLY);
	if (fds[F_RO].fd < 0)
		test_bug("open %s", path);
	if (lseek(fds[F_RO].fd, 1234, SEEK_SET) != 1234)
		test_bug("lseek");
	fds[F_DUP].fd = fcntl(fds[F_RO].fd, F_DUPFD, 50);

	fds[F_RW].fd = create("fo_rw", O_RDWR, rw_data, RW_SIZE);
	lseek(fds[F_RW].fd, 777, SEEK_SET);
	fcntl(fds[F_RW].fd, F_SETFD, FD_CLOEXEC);

	fds[F_APP].fd = create("fo_app", O_WRONLY | O_APPEND, app_data,
			       APP_SIZE);
	lseek(fds[F_APP].fd, 10, SEEK_SET);	/* writes still append */

	fds[F_SPARSE].fd = create("fo_sparse", O_RDWR | O_NONBLOCK, NULL, 0);
	lseek(fds[F_SPARSE].fd, SPARSE_OFF, SEEK_SET);

	for (i = 0; i < NR_FDS; i++)
		record(&fds[i]);

	test_daemon();
	test_waitsig();

	for (i = 0; i < NR_FDS; i++)
		compare(&fds[i]);

	/* Sanity of what was recorded: the test must be able to fail. */
	if (fds[F_RO].pos != 1234 || (fds[F_RO].fl & O_ACCMODE) != O_RDONLY ||
	    !(fds[F_APP].fl & O_APPEND) || !(fds[F_RW].fdfl & FD_CLOEXEC) ||
	    (fds[F_RO].fdfl & FD_CLOEXEC) || !(fds[F_SPARSE].fl & O_NONBLOCK))
		failv("unexpected initial state");

	/* The dup shares the offset with the original descriptor. */
	if (read(fds[F_DUP].fd, buf, 10) != 10)
		fail("read from the dup'ed fd");
	else if (memcmp(buf, ro_data + 1234, 10))
		failv("dup'ed fd reads wrong data");
	if (lseek(fds[F_RO].fd, 0, SEEK_CUR) != 1244)
		failv("dup'ed fd does not share the offset any more");

	/* O_RDWR: write in place. */
	if (write(fds[F_RW].fd, "HELLO", 5) != 5) {
		fail("write to the rw fd");
	} else if (pread(fds[F_RW].fd, buf, 7, 776) != 7) {
		fail("pread the rw fd");
	} else if (buf[0] != rw_data[776] || memcmp(buf + 1, "HELLO", 5) ||
		   buf[6] != rw_data[782]) {
		failv("write at offset 777 went elsewhere");
	}
	if (file_size("fo_rw") != RW_SIZE)
		failv("rw file size changed");

	/* O_APPEND: the write goes to the end. */
	if (write(fds[F_APP].fd, "XYZ", 3) != 3)
		fail("write to the append fd");
	if (file_size("fo_app") != APP_SIZE + 3)
		failv("append fd did not append: size %lld",
		      (long long)file_size("fo_app"));
	if (lseek(fds[F_APP].fd, 0, SEEK_CUR) != APP_SIZE + 3)
		failv("append fd offset is not at the end");
	test_path(path, sizeof(path), "fo_app");
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, buf, 3, APP_SIZE) != 3 ||
	    memcmp(buf, "XYZ", 3))
		failv("appended data is wrong");
	if (fd >= 0)
		close(fd);

	/* Offset beyond EOF: a write extends the file there. */
	if (write(fds[F_SPARSE].fd, "!", 1) != 1)
		fail("write to the sparse fd");
	if (file_size("fo_sparse") != SPARSE_OFF + 1)
		failv("sparse file size %lld, expected %d",
		      (long long)file_size("fo_sparse"), SPARSE_OFF + 1);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
