// SPDX-License-Identifier: GPL-2.0-only
/*
 * A child in seccomp strict mode (only read, write, exit, sigreturn), an
 * echo server on two pipes. After C/R it is still in mode 1 (Seccomp in
 * its status), still answers, and a forbidden syscall still kills it. Its
 * signal actions (criu reads only the caught ones and SIGCHLD's of a
 * strict process) come back too: SIGUSR1 ignored, SIGUSR2 caught with
 * SA_RESTART (the handler writes 'h'; its read goes on after it).
 */
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdlib.h>

#include "zdtmtst.h"

static int out_fd;

static void on_usr2(int sig)
{
	char h = 'h';

	syscall(SYS_write, out_fd, &h, 1);
}

static int seccomp_mode(pid_t pid)
{
	char path[64], *buf, *s;
	int mode = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	s = strstr(buf, "\nSeccomp:");
	if (s)
		sscanf(s, "\nSeccomp: %d", &mode);
	free(buf);
	return mode;
}

int main(int argc, char **argv)
{
	int in[2], out[2], st;
	pid_t child;
	char c;

	test_init(argc, argv);
	if (pipe(in) || pipe(out))
		test_bug("pipe");
	child = zdtm_fork();
	if (!child) {
		struct sigaction sa = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };

		close(in[1]);
		close(out[0]);
		out_fd = out[1];
		if (signal(SIGUSR1, SIG_IGN) == SIG_ERR || sigaction(SIGUSR2, &sa, NULL))
			_exit(1);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
			_exit(1);
		for (;;) {
			if (read(in[0], &c, 1) != 1)
				syscall(SYS_exit, 2);
			if (c == 'q')
				getpid();	/* forbidden: SIGKILL */
			c++;
			if (write(out[1], &c, 1) != 1)
				syscall(SYS_exit, 3);
		}
	}
	close(in[0]);
	close(out[1]);
	if (write(in[1], "a", 1) != 1 || read(out[0], &c, 1) != 1 || c != 'b')
		test_bug("the child does not answer");

	test_daemon();
	test_waitsig();

	if (seccomp_mode(child) != 1)
		failv("child's seccomp mode is %d", seccomp_mode(child));
	if (write(in[1], "x", 1) != 1 || read(out[0], &c, 1) != 1 || c != 'y')
		failv("the child does not answer after C/R");
	/* ignored: no effect; caught, SA_RESTART: 'h', then it answers on */
	if (kill(child, SIGUSR1) || kill(child, SIGUSR2))
		fail("kill");
	if (read(out[0], &c, 1) != 1 || c != 'h')
		failv("no 'h' from the SIGUSR2 handler (got %d)", c);
	if (write(in[1], "m", 1) != 1 || read(out[0], &c, 1) != 1 || c != 'n')
		failv("the child does not answer after its signals");
	if (write(in[1], "q", 1) != 1)
		fail("write");
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		failv("a forbidden syscall did not kill the child (status %#x)", st);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
