// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small server tree, several features at once (run with --file-locks).
 * The root fills 4 MiB of private memory, holds an flock on a file, listens
 * on a unix path and forks a client C and a child S that stops itself
 * (SIGSTOP), both sharing the memory copy-on-write (C rewrites its first
 * 64 pages). C connects twice: the first connection is accepted, the
 * second stays pending (it writes on it after C/R); the accepted one has
 * data queued both ways. C holds
 * the write end of a pipe with data queued in it. The root's epoll
 * watches the listener, the accepted connection, the pipe and an armed
 * timerfd (100 s). After C/R: the epoll reports exactly the listener,
 * the connection and the pipe, with their data tags; the queued data,
 * the pending connection (then carrying C's data) and the timer are there; S is still stopped
 * (state T) and its pages are still the root's (same PFN, when the
 * kernel shows PFNs); another description can't take the lock while C
 * (which inherited it) still holds it; C and S find their memory intact.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define NPAGES	1024
#define SZ	(NPAGES * ZDTM_PAGE_SIZE)
#define C_PAGES	64
#define SEED	0xc0b0
#define TAG_LSN	0x1001
#define TAG_CON	0x2002
#define TAG_PIPE 0x3003
#define TAG_TMR	0x4004

static char *mem;
static char sock_path[108], lock_path[4096];
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	go = 1;
}

static void wait_go(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
}

static socklen_t addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", sock_path);
	return sizeof(*a);
}

/* Page i as process @c (1 for C) last wrote it. */
static int check_mem(int c)
{
	for (int i = 0; i < NPAGES; i++) {
		uint64_t seed = SEED + i + (c && i < C_PAGES ? 100000 : 0);

		if (zdtm_check(mem + (size_t)i * ZDTM_PAGE_SIZE, ZDTM_PAGE_SIZE, seed) != (size_t)-1)
			return -1;
	}
	return 0;
}

static int connect_to(void)
{
	struct sockaddr_un a;
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, addr(&a)))
		return -1;
	return s;
}

/* The client: reads what the root queued for it once told to, then exits. */
static void __attribute__((noreturn)) client(int ready, int pipe_w)
{
	char buf[32] = {};
	int s1, s2;

	for (int i = 0; i < C_PAGES; i++)
		zdtm_fill(mem + (size_t)i * ZDTM_PAGE_SIZE, ZDTM_PAGE_SIZE, SEED + i + 100000);
	s1 = connect_to();
	s2 = connect_to();
	if (s1 < 0 || s2 < 0 || write(s1, "from-cmore", 10) != 10 || write(pipe_w, "piped", 5) != 5 || write(ready, "c", 1) != 1)
		_exit(2);
	close(ready);
	wait_go();
	if (check_mem(1))
		_exit(3);
	if (read(s1, buf, sizeof(buf) - 1) != 6 || strcmp(buf, "to-c-1"))
		_exit(4);
	if (write(s2, "pending", 7) != 7 || write(pipe_w, "after", 5) != 5)
		_exit(5);
	/* the lock description is ours too: releasing it frees the file for everyone */
	if (flock(40, LOCK_UN))
		_exit(6);
	_exit(0);
}

static void __attribute__((noreturn)) stopper(void)
{
	raise(SIGSTOP);
	/* continued by the root after C/R */
	_exit(check_mem(0) ? 3 : 0);
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

static uint64_t pfn_of(pid_t pid, const void *addr)
{
	char path[64];
	uint64_t e = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uintptr_t)addr / ZDTM_PAGE_SIZE * 8) != 8)
		e = 0;
	close(fd);
	if (!(e & (1ULL << 63)))
		return 0;
	return e & ((1ULL << 55) - 1);
}

static int reap(pid_t pid, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) != pid) {
		fail("waitpid %s", who);
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		failv("%s ended with status %#x", who, st);
		return -1;
	}
	return 0;
}

static void check_epoll(int ep)
{
	struct epoll_event out[8];
	int n, seen = 0;

	n = epoll_wait(ep, out, 8, 1000);
	for (int i = 0; i < n; i++) {
		if (out[i].data.u64 == TAG_LSN)
			seen |= 1;
		else if (out[i].data.u64 == TAG_CON)
			seen |= 2;
		else if (out[i].data.u64 == TAG_PIPE)
			seen |= 4;
		else
			failv("epoll reported tag %#llx", (unsigned long long)out[i].data.u64);
	}
	if (n != 3 || seen != 7)
		failv("epoll reported %d events (mask %#x), want listener, connection and pipe", n, seen);
}

