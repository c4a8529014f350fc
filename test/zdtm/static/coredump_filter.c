// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/PID/coredump_filter, the mm's choice of what a core dump holds
 * (databases leave their big shared areas out): 0x7f in the test, 0x21 in
 * a child (the kernel's default is 0x33). After C/R each reads its own.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "zdtmtst.h"

static unsigned long get_filter(void)
{
	char buf[32] = {};
	int fd = open("/proc/self/coredump_filter", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return ~0UL;
	close(fd);
	return strtoul(buf, NULL, 16);
}

static int set_filter(const char *val)
{
	int fd = open("/proc/self/coredump_filter", O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		return -1;
	return close(fd);
}

int main(int argc, char **argv)
{
	int status, p[2];
	pid_t kid;
	char c;

	test_init(argc, argv);
	if (pipe(p))
		test_bug("pipe");
	zdtm_block_usr1(true);
	kid = zdtm_fork();
	if (kid == 0) {
		if (set_filter("0x21") || write(p[1], "s", 1) != 1 || zdtm_wait_usr1())
			_exit(2);
		_exit(get_filter() == 0x21 ? 0 : 3);
	}
	if (set_filter("0x7f") || read(p[0], &c, 1) != 1)
		test_bug("coredump_filter");

	test_daemon();
	test_waitsig();

	if (get_filter() != 0x7f)
		failv("the filter is %#lx, not 0x7f", get_filter());
	if (zdtm_wake_and_reap(kid, &status))
		failv("child: status %#x (3: its filter changed)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
