/*
 * Can a process move pages into another process's registered area with
 * UFFDIO_MOVE on that process's userfaultfd? (Linux 6.18: no, EINVAL,
 * even with source and destination both in the other process's mm; the
 * owner asking for the same move on the same fd succeeds.)
 * Build: gcc -O2 -o uffd_move_foreign uffd_move_foreign.c; run as root.
 * Prints "foreign move: ..." and "owner move: ...".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

#define HS (2UL << 20)

static char *aligned(size_t len)
{
	char *p = mmap(NULL, len + HS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(1);
	return (char *)(((unsigned long)p + HS - 1) & ~(HS - 1));
}

int main(void)
{
	int p[2], q[2], u, cu, pidfd;
	unsigned long d, st;
	char buf[128] = "", b;
	pid_t c;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (pipe(p) || pipe(q))
		return 1;
	c = fork();
	if (!c) {
		char *dst = aligned(HS), *stg = aligned(HS);
		struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
		struct uffdio_register r = { .range = { (unsigned long)dst, HS }, .mode = UFFDIO_REGISTER_MODE_MISSING };
		struct uffdio_move m = { .dst = (unsigned long)dst, .src = (unsigned long)stg, .len = HS };

		u = syscall(SYS_userfaultfd, O_CLOEXEC);
		if (u < 0 || ioctl(u, UFFDIO_API, &api) || ioctl(u, UFFDIO_REGISTER, &r))
			_exit(1);
		dprintf(p[1], "%d %lx %lx\n", u, (unsigned long)dst, (unsigned long)stg);
		if (read(q[0], &b, 1) != 1)
			_exit(1);
		printf("owner move: %s\n", ioctl(u, UFFDIO_MOVE, &m) ? strerror(errno) : "moved");
		_exit(0);
	}
	if (read(p[0], buf, sizeof(buf) - 1) <= 0 || sscanf(buf, "%d %lx %lx", &cu, &d, &st) != 3)
		return 1;
	pidfd = syscall(SYS_pidfd_open, c, 0);
	u = syscall(SYS_pidfd_getfd, pidfd, cu, 0);
	{
		char *x = malloc(HS);
		struct iovec l = { x, HS }, r = { (void *)st, HS };
		struct uffdio_move m = { .dst = d, .src = st, .len = HS };

		memset(x, 9, HS);
		printf("process_vm_writev into its staging area: %zd\n", process_vm_writev(c, &l, 1, &r, 1, 0));
		printf("foreign move: %s\n", ioctl(u, UFFDIO_MOVE, &m) ? strerror(errno) : "moved");
	}
	if (write(q[1], "x", 1) != 1)
		return 1;
	waitpid(c, NULL, 0);
	return 0;
}
