// SPDX-License-Identifier: GPL-2.0-only
/*
 * The test (in a mount namespace of its own) opens d/f and forks a child
 * that unshares its mount namespace and mounts a tmpfs over d/: the
 * description they share names d/f, which in the child's namespace is
 * another file (none). Restore could not make one description that is
 * that file in both by its path: the dump must refuse, naming the fd;
 * both go on (the offset still shared).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#define SHARED_FD	40

int main(int argc, char **argv)
{
	char dir[600], file[700];
	int p[2], status, fd;
	pid_t child;

	test_init(argc, argv);
	zdtm_mntns();
	snprintf(dir, sizeof(dir), "%s/d", test_dir());
	snprintf(file, sizeof(file), "%s/f", dir);
	if (mkdir(dir, 0755) || pipe(p))
		test_bug("mkdir, pipe");
	fd = open(file, O_CREAT | O_RDWR, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10 || zdtm_fd_at(fd, SHARED_FD) < 0 ||
	    lseek(SHARED_FD, 1, SEEK_SET) != 1)
		test_bug("the shared file");
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (child == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("zdtm-cover", dir, "tmpfs", 0, "size=1m"))
			_exit(2);
		close(p[1]);
		zdtm_wait_usr1();
		_exit(lseek(SHARED_FD, 3, SEEK_SET) != 3);
	}
	close(p[1]);
	if (zdtm_wait_ready(p))
		test_bug("the child");
	test_daemon();
	test_waitsig();
	if (zdtm_wake_and_reap(child, &status) || status)
		fail("the child (%d)", status);
	if (lseek(SHARED_FD, 0, SEEK_CUR) != 3)
		fail("the description is not shared with the child any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
