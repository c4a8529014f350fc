// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an inotify descriptor (fd 77) is not supported, so
 * the dump must fail, name the resource, and leave the process
 * running untouched (see inotify_refuse.desc).  When SIGTERM comes the
 * test checks that its memory is intact and the inotify descriptor
 * still delivers events.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77
#define MEM_SIZE	(4UL << 20)
#define PROBE		"inotify_probe"

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8))), path[4096];
	unsigned char *mem;
	uint64_t seed;
	bool seen = false;
	ssize_t len, off;
	size_t bad;
	int fd;

	test_init(argc, argv);

	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0)
		test_bug("inotify_init1");
	if (dup2(fd, INOTIFY_FD) != INOTIFY_FD)
		test_bug("dup2");
	close(fd);
	if (inotify_add_watch(INOTIFY_FD, test_dir(), IN_CREATE) < 0)
		test_bug("inotify_add_watch %s", test_dir());

	test_daemon();
	test_waitsig();

	bad = zdtm_check(mem, MEM_SIZE, seed);
	if (bad != (size_t)-1)
		failv("memory differs at byte %zu", bad);

	test_path(path, sizeof(path), PROBE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", path);
	close(fd);
	unlink(path);

	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len <= 0) {
		fail("no inotify events");
	} else {
		for (off = 0; off < len;) {
			struct inotify_event *ev = (void *)(buf + off);

			if ((ev->mask & IN_CREATE) && ev->len &&
			    !strcmp(ev->name, PROBE))
				seen = true;
			off += sizeof(*ev) + ev->len;
		}
		if (!seen)
			failv("no IN_CREATE event for " PROBE);
	}

	if (test_failures)
		return 1;
	pass();
	return 0;
}
