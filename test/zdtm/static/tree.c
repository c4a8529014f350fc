// SPDX-License-Identifier: GPL-2.0-only
/*
 * A three-level process tree with sessions and groups mixed:
 *   root (session leader)
 *   +- a: a session of its own           +- a1: in a's session and group
 *   +- b: a process group of its own     +- b1: in b's group
 *   +- c: in root's group, shares a pipe with root (root writes, c reads)
 * Every process shares one open file (its offset) with the root, and
 * holds memory with its own pattern. After C/R each has its pid, parent,
 * session and group back, the shared offset moves for all, and the pipe
 * carries data from root to c. Children report by exit status.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(1 << 20)

static int shared_fd, pipefd[2], readyfd[2];
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	go = 1;
}

struct who {
	pid_t pid, ppid, sid, pgid;
};

static void record(struct who *w)
{
	w->pid = getpid();
	w->ppid = getppid();
	w->sid = getsid(0);
	w->pgid = getpgrp();
}

static int same(const struct who *w)
{
	struct who now;

	record(&now);
	return !memcmp(&now, w, sizeof(now));
}

/* Wait for SIGUSR1, then check: returns the exit code (0 ok). */
static int child_wait_check(const struct who *w, char *mem, int seed, pid_t kid)
{
	sigset_t none;
	int status;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
	if (!same(w))
		return 10;
	if (zdtm_check(mem, SZ, seed) != (size_t)-1)
		return 11;
	if (write(shared_fd, "x", 1) != 1)
		return 12;
	if (kid > 0) {
		kill(kid, SIGUSR1);
		if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status))
			return 13;
		if (WEXITSTATUS(status))
			return 20 + WEXITSTATUS(status);
	}
	return 0;
}

static pid_t spawn(int kind, int seed)
{
	pid_t pid = fork();

	if (pid)
		return pid;

	struct who w;
	char *mem = malloc(SZ);
	pid_t kid = -1;

	zdtm_fill(mem, SZ, seed);
	close(readyfd[0]);
	if (kind == 'a' && setsid() < 0)
		_exit(2);
	if (kind == 'b' && setpgid(0, 0))
		_exit(3);
	if (kind == 'a' || kind == 'b')
		kid = spawn(kind == 'a' ? 'A' : 'B', seed + 100);
	if (kind == 'c') {
		close(pipefd[1]);
		char buf[8] = { 0 };

		record(&w);
		if (write(readyfd[1], "r", 1) != 1)
			_exit(4);
		close(readyfd[1]);
		sigset_t none;

		sigemptyset(&none);
		while (!go)
			sigsuspend(&none);
		if (!same(&w) || read(pipefd[0], buf, 5) != 5 || strcmp(buf, "hello"))
			_exit(30);
		if (write(shared_fd, "x", 1) != 1)
			_exit(12);
		_exit(0);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	record(&w);
	if (write(readyfd[1], "r", 1) != 1)
		_exit(4);
	close(readyfd[1]);
	_exit(child_wait_check(&w, mem, seed, kid));
}

int main(int argc, char **argv)
{
	pid_t kids[3];
	char path[4096];
	int status, failed = 0;
	off_t off;

	test_init(argc, argv);
	signal(SIGUSR1, on_usr1);
	test_path(path, sizeof(path), "tree.shared");
	shared_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (shared_fd < 0 || pipe(pipefd) || pipe(readyfd))
		test_bug("setup");

	kids[0] = spawn('a', 1);
	kids[1] = spawn('b', 2);
	kids[2] = spawn('c', 3);
	close(pipefd[0]);
	close(readyfd[1]);
	for (int i = 0; i < 5; i++) {
		char c;

		if (read(readyfd[0], &c, 1) != 1)
			test_bug("a child did not get ready");
	}
	close(readyfd[0]);
	test_daemon();
	test_waitsig();

	if (write(pipefd[1], "hello", 5) != 5)
		fail("writing the pipe");
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGUSR1);
		if (waitpid(kids[i], &status, 0) != kids[i]) {
			fail("waitpid %d", kids[i]);
			failed++;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			failv("child %c: status %#x", 'a' + i, status);
			failed++;
		}
	}
	/* a, a1, b, b1 and c each wrote one byte through the shared description */
	off = lseek(shared_fd, 0, SEEK_CUR);
	if (!failed && off != 5)
		failv("shared offset is %ld, want 5", (long)off);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
