/*
 * Target processes for test/others/cli_errors.py.
 *
 *   helpers MODE
 *
 * MODE is one of:
 *   plain    a single-threaded task (dumpable)
 *   threads  a task with a second thread
 *   child    a task with a child process
 *   eventfd  a task holding an eventfd
 *   userfaultfd  a task holding a userfaultfd (a kind criu refuses)
 *   socket   a task holding a vsock socket (a family criu refuses)
 *   mqueue   a task holding POSIX message queue /criu-cli-mq-PID (4 messages
 *            of 64 bytes), made by it and left behind
 *   unixsk   a task listening on a unix socket bound to sk-PID in its cwd
 *   posixlock  a task holding a POSIX write lock on its stdout, whole
 *   shmrm    a task attached to a SysV shm segment of 8 KiB it marked for
 *            removal (extra: its id)
 *
 *
 *   helpers vfork SECS
 *
 * a task that can't stop for ptrace for SECS seconds: it waits in a vfork
 * for its child, which sleeps that long; then it pauses for ever.
 *
 * The task fills a buffer with a known pattern, reports on stdout
 *   ready pid=P extra=N
 * (N is the thread id, the child pid or the fd number of the special
 * resource, or -1) and then waits for SIGTERM.  On SIGTERM it checks that
 * its memory and its special resource are still as they were, prints
 * "ok" (exit 0) or "bad: REASON" (exit 3).
 *
 * stdout must be a regular file: the test reads it.  SIGTERM is blocked in
 * every thread and taken with sigwaitinfo(), so it does not matter which
 * thread the kernel picks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_SIZE (64 * 1024)

static unsigned char *pattern;
static volatile pid_t worker_tid;
static volatile unsigned long worker_beats;

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	/* unbuffered: the test polls the file */
	if (write(STDOUT_FILENO, buf, n) != n)
		_exit(4);
}

static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

static void fill_pattern(void)
{
	size_t i;

	pattern = malloc(PATTERN_SIZE);
	if (!pattern)
		_exit(4);
	for (i = 0; i < PATTERN_SIZE; i++)
		pattern[i] = pattern_byte(i);
}

static int check_pattern(void)
{
	size_t i;

	for (i = 0; i < PATTERN_SIZE; i++)
		if (pattern[i] != pattern_byte(i))
			return -1;
	return 0;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = syscall(SYS_gettid);
	for (;;) {
		worker_beats++;
		usleep(10000);
	}
	return NULL;
}

/* Does /proc/self/fd/FD link to something starting with PREFIX? */
static int fd_is(int fd, const char *prefix)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	return strncmp(link, prefix, strlen(prefix)) == 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "plain";
	sigset_t set;
	siginfo_t si;
	pid_t child = -1;
	pthread_t th;
	int extra = -1, fd = -1;
	const char *bad = NULL;

	if (!strcmp(mode, "vfork") && argc > 2) {
		struct timespec ts = { atoi(argv[2]), 0 };
		pid_t p = vfork();

		if (p == 0) {
			nanosleep(&ts, NULL);
			_exit(0);
		}
		waitpid(p, NULL, 0);
		for (;;)
			pause();
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 4;
	fill_pattern();

	if (!strcmp(mode, "plain")) {
		/* nothing more */
	} else if (!strcmp(mode, "threads")) {
		if (pthread_create(&th, NULL, worker, NULL))
			return 4;
		while (!worker_tid)
			usleep(1000);
		extra = worker_tid;
	} else if (!strcmp(mode, "child")) {
		child = fork();
		if (child < 0)
			return 4;
		if (child == 0) {
			/* SIGTERM is blocked here too: unblock it so the parent can end us */
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			for (;;)
				pause();
		}
		extra = child;
	} else if (!strcmp(mode, "eventfd")) {
		fd = eventfd(7, EFD_CLOEXEC);
		if (fd < 0)
			return 4;
		extra = fd;
	} else if (!strcmp(mode, "userfaultfd")) {
		/* user-mode-only faults need no privilege */
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
		if (fd < 0)
			return 4;
		extra = fd;
	} else if (!strcmp(mode, "socket")) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 4;
		extra = fd;
	} else if (!strcmp(mode, "mqueue")) {
		struct mq_attr at = { .mq_maxmsg = 4, .mq_msgsize = 64 };
		char name[64];

		snprintf(name, sizeof(name), "/criu-cli-mq-%d", (int)getpid());
		fd = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &at);
		if (fd < 0)
			return 4;
		extra = fd;
	} else if (!strcmp(mode, "unixsk")) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "sk-%d", (int)getpid());
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4))
			return 4;
		extra = fd;
	} else if (!strcmp(mode, "posixlock")) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fcntl(STDOUT_FILENO, F_SETLK, &fl))
			return 4;
	} else if (!strcmp(mode, "shmrm")) {
		int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
		char *p = id < 0 ? (char *)-1 : shmat(id, NULL, 0);

		if (p == (char *)-1)
			return 4;
		p[0] = 1;
		if (shmctl(id, IPC_RMID, NULL))
			return 4;
		extra = id;
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}

	say("ready pid=%d extra=%d\n", (int)getpid(), extra);

	for (;;) {
		int s = sigwaitinfo(&set, &si);

		if (s == SIGTERM)
			break;
		if (s < 0 && errno != EINTR)
			return 4;
	}

	if (check_pattern())
		bad = "memory pattern changed";
	if (!bad && !strcmp(mode, "threads")) {
		unsigned long b = worker_beats;

		usleep(100000);
		if (worker_beats == b)
			bad = "worker thread stopped";
	}
	if (!bad && !strcmp(mode, "child")) {
		int status;

		if (kill(child, SIGTERM))
			bad = "child is gone";
		else if (waitpid(child, &status, 0) != child)
			bad = "cannot reap child";
		else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
			bad = "child died the wrong way";
	}
	if (!bad && !strcmp(mode, "eventfd")) {
		uint64_t v = 0;

		if (!fd_is(fd, "anon_inode:[eventfd]"))
			bad = "eventfd fd changed";
		else if (read(fd, &v, sizeof(v)) != sizeof(v) || v != 7)
			bad = "eventfd counter changed";
	}
	if (!bad && !strcmp(mode, "userfaultfd") && !fd_is(fd, "anon_inode:[userfaultfd]"))
		bad = "userfaultfd changed";
	if (!bad && !strcmp(mode, "socket") && !fd_is(fd, "socket:"))
		bad = "socket fd changed";

	if (bad) {
		say("bad: %s\n", bad);
		return 3;
	}
	say("ok\n");
	return 0;
}
