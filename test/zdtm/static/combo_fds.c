// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many fds, up to the limit. RLIMIT_NOFILE is 1100 soft, 1200 hard; the
 * test holds 120 pipes with a message each (fds 100-339, every other
 * pipe also held by a forked child C, so they pass through the transit
 * slots), an epoll (fd 340) over 60 of them, a memfd mapped MAP_SHARED
 * with no fd left, a pidfd of C at fd 1150 (above the soft limit, opened
 * before it was lowered) and a file at fd 1199, the highest the hard
 * limit allows; a child F made with clone(CLONE_FILES) shares the table
 * and is stopped (SIGSTOP).
 * After C/R: the limits are the same, each pipe has its message, the
 * epoll reports exactly its 60 ready pipes, the memfd mapping its
 * contents, fd 1150 is still C's pidfd (a signal through it ends C),
 * fd 1199 reads its file, no other fd is open (none of the restore's
 * own fds leaked), and F is still stopped, then, continued, still shares
 * the table.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define NPIPES	120
#define P0	100
#define EP_FD	340
#define PIDFD	1150
#define TOP_FD	1199
#define MSZ	(32 * 1024)
#define SEED	0xfd5

static volatile int *f_step;

static int f_child(void *arg)
{
	raise(SIGSTOP);
	while (*f_step < 1)
		usleep(1000);
	/* after C/R: the table is still the parent's */
	*f_step = fcntl(TOP_FD, F_GETFD) >= 0 && dup2(TOP_FD, 5) == 5 ? 2 : -1;
	return 0;
}

static char proc_state(pid_t pid)
{
	char path[64], *buf, *p, st = '?';

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		st = p[2];
	free(buf);
	return st;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

int main(int argc, char **argv)
{
	struct rlimit rl = { .rlim_cur = 1100, .rlim_max = 1200 }, got;
	struct epoll_event ev = { .events = EPOLLIN }, out[NPIPES];
	char *stack = malloc(64 * 1024), *map, buf[32];
	int p[2], fd, n, seen[NPIPES] = {}, status, expect;
	pid_t c, f;

	test_init(argc, argv);
	f_step = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!stack || f_step == MAP_FAILED)
		test_bug("setup");
	for (int i = 0; i < NPIPES; i++) {
		if (pipe(p) || dup2(p[0], P0 + 2 * i) < 0 || dup2(p[1], P0 + 2 * i + 1) < 0)
			test_bug("pipe %d", i);
		close(p[0]);
		close(p[1]);
		n = snprintf(buf, sizeof(buf), "pipe %d", i);
		if (write(P0 + 2 * i + 1, buf, n) != n)
			test_bug("write");
	}
	fd = epoll_create1(0);
	if (fd < 0 || dup2(fd, EP_FD) != EP_FD)
		test_bug("epoll");
	close(fd);
	for (int i = 0; i < NPIPES; i += 2) {
		ev.data.u32 = i;
		if (epoll_ctl(EP_FD, EPOLL_CTL_ADD, P0 + 2 * i, &ev))
			test_bug("epoll_ctl");
	}
	fd = memfd_create("many", 0);
	if (fd < 0 || ftruncate(fd, MSZ))
		test_bug("memfd");
	map = mmap(NULL, MSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	close(fd);
	zdtm_fill(map, MSZ, SEED);
	fd = open("top.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "top-data", 8) != 8 || dup2(fd, TOP_FD) != TOP_FD)
		test_bug("top file");
	close(fd);

	c = fork();
	if (c < 0)
		test_bug("fork");
	if (c == 0) {
		/* the odd pipes are the parent's alone */
		for (int i = 1; i < NPIPES; i += 2) {
			close(P0 + 2 * i);
			close(P0 + 2 * i + 1);
		}
		close(TOP_FD);
		pause();
		_exit(0);
	}
	fd = syscall(SYS_pidfd_open, c, 0);
	if (fd < 0 || dup2(fd, PIDFD) != PIDFD)
		test_bug("pidfd");
	close(fd);
	if (setrlimit(RLIMIT_NOFILE, &rl))
		test_bug("setrlimit");
	f = clone(f_child, stack + 64 * 1024, CLONE_FILES | SIGCHLD, NULL);
	if (f < 0)
		test_bug("clone");
	if (waitpid(f, &status, WUNTRACED) != f || !WIFSTOPPED(status))
		test_bug("F did not stop");
	test_daemon();
	expect = count_fds();

	test_waitsig();

	if (getrlimit(RLIMIT_NOFILE, &got) || got.rlim_cur != rl.rlim_cur || got.rlim_max != rl.rlim_max)
		failv("RLIMIT_NOFILE is %lu/%lu", (unsigned long)got.rlim_cur, (unsigned long)got.rlim_max);
	if (count_fds() != expect)
		failv("%d fds open, want %d", count_fds(), expect);
	n = epoll_wait(EP_FD, out, NPIPES, 1000);
	for (int i = 0; i < n; i++)
		if (out[i].data.u32 < NPIPES && !(out[i].data.u32 & 1))
			seen[out[i].data.u32]++;
	for (int i = 0; i < NPIPES; i += 2)
		if (seen[i] != 1)
			failv("epoll reported pipe %d %d times (%d events)", i, seen[i], n);
	for (int i = 0; i < NPIPES; i++) {
		char want[32];
		int len = snprintf(want, sizeof(want), "pipe %d", i);

		memset(buf, 0, sizeof(buf));
		if (read(P0 + 2 * i, buf, sizeof(buf) - 1) != len || strcmp(buf, want)) {
			failv("pipe %d holds '%s'", i, buf);
			break;
		}
	}
	if (zdtm_check(map, MSZ, SEED) != (size_t)-1)
		failv("memfd mapping changed");
	memset(buf, 0, sizeof(buf));
	if (pread(TOP_FD, buf, 8, 0) != 8 || strcmp(buf, "top-data"))
		failv("fd %d reads '%s'", TOP_FD, buf);
	if (proc_state(f) != 'T')
		failv("F is in state %c, not stopped", proc_state(f));
	kill(f, SIGCONT);
	*f_step = 1;
	for (int i = 0; i < 5000 && *f_step == 1; i++)
		usleep(1000);
	if (*f_step != 2 || fcntl(5, F_GETFD) < 0)
		failv("the CLONE_FILES child does not share the table (%d)", *f_step);
	if (waitpid(f, &status, 0) != f || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the CLONE_FILES child ended with %#x", status);
	if (syscall(SYS_pidfd_send_signal, PIDFD, SIGKILL, NULL, 0))
		fail("pidfd_send_signal");
	if (waitpid(c, &status, 0) != c || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		failv("C ended with %#x, want SIGKILL through the pidfd", status);
	if (!test_failures)
		pass();
	return 0;
}
