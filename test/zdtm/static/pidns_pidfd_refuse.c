// SPDX-License-Identifier: GPL-2.0-only
/*
 * A, the init of a pid namespace the test made, inherits a pidfd of the
 * test, which is outside A's namespace: at restore A could not open it
 * again (pidfd_open() takes a pid A can see). The dump must refuse,
 * naming the fd; both go on (the pidfd still the test's).
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PIDFD	40

static volatile int *ready, *go;

/* fdinfo of our pidfd (its Pid: line is the test's pid as /proc numbers it) */
static char *info(void)
{
	char path[64], *txt = NULL;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", PIDFD);
	if (zdtm_read_file(path, &txt) <= 0 || !strstr(txt, "Pid:")) {
		free(txt);
		return NULL;
	}
	return txt;
}

static int a_main(void *arg)
{
	char *before, *after;

	(void)arg;
	/* not the test's other fds (its readiness pipe goes to the launcher, outside the tree) */
	syscall(SYS_close_range, 3, PIDFD - 1, 0);
	syscall(SYS_close_range, PIDFD + 1, ~0U, 0);
	before = info();
	*ready = 1;
	while (!*go)
		usleep(10000);
	after = info();
	return before && after && !strcmp(before, after) ? 0 : 1;
}

int main(int argc, char **argv)
{
	int status;
	pid_t a;

	test_init(argc, argv);
	ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ready == MAP_FAILED)
		test_bug("mmap");
	go = ready + 1;
	if (zdtm_fd_at(syscall(SYS_pidfd_open, getpid(), 0), PIDFD) < 0)
		test_bug("pidfd_open");
	a = zdtm_clone(a_main, CLONE_NEWPID | SIGCHLD, NULL);
	if (a < 0)
		test_bug("clone(CLONE_NEWPID)");
	close(PIDFD);
	while (!*ready)
		usleep(1000);
	test_daemon();
	test_waitsig();
	*go = 1;
	if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("A's pidfd of the test is not the test's (status %#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
