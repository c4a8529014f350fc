/*
 * Fault injection at every library call that makes a system call that can
 * fail (fault.h). criu/meson.build links the tool with --wrap=NAME for
 * each NAME below (fault_wrapped there): every call criu or compel makes
 * to NAME comes here first, counts as a step, and fails with the errno
 * given when it is the step CRIU_FAULT names. Without CRIU_FAULT a step
 * costs a test of one pointer.
 *
 * A failed close() still closes, as the kernel's does; readdir() and
 * fgets() fail the way they report errors (NULL with errno set), which a
 * caller must tell from the end of the directory or file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netlink/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

/* @rt NAME@proto is wrapped: on its step it returns @fail with errno @err; @fmt names the call. */
#define WRAP(rt, name, fail, err, proto, args, fmt, ...)					\
	rt __real_##name proto;								\
	rt __wrap_##name proto;								\
	rt __wrap_##name proto								\
	{										\
		if (fault_hit(#name "(" fmt ")", ##__VA_ARGS__)) {			\
			errno = err;							\
			return fail;							\
		}									\
		return __real_##name args;						\
	}

/*
 * The same for NAME(@proto, ...), whose one optional argument (of type @at,
 * after @last) is read when @when holds, as arg; @fmt is the whole name.
 */
#define UNPAREN(...) __VA_ARGS__
#define WRAP_VA(rt, name, fail, err, proto, last, at, when, args, fmt, ...)		\
	rt __real_##name(UNPAREN proto, ...);						\
	rt __wrap_##name(UNPAREN proto, ...);						\
	rt __wrap_##name(UNPAREN proto, ...)						\
	{										\
		at arg = 0;								\
		va_list ap;								\
											\
		if (when) {								\
			va_start(ap, last);						\
			arg = va_arg(ap, at);						\
			va_end(ap);							\
		}									\
		if (fault_hit(fmt, ##__VA_ARGS__)) {					\
			errno = err;							\
			return fail;							\
		}									\
		return __real_##name args;						\
	}

/* files */
WRAP(ssize_t, read, -1, EIO, (int fd, void *b, size_t n), (fd, b, n), "fd %d", fd)
WRAP(ssize_t, write, -1, EIO, (int fd, const void *b, size_t n), (fd, b, n), "fd %d", fd)
WRAP(ssize_t, pread64, -1, EIO, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o), "fd %d", fd)
WRAP(ssize_t, pwrite64, -1, EIO, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o), "fd %d", fd)
/* a chain's pages gathered for restore, and --auto-dedup's holes (pagechain.c) */
WRAP(ssize_t, sendfile64, -1, EIO, (int o, int i, off64_t *off, size_t n), (o, i, off, n), "fd %d", o)
WRAP(int, fallocate64, -1, EIO, (int fd, int m, off64_t o, off64_t l), (fd, m, o, l), "fd %d", fd)
WRAP(off64_t, lseek64, -1, EIO, (int fd, off64_t o, int w), (fd, o, w), "fd %d", fd)
WRAP(int, ftruncate64, -1, EIO, (int fd, off64_t l), (fd, l), "fd %d", fd)
WRAP(int, fstat64, -1, EIO, (int fd, struct stat64 *st), (fd, st), "fd %d", fd)
WRAP(int, fstatat64, -1, EIO, (int d, const char *p, struct stat64 *st, int f), (d, p, st, f), "%s", p)
WRAP(int, stat64, -1, EIO, (const char *p, struct stat64 *st), (p, st), "%s", p)
WRAP(int, lstat64, -1, EIO, (const char *p, struct stat64 *st), (p, st), "%s", p)
WRAP(int, fstatfs64, -1, EIO, (int fd, struct statfs64 *st), (fd, st), "fd %d", fd)
WRAP(ssize_t, readlink, -1, EIO, (const char *p, char *b, size_t n), (p, b, n), "%s", p)
WRAP(int, access, -1, EIO, (const char *p, int m), (p, m), "%s", p)
WRAP(int, faccessat, -1, EIO, (int d, const char *p, int m, int f), (d, p, m, f), "%s", p)
WRAP(ssize_t, splice, -1, EIO, (int a, off64_t *ao, int b, off64_t *bo, size_t n, unsigned int f),
     (a, ao, b, bo, n, f), "fd %d to fd %d", a, b)
