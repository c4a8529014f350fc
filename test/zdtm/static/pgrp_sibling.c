// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process groups led by a task of the tree that is not an ancestor, as a
 * job-control shell makes them for a pipeline (its first process leads
 * the group of the others):
 *  - group L1 with its leader forked before its member M1 (a sibling),
 *    and M1's child C1 in it too (its parent's group);
 *  - group L2 whose member M2 was forked before the leader (a lower pid:
 *    restored first) and moved into it afterwards;
 *  - group Y led by the member X's own child Y.
 * After C/R every process is in its group again and kill(-group, SIGUSR1)
 * reaches each member: each exits with 7 on it (a parent once its child
 * did).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static pid_t kid;	/* the process's own child, if it has one */

static void on_usr1(int sig)
{
	int st;

	if (kid > 0 && (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st) != 7))
		_exit(8);
	_exit(7);
}

static void __attribute__((noreturn)) idle(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (1)
		sigsuspend(&none);
}

/* A child that leads a group of its own (@pgid 0) or is in group @pgid. */
static pid_t proc(pid_t pgid, int with_child_in_group, int child_leads)
{
	pid_t pid = zdtm_fork();
	int p[2];

	if (pid) {
		/* the shell's way: setpgid() on both sides, whichever runs first */
		if (pgid == 0)
			setpgid(pid, pid);
		return pid;
	}
	signal(SIGUSR1, on_usr1);
	if (pgid >= 0 && setpgid(0, pgid))
		_exit(2);
	if (pipe(p))
		_exit(2);
	if (with_child_in_group || child_leads) {
		kid = fork();
		if (kid < 0)
			_exit(2);
		if (kid == 0) {
			kid = 0;
			if (child_leads && setpgid(0, 0))
				_exit(2);
			close(p[1]);
			idle();
		}
		if (child_leads) {
			/* the child made its group: join it */
			while (setpgid(0, kid))
				if (errno != EPERM)
					_exit(3);
		}
	}
	idle();
}

static int check(const char *what, pid_t pid, pid_t want)
{
	pid_t g = getpgid(pid);

	if (g != want) {
		failv("%s %d is in group %d, want %d", what, pid, g, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pid_t l1, m1, m2, l2, x, y, c1 = 0;
	int status;
	char path[64];
	FILE *f;

	test_init(argc, argv);
	test_daemon();

	l1 = proc(0, 0, 0);
	m1 = proc(l1, 1, 0);
	m2 = proc(-1, 0, 0);
	l2 = proc(0, 0, 0);
	x = proc(-1, 0, 1);
	if (setpgid(m2, l2))
		test_bug("setpgid(%d, %d)", m2, l2);
	/* until every child has set itself up; M1's child is the only one of M1's children */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", m1, m1);
	for (int i = 0;; i++) {
		y = getpgid(x);
		f = c1 ? NULL : fopen(path, "r");
		if (f && fscanf(f, "%d", &c1) != 1)
			c1 = 0;
		if (f)
			fclose(f);
		if (c1 && getpgid(m1) == l1 && getpgid(c1) == l1 && y != getpgrp() && y != x && getpgid(y) == y)
			break;
		if (i == 5000)
			test_bug("groups not set up");
		usleep(1000);
	}

	test_waitsig();

	if (check("leader", l1, l1) | check("member", m1, l1) | check("member's child", c1, l1) |
	    check("leader", l2, l2) | check("member", m2, l2) | check("member", x, y) | check("leader", y, y))
		goto out;
	if (kill(-l1, SIGUSR1) || kill(-l2, SIGUSR1) || kill(-y, SIGUSR1))
		failv("kill(-group): %m");
out:
	{
		pid_t all[] = { l1, m1, l2, m2, x };

		for (int i = 0; i < 5; i++) {
			alarm(10);
			if (test_failures)
				kill(all[i], SIGKILL);
			if (zdtm_reap(all[i], &status) != 7 && !test_failures)
				failv("process %d: status %#x", all[i], status);
		}
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
