// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tree's root in a user namespace of its own but in criu's pid
 * namespace: restore would have to make pids in criu's pid namespace from
 * inside the user namespace, which the kernel does not allow, so the dump
 * refuses it by name. Afterwards the maps (several extents), the root's
 * uid 0 inside and a child's uid 7 inside are as they were.
 */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static volatile int *go;

static void write_file(pid_t pid, const char *name, const char *val)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		_exit(1);
	close(fd);
}

static char *read_all(const char *path)
{
	char *buf = NULL;

	if (zdtm_read_file(path, &buf) < 0)
		return strdup("?");
	return buf;
}

int main(int argc, char **argv)
{
	char *uid_map, *gid_map, *setgroups_mode, *now;
	struct stat host, after;
	int p[2], status;
	pid_t helper, child, self;
	char c;

	test_init(argc, argv);
	go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (go == MAP_FAILED || stat("/proc/self/ns/user", &host) || pipe(p))
		test_bug("setup");
	self = getpid();
	/* a helper outside writes our maps, as only a process outside can */
	helper = zdtm_fork();
	if (helper == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		write_file(self, "uid_map", "0 0 1\n1 200000 1000\n");
		write_file(self, "gid_map", "0 0 1\n1 300000 1000\n");
		_exit(0);
	}
	close(p[0]);
	if (unshare(CLONE_NEWUSER) || write(p[1], "g", 1) != 1 || zdtm_reap(helper, &status) != 0)
		test_bug("a user namespace with maps");
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		test_bug("root inside");
	close(p[1]);
	child = zdtm_fork();
	if (child == 0) {
		/* not the test's readiness pipe (to the launcher, outside the tree) */
		syscall(SYS_close_range, 3, ~0U, 0);
		if (setgroups(0, NULL) || setresgid(9, 9, 9) || setresuid(7, 7, 7))
			_exit(2);
		while (!*go)
			usleep(10000);
		if (getuid() != 7 || geteuid() != 7 || getgid() != 9 || getegid() != 9)
			_exit(3);
		/* uid 7 inside: no capability over the namespace */
		if (!setresuid(0, 0, 0))
			_exit(4);
		_exit(0);
	}
	uid_map = read_all("/proc/self/uid_map");
	gid_map = read_all("/proc/self/gid_map");
	setgroups_mode = read_all("/proc/self/setgroups");
	test_daemon();
	test_waitsig();

	now = read_all("/proc/self/uid_map");
	if (strcmp(now, uid_map))
		failv("uid_map is\n%s, was\n%s", now, uid_map);
	free(now);
	now = read_all("/proc/self/gid_map");
	if (strcmp(now, gid_map))
		failv("gid_map is\n%s, was\n%s", now, gid_map);
	free(now);
	now = read_all("/proc/self/setgroups");
	if (strcmp(now, setgroups_mode))
		failv("setgroups is %s, was %s", now, setgroups_mode);
	free(now);
	if (stat("/proc/self/ns/user", &after) || after.st_ino == host.st_ino)
		failv("back in the host's user namespace");
	if (getuid() != 0 || getgid() != 0)
		failv("uid %d gid %d inside", getuid(), getgid());
	*go = 1;
	if (zdtm_reap(child, &status) != 0)
		failv("the child (uid 7 inside) ended with %d", zdtm_reap(child, &status));
	if (test_failures)
		return 1;
	pass();
	return 0;
}