static void check_lock(int held)
{
	int fd = open(lock_path, O_RDONLY);

	if (fd < 0) {
		fail("open %s", lock_path);
		return;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		if (held)
			failv("a new description took the lock the tree holds");
	} else if (!held || errno != EWOULDBLOCK) {
		fail("flock of a new description");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	struct itimerspec its = { .it_value = { .tv_sec = 100 } }, cur;
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_un a;
	int lsn, con, c2, ep, tfd, p[2], ready[2], lfd;
	char buf[32] = {};
	pid_t c, s;
	int st;

	test_init(argc, argv);
	test_path(sock_path, sizeof(sock_path), "srv.sock");
	test_path(lock_path, sizeof(lock_path), "srv.lock");
	mem = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	for (int i = 0; i < NPAGES; i++)
		zdtm_fill(mem + (size_t)i * ZDTM_PAGE_SIZE, ZDTM_PAGE_SIZE, SEED + i);
	lfd = open(lock_path, O_RDWR | O_CREAT, 0644);
	if (lfd < 0 || dup2(lfd, 40) != 40 || flock(40, LOCK_EX))
		test_bug("lock file");
	close(lfd);
	lsn = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&a, addr(&a)) || listen(lsn, 8))
		test_bug("listen");
	if (pipe(p) || pipe(ready))
		test_bug("pipe");
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL))
		test_bug("timerfd");

	signal(SIGUSR1, on_usr1);
	c = fork();
	if (c < 0)
		test_bug("fork");
	if (c == 0) {
		close(ready[0]);
		close(p[0]);
		close(lsn);
		client(ready[1], p[1]);
	}
	s = fork();
	if (s < 0)
		test_bug("fork");
	if (s == 0)
		stopper();
	close(ready[1]);
	close(p[1]);
	if (read(ready[0], buf, 1) != 1)
		test_bug("client not ready");
	close(ready[0]);
	if (waitpid(s, &st, WUNTRACED) != s || !WIFSTOPPED(st))
		test_bug("stopper did not stop");
	con = accept(lsn, NULL, NULL);
	if (con < 0 || read(con, buf, 6) != 6 || strcmp(buf, "from-c"))
		test_bug("accept");
	if (write(con, "to-c-1", 6) != 6)
		test_bug("write to c");
	ep = epoll_create1(0);
	if (ep < 0)
		test_bug("epoll");
	ev.data.u64 = TAG_LSN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lsn, &ev))
		test_bug("epoll_ctl listener");
	ev.data.u64 = TAG_CON;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, con, &ev))
		test_bug("epoll_ctl con");
	ev.data.u64 = TAG_PIPE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev))
		test_bug("epoll_ctl pipe");
	ev.data.u64 = TAG_TMR;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev))
		test_bug("epoll_ctl timerfd");

	test_daemon();
	test_waitsig();

	check_epoll(ep);
	memset(buf, 0, sizeof(buf));
	if (read(con, buf, sizeof(buf) - 1) != 4 || strcmp(buf, "more"))
		failv("data queued on the connection lost (%s)", buf);
	if (read(p[0], buf, 5) != 5 || memcmp(buf, "piped", 5))
		failv("pipe data lost");
	if (timerfd_gettime(tfd, &cur) || cur.it_value.tv_sec < 10 || cur.it_value.tv_sec > 100)
		failv("timer has %ld s left, want about 100", (long)cur.it_value.tv_sec);
	if (proc_state(s) != 'T')
		failv("stopped child is in state %c", proc_state(s));
	{
		uint64_t a1 = pfn_of(getpid(), mem + 500 * ZDTM_PAGE_SIZE);
		uint64_t a2 = pfn_of(s, mem + 500 * ZDTM_PAGE_SIZE);

		if (a1 && a2 && a1 != a2)
			failv("page 500 is no longer shared with the stopped child");
	}
	if (check_mem(0))
		failv("root memory changed");
	check_lock(1);
	c2 = accept4(lsn, NULL, NULL, SOCK_NONBLOCK);
	if (c2 < 0)
		fail("the pending connection is lost");
	close(40);
	kill(c, SIGUSR1);
	memset(buf, 0, sizeof(buf));
	if (read(p[0], buf, 5) != 5 || memcmp(buf, "after", 5))
		failv("client did not write after C/R");
	memset(buf, 0, sizeof(buf));
	if (c2 >= 0 && (read(c2, buf, sizeof(buf) - 1) != 7 || strcmp(buf, "pending")))
		failv("the pending connection did not carry the client's data (%s)", buf);
	reap(c, "client");
	check_lock(0);
	kill(s, SIGCONT);
	reap(s, "stopped child");
	if (!test_failures)
		pass();
	return 0;
}
