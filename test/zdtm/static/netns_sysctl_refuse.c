// SPDX-License-Identifier: GPL-2.0-only
/*
 * A network namespace of the tree's own whose contents are more than a
 * new namespace's (here: net.ipv4.ip_default_ttl set to 33) is refused
 * by name until network namespace contents are supported; the task keeps
 * running in it with the sysctl as it set it.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

#define TTL "/proc/sys/net/ipv4/ip_default_ttl"

int main(int argc, char **argv)
{
	char buf[16] = "";
	int fd;

	test_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		test_bug("unshare(CLONE_NEWNET)");
	fd = open(TTL, O_WRONLY);
	if (fd < 0 || write(fd, "33", 2) != 2)
		test_bug("can't set " TTL);
	close(fd);
	test_daemon();
	test_waitsig();
	fd = open(TTL, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		fail("can't read " TTL);
	else if (strcmp(buf, "33\n"))
		failv("ip_default_ttl is %s", buf);
	if (fd >= 0)
		close(fd);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
