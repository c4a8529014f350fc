// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a perf event (software task-clock, user space only) on
 * the task itself at fd 83. Perf events are not supported: the dump must
 * refuse, naming the pid, "perf_event" and fd 83. After SIGTERM the
 * counter still runs: it counts more time than before the dump.
 */
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define PERF_FD	83

int main(int argc, char **argv)
{
	struct perf_event_attr a;
	uint64_t before = 0, after = 0;
	int fd;

	test_init(argc, argv);
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0)
		test_bug("perf_event_open (kernel.perf_event_paranoid may forbid it)");
	if (dup2(fd, PERF_FD) != PERF_FD)
		test_bug("dup2");
	close(fd);
	for (volatile int i = 0; i < 1000000; i++)
		;
	if (read(PERF_FD, &before, sizeof(before)) != sizeof(before) || !before)
		test_bug("read the counter");

	test_daemon();
	test_waitsig();

	for (volatile int i = 0; i < 1000000; i++)
		;
	if (read(PERF_FD, &after, sizeof(after)) != sizeof(after) || after <= before)
		failv("task-clock went from %llu to %llu", (unsigned long long)before, (unsigned long long)after);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
