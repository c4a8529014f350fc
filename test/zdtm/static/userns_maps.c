// SPDX-License-Identifier: GPL-2.0-only
/*
 * In the uns flavor the tree has a user namespace of its own (zdtm_ns_init
 * maps ids 0-999 and 1000-65535 inside to 100000.. outside in two
 * extents): after C/R the maps and setgroups mode are the same, the
 * namespace is not the host's, the test has its ids as it saw them, and a
 * child that became uid 7, gid 9 inside (outside: 100007, 100009) is that
 * again and still can't become root.
 */
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *read_all(const char *path)
{
	char *buf = NULL;

	if (zdtm_read_file(path, &buf) < 0)
		return strdup("?");
	return buf;
}

static void same(const char *path, const char *was)
{
	char *now = read_all(path);

	if (strcmp(now, was))
		failv("%s is\n%s, was\n%s", path, now, was);
	free(now);
}

int main(int argc, char **argv)
{
	char *uid_map, *gid_map, *setgroups_mode;
	volatile int *go;
	uid_t uid = getuid();
	gid_t gid = getgid();
	int status;
	pid_t child;

	test_init(argc, argv);
	go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (go == MAP_FAILED)
		test_bug("mmap");
	uid_map = read_all("/proc/self/uid_map");
	gid_map = read_all("/proc/self/gid_map");
	setgroups_mode = read_all("/proc/self/setgroups");
	if (!strncmp(uid_map, "         0          0 4294967295", 32))
		test_bug("not in a user namespace (run in the uns flavor)");
	child = zdtm_fork();
	if (child == 0) {
		/* not the test's readiness pipe (to the launcher, outside the tree) */
		syscall(SYS_close_range, 3, ~0U, 0);
		if (getuid() == 0 && (setgroups(0, NULL) || setresgid(9, 9, 9) || setresuid(7, 7, 7)))
			_exit(2);
		while (!*go)
			usleep(10000);
		if (getuid() != 7 && uid == 0)
			_exit(3);
		if (getgid() != 9 && gid == 0)
			_exit(4);
		/* no capability over the namespace any more */
		if (!setresuid(0, 0, 0))
			_exit(5);
		_exit(0);
	}
	test_daemon();
	test_waitsig();

	same("/proc/self/uid_map", uid_map);
	same("/proc/self/gid_map", gid_map);
	same("/proc/self/setgroups", setgroups_mode);
	if (getuid() != uid || getgid() != gid)
		failv("uid %d gid %d inside, were %d %d", getuid(), getgid(), uid, gid);
	*go = 1;
	if (zdtm_reap(child, &status) != 0)
		failv("the child (uid 7 inside) failed its checks: %d", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
