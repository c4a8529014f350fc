// SPDX-License-Identifier: GPL-2.0-only
/*
 * A terminal session, several features at once. The test leads a session
 * whose controlling terminal is a pty (master 40, slave 41); a child C,
 * made with clone(CLONE_FILES), shares its fd table and leads the
 * terminal's foreground group. A memfd (fd 50, 64 KiB of pattern) is
 * mapped MAP_SHARED by both; an inotify fd (60) watches a file of the
 * test dir for IN_MODIFY; a worker thread of the test (as root) has an
 * effective gid and supplementary groups of its own.
 * After C/R: session, foreground group and tty_nr of both; C opens a
 * file and the test reads it through the same number; C writes into the
 * memfd mapping and the test sees it in its mapping and through fd 50;
 * writing the watched file gives exactly one IN_MODIFY with the old wd;
 * the thread's Gid/Groups lines are its own and the main thread's are
 * still plain; ^C written to the master reaches C's group only.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

#include "zdtmtst.h"

#define M_FD	40
#define S_FD	41
#define MEMFD	50
#define INO_FD	60
#define MSZ	(64 * 1024)
#define SEED	0x5e55
#define T_EGID	2002

struct shared {
	volatile int step;
	volatile int new_fd;
	volatile int got_int;
	char err[200];
};

static struct shared *sh;
static char *map;
static const gid_t t_groups[] = { 1001, 1002 };
static volatile int t_ready, t_done;
static volatile pid_t t_tid;
static char t_err[128];

static void wait_step(int step)
{
	for (int i = 0; i < 10000 && sh->step < step && sh->step >= 0; i++)
		usleep(1000);
}

static volatile sig_atomic_t root_int;

static void on_int(int sig)
{
	sh->got_int++;
}

static void on_root_int(int sig)
{
	root_int++;
}

static int child(void *arg)
{
	pid_t leader = (pid_t)(long)arg;
	int fd;

	signal(SIGINT, on_int);
	if (setpgid(0, 0)) {
		sh->step = -1;
		return 1;
	}
	sh->step = 1;
	wait_step(2);
	/* after restore */
	if (getsid(0) != leader || getpgrp() != getpid() || tcgetpgrp(S_FD) != getpid()) {
		snprintf(sh->err, sizeof(sh->err), "child: sid %d pgrp %d fg %d", getsid(0), getpgrp(),
			 tcgetpgrp(S_FD));
	}
	fd = open("late.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "late-data", 9) != 9)
		snprintf(sh->err, sizeof(sh->err), "child: late.txt: %m");
	sh->new_fd = fd;
	if (zdtm_check(map, MSZ, SEED) != (size_t)-1)
		snprintf(sh->err, sizeof(sh->err), "child: memfd mapping changed");
	memcpy(map + 4096, "from the child", 14);
	sh->step = 3;
	for (int i = 0; i < 5000 && !sh->got_int; i++)
		usleep(1000);
	return sh->got_int == 1 ? 0 : 5;
}

static void *worker(void *arg)
{
	sigset_t term;
	gid_t r, e, s, g[4];

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	t_tid = syscall(SYS_gettid);
	/* raw syscalls: glibc's wrappers would change every thread */
	if (syscall(SYS_setgroups, 2, t_groups) || syscall(SYS_setresgid, -1, T_EGID, -1)) {
		snprintf(t_err, sizeof(t_err), "changing creds: %m");
		t_ready = -1;
		return NULL;
	}
	t_ready = 1;
	while (!t_done)
		usleep(10 * 1000);
	if (syscall(SYS_getresgid, &r, &e, &s) || r != 0 || e != T_EGID || s != 0)
		snprintf(t_err, sizeof(t_err), "thread gids %u %u %u", r, e, s);
	else if (syscall(SYS_getgroups, 4, g) != 2 || g[0] != t_groups[0] || g[1] != t_groups[1])
		snprintf(t_err, sizeof(t_err), "thread groups changed");
	return NULL;
}

static int status_line(pid_t tid, const char *key, char *out, size_t len)
{
	char path[64], *buf, *p, *e;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (zdtm_read_file(path, &buf) <= 0)
		return -1;
	p = strstr(buf, key);
	if (!p) {
		free(buf);
		return -1;
	}
	e = strchr(p, '\n');
	if (e)
		*e = 0;
	snprintf(out, len, "%s", p);
	free(buf);
	return 0;
}

static void check_thread(pthread_t th)
{
	char gid[128], groups[128], want[128];

	if (status_line(t_tid, "Gid:", gid, sizeof(gid)) || status_line(t_tid, "Groups:", groups, sizeof(groups)))
		failv("no status for thread %d", t_tid);
	snprintf(want, sizeof(want), "Gid:\t0\t%d\t0\t%d", T_EGID, T_EGID);
	if (strcmp(gid, want))
		failv("thread: '%s', want '%s'", gid, want);
	if (strcmp(groups, "Groups:\t1001 1002 "))
		failv("thread: '%s'", groups);
	if (status_line(getpid(), "Gid:", gid, sizeof(gid)) || strcmp(gid, "Gid:\t0\t0\t0\t0"))
		failv("main thread: '%s'", gid);
	t_done = 1;
	pthread_join(th, NULL);
	if (t_err[0])
		failv("%s", t_err);
}

