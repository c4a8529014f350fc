/*
 * A process group outlives its leader: its id is then a pid nobody has.
 * Restore makes the group again with a helper: a child cloned with that
 * pid calls setpgid(0, 0), the member joins its group, and the helper
 * exits and is reaped. The group lives on as long as a member does, so
 * the other members just join it; whoever finds it missing (members are
 * restored in parallel, and a zombie member leaves it when it exits)
 * makes it again.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pgrp.h"

#define JOIN_TRIES	200

/* The helper: make the group, tell the member, live until it has joined. */
static void __attribute__((noreturn)) helper_main(int ready, int go)
{
	char c = 0;

	if (setpgid(0, 0) || write(ready, &c, 1) != 1)
		_exit(1);
	while (read(go, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* 1: made and joined; 0: the pid is taken (someone else makes it); -1: error. */
static int make_group(pid_t pgid)
{
	struct clone_args ca;
	int ready[2], go[2], status, ret = -1;
	long pid;
	char c;

	if (pipe(ready)) {
		pr_perror("pipe");
		return -1;
	}
	if (pipe(go)) {
		pr_perror("pipe");
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uintptr_t)&pgid;
	ca.set_tid_size = 1;
	pid = syscall(__NR_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		helper_main(ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		if (errno == EEXIST)
			ret = 0;
		else
			pr_perror("clone3 of a helper with pid %d for its process group", pgid);
		goto out;
	}
	if (read(ready[0], &c, 1) != 1) {
		pr_err("the helper for process group %d failed\n", pgid);
	} else if (setpgid(0, pgid)) {
		pr_perror("joining process group %d", pgid);
	} else {
		ret = 1;
	}
	close(go[1]);
	go[1] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
out:
	close(ready[0]);
	if (go[1] >= 0)
		close(go[1]);
	return ret;
}

int join_leaderless_group(pid_t pgid)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < JOIN_TRIES; i++) {
		int ret;

		if (setpgid(0, pgid) == 0)
			return 0;
		if (errno != EPERM) {
			pr_perror("joining process group %d", pgid);
			return -1;
		}
		ret = make_group(pgid);
		if (ret)
			return ret < 0 ? -1 : 0;
		nanosleep(&ts, NULL);	/* another member is making it */
	}
	pr_err("can't make process group %d again: its pid stays taken\n", pgid);
	return -1;
}

/* The leader makes it first thing in its restore; only a failed restore (which kills us) keeps it away. */
#define MADE_WAIT_MS	30000

int join_group_when_made(pid_t pgid)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < MADE_WAIT_MS; i++) {
		if (setpgid(0, pgid) == 0)
			return 0;
		if (errno != EPERM) {
			pr_perror("joining process group %d", pgid);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	pr_err("can't join process group %d: its leader did not make it\n", pgid);
	return -1;
}
