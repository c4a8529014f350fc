// SPDX-License-Identifier: GPL-2.0-only
/*
 * An fd table shared between siblings: a child clones its sibling with
 * CLONE_FILES | CLONE_PARENT, so the two share a table their parent does
 * not have. Forking the tree again can't rebuild that (a child can only
 * get its parent's table): the dump must refuse it by name and leave all
 * running. After SIGTERM the sibling closes an fd and the child sees it
 * gone (the table is still shared).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

struct shared {
	volatile int go, closed, ok;
	volatile pid_t sibling;
};

static struct shared *sh;
static int fd;

static int sibling(void *arg)
{
	while (!sh->go)
		usleep(10 * 1000);
	close(fd);
	sh->closed = 1;
	return 0;
}

static int child(void *arg)
{
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		return 1;
	sh->sibling = zdtm_clone(sibling, CLONE_FILES | CLONE_PARENT | SIGCHLD, NULL);
	if (sh->sibling < 0)
		return 1;
	while (!sh->closed)
		usleep(10 * 1000);
	sh->ok = fcntl(fd, F_GETFD) == -1;
	return 0;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("setup");
	pid = zdtm_clone(child, SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	while (!sh->sibling)
		usleep(1000);
	if (sh->sibling < 0)
		test_bug("clone of the sibling");
	test_daemon();
	test_waitsig();

	sh->go = 1;
	if (zdtm_reap(pid, &status))
		failv("the child did not finish (%#x)", status);
	if (waitpid(sh->sibling, &status, 0) != sh->sibling || !WIFEXITED(status))
		failv("the sibling did not finish (%#x)", status);
	if (!sh->ok)
		failv("the fd table is not shared any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
