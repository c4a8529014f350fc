// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a child of the test is traced (PTRACE_SEIZE) by the test
 * itself, so criu can't seize it: the dump must fail saying the task is
 * traced, naming the test as its tracer (see ptraced_refuse.desc), and leave both
 * running as before. After SIGTERM the test checks that the child is
 * still alive and still traced by it (TracerPid), then ends it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "zdtmtst.h"

/* TracerPid of @pid, or -1 */
static int tracer_of(pid_t pid)
{
	char path[64], *buf, *l;
	int tracer = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	l = strstr(buf, "\nTracerPid:");
	if (l)
		tracer = atoi(l + strlen("\nTracerPid:"));
	free(buf);
	return tracer;
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	test_init(argc, argv);
	pid = zdtm_fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL))
		test_bug("PTRACE_SEIZE of the child");
	test_daemon();
	test_waitsig();

	if (tracer_of(pid) != getpid())
		failv("the child %d is not traced by us any more (tracer %d)", pid, tracer_of(pid));
	if (kill(pid, SIGKILL))
		fail("the child is gone");
	if (zdtm_reap(pid, &status) != -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		failv("the child did not die by our SIGKILL (%#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
