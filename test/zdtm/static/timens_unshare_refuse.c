// SPDX-License-Identifier: GPL-2.0-only
/*
 * unshare(CLONE_NEWTIME) without a fork, offsets set: the children would
 * be in a time namespace nobody is in yet. The dump refuses it by name;
 * afterwards a child still sees the offsets (monotonic +12345 s).
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

int main(int argc, char **argv)
{
	struct timespec before;
	int fd, status;
	pid_t c;

	test_init(argc, argv);
	if (unshare(CLONE_NEWTIME))
		test_bug("unshare(CLONE_NEWTIME)");
	fd = open("/proc/self/timens_offsets", O_WRONLY);
	if (fd < 0 || write(fd, "monotonic 12345 0", 17) != 17)
		test_bug("timens_offsets");
	close(fd);
	test_daemon();
	test_waitsig();
	clock_gettime(CLOCK_MONOTONIC, &before);
	c = zdtm_fork();
	if (c == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		/* 12345 s ahead of the host's clock: at least 11000 s ahead of ours (the ns flavors' is 1000 s ahead) */
		_exit(ts.tv_sec - before.tv_sec >= 11000 ? 0 : 1);
	}
	if (zdtm_reap(c, &status) != 0)
		failv("a child's monotonic clock is not 12345 s ahead of the host's");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
