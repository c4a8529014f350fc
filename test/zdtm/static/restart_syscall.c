// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child waits in poll() with a timeout; the test stops it and lets it
 * go on (SIGSTOP, SIGCONT), as a debugger, a pre-dump or a freeze would:
 * the kernel restarts the poll through restart_syscall, from a restart
 * block the dump can't carry. After the restore the child must still be
 * in its poll, woken by the pipe only: not EINTR, nor a timeout.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

/* the child is in syscall @nr (by /proc/PID/syscall) */
static int in_syscall(pid_t pid, int nr)
{
	char path[64], *buf;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return 0;
	ret = atoi(buf) == nr;
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	int p[2], status, i;
	pid_t child;

	test_init(argc, argv);
	if (pipe(p))
		test_bug("pipe");
	child = zdtm_fork();
	if (child == 0) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int r;

		close(p[1]);
		r = poll(&pfd, 1, 600 * 1000);
		_exit(r == 1 ? 0 : r < 0 ? 1 : 2);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);	/* a child gone early fails the test, not kills it */
	for (i = 0; i < 5000 && !in_syscall(child, 7 /* poll */); i++)
		usleep(1000);
	if (kill(child, SIGSTOP) || waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status) ||
	    kill(child, SIGCONT))
		test_bug("stop and go on");
	for (i = 0; i < 5000 && !in_syscall(child, 219 /* restart_syscall */); i++)
		usleep(1000);
	if (i == 5000)
		test_bug("the child is not in restart_syscall");

	test_daemon();
	test_waitsig();

	if (write(p[1], "x", 1) != 1 && errno != EPIPE)
		fail("wake the child");
	if (waitpid(child, &status, 0) != child)
		fail("waitpid");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		failv("the child's poll: %s", WIFEXITED(status) && WEXITSTATUS(status) == 1 ? "EINTR" : "not woken");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
