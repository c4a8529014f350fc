/*
 * rtree: a representative process tree that checks itself, for the tests
 * that damage images (mutate.py), fail dumps and restores on purpose
 * (faults.py) and dump and restore it over and over (scripts/soak).
 *
 *   rtree OUT DIR [MEM_KB]
 *
 * (stdin, stdout and stderr are kept as given; /dev/null is best: they
 * are dumped like any file.)
 *
 * Three processes, root -> child -> grandchild, each with:
 *   - a second and third thread (beating a counter; checked to run),
 *   - MEM_KB (default 1024) KiB of private memory and 64 KiB of heap in a
 *     known pseudo-random pattern,
 *   - a pipe (both ends) with queued bytes, a datagram socket pair with a
 *     queued message, an eventfd with a count, a regular file in DIR open
 *     at an offset, a SIGURG handler (with its restorer) that must run,
 * and between them: 256 KiB of shared anonymous memory (root and child,
 * the grandchild too) and a stream socket pair per parent and child that
 * carries the check requests.
 *
 * Every process notes its fd table (numbers, kinds, flags) at start.
 * SIGUSR2 to the root: every process checks everything above without
 * changing it (queued data is read and put back, or peeked) and the root
 * writes "check N ok" or "check N bad: WHY" to OUT. SIGTERM to the root:
 * the same check, "final ok" / "final bad: WHY", then the tree exits (0
 * if ok). At start the root writes "ready ROOT CHILD GRANDCHILD".
 * A child dies with its parent (PR_SET_PDEATHSIG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHM_SIZE	(256 << 10)
#define HEAP_SIZE	(64 << 10)
#define PIPE_DATA	"queued in the pipe: 0123456789abcdef"
#define DGRAM_DATA	"a queued datagram"
#define EFD_COUNT	4242
#define FILE_POS	1234
#define MAX_FDS		64
#define NR_THREADS	2

struct fdrec {
	int fd;
	mode_t kind;
	int fl;
	int fdfl;
};

static struct {
	const char *name;
	unsigned int seed;
	unsigned char *mem, *heap;
	size_t mem_len;
	int pipe_r, pipe_w, dg[2], efd, file;
	int up, down;			/* control sockets: to the parent, to the child */
	pid_t kid;
	struct fdrec fds[MAX_FDS];
	int nr_fds;
	struct sigaction urg;
	volatile unsigned long beats[NR_THREADS];
} me;

static unsigned char *shm;
static const char *out_path;
static volatile sig_atomic_t urg_hits;

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, fd;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	/* opened for each line: an open fd on it would make the file part of the dump */
	fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, n) != n)
		_exit(5);
	close(fd);
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x >> 24;
	}
}

static int pattern_ok(const unsigned char *p, size_t len, unsigned int seed)
{
	unsigned char *want = malloc(len);
	int ok;

	if (!want)
		return 0;
	fill(want, len, seed);
	ok = !memcmp(want, p, len);
	free(want);
	return ok;
}

static void on_urg(int sig)
{
	(void)sig;
	urg_hits++;
}

static void *beater(void *arg)
{
	volatile unsigned long *b = arg;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (;;) {
		(*b)++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void note_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	me.nr_fds = 0;
	while (d && (de = readdir(d))) {
		int fd = atoi(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' || fd == dirfd(d) || me.nr_fds == MAX_FDS)
			continue;
		if (fstat(fd, &st))
			continue;
		me.fds[me.nr_fds++] = (struct fdrec){ fd, st.st_mode & S_IFMT, fcntl(fd, F_GETFL), fcntl(fd, F_GETFD) };
	}
	if (d)
		closedir(d);
}

/* Sets up the resources of one process; @dir holds its file. */
static void setup(const char *name, unsigned int seed, size_t mem_len, const char *dir)
{
	struct sigaction sa = { .sa_handler = on_urg, .sa_flags = SA_RESTART };
	int p[2];
	uint64_t v = EFD_COUNT;
	char path[4096];
	pthread_t th;

	me.name = name;
	me.seed = seed;
	me.mem_len = mem_len;
	me.mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	me.heap = malloc(HEAP_SIZE);
	if (me.mem == MAP_FAILED || !me.heap)
		exit(4);
	fill(me.mem, mem_len, seed);
	fill(me.heap, HEAP_SIZE, seed + 1);

	if (pipe2(p, O_NONBLOCK) || write(p[1], PIPE_DATA, sizeof(PIPE_DATA)) != sizeof(PIPE_DATA))
		exit(4);
	me.pipe_r = p[0];
	me.pipe_w = p[1];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, me.dg) ||
	    send(me.dg[1], DGRAM_DATA, sizeof(DGRAM_DATA), 0) != sizeof(DGRAM_DATA))
		exit(4);
	me.efd = eventfd(0, EFD_NONBLOCK);
	if (me.efd < 0 || write(me.efd, &v, 8) != 8)
		exit(4);
	snprintf(path, sizeof(path), "%s/rtree-%s", dir, name);
	me.file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (me.file < 0 || ftruncate(me.file, 2 * FILE_POS) || pwrite(me.file, name, strlen(name), 0) < 0 ||
	    lseek(me.file, FILE_POS, SEEK_SET) != FILE_POS)
		exit(4);
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	if (sigaction(SIGURG, &sa, NULL) || sigaction(SIGURG, NULL, &me.urg))
		exit(4);
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&th, NULL, beater, (void *)&me.beats[i]))
			exit(4);
}

