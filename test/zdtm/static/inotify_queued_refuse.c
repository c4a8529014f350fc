// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: inotify fd 77 has an event queued that the task has not
 * read (an IN_MODIFY of a watched file). The dump must refuse, naming the
 * pid, "inotify" and fd 77, without taking the event: after SIGTERM the
 * event is still there, with its wd and mask, and the memory is intact.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define INOTIFY_FD	77
#define MEM_SIZE	(1UL << 20)

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8))), path[4096];
	struct inotify_event *ev = (void *)buf;
	unsigned char *mem;
	uint64_t seed;
	ssize_t len;
	int fd, wd;

	test_init(argc, argv);
	seed = zdtm_random();
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, MEM_SIZE, seed);

	test_path(path, sizeof(path), "inotify_queued.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", path);
	wd = inotify_init1(IN_NONBLOCK);
	if (wd < 0 || dup2(wd, INOTIFY_FD) != INOTIFY_FD)
		test_bug("inotify_init1");
	close(wd);
	wd = inotify_add_watch(INOTIFY_FD, path, IN_MODIFY);
	if (wd < 0 || write(fd, "x", 1) != 1)
		test_bug("watch and write %s", path);
	close(fd);

	test_daemon();
	test_waitsig();

	if (zdtm_check(mem, MEM_SIZE, seed) != (size_t)-1)
		failv("memory changed");
	len = read(INOTIFY_FD, buf, sizeof(buf));
	if (len != (ssize_t)sizeof(*ev))
		failv("read %zd bytes of events, want one event (%zu)", len, sizeof(*ev));
	else if (ev->wd != wd || ev->mask != IN_MODIFY)
		failv("the queued event is wd %d mask %#x, want wd %d IN_MODIFY", ev->wd, ev->mask, wd);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