WRAP(ssize_t, tee, -1, EIO, (int a, int b, size_t n, unsigned int f), (a, b, n, f), "fd %d to fd %d", a, b)
WRAP(int, pipe, -1, EMFILE, (int p[2]), (p), "")
WRAP(int, pipe2, -1, EMFILE, (int p[2], int f), (p, f), "")
WRAP(int, dup, -1, EMFILE, (int a), (a), "fd %d", a)
WRAP(int, dup2, -1, EMFILE, (int a, int b), (a, b), "fd %d to fd %d", a, b)
WRAP(int, poll, -1, ENOMEM, (struct pollfd *p, nfds_t n, int t), (p, n, t), "")
WRAP(int, mkdir, -1, EIO, (const char *p, mode_t m), (p, m), "%s", p)
WRAP(int, mknod, -1, EIO, (const char *p, mode_t m, dev_t d), (p, m, d), "%s", p)
WRAP(int, rmdir, -1, EIO, (const char *p), (p), "%s", p)
WRAP(int, unlink, -1, EIO, (const char *p), (p), "%s", p)
WRAP(int, unlinkat, -1, EIO, (int d, const char *p, int f), (d, p, f), "%s", p)
WRAP(int, symlinkat, -1, EIO, (const char *t, int d, const char *p), (t, d, p), "%s", p)
WRAP(int, rename, -1, EIO, (const char *a, const char *b), (a, b), "%s", a)
WRAP(int, linkat, -1, EIO, (int a, const char *pa, int b, const char *pb, int f), (a, pa, b, pb, f), "%s", pb)
WRAP(int, chdir, -1, EIO, (const char *p), (p), "%s", p)
WRAP(int, fchdir, -1, EIO, (int fd), (fd), "fd %d", fd)
WRAP(int, chroot, -1, EIO, (const char *p), (p), "%s", p)
WRAP(int, chmod, -1, EIO, (const char *p, mode_t m), (p, m), "%s", p)
WRAP(int, fchmod, -1, EIO, (int fd, mode_t m), (fd, m), "fd %d", fd)
WRAP(int, chown, -1, EIO, (const char *p, uid_t u, gid_t g), (p, u, g), "%s", p)
WRAP(int, lchown, -1, EIO, (const char *p, uid_t u, gid_t g), (p, u, g), "%s", p)
WRAP(int, fchown, -1, EIO, (int fd, uid_t u, gid_t g), (fd, u, g), "fd %d", fd)
WRAP(int, fchownat, -1, EIO, (int d, const char *p, uid_t u, gid_t g, int f), (d, p, u, g, f), "%s", p)
WRAP(int, memfd_create, -1, EMFILE, (const char *n, unsigned int f), (n, f), "%s", n)
WRAP(int, open_by_handle_at, -1, EIO, (int d, struct file_handle *h, int f), (d, h, f), "")

/* memory */
WRAP(void *, mmap64, MAP_FAILED, ENOMEM, (void *a, size_t l, int p, int f, int fd, off64_t o),
     (a, l, p, f, fd, o), "%zu bytes", l)
WRAP(int, munmap, -1, EINVAL, (void *a, size_t l), (a, l), "%p", a)
WRAP(char *, realpath, NULL, EIO, (const char *p, char *r), (p, r), "%s", p)
WRAP(int, madvise, -1, EINVAL, (void *a, size_t l, int adv), (a, l, adv), "%p", a)

/* processes */
WRAP(pid_t, fork, -1, EAGAIN, (void), (), "")

/*
 * A poll loop's waitpid(WNOHANG)s are one step: how often it finds
 * nothing is the machine's timing, and walks that count steps (from one
 * counting run, the last N of a restore) would land elsewhere each run.
 */
pid_t __real_waitpid(pid_t p, int *s, int o);
pid_t __wrap_waitpid(pid_t p, int *s, int o);
pid_t __wrap_waitpid(pid_t p, int *s, int o)
{
	static __thread int polling;
	static __thread pid_t polled;
	pid_t r;

	if (!(polling && polled == p && (o & WNOHANG)) && fault_hit("waitpid(%d)", p)) {
		errno = EINTR;
		return -1;
	}
	r = __real_waitpid(p, s, o);
	polling = (o & WNOHANG) && r == 0;
	polled = p;
	return r;
}
WRAP(int, kill, -1, EPERM, (pid_t p, int s), (p, s), "%d, %d", p, s)
WRAP(int, setns, -1, EPERM, (int fd, int t), (fd, t), "fd %d", fd)
WRAP(pid_t, setsid, -1, EPERM, (void), (), "")
WRAP(int, setpgid, -1, EPERM, (pid_t p, pid_t g), (p, g), "%d, %d", p, g)
WRAP(int, personality, -1, EINVAL, (unsigned long p), (p), "%#lx", p)
WRAP(int, setresuid, -1, EPERM, (uid_t a, uid_t b, uid_t c), (a, b, c), "")
WRAP(int, setresgid, -1, EPERM, (gid_t a, gid_t b, gid_t c), (a, b, c), "")
WRAP(int, setrlimit64, -1, EPERM, (__rlimit_resource_t r, const struct rlimit64 *l), (r, l), "%d", r)
WRAP(int, getrlimit64, -1, EPERM, (__rlimit_resource_t r, struct rlimit64 *l), (r, l), "%d", r)
WRAP(int, sched_getscheduler, -1, EPERM, (pid_t p), (p), "%d", p)
WRAP(int, sched_getparam, -1, EPERM, (pid_t p, struct sched_param *s), (p, s), "%d", p)
WRAP(int, getpriority, -1, EPERM, (__priority_which_t w, id_t i), (w, i), "%d", (int)i)
WRAP(int, uname, -1, EFAULT, (struct utsname *u), (u), "")

