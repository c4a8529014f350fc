// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child created with clone(CLONE_FS) shares cwd, root and umask with
 * its parent. Before the dump the child moves into a subdirectory and the
 * parent sets a umask, each seen by the other. After C/R the sharing
 * holds both ways: the parent moves to another directory and changes the
 * umask, the child sees both; the child moves back, the parent sees it.
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

struct shared {
	volatile int step;
	char err[200];
};

static struct shared *sh;
static char top[PATH_MAX];

static int cwd_is(const char *dir)
{
	char cwd[PATH_MAX];

	return getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, dir);
}

static int child(void *arg)
{
	char dir[PATH_MAX + 8];

	snprintf(dir, sizeof(dir), "%s/one", top);
	if (chdir("one") || umask(022) != 027) {
		snprintf(sh->err, sizeof(sh->err), "before: chdir or parent's umask wrong");
		sh->step = -1;
		return 1;
	}
	umask(027);
	sh->step = 1;
	zdtm_wait_step(&sh->step, 2);
	/* after restore: the parent went to "two" and set umask 077 */
	snprintf(dir, sizeof(dir), "%s/two", top);
	if (!cwd_is(dir))
		snprintf(sh->err, sizeof(sh->err), "the child does not see the parent's chdir");
	else if (umask(077) != 077)
		snprintf(sh->err, sizeof(sh->err), "the child does not see the parent's umask");
	else if (chdir(top))
		snprintf(sh->err, sizeof(sh->err), "chdir back: %m");
	sh->step = 3;
	return 0;
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX + 8];
	int status;
	pid_t pid;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || !getcwd(top, sizeof(top)))
		test_bug("setup");
	if ((mkdir("one", 0755) && errno != EEXIST) || (mkdir("two", 0755) && errno != EEXIST))
		test_bug("mkdir");
	umask(027);
	pid = zdtm_clone(child, CLONE_FS | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	zdtm_wait_step(&sh->step, 1);
	if (sh->step < 0)
		test_bug("child: %s", sh->err);
	snprintf(dir, sizeof(dir), "%s/one", top);
	if (!cwd_is(dir))
		test_bug("the fs is not shared before the dump");

	test_daemon();
	test_waitsig();

	if (!cwd_is(dir))
		failv("the parent's cwd is not the child's after restore");
	if (chdir("../two"))
		failv("chdir: %m");
	umask(077);
	sh->step = 2;
	zdtm_wait_step(&sh->step, 3);
	if (sh->err[0])
		failv("%s", sh->err);
	else if (!cwd_is(top))
		failv("the parent does not see the child's chdir");
	if (zdtm_reap(pid, &status))
		failv("the child did not finish (%#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
