// SPDX-License-Identifier: GPL-2.0-only
/*
 * A cgroup namespace whose root, in the pids hierarchy, is a cgroup the
 * test made: inside it the test sees itself at "/" there. After C/R it
 * still does (without the namespace it would see the cgroup's path), the
 * namespace is not the host's, and the cgroup is still its own.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PIDS	"/sys/fs/cgroup/pids"

static char cg[128];

static int write_procs(const char *dir)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static char *pids_line(void)
{
	char *buf = NULL, *l, *line = NULL;

	if (zdtm_read_file("/proc/self/cgroup", &buf) < 0)
		return strdup("?");
	for (l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if (strstr(l, ":pids:"))
			line = strdup(strchr(l, ':') + 1);
	free(buf);
	return line ? line : strdup("?");
}

int main(int argc, char **argv)
{
	struct stat host, now;
	char *before, *after;

	test_init(argc, argv);
	snprintf(cg, sizeof(cg), PIDS "/zdtm-cgns.%d", getpid());
	if (stat("/proc/self/ns/cgroup", &host) || mkdir(cg, 0755) || write_procs(cg))
		test_bug("a pids cgroup of our own");
	if (unshare(CLONE_NEWCGROUP))
		test_bug("unshare(CLONE_NEWCGROUP)");
	before = pids_line();
	if (strcmp(before, "pids:/"))
		test_bug("inside the namespace the pids cgroup reads %s", before);
	test_daemon();
	test_waitsig();
	after = pids_line();
	if (strcmp(after, before))
		failv("the pids cgroup reads %s, was %s", after, before);
	if (stat("/proc/self/ns/cgroup", &now) || now.st_ino == host.st_ino)
		failv("back in the host's cgroup namespace");
	/* the cgroup is ours: back out of it, then it goes */
	if (write_procs(PIDS) || rmdir(cg))
		fail("can't remove %s", cg);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