/* sockets */
WRAP(int, socket, -1, EMFILE, (int d, int t, int p), (d, t, p), "%d, %d", d, t)
WRAP(int, socketpair, -1, EMFILE, (int d, int t, int p, int sv[2]), (d, t, p, sv), "%d, %d", d, t)
WRAP(int, bind, -1, EADDRINUSE, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l), "fd %d", fd)
WRAP(int, connect, -1, ECONNREFUSED, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l), "fd %d", fd)
WRAP(int, listen, -1, EADDRINUSE, (int fd, int b), (fd, b), "fd %d", fd)
WRAP(int, accept4, -1, ENOBUFS, (int fd, struct sockaddr *a, socklen_t *l, int f), (fd, a, l, f), "fd %d", fd)
WRAP(ssize_t, sendmsg, -1, ENOBUFS, (int fd, const struct msghdr *m, int f), (fd, m, f), "fd %d", fd)
WRAP(ssize_t, recvmsg, -1, ENOBUFS, (int fd, struct msghdr *m, int f), (fd, m, f), "fd %d", fd)
WRAP(ssize_t, recv, -1, ENOBUFS, (int fd, void *b, size_t n, int f), (fd, b, n, f), "fd %d", fd)
WRAP(ssize_t, send, -1, ENOBUFS, (int fd, const void *b, size_t n, int f), (fd, b, n, f), "fd %d", fd)
WRAP(int, setsockopt, -1, ENOBUFS, (int fd, int l, int o, const void *v, socklen_t n), (fd, l, o, v, n),
     "fd %d, %d", fd, o)
WRAP(int, getsockopt, -1, ENOBUFS, (int fd, int l, int o, void *v, socklen_t *n), (fd, l, o, v, n),
     "fd %d, %d", fd, o)
WRAP(int, shutdown, -1, ENOTCONN, (int fd, int h), (fd, h), "fd %d", fd)
WRAP(int, nl_connect, -NLE_FAILURE, EIO, (struct nl_sock *s, int p), (s, p), "%d", p)
WRAP(int, nl_send_simple, -NLE_FAILURE, EIO, (struct nl_sock *s, int t, int f, void *b, size_t n),
     (s, t, f, b, n), "%d", t)
WRAP(int, nl_recvmsgs_default, -NLE_FAILURE, EIO, (struct nl_sock *s), (s), "")

/* fd kinds */
WRAP(int, eventfd, -1, EMFILE, (unsigned int v, int f), (v, f), "")
WRAP(int, eventfd_write, -1, EIO, (int fd, eventfd_t v), (fd, v), "fd %d", fd)
WRAP(int, epoll_create1, -1, EMFILE, (int f), (f), "")
WRAP(int, epoll_ctl, -1, ENOMEM, (int e, int op, int fd, struct epoll_event *ev), (e, op, fd, ev),
     "fd %d, fd %d", e, fd)
WRAP(int, timerfd_create, -1, EMFILE, (int c, int f), (c, f), "")
WRAP(int, timerfd_settime, -1, EINVAL, (int fd, int f, const struct itimerspec *n, struct itimerspec *o),
     (fd, f, n, o), "fd %d", fd)
WRAP(int, timerfd_gettime, -1, EINVAL, (int fd, struct itimerspec *v), (fd, v), "fd %d", fd)
WRAP(int, inotify_init1, -1, EMFILE, (int f), (f), "")
WRAP(int, inotify_add_watch, -1, ENOSPC, (int fd, const char *p, uint32_t m), (fd, p, m), "%s", p)
WRAP(int, inotify_rm_watch, -1, EINVAL, (int fd, int wd), (fd, wd), "fd %d", fd)
WRAP(int, fanotify_init, -1, EMFILE, (unsigned int f, unsigned int e), (f, e), "")
WRAP(int, fanotify_mark, -1, ENOSPC, (int fd, unsigned int f, uint64_t m, int d, const char *p),
     (fd, f, m, d, p), "fd %d", fd)

