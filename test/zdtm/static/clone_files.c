// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child created with clone(CLONE_FILES) shares the fd table with its
 * parent. Before the dump each opens a file the other can read. After
 * C/R the table is still one: the child opens a new file and the parent
 * reads it through the same fd number; the parent closes an fd and the
 * child finds it gone.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

struct shared {
	volatile int step;
	volatile int child_fd, new_fd;
	char err[200];
};

static struct shared *sh;
static int parent_fd;

static int make_file(const char *name, const char *data)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) || lseek(fd, 0, SEEK_SET))
		return -1;
	return fd;
}

static int child(void *arg)
{
	char buf[8] = {};

	sh->child_fd = make_file("child.txt", "child-data");
	sh->step = sh->child_fd < 0 ? -1 : 1;
	zdtm_wait_step(&sh->step, 2);
	/* after restore */
	sh->new_fd = make_file("late.txt", "late-data");
	sh->step = 3;
	zdtm_wait_step(&sh->step, 4);
	/* the parent closed its first fd and read 4 bytes of parent.txt */
	if (fcntl(parent_fd + 100, F_GETFD) != -1 || errno != EBADF)
		snprintf(sh->err, sizeof(sh->err), "fd %d is still open in the child", parent_fd + 100);
	else if (pread(sh->child_fd, buf, 5, 0) != 5 || memcmp(buf, "child", 5))
		snprintf(sh->err, sizeof(sh->err), "the child's own fd reads '%s'", buf);
	sh->step = 5;
	return 0;
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	int status;
	pid_t pid;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("setup");
	parent_fd = make_file("parent.txt", "parent-data");
	/* an fd of a high number: the service fds must not collide with it */
	if (parent_fd < 0 || dup2(parent_fd, parent_fd + 100) < 0)
		test_bug("open");
	pid = zdtm_clone(child, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	zdtm_wait_step(&sh->step, 1);
	if (sh->step < 0)
		test_bug("the child can't open its file");
	if (pread(sh->child_fd, buf, 5, 0) != 5 || memcmp(buf, "child", 5))
		test_bug("the fd table is not shared before the dump");

	test_daemon();
	test_waitsig();

	if (pread(sh->child_fd, buf, 10, 0) != 10 || memcmp(buf, "child-data", 10))
		failv("the child's fd %d does not read its file: '%s'", sh->child_fd, buf);
	sh->step = 2;
	zdtm_wait_step(&sh->step, 3);
	memset(buf, 0, sizeof(buf));
	if (sh->new_fd < 0 || pread(sh->new_fd, buf, 9, 0) != 9 || memcmp(buf, "late-data", 9))
		failv("the fd %d the child opened after restore is not ours: '%s'", sh->new_fd, buf);
	if (close(parent_fd + 100))
		failv("close: %m");
	sh->step = 4;
	zdtm_wait_step(&sh->step, 5);
	if (sh->err[0])
		failv("%s", sh->err);
	if (zdtm_reap(pid, &status))
		failv("the child did not finish (%#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