#define BAD(...)	do { snprintf(why, len, __VA_ARGS__); return -1; } while (0)

static int check_fds(char *why, size_t len)
{
	struct fdrec was[MAX_FDS];
	int nr = me.nr_fds;

	memcpy(was, me.fds, sizeof(was));
	note_fds();
	if (me.nr_fds != nr) {
		int n = me.nr_fds;

		memcpy(me.fds, was, sizeof(was));
		me.nr_fds = nr;
		BAD("%s: %d fds open, %d at start", me.name, n, nr);
	}
	for (int i = 0; i < nr; i++) {
		struct fdrec *a = &was[i], *b = &me.fds[i];

		if (a->fd != b->fd || a->kind != b->kind || a->fl != b->fl || a->fdfl != b->fdfl) {
			struct fdrec now = *b;

			/* what is said is what we see now: b is overwritten with what was */
			memcpy(me.fds, was, sizeof(was));
			BAD("%s: fd %d (kind %o flags %o/%o) is now fd %d (kind %o flags %o/%o)", me.name, a->fd,
			    a->kind, a->fl, a->fdfl, now.fd, now.kind, now.fl, now.fdfl);
		}
	}
	return 0;
}

static int check_self(char *why, size_t len)
{
	char buf[256];
	unsigned long beats[NR_THREADS];
	struct sigaction cur = { 0 };
	uint64_t v;
	ssize_t n;
	int hits;

	if (!pattern_ok(me.mem, me.mem_len, me.seed))
		BAD("%s: private memory changed", me.name);
	if (!pattern_ok(me.heap, HEAP_SIZE, me.seed + 1))
		BAD("%s: heap changed", me.name);
	if (check_fds(why, len))
		return -1;

	n = read(me.pipe_r, buf, sizeof(buf));
	if (n > 0 && write(me.pipe_w, buf, n) != n)
		BAD("%s: can't put the pipe's bytes back", me.name);
	if (n != sizeof(PIPE_DATA) || memcmp(buf, PIPE_DATA, n))
		BAD("%s: pipe holds %zd other bytes", me.name, n);
	n = recv(me.dg[0], buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n != sizeof(DGRAM_DATA) || memcmp(buf, DGRAM_DATA, n))
		BAD("%s: datagram queue holds %zd other bytes", me.name, n);
	if (read(me.efd, &v, 8) != 8 || write(me.efd, &v, 8) != 8 || v != EFD_COUNT)
		BAD("%s: eventfd count %llu", me.name, (unsigned long long)v);
	if (lseek(me.file, 0, SEEK_CUR) != FILE_POS)
		BAD("%s: file offset %lld", me.name, (long long)lseek(me.file, 0, SEEK_CUR));
	if (pread(me.file, buf, strlen(me.name), 0) != (ssize_t)strlen(me.name) || memcmp(buf, me.name, strlen(me.name)))
		BAD("%s: file contents changed", me.name);

	if (sigaction(SIGURG, NULL, &cur) || cur.sa_handler != me.urg.sa_handler || cur.sa_flags != me.urg.sa_flags ||
	    cur.sa_restorer != me.urg.sa_restorer || memcmp(&cur.sa_mask, &me.urg.sa_mask, 8))
		BAD("%s: the SIGURG action changed", me.name);
	hits = urg_hits;
	raise(SIGURG);
	if (urg_hits != hits + 1)
		BAD("%s: the SIGURG handler did not run", me.name);

	for (int i = 0; i < NR_THREADS; i++)
		beats[i] = me.beats[i];
	for (int tries = 0; tries < 300; tries++) {
		int all = 1;

		for (int i = 0; i < NR_THREADS; i++)
			all &= me.beats[i] != beats[i];
		if (all)
			return 0;
		usleep(10000);
	}
	BAD("%s: a thread does not run", me.name);
}

