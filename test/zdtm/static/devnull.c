// SPDX-License-Identifier: GPL-2.0-only
/*
 * Character device descriptors at non-trivial numbers: /dev/null,
 * /dev/zero and /dev/urandom in several access modes.  After C/R each
 * descriptor is the same device with the same flags and works.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "zdtmtst.h"

struct devfd {
	const char *path;
	int flags, fd;
	unsigned int major, minor;
	int fl;
};

static struct devfd devs[] = {
	{ "/dev/null", O_WRONLY, 100, 1, 3 },
	{ "/dev/zero", O_RDONLY, 101, 1, 5 },
	{ "/dev/urandom", O_RDONLY, 102, 1, 9 },
	{ "/dev/null", O_RDWR | O_APPEND, 103, 1, 3 },
	{ "/dev/zero", O_RDWR | O_NONBLOCK, 200, 1, 5 },
};

#define NR_DEVS (sizeof(devs) / sizeof(devs[0]))

int main(int argc, char **argv)
{
	unsigned char buf[4096], buf2[64];
	struct stat st;
	unsigned int i;
	ssize_t ret;
	int fd;

	test_init(argc, argv);

	for (i = 0; i < NR_DEVS; i++) {
		fd = open(devs[i].path, devs[i].flags);
		if (fd < 0)
			test_bug("open %s", devs[i].path);
		if (dup2(fd, devs[i].fd) != devs[i].fd)
			test_bug("dup2 %d", devs[i].fd);
		close(fd);
		devs[i].fl = fcntl(devs[i].fd, F_GETFL);
	}

	test_daemon();
	test_waitsig();

	for (i = 0; i < NR_DEVS; i++) {
		struct devfd *d = &devs[i];
		int fl;

		if (fstat(d->fd, &st)) {
			fail("fd %d (%s) is gone", d->fd, d->path);
			continue;
		}
		if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != d->major ||
		    minor(st.st_rdev) != d->minor)
			failv("fd %d: device %u:%u, expected %s (%u:%u)", d->fd,
			      major(st.st_rdev), minor(st.st_rdev), d->path,
			      d->major, d->minor);
		fl = fcntl(d->fd, F_GETFL);
		if (fl != d->fl)
			failv("fd %d (%s): flags %#o, expected %#o", d->fd,
			      d->path, fl, d->fl);
	}

	if (write(100, buf, sizeof(buf)) != sizeof(buf))
		fail("write to /dev/null");
	if (read(100, buf, 1) != -1)
		failv("write-only /dev/null became readable");
	ret = read(103, buf, sizeof(buf));
	if (ret != 0)
		fail("read from /dev/null returned %zd", ret);
	if (write(103, "x", 1) != 1)
		fail("write to rw /dev/null");

	memset(buf, 0xff, sizeof(buf));
	if (read(101, buf, sizeof(buf)) != sizeof(buf))
		fail("read from /dev/zero");
	else if (zdtm_check_zero(buf, sizeof(buf)) != (size_t)-1)
		failv("/dev/zero returned non-zero data");
	memset(buf, 0xff, 16);
	if (read(200, buf, 16) != 16 || zdtm_check_zero(buf, 16) != (size_t)-1)
		fail("read from rw /dev/zero");
	if (write(200, buf, 16) != 16)
		fail("write to rw /dev/zero");

	if (read(102, buf, 64) != 64 || read(102, buf2, 64) != 64)
		fail("read from /dev/urandom");
	else if (!memcmp(buf, buf2, 64) ||
		 zdtm_check_zero(buf, 64) == (size_t)-1)
		failv("/dev/urandom returns constant data");
	if (write(102, buf, 1) != -1)
		failv("read-only /dev/urandom became writable");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
