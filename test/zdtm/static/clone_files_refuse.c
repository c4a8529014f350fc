// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child created with clone(CLONE_FILES): it shares the fd table with its
 * parent, which a restore would split into two. The dump must refuse it by
 * name and leave both running: the child later closes an fd and the parent
 * sees it gone (the table is still shared).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int fd;
static volatile int *flag;

static int child(void *arg)
{
	while (!*flag)
		usleep(10 * 1000);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char *stack = malloc(64 * 1024);
	int status;
	pid_t pid;

	test_init(argc, argv);
	flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open("/dev/null", O_RDONLY);
	if (!stack || flag == MAP_FAILED || fd < 0)
		test_bug("setup");
	test_daemon();
	pid = clone(child, stack + 64 * 1024, CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	test_waitsig();

	*flag = 1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		failv("the child did not finish (%#x)", status);
	if (fcntl(fd, F_GETFD) != -1)
		failv("the fd table is not shared any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
