/*
 * fdhog NFDS DIR PIDFILE [NMAPS]
 *
 * The victim of the benchmark's fds mode (see scripts/bench): one process
 * holding NFDS descriptors (its stdio included) of the kinds programs
 * hold most, in a repeating pattern of ten:
 *
 *	0-3	regular files, each its own open of one of 16 files in DIR, at
 *		an offset of its own (its fd number)
 *	4	a dup of the fd before it (one description, two fds)
 *	5, 6	the read and write ends of a pipe, the fd number queued in it
 *	7, 8	a unix socketpair, the fd number of 7 queued on 8
 *	9	an eventfd counting its fd number
 *
 * and, with NMAPS, NMAPS one-page mappings of a file of DIR, each at its
 * own offset and separated by a page with no mapping (so they stay NMAPS
 * areas). It then writes PIDFILE and waits for SIGTERM, which makes it
 * check every fd (kind, inode, offset, what is queued) and every mapping
 * and print OK or BAD.
 *
 * The "ready" line on stdout gives the time the process needed to open
 * everything (open_s). Exit status: 0 OK, 1 BAD, 2 setup failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR_FILES	16
#define PATTERN		10
#define PAGE		4096UL

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The kind fd @fd has in the pattern (stdio excluded). */
static int slot(int fd)
{
	return (fd - 3) % PATTERN;
}

static ino_t file_ino[NR_FILES];

static int open_one(const char *dir, int fd, int last)
{
	char path[4096];
	int p[2], k = slot(fd), got;

	switch (k) {
	case 0: case 1: case 2: case 3:
		snprintf(path, sizeof(path), "%s/fdhog.%d", dir, fd % NR_FILES);
		got = open(path, O_RDWR);
		if (got >= 0 && lseek(got, fd, SEEK_SET) != fd)
			return -1;
		return got == fd ? 0 : -1;
	case 4:
		return dup(fd - 1) == fd ? 0 : -1;
	case 5:
		if (fd + 1 > last)
			return dup(0) == fd ? 0 : -1;
		if (pipe(p) || p[0] != fd || write(p[1], &fd, sizeof(fd)) != sizeof(fd))
			return -1;
		return 1;
	case 7:
		if (fd + 1 > last)
			return dup(0) == fd ? 0 : -1;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) || p[0] != fd || write(p[0], &fd, sizeof(fd)) != sizeof(fd))
			return -1;
		return 1;
	case 9:
		return eventfd(fd, 0) == fd ? 0 : -1;
	}
	return -1;
}

static int check_one(int fd, int last)
{
	struct stat st;
	int k = slot(fd), v = -1;
	uint64_t c;

	if (fstat(fd, &st))
		return -1;
	switch (k) {
	case 0: case 1: case 2: case 3:
		return S_ISREG(st.st_mode) && st.st_ino == file_ino[fd % NR_FILES] && lseek(fd, 0, SEEK_CUR) == fd ? 0 : -1;
	case 4:
		return lseek(fd, 0, SEEK_CUR) == fd - 1 && st.st_ino == file_ino[(fd - 1) % NR_FILES] ? 0 : -1;
	case 5:
		if (fd + 1 > last)
			return 0;
		return read(fd, &v, sizeof(v)) == sizeof(v) && v == fd ? 0 : -1;
	case 6:
		return S_ISFIFO(st.st_mode) && write(fd, &v, sizeof(v)) == sizeof(v) && read(fd - 1, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
	case 7:
		if (fd + 1 > last)
			return 0;
		return S_ISSOCK(st.st_mode) ? 0 : -1;
	case 8:
		return read(fd, &v, sizeof(v)) == sizeof(v) && v == fd - 1 ? 0 : -1;
	case 9:
		return read(fd, &c, sizeof(c)) == sizeof(c) && c == (uint64_t)fd ? 0 : -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	int nfds, nmaps, last, bad = 0, first_bad = -1, mfd;
	char path[4096], *maps = NULL;
	struct rlimit rl;
	double t0;
	FILE *f;

	if (argc < 4) {
		fprintf(stderr, "usage: fdhog NFDS DIR PIDFILE [NMAPS]\n");
		return 2;
	}
	nfds = atoi(argv[1]);
	nmaps = argc > 4 ? atoi(argv[4]) : 0;
	last = nfds - 1;
	signal(SIGTERM, on_term);
	/* whatever the caller left open above stdio would be in the way */
	syscall(SYS_close_range, 3, ~0U, 0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nfds + 16) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < (rlim_t)nfds + 16) {
			printf("fdhog: %d fds are more than the limit %lu\n", nfds, (unsigned long)rl.rlim_cur);
			return 2;
		}
	}
	for (int i = 0; i < NR_FILES; i++) {
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/fdhog.%d", argv[2], i);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 1 << 20) || fstat(fd, &st)) {
			perror("fdhog: making the files");
			return 2;
		}
		file_ino[i] = st.st_ino;
		close(fd);
	}
	/* the mappings' file first: the fds stay dense */
	snprintf(path, sizeof(path), "%s/fdhog.map", argv[2]);
	mfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (mfd < 0 || ftruncate(mfd, (off_t)(nmaps ? nmaps : 1) * PAGE)) {
		perror("fdhog: the mapped file");
		return 2;
	}
	t0 = now_s();
	if (nmaps) {
		/* reserve, then map every other page: NMAPS areas that can't merge */
		maps = mmap(NULL, 2 * nmaps * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps == MAP_FAILED)
			return 2;
		munmap(maps, 2 * nmaps * PAGE);
		for (int i = 0; i < nmaps; i++) {
			int *p = mmap(maps + 2 * i * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd,
				      (off_t)i * PAGE);

			if (p == MAP_FAILED) {
				perror("fdhog: mmap");
				return 2;
			}
			*p = i;
		}
	}
	close(mfd);
	for (int fd = 3; fd <= last; fd++) {
		int r = open_one(argv[2], fd, last);

		if (r < 0) {
			printf("fdhog: can't make fd %d (kind %d): %s\n", fd, slot(fd), strerror(errno));
			return 2;
		}
		fd += r;
	}
	printf("fdhog: pid %d fds %d maps %d open_s %.3f\n", getpid(), nfds, nmaps, now_s() - t0);
	fflush(stdout);
	f = fopen(argv[3], "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		return 2;
	/* the pidfile's fd is closed again: exactly NFDS fds */
	while (!got_term)
		pause();

	for (int fd = 3; fd <= last; fd++)
		if (check_one(fd, last) && !bad++)
			first_bad = fd;
	for (int i = 0; i < nmaps; i++)
		if (*(int *)(maps + 2 * i * PAGE) != i && !bad++)
			first_bad = -2 - i;
	if (bad) {
		printf("fdhog: BAD %d fds or mappings differ, first: %d\n", bad, first_bad);
		return 1;
	}
	printf("fdhog: OK\n");
	return 0;
}
