/*
 * The workload of killtest.py: a small tree that checks itself all the
 * time and reports through a shared file, so that the harness can tell
 * whether killing criu at some instant harmed any of it.
 *
 *   killtree STATEFILE
 *
 * STATEFILE (created, mapped MAP_SHARED by every task) holds a heartbeat
 * per worker and an error word; a worker that finds its state changed
 * sets the error word and writes why to stderr. Workers:
 *   0 root, main thread: private memory checksum, fds (pipe, socket pair,
 *     file), signal mask, sigaltstack, xmm registers; raw nanosleep that
 *     must never return EINTR (restart semantics); sends on the pair.
 *   1 root thread: blocked in read() on the pipe the child writes to.
 *   2 root thread: computing, with values kept in ymm registers.
 *   3 child: writes a sequence to the pipe, blocked in recv() on the pair.
 *   4 child with a seccomp filter (uname() fails with EPERM), calling it
 *     every 0.2 ms.
 *   5 child in a group stop (SIGSTOP); checks itself when continued.
 *   6 child in seccomp strict mode (only read, write, _exit, rt_sigreturn):
 *     blocked in read() on a pipe the root writes a byte to every 2 ms,
 *     checking the sequence and a value kept in xmm14 across the read.
 * The root exits on SIGTERM after everything was checked once more.
 */
#define _GNU_SOURCE
#ifndef KT_SECCOMP_NS
#define KT_SECCOMP_NS 200000
#endif
#ifndef KT_STRICT_MIB
#define KT_STRICT_MIB 0		/* memory of its own the strict child fills (MiB): a longer page dump */
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NR_WORKERS	7
#define MEM_SIZE	(2 << 20)

struct shared {
	volatile uint64_t beat[NR_WORKERS];
	volatile uint32_t error;
	volatile uint32_t ready;
	char msg[256];
};

static struct shared *sh;
static int pipefd[2], sk[2], filefd, strictfd[2];
static struct stat st_pipe_r, st_sk, st_file;
static uint8_t *mem;
static uint64_t mem_sum;
static sigset_t want_mask;
static stack_t want_ss;
static volatile int stop;

static void fail(const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!sh->error) {
		memcpy(sh->msg, buf, sizeof(buf));
		sh->error = 1;
	}
	fprintf(stderr, "killtree %d: FAIL %s\n", getpid(), buf);
}

static uint64_t checksum(void)
{
	uint64_t s = 0;

	for (size_t i = 0; i < MEM_SIZE; i += 8)
		s = s * 31 + *(uint64_t *)(mem + i);
	return s;
}

/* a raw nanosleep: a restart done wrong shows as EINTR (or ERESTART* leaking out) */
static void raw_sleep(long ns)
{
	struct timespec ts = { 0, ns };
	long ret = syscall(SYS_nanosleep, &ts, NULL);

	if (ret)
		fail("nanosleep returned %ld errno %d", ret, errno);
}

/* a file is the same inode; a pipe or socket is made anew by a restore: same kind */
static void same_file(int fd, const struct stat *want, const char *what)
{
	struct stat st;

	if (fstat(fd, &st) || (st.st_mode & S_IFMT) != (want->st_mode & S_IFMT) ||
	    (S_ISREG(st.st_mode) && (st.st_ino != want->st_ino || st.st_dev != want->st_dev)))
		fail("fd %d (%s) changed", fd, what);
}

static void check_mask(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	for (int s = 1; s < 65; s++)
		if (sigismember(&cur, s) != sigismember(&want_mask, s)) {
			fail("signal mask changed (signal %d)", s);
			return;
		}
}

static void *reader(void *arg)
{
	unsigned char expect = 0, c;

	pthread_sigmask(SIG_SETMASK, &want_mask, NULL);
	while (!stop) {
		ssize_t n = read(pipefd[0], &c, 1);

		if (n != 1) {
			if (stop)
				break;
			fail("pipe read returned %zd errno %d", n, errno);
			return NULL;
		}
		if (c != expect)
			fail("pipe byte %u, expected %u", c, expect);
		expect = c + 1;
		check_mask();
		sh->beat[1]++;
	}
	return NULL;
}