/* System V IPC */
WRAP(int, msgctl, -1, EINVAL, (int id, int c, struct msqid_ds *b), (id, c, b), "%d, %d", id, c)
WRAP(int, msgget, -1, ENOSPC, (key_t k, int f), (k, f), "%#x", k)
WRAP(ssize_t, msgrcv, -1, ENOMSG, (int id, void *m, size_t n, long t, int f), (id, m, n, t, f), "%d", id)
WRAP(int, msgsnd, -1, EAGAIN, (int id, const void *m, size_t n, int f), (id, m, n, f), "%d", id)
WRAP(int, semget, -1, ENOSPC, (key_t k, int n, int f), (k, n, f), "%#x", k)
WRAP(int, shmctl, -1, EINVAL, (int id, int c, struct shmid_ds *b), (id, c, b), "%d, %d", id, c)
WRAP(int, shmget, -1, ENOSPC, (key_t k, size_t n, int f), (k, n, f), "%#x", k)
WRAP(void *, shmat, (void *)-1, ENOMEM, (int id, const void *a, int f), (id, a, f), "%d", id)
WRAP(int, shmdt, -1, EINVAL, (const void *a), (a), "%p", a)

/* directories and stdio */
WRAP(DIR *, opendir, NULL, EMFILE, (const char *p), (p), "%s", p)
WRAP(DIR *, fdopendir, NULL, ENOMEM, (int fd), (fd), "fd %d", fd)
WRAP(struct dirent64 *, readdir64, NULL, EIO, (DIR *d), (d), "")
WRAP(FILE *, fopen64, NULL, EMFILE, (const char *p, const char *m), (p, m), "%s", p)
WRAP(char *, fgets, NULL, EIO, (char *b, int n, FILE *f), (b, n, f), "")

/* with variable arguments */
WRAP_VA(void *, mremap, MAP_FAILED, ENOMEM, (void *a, size_t o, size_t n, int f), f, void *, f & MREMAP_FIXED,
	(a, o, n, f, arg), "mremap(%p)", a)
WRAP_VA(int, open64, -1, EMFILE, (const char *p, int f), f, mode_t, f & (O_CREAT | __O_TMPFILE), (p, f, arg),
	"open(%s)", p)
WRAP_VA(int, openat64, -1, EMFILE, (int d, const char *p, int f), f, mode_t, f & (O_CREAT | __O_TMPFILE),
	(d, p, f, arg), "openat(%s)", p)
WRAP_VA(int, fcntl64, -1, EIO, (int fd, int cmd), cmd, void *, 1, (fd, cmd, arg), "fcntl(fd %d, %d)", fd, cmd)
WRAP_VA(int, ioctl, -1, EIO, (int fd, unsigned long req), req, void *, 1, (fd, req, arg), "ioctl(fd %d, %#lx)",
	fd, req)
WRAP_VA(int, semctl, -1, EINVAL, (int id, int n, int cmd), cmd, void *, 1, (id, n, cmd, arg),
	"semctl(%d, %d)", id, cmd)

/* what the macros can't say: a failed close still closes, several optional arguments */
int __real_close(int fd);
int __wrap_close(int fd);
int __wrap_close(int fd)
{
	if (fault_hit("close(fd %d)", fd)) {
		__real_close(fd);
		errno = EIO;
		return -1;
	}
	return __real_close(fd);
}

long __real_ptrace(int req, ...);
long __wrap_ptrace(int req, ...);
long __wrap_ptrace(int req, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, req);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (fault_hit("ptrace(%#x, %d)", req, pid)) {
		errno = ESRCH;
		return -1;
	}
	return __real_ptrace(req, pid, addr, data);
}

int __real_prctl(int op, ...);
int __wrap_prctl(int op, ...);
int __wrap_prctl(int op, ...)
{
	unsigned long a[4];
	va_list ap;

	va_start(ap, op);
	for (int i = 0; i < 4; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);
	if (fault_hit("prctl(%d)", op)) {
		errno = EINVAL;
		return -1;
	}
	return __real_prctl(op, a[0], a[1], a[2], a[3]);
}

long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);
/*
 * Six arguments are passed on, however many the caller gave, as the
 * kernel takes them: the last may be read from the caller's stack, which
 * is harmless, but not to ASan.
 */
__attribute__((no_sanitize("address")))
long __wrap_syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (fault_hit("syscall(%ld)", nr)) {
		errno = EPERM;
		return -1;
	}
	return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
