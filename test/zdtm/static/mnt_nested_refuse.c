// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child in a mount namespace of its own below the test's, which is
 * criu's: a namespace nested below criu's own is not supported (one below
 * a tree's own is: mnt_nested), so the dump must refuse naming the child;
 * both go on (the child's private mount is still there).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[600];
	int p[2], status;
	pid_t child;

	test_init(argc, argv);
	snprintf(path, sizeof(path), "%s/m", test_dir());
	if (mkdir(path, 0755) || pipe(p))
		test_bug("mkdir, pipe");
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (child == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("zdtm-nested", path, "tmpfs", 0, "size=1m"))
			_exit(2);
		close(p[1]);
		zdtm_wait_usr1();
		struct stat st, up;

		snprintf(path + strlen(path), 8, "/..");
		_exit(stat(path, &up) || stat(test_dir(), &st) || up.st_ino != st.st_ino);
	}
	close(p[1]);
	if (zdtm_wait_ready(p))
		test_bug("the child");
	test_daemon();
	test_waitsig();
	if (zdtm_wake_and_reap(child, &status) || status)
		fail("the child (%d)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