static int has_avx;

static void *computer(void *arg)
{
	pthread_sigmask(SIG_SETMASK, &want_mask, NULL);
	while (!stop) {
		uint64_t a[4] = { 0x1111222233334444ULL, 0x5555666677778888ULL, 0x9999aaaabbbbccccULL,
				  0xddddeeeeffff0000ULL ^ sh->beat[2] };
		uint64_t b[4];

		/* keep a value in ymm9 (xmm9 without AVX) across a long computation */
		if (has_avx) {
			asm volatile("vmovdqu %0, %%ymm9" : : "m"(a) : "xmm9");
			for (volatile int i = 0; i < 200000; i++)
				;
			asm volatile("vmovdqu %%ymm9, %0" : "=m"(b));
		} else {
			memcpy(b, a, sizeof(b));
			asm volatile("movdqu %0, %%xmm9" : : "m"(a) : "xmm9");
			for (volatile int i = 0; i < 200000; i++)
				;
			asm volatile("movdqu %%xmm9, %0" : "=m"(b));
		}
		if (memcmp(a, b, sizeof(a)))
			fail("ymm9 changed");
		sh->beat[2]++;
	}
	return NULL;
}

static void child_writer(void)
{
	unsigned char c = 0;
	char buf[16];

	sigaddset(&want_mask, SIGUSR2);
	sigprocmask(SIG_SETMASK, &want_mask, NULL);
	close(pipefd[0]);
	close(sk[0]);
	while (1) {
		ssize_t n;

		if (write(pipefd[1], &c, 1) != 1)
			fail("child: pipe write errno %d", errno);
		c++;
		n = recv(sk[1], buf, sizeof(buf), 0);
		if (n != 4 || memcmp(buf, "ping", 4))
			fail("child: recv returned %zd errno %d", n, errno);
		check_mask();
		sh->beat[3]++;
	}
}

static void child_seccomp(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	struct utsname u;

	close(pipefd[0]);
	close(pipefd[1]);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		fail("seccomp: %s", strerror(errno));
	while (1) {
		if (uname(&u) == 0 || errno != EPERM)
			fail("seccomp filter gone");
		check_mask();
		/*
		 * Often: a daemon that heals while its dying criu still traces
		 * the task (seccomp suspended) leaves it a moment of its own
		 * code unfiltered; a short sleep makes uname() fall into it.
		 */
		raw_sleep(KT_SECCOMP_NS);
		sh->beat[4]++;
	}
}

static void child_stopped(void)
{
	close(pipefd[0]);
	close(pipefd[1]);
	sh->beat[5]++;
	raise(SIGSTOP);
	/* continued by the harness at the end: still whole? */
	if (checksum() != mem_sum)
		fail("stopped child: memory changed");
	check_mask();
	sh->beat[5]++;
	while (1)
		raw_sleep(10000000);
}

/*
 * No syscall but read, write, _exit and rt_sigreturn from here on: not even
 * the mask can be checked (the harness reads it from /proc), and a failure
 * is told through the shared page only.
 */
