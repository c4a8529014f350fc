// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pids that tasks of a nested pid namespace keep, as they see them: the
 * test clones A, the init of a new pid namespace; A forks B (pid 2
 * there), which leads a process group of its own. B holds a pipe whose
 * owner for SIGIO is A (F_SETOWN_EX, F_OWNER_PID, O_ASYNC, F_SETSIG) and
 * another whose owner is B's group (F_OWNER_PGRP). A holds a pipe whose
 * owner is B (a task restored after A opens the pipe), a pidfd of B and
 * a pty whose controlling session is A's (A called setsid()) and whose
 * foreground group is B's.
 * After C/R: in B, F_GETOWN_EX gives 1 and B's own pid as the namespace
 * numbers them; in A, the owner is B's pid, the pidfd's fdinfo (Pid,
 * NSpid) is unchanged, tcgetsid() is 1 and tcgetpgrp() is B's pid.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PIPE_PID	40	/* B's, read end; owner A */
#define PIPE_PGRP	42	/* B's, read end; owner B's group */
#define PIDFD		44
#define PIPE_A		47	/* A's, read end; owner B */
#define PTY_M		45
#define PTY_S		46

static struct shared {
	volatile int ready, b_ready, go, done, b_done;
	char msg[512];
	int ok, b_ok;
} *sh;

static void say(const char *fmt, ...)
{
	size_t n = strlen(sh->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg + n, sizeof(sh->msg) - n, fmt, ap);
	va_end(ap);
}

/* The Pid: and NSpid: lines of fdinfo of pidfd @fd. */
static void pidfd_lines(int fd, char *buf, size_t size)
{
	char path[64], *txt = NULL, *p, *l;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zdtm_read_file(path, &txt) <= 0)
		return;
	for (l = strtok_r(txt, "\n", &p); l; l = strtok_r(NULL, "\n", &p))
		if (!strncmp(l, "Pid:", 4) || !strncmp(l, "NSpid:", 6))
			snprintf(buf + strlen(buf), size - strlen(buf), "%s;", l);
	free(txt);
}

static int own(int fd, int type, pid_t pid)
{
	struct f_owner_ex o = { .type = type, .pid = pid };
	int flags = fcntl(fd, F_GETFL);

	if (fcntl(fd, F_SETOWN_EX, &o) || fcntl(fd, F_SETSIG, SIGUSR2) || flags < 0 ||
	    fcntl(fd, F_SETFL, flags | O_ASYNC))
		return -1;
	return 0;
}

static int check_owner(int fd, int type, pid_t pid)
{
	struct f_owner_ex o = {};

	if (fcntl(fd, F_GETOWN_EX, &o)) {
		say("F_GETOWN_EX of fd %d: %m; ", fd);
		return 0;
	}
	if (o.type != type || o.pid != pid || fcntl(fd, F_GETSIG) != SIGUSR2 || !(fcntl(fd, F_GETFL) & O_ASYNC)) {
		say("fd %d: owner type %d pid %d sig %d (want %d %d %d); ", fd, o.type, o.pid, fcntl(fd, F_GETSIG),
		    type, pid, SIGUSR2);
		return 0;
	}
	return 1;
}

static int place(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at)
		return -1;
	if (fd != at)
		close(fd);
	return 0;
}

static int b_main(void)
{
	int p1[2], p2[2], ok = 1;

	signal(SIGUSR2, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	if (setpgid(0, 0) || pipe(p1) || pipe(p2) || place(p1[0], PIPE_PID) || place(p1[1], PIPE_PID + 1) ||
	    place(p2[0], PIPE_PGRP) || place(p2[1], PIPE_PGRP + 1) || own(PIPE_PID, F_OWNER_PID, 1) ||
	    own(PIPE_PGRP, F_OWNER_PGRP, getpid()))
		return 1;
	sh->b_ready = 1;
	while (!sh->go)
		usleep(10000);
	ok &= check_owner(PIPE_PID, F_OWNER_PID, 1);
	ok &= check_owner(PIPE_PGRP, F_OWNER_PGRP, getpid());
	sh->b_ok = ok;
	sh->b_done = 1;
	while (!sh->done)
		usleep(10000);
	return 0;
}

static int a_main(void *arg)
{
	int m, ok = 1, status;
	char before[256], after[256], *name;
	pid_t b, x;

	(void)arg;
	/* not the test's fds (its readiness pipe goes to the launcher, outside the tree) */
	syscall(SYS_close_range, 3, ~0U, 0);
	if (getpid() != 1 || setsid() < 0)
		return 1;
	signal(SIGTTOU, SIG_IGN);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || !(name = ptsname(m)) || place(m, PTY_M) ||
	    place(open(name, O_RDWR), PTY_S) || ioctl(PTY_S, TIOCSCTTY, 0))
		return 2;
	b = fork();
	if (b < 0)
		return 3;
	if (b == 0) {
		close(PTY_M);
		close(PTY_S);
		exit(b_main());
	}
	setpgid(b, b);
	while (!sh->b_ready)
		usleep(1000);
	{
		int pa[2];

		if (pipe(pa) || place(pa[0], PIPE_A) || place(pa[1], PIPE_A + 1) || own(PIPE_A, F_OWNER_PID, b))
			return 4;
	}
	if (place(syscall(SYS_pidfd_open, b, 0), PIDFD) || tcsetpgrp(PTY_S, b))
		return 4;
	pidfd_lines(PIDFD, before, sizeof(before));
	if (!strstr(before, "NSpid:"))
		return 5;
	sh->ready = 1;
	while (!sh->go)
		usleep(10000);

	while (!sh->b_done)
		usleep(10000);
	ok &= sh->b_ok;
	ok &= check_owner(PIPE_A, F_OWNER_PID, b);
	pidfd_lines(PIDFD, after, sizeof(after));
	if (strcmp(before, after)) {
		say("pidfd: before '%s', after '%s'; ", before, after);
		ok = 0;
	}
	if (tcgetsid(PTY_S) != 1) {
		say("tcgetsid %d (want 1): %m; ", tcgetsid(PTY_S));
		ok = 0;
	}
	x = tcgetpgrp(PTY_S);
	if (x != b) {
		say("tcgetpgrp %d (want %d); ", x, b);
		ok = 0;
	}
	sh->ok = ok;
	sh->done = 1;
	if (waitpid(b, &status, 0) != b || !WIFEXITED(status) || WEXITSTATUS(status))
		return 6;
	return 0;
}

int main(int argc, char **argv)
{
	int status;
	pid_t a;

	test_init(argc, argv);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("mmap");
	a = zdtm_clone(a_main, CLONE_NEWPID | SIGCHLD, NULL);
	if (a < 0)
		test_bug("clone(CLONE_NEWPID)");
	while (!sh->ready) {
		if (waitpid(a, &status, WNOHANG) == a)
			test_bug("the nested namespace's init ended before the dump (status %#x)", status);
		usleep(1000);
	}
	test_daemon();
	test_waitsig();

	sh->go = 1;
	for (int w = 0; w < 1000 && !sh->done; w++)
		usleep(10000);
	if (!sh->done)
		failv("A did not check its state");
	else if (!sh->ok)
		failv("%s", sh->msg);
	if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("A ended with status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
