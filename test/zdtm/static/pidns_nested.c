// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested pid namespaces: the test clones A, the init of a new pid
 * namespace N1; A forks B (pid 2 in N1); B clones C, the init of N2
 * inside N1; C forks D (pid 2 in N2). Each task keeps, across C/R, its
 * pid at every level from the test's namespace down (the tail of NSpid),
 * its parent as it sees it, and its pid namespace's parent-child links;
 * the inits reap their children as before.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

enum { A, B, C, D, NR };

struct task_state {
	int ready, done, ok;
	char before[256], after[256];
};

static struct shared {
	volatile int go;
	struct task_state t[NR];
} *sh;

static const int depth[NR] = { 1, 1, 2, 2 };	/* levels below the test's namespace */

/* getpid, getppid and the last depth+1 fields of NSpid */
static void state(int who, char *buf, size_t size)
{
	char *st = NULL, *l, *f[40];
	int n = 0;

	l = zdtm_read_file("/proc/self/status", &st) > 0 ? strstr(st, "NSpid:") : NULL;
	if (l) {
		strtok(l + 6, "\n");
		for (char *t = strtok(l + 6, " \t"); t && n < 40; t = strtok(NULL, " \t"))
			f[n++] = t;
	}
	snprintf(buf, size, "pid %d ppid %d nspid", getpid(), getppid());
	for (int i = n - depth[who] - 1; i >= 0 && i < n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), " %s", f[i]);
	free(st);
}

static void wait_go_and_check(int who)
{
	state(who, sh->t[who].before, sizeof(sh->t[who].before));
	__atomic_store_n(&sh->t[who].ready, 1, __ATOMIC_SEQ_CST);
	while (!sh->go)
		usleep(10000);
	state(who, sh->t[who].after, sizeof(sh->t[who].after));
	sh->t[who].ok = !strcmp(sh->t[who].before, sh->t[who].after);
	__atomic_store_n(&sh->t[who].done, 1, __ATOMIC_SEQ_CST);
}

/* a leaf (B's and D's role when they have no children) or a parent reaping its child after the check */
static int run(int who, pid_t child)
{
	int status;

	wait_go_and_check(who);
	if (child > 0 && (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)))
		return 1;
	return 0;
}

static int d_main(void *arg)
{
	(void)arg;
	return run(D, 0);
}

static int c_main(void *arg)
{
	pid_t d;

	(void)arg;
	if (getpid() != 1)
		return 1;
	d = fork();
	if (d == 0)
		exit(d_main(NULL));
	return run(C, d);
}

static int b_main(void *arg)
{
	pid_t c = zdtm_clone(c_main, CLONE_NEWPID | SIGCHLD, arg);

	if (c < 0)
		return 1;
	return run(B, c);
}

static int a_main(void *arg)
{
	pid_t b;

	/* not the test's fds (its readiness pipe goes to the launcher, outside the tree) */
	syscall(SYS_close_range, 3, ~0U, 0);
	if (getpid() != 1)
		return 1;
	b = fork();
	if (b == 0)
		exit(b_main(arg));
	return run(A, b);
}

int main(int argc, char **argv)
{
	int status, i;
	pid_t a;

	test_init(argc, argv);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("mmap");
	a = zdtm_clone(a_main, CLONE_NEWPID | SIGCHLD, NULL);
	if (a < 0)
		test_bug("clone(CLONE_NEWPID)");
	for (i = 0; i < NR; i++)
		while (!__atomic_load_n(&sh->t[i].ready, __ATOMIC_SEQ_CST)) {
			if (waitpid(a, &status, WNOHANG) == a)
				test_bug("a task of the nested namespaces died before the dump");
			usleep(1000);
		}
	test_daemon();
	test_waitsig();

	sh->go = 1;
	for (i = 0; i < NR; i++) {
		for (int w = 0; w < 1000 && !__atomic_load_n(&sh->t[i].done, __ATOMIC_SEQ_CST); w++)
			usleep(10000);
		if (!sh->t[i].done)
			failv("task %c did not check its state", 'A' + i);
		else if (!sh->t[i].ok)
			failv("task %c: before '%s', after '%s'", 'A' + i, sh->t[i].before, sh->t[i].after);
	}
	if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("A ended with status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