static void child_strict(void)
{
	unsigned char expect = 0, c;

	close(pipefd[0]);
	close(pipefd[1]);
	close(strictfd[1]);
	if (KT_STRICT_MIB) {
		char *m = mmap(NULL, KT_STRICT_MIB << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			fail("strict child: mmap: %s", strerror(errno));
		else
			for (size_t i = 0; i < (size_t)KT_STRICT_MIB << 20; i += 4096)
				m[i] = i >> 12 | 1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
		fail("seccomp strict: %s", strerror(errno));
	while (1) {
		uint64_t x[2] = { 0x0123456789abcdefULL, sh->beat[6] }, y[2];
		long n;

		asm volatile("movdqu %0, %%xmm14" : : "m"(x) : "xmm14");
		n = syscall(SYS_read, strictfd[0], &c, 1);
		asm volatile("movdqu %%xmm14, %0" : "=m"(y));
		if (n != 1) {
			if (!sh->error) {
				memcpy(sh->msg, "strict child: read failed", 26);
				sh->error = 1;
			}
			syscall(SYS_exit, 1);
		}
		if ((c != expect || memcmp(x, y, sizeof(x))) && !sh->error) {
			memcpy(sh->msg, "strict child: pipe byte or xmm14 changed", 41);
			sh->error = 1;
		}
		expect = c + 1;
		sh->beat[6]++;
	}
}

static void on_term(int sig)
{
	stop = 1;
}

static void on_usr1(int sig)
{
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	unsigned char strict_seq = 0;
	pid_t kids[4];
	int fd;

	__builtin_cpu_init();
	has_avx = __builtin_cpu_supports("avx");
	if (argc != 2) {
		fprintf(stderr, "usage: killtree STATEFILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096))
		return 2;
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sh == MAP_FAILED)
		return 2;
	close(fd);
	filefd = open(argv[1], O_RDONLY);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (filefd < 0 || mem == MAP_FAILED || pipe(pipefd) || socketpair(AF_UNIX, SOCK_DGRAM, 0, sk) ||
	    pipe2(strictfd, O_NONBLOCK))
		return 2;
	srand(getpid());
	for (size_t i = 0; i < MEM_SIZE; i++)
		mem[i] = rand();
	mem_sum = checksum();
	fstat(pipefd[0], &st_pipe_r);
	fstat(sk[0], &st_sk);
	fstat(filefd, &st_file);

	signal(SIGUSR1, on_usr1);
	sigemptyset(&want_mask);
	sigaddset(&want_mask, SIGUSR1);
	sigaddset(&want_mask, SIGRTMIN + 3);
	sigprocmask(SIG_SETMASK, &want_mask, NULL);
	want_ss.ss_size = 65536;
	want_ss.ss_sp = malloc(want_ss.ss_size);
	want_ss.ss_flags = 0;
	sigaltstack(&want_ss, NULL);

	kids[0] = fork();
	if (kids[0] == 0)
		child_writer();
	kids[1] = fork();
	if (kids[1] == 0)
		child_seccomp();
	kids[2] = fork();
	if (kids[2] == 0)
		child_stopped();
	kids[3] = fork();
	if (kids[3] == 0) {
		fcntl(strictfd[0], F_SETFL, 0);	/* its reads block */
		child_strict();
	}
	close(strictfd[0]);
	close(pipefd[1]);
	close(sk[1]);

	pthread_create(&th[0], NULL, reader, NULL);
	pthread_create(&th[1], NULL, computer, NULL);
	signal(SIGTERM, on_term);

	while (!stop) {
		uint64_t x[2] = { 0xfeedfacecafebeefULL, sh->beat[0] }, y[2];
		stack_t ss;

		asm volatile("movdqu %0, %%xmm13" : : "m"(x) : "xmm13");
		raw_sleep(2000000);
		asm volatile("movdqu %%xmm13, %0" : "=m"(y));
		if (memcmp(x, y, sizeof(x)))
			fail("xmm13 changed across a sleep");
		if (checksum() != mem_sum)
			fail("private memory changed");
		same_file(pipefd[0], &st_pipe_r, "pipe");
		same_file(sk[0], &st_sk, "socket");
		same_file(filefd, &st_file, "file");
		check_mask();
		if (sigaltstack(NULL, &ss) || ss.ss_sp != want_ss.ss_sp || ss.ss_size != want_ss.ss_size ||
		    ss.ss_flags != 0)
			fail("sigaltstack changed");
		if (send(sk[0], "ping", 4, 0) != 4 && errno != EAGAIN)
			fail("send errno %d", errno);
		if (write(strictfd[1], &strict_seq, 1) == 1)
			strict_seq++;
		else if (errno != EAGAIN)
			fail("strict pipe write errno %d", errno);
		sh->beat[0]++;
		if (!sh->ready && sh->beat[1] && sh->beat[2] && sh->beat[3] && sh->beat[4] && sh->beat[5] &&
		    sh->beat[6])
			sh->ready = 1;
	}
	for (int i = 0; i < 4; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < 4; i++)
		waitpid(kids[i], NULL, 0);
	return sh->error ? 1 : 0;
}