/* Ask the process below to check itself; its answer (and the shared memory nonce) in @why. */
static int check_below(uint64_t nonce, char *why, size_t len)
{
	struct pollfd p = { .fd = me.down, .events = POLLIN };
	char buf[300];
	ssize_t n;

	if (me.down < 0)
		return 0;
	if (write(me.down, &nonce, 8) != 8)
		BAD("%s: can't reach the process below: %s", me.name, strerror(errno));
	if (poll(&p, 1, 10000) != 1)
		BAD("%s: no answer from the process below", me.name);
	n = read(me.down, buf, sizeof(buf) - 1);
	if (n <= 0)
		BAD("%s: the process below is gone", me.name);
	buf[n] = '\0';
	if (strcmp(buf, "ok"))
		BAD("%s", buf);
	return 0;
}

static int check_tree(uint64_t nonce, char *why, size_t len)
{
	if (memcmp(shm + 8, shm + SHM_SIZE / 2, 16) || !pattern_ok(shm + 64, SHM_SIZE - 64, 77))
		BAD("%s: shared memory changed", me.name);
	if (*(volatile uint64_t *)shm != nonce)
		BAD("%s: shared memory is not shared any more", me.name);
	if (check_self(why, len))
		return -1;
	return check_below(nonce, why, len);
}

/* A child: answer check requests from above until the parent goes. */
static void serve(void)
{
	for (;;) {
		char why[400] = "ok";
		uint64_t nonce;
		ssize_t n = read(me.up, &nonce, 8);

		if (n != 8)
			_exit(0);
		check_tree(nonce, why, sizeof(why));
		if (write(me.up, why, strlen(why)) < 0)
			_exit(0);
	}
}

static pid_t spawn(const char *name, unsigned int seed, size_t mem_len, const char *dir, void (*below)(const char *, size_t))
{
	int sk[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk))
		exit(4);
	pid = fork();
	if (pid < 0)
		exit(4);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sk[0]);
		if (me.pipe_r > 0) {
			/* the parent's resources are not ours */
			close(me.pipe_r);
			close(me.pipe_w);
			close(me.dg[0]);
			close(me.dg[1]);
			close(me.efd);
			close(me.file);
			close(me.up);
			munmap(me.mem, me.mem_len);
			free(me.heap);
			me.kid = 0;
		}
		me.up = sk[1];
		me.down = -1;
		setup(name, seed, mem_len, dir);
		if (below)
			below(dir, mem_len);
		note_fds();
		serve();
	}
	close(sk[1]);
	me.down = sk[0];
	me.kid = pid;
	return pid;
}

static pid_t grand_pid;

static void make_grandchild(const char *dir, size_t mem_len)
{
	grand_pid = spawn("grandchild", 3, mem_len, dir, NULL);
}

int main(int argc, char **argv)
{
	size_t mem_len = (argc > 3 ? strtoul(argv[3], NULL, 10) : 1024) << 10;
	const char *dir = argc > 2 ? argv[2] : NULL;
	char why[400];
	sigset_t set;
	pid_t child;
	int checks = 0, sig;

	if (argc < 3 || !mem_len) {
		fprintf(stderr, "usage: rtree OUT DIR [MEM_KB]\n");
		return 2;
	}
	out_path = argv[1];
	/* fds the caller may have passed are not the tree's */
	close_range(3, ~0U, 0);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return 4;
	fill(shm + 64, SHM_SIZE - 64, 77);
	memcpy(shm + 8, shm + SHM_SIZE / 2, 16);
	me.up = me.down = -1;
	setup("root", 1, mem_len, dir);
	/* the child's grandchild is spawned from the child, with the child's resources */
	child = spawn("child", 2, mem_len, dir, make_grandchild);
	note_fds();
	{
		/* the grandchild's pid comes up through the check channel's first answer */
		char buf[400];
		struct pollfd p = { .fd = me.down, .events = POLLIN };
		uint64_t nonce = 1;
		ssize_t n;

		*(volatile uint64_t *)shm = nonce;
		if (write(me.down, &nonce, 8) != 8 || poll(&p, 1, 10000) != 1)
			return 4;
		n = read(me.down, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		if (strcmp(buf, "ok")) {
			say("setup bad: %s\n", buf);
			return 4;
		}
	}
	{
		/* our grandchild: the only child of our child */
		char path[64], line[256];
		FILE *f;
		pid_t g = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", child, child);
		f = fopen(path, "r");
		if (f && fgets(line, sizeof(line), f))
			g = atoi(line);
		if (f)
			fclose(f);
		say("ready %d %d %d\n", getpid(), child, g);
	}

	for (;;) {
		uint64_t nonce;

		sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		nonce = ((uint64_t)getpid() << 32) + ++checks + 1;
		*(volatile uint64_t *)shm = nonce;
		strcpy(why, "ok");
		check_tree(nonce, why, sizeof(why));
		if (sig == SIGUSR2) {
			say("check %d %s%s\n", checks, strcmp(why, "ok") ? "bad: " : "", why);
			continue;
		}
		say("final %s%s\n", strcmp(why, "ok") ? "bad: " : "", why);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return strcmp(why, "ok") ? 1 : 0;
	}
}
