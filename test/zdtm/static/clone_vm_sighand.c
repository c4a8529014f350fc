// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child made with clone(CLONE_VM | CLONE_SIGHAND | SIGCHLD) shares the
 * memory and signal handlers of its parent without being a thread; its fd
 * table is its own. The child replaces the parent's fd number with a file
 * of its own before the dump. After C/R: a write by one is seen by the
 * other, a handler installed by one runs in the other, each fd number still
 * names its own file in each, the child keeps its pid and parent, and the
 * parent reaps its exit status.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static volatile int step, value, from_child, usr1_in_parent, usr2_in_parent;
static volatile pid_t child_pid, child_ppid;
static int fd;
static char err[200];

static void on_usr1(int sig)
{
	usr1_in_parent = 1;
}

static void on_usr2(int sig)
{
	usr2_in_parent = 1;
}

static int make_file(const char *name, const char *data)
{
	int f = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (f < 0 || write(f, data, strlen(data)) != (ssize_t)strlen(data))
		return -1;
	return f;
}

static int child(void *arg)
{
	struct sigaction sa = { .sa_handler = on_usr2 }, old;
	char buf[16] = {};
	int f;

	/* our table is a copy of the parent's: the number gets a file of our own */
	close(fd);
	f = make_file("child.txt", "child-data");
	if (f != fd) {
		step = -1;
		return 1;
	}
	child_pid = syscall(SYS_getpid);
	child_ppid = syscall(SYS_getppid);
	step = 1;
	zdtm_wait_step(&step, 2);
	/* after restore */
	if (value != 1234)
		snprintf(err, sizeof(err), "the child sees %d, not the parent's 1234", value);
	else if (syscall(SYS_getpid) != child_pid || syscall(SYS_getppid) != child_ppid)
		snprintf(err, sizeof(err), "the child is %ld (parent %ld), was %d (parent %d)",
			 syscall(SYS_getpid), syscall(SYS_getppid), child_pid, child_ppid);
	else if (pread(fd, buf, 10, 0) != 10 || memcmp(buf, "child-data", 10))
		snprintf(err, sizeof(err), "the child's fd %d reads '%s'", fd, buf);
	else if (sigaction(SIGUSR1, NULL, &old) || old.sa_handler != on_usr1)
		snprintf(err, sizeof(err), "the parent's SIGUSR1 handler is not the child's");
	from_child = 5678;
	if (sigaction(SIGUSR2, &sa, NULL))
		snprintf(err, sizeof(err), "sigaction in the child");
	step = 3;
	return 42;
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	struct sigaction sa = { .sa_handler = on_usr1 };
	int status;
	pid_t pid;

	test_init(argc, argv);
	fd = make_file("parent.txt", "parent-data");
	if (fd < 0)
		test_bug("open");
	pid = zdtm_clone(child, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	if (pid < 0)
		test_bug("clone");
	zdtm_wait_step(&step, 1);
	if (step < 0)
		test_bug("the child did not get its own file at fd %d", fd);
	if (child_pid != pid || child_ppid != getpid())
		test_bug("the child is %d (parent %d)", child_pid, child_ppid);

	test_daemon();
	test_waitsig();

	if (pread(fd, buf, 11, 0) != 11 || memcmp(buf, "parent-data", 11))
		failv("the parent's fd %d reads '%s'", fd, buf);
	if (sigaction(SIGUSR1, &sa, NULL))
		failv("sigaction: %m");
	value = 1234;
	step = 2;
	zdtm_wait_step(&step, 3);
	if (err[0])
		failv("%s", err);
	if (from_child != 5678)
		failv("the parent sees %d, not the child's 5678", from_child);
	/* the handler the child installed runs here */
	raise(SIGUSR2);
	if (!usr2_in_parent)
		failv("the child's SIGUSR2 handler did not run in the parent");
	raise(SIGUSR1);
	if (!usr1_in_parent)
		failv("the parent's own SIGUSR1 handler did not run");
	if (zdtm_reap(pid, &status) != 42)
		failv("the child did not finish with 42 (%#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
