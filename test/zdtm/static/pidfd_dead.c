// SPDX-License-Identifier: GPL-2.0-only
/*
 * pidfds of processes that ended, and pidfds used to signal after restore:
 *  - fd 40: a child that exited with 7 and was reaped: poll says
 *    POLLIN|POLLHUP, waitid(P_PIDFD) finds no child (ECHILD) and
 *    PIDFD_GET_INFO tells exit status 7;
 *  - fd 41 (non-blocking): a child killed by SIGUSR2, reaped;
 *  - fd 42: a child that exited with 5 and was not reaped (a zombie):
 *    poll says POLLIN, waitid(P_PIDFD, WEXITED) reaps it with status 5;
 *  - fd 43: a live child: pidfd_send_signal(SIGUSR1) through it reaches
 *    it (it answers on a pipe);
 *  - fd 44: a thread of ours (PIDFD_THREAD): pidfd_send_signal with
 *    PIDFD_SIGNAL_THREAD makes that very thread run the handler.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK	O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif
#ifndef PIDFD_SIGNAL_THREAD
#define PIDFD_SIGNAL_THREAD	(1UL << 0)
#endif

struct pidfd_info_compat {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
	uint32_t coredump_mask;
	uint32_t spare;
};
#define PIDFD_GET_INFO_COMPAT	_IOWR(0xFF, 11, struct pidfd_info_compat)
#define PIDFD_INFO_EXIT		0x8

static int answer[2];
static volatile pid_t handled_in;

static void on_usr1(int sig)
{
	(void)sig;
	handled_in = syscall(SYS_gettid);
	if (write(answer[1], "u", 1) != 1)
		_exit(3);
}

/* A pidfd of @pid at fd @at exactly. */
static int pidfd_at(pid_t pid, unsigned int flags, int at)
{
	int fd = syscall(SYS_pidfd_open, pid, flags);

	if (fd < 0 || dup2(fd, at) != at || close(fd))
		return -1;
	return at;
}

static int revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) < 0 ? -1 : p.revents;
}

static void check_reaped(int fd, int status, const char *what)
{
	struct pidfd_info_compat info = { .mask = PIDFD_INFO_EXIT };
	siginfo_t si;

	if (revents(fd) != (POLLIN | POLLHUP))
		failv("%s: poll says %x, not POLLIN|POLLHUP", what, revents(fd));
	errno = 0;
	if (waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) != -1 || errno != ECHILD)
		fail("%s: waitid did not say ECHILD", what);
	if (ioctl(fd, PIDFD_GET_INFO_COMPAT, &info) || !(info.mask & PIDFD_INFO_EXIT))
		fail("%s: PIDFD_GET_INFO", what);
	else if ((info.exit_code & 0xff7f) != status)
		failv("%s: exit status %x, want %x", what, info.exit_code, status);
}

static void *thread_main(void *arg)
{
	int *ready = arg;

	if (write(ready[1], "t", 1) != 1)
		return NULL;
	while (test_go())
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int status, ready[2];
	pid_t a, b, z, live, tid;
	pthread_t th;
	char c;

	test_init(argc, argv);
	if (pipe(answer) || pipe(ready))
		test_bug("pipe");
	signal(SIGUSR1, on_usr1);

	a = zdtm_fork();
	if (a == 0)
		_exit(7);
	if (pidfd_at(a, 0, 40) < 0 || waitpid(a, &status, 0) != a)
		test_bug("child a");
	b = zdtm_fork();
	if (b == 0) {
		signal(SIGUSR2, SIG_DFL);
		for (;;)
			pause();
	}
	if (pidfd_at(b, PIDFD_NONBLOCK, 41) < 0 || kill(b, SIGUSR2) || waitpid(b, &status, 0) != b)
		test_bug("child b");
	z = zdtm_fork();
	if (z == 0)
		_exit(5);
	if (pidfd_at(z, 0, 42) < 0)
		test_bug("child z");
	live = zdtm_fork();
	if (live == 0) {
		while (1)
			pause();
	}
	if (pidfd_at(live, 0, 43) < 0)
		test_bug("live child");
	if (pthread_create(&th, NULL, thread_main, ready) || read(ready[0], &c, 1) != 1)
		test_bug("thread");
	/* the thread's tid: the only other entry of /proc/self/task */
	tid = 0;
	for (pid_t t = getpid() + 1; t < getpid() + 4096 && !tid; t++) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/task/%d", t);
		if (!access(p, F_OK))
			tid = t;
	}
	if (!tid || pidfd_at(tid, PIDFD_THREAD, 44) < 0)
		test_bug("thread pidfd");
	/* the zombie is there before we may be dumped */
	while (revents(42) != POLLIN)
		usleep(1000);

	test_daemon();
	test_waitsig();

	check_reaped(40, 7 << 8, "fd 40");
	check_reaped(41, SIGUSR2, "fd 41");
	if (!(fcntl(41, F_GETFL) & O_NONBLOCK))
		failv("fd 41 lost O_NONBLOCK");
	if (revents(42) != POLLIN) {
		failv("fd 42: poll says %x, not POLLIN", revents(42));
	} else {
		siginfo_t si = { 0 };

		if (waitid(P_PIDFD, 42, &si, WEXITED) || si.si_pid != z || si.si_status != 5)
			fail("fd 42: waitid got pid %d status %d", si.si_pid, si.si_status);
	}
	if (syscall(SYS_pidfd_send_signal, 43, SIGUSR1, NULL, 0))
		fail("fd 43: pidfd_send_signal");
	else if (read(answer[0], &c, 1) != 1)
		fail("the live child did not answer");
	kill(live, SIGKILL);
	waitpid(live, &status, 0);
	handled_in = 0;
	if (syscall(SYS_pidfd_send_signal, 44, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD))
		fail("fd 44: pidfd_send_signal to the thread");
	else if (read(answer[0], &c, 1) != 1 || handled_in != tid)
		failv("the signal was handled in %d, not the thread %d", handled_in, tid);
	pthread_kill(th, SIGTERM);
	pthread_join(th, NULL);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