static void check_inotify(int wd, const char *path)
{
	char buf[4096] __attribute__((aligned(8)));
	struct inotify_event *ev = (void *)buf;
	int fd = open(path, O_WRONLY | O_APPEND);
	ssize_t n;

	if (fd < 0 || write(fd, "x", 1) != 1) {
		fail("write %s", path);
		return;
	}
	close(fd);
	if (poll(&(struct pollfd){ .fd = INO_FD, .events = POLLIN }, 1, 2000) != 1) {
		failv("no inotify event");
		return;
	}
	n = read(INO_FD, buf, sizeof(buf));
	if (n != (ssize_t)sizeof(*ev) || ev->wd != wd || ev->mask != IN_MODIFY)
		failv("inotify: %zd bytes, wd %d mask %#x, want one IN_MODIFY on wd %d", n,
		      n > 0 ? ev->wd : -1, n > 0 ? ev->mask : 0, wd);
}

int main(int argc, char **argv)
{
	char name[64], buf[32] = {}, watched[4096];
	char *stack = malloc(64 * 1024);
	pthread_t th;
	int m, s, fd, wd, status;
	pid_t me, c;

	test_init(argc, argv);
	me = getpid();
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!stack || sh == MAP_FAILED)
		test_bug("setup");
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || dup2(m, M_FD) != M_FD)
		test_bug("posix_openpt");
	close(m);
	s = open(name, O_RDWR);		/* no O_NOCTTY: our controlling terminal now */
	if (s < 0 || dup2(s, S_FD) != S_FD || tcgetsid(S_FD) != me)
		test_bug("controlling terminal %s", name);
	close(s);
	fd = memfd_create("combo", 0);
	if (fd < 0 || dup2(fd, MEMFD) != MEMFD || ftruncate(MEMFD, MSZ))
		test_bug("memfd");
	close(fd);
	map = mmap(NULL, MSZ, PROT_READ | PROT_WRITE, MAP_SHARED, MEMFD, 0);
	if (map == MAP_FAILED)
		test_bug("mmap memfd");
	zdtm_fill(map, MSZ, SEED);
	test_path(watched, sizeof(watched), "watched");
	fd = open(watched, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "w", 1) != 1)
		test_bug("watched file");
	close(fd);
	fd = inotify_init1(IN_NONBLOCK);
	if (fd < 0 || dup2(fd, INO_FD) != INO_FD)
		test_bug("inotify");
	close(fd);
	wd = inotify_add_watch(INO_FD, watched, IN_MODIFY);
	if (wd < 0)
		test_bug("inotify_add_watch");

	if (geteuid() == 0) {
		if (pthread_create(&th, NULL, worker, NULL))
			test_bug("pthread_create");
		while (!t_ready)
			usleep(1000);
		if (t_ready < 0)
			test_bug("%s", t_err);
	}
	c = clone(child, stack + 64 * 1024, CLONE_FILES | SIGCHLD, (void *)(long)me);
	if (c < 0)
		test_bug("clone");
	wait_step(1);
	if (sh->step != 1)
		test_bug("the child did not start");
	if (tcsetpgrp(S_FD, c))
		test_bug("tcsetpgrp");

	test_daemon();
	test_waitsig();

	if (tcgetsid(S_FD) != me || tcgetpgrp(S_FD) != c)
		failv("terminal: session %d fg %d, want %d %d", tcgetsid(S_FD), tcgetpgrp(S_FD), me, c);
	if (zdtm_check(map, MSZ, SEED) != (size_t)-1)
		failv("memfd mapping changed");
	sh->step = 2;
	wait_step(3);
	if (sh->step != 3)
		failv("the child did not go on");
	if (sh->err[0])
		failv("%s", sh->err);
	memset(buf, 0, sizeof(buf));
	if (sh->new_fd < 0 || pread(sh->new_fd, buf, 9, 0) != 9 || strcmp(buf, "late-data"))
		failv("fd %d opened by the child after C/R is not ours: '%s'", sh->new_fd, buf);
	if (memcmp(map + 4096, "from the child", 14))
		failv("the child's write to the memfd is not in our mapping");
	memset(buf, 0, sizeof(buf));
	if (pread(MEMFD, buf, 14, 4096) != 14 || strcmp(buf, "from the child"))
		failv("the child's write to the memfd is not in the file: '%s'", buf);
	check_inotify(wd, watched);
	if (geteuid() == 0)
		check_thread(th);
	signal(SIGINT, on_root_int);
	if (write(M_FD, "\003", 1) != 1)
		fail("write ^C");
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the child ended with %#x (SIGINTs %d)", status, sh->got_int);
	if (root_int)
		failv("^C reached the session leader, not in the foreground group");
	if (!test_failures)
		pass();
	return 0;
}
