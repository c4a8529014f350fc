/*
 * What blob code (parasite, restorer) may use: raw syscalls, a few string
 * functions, and the daemon side of compel's control channel. Blobs run
 * without libc, on a stack compel gives them, at an address chosen at
 * load time.
 */
#ifndef COMPEL_BLOB_H
#define COMPEL_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>

#include "compel/rpc.h"

/*
 * Non-zero in a daemon running in a task in seccomp strict mode: the heal
 * frame's address. Every syscall of the blob but read and write (the only
 * ones strict mode allows besides rt_sigreturn and exit) is then entered
 * as rt_sigreturn of that frame, with the real number in %r12, and the
 * tool makes it the real one at its entry stop (the daemon runs under
 * PTRACE_SYSCALL). A tool that died leaves no stop to change it in: the
 * task then heals at that syscall instead of being killed by seccomp for
 * it once its tracer is gone (Documentation/compel.md, "strict mode").
 */
extern unsigned long __blob_trap_frame;

static inline long __sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 asm("r10") = a4;
	register long r8 asm("r8") = a5;
	register long r9 asm("r9") = a6;
	long ret;

	if (__builtin_expect(__blob_trap_frame != 0, 0) && nr != __NR_read && nr != __NR_write) {
		register long r12 asm("r12") = nr;

		asm volatile("movq %%rsp, %%r13\n\t"
			     "leaq 8(%[f]), %%rsp\n\t"
			     "syscall\n\t"
			     "movq %%r13, %%rsp"
			     : "=a"(ret)
			     : "0"((long)__NR_rt_sigreturn), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9),
			       "r"(r12), [f] "r"(__blob_trap_frame)
			     : "rcx", "r11", "r13", "memory");
		return ret;
	}
	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
		     : "rcx", "r11", "memory");
	return ret;
}

#define __S(nr, a1, a2, a3, a4, a5, a6) \
	__sys6(nr, (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6))

#define sys_read(fd, b, n)			__S(__NR_read, fd, b, n, 0, 0, 0)
#define sys_write(fd, b, n)			__S(__NR_write, fd, b, n, 0, 0, 0)
#define sys_pread64(fd, b, n, off)		__S(__NR_pread64, fd, b, n, off, 0, 0)
#define sys_preadv(fd, iov, n, off)		__S(__NR_preadv, fd, iov, n, off, 0, 0)
#define sys_close(fd)				__S(__NR_close, fd, 0, 0, 0, 0, 0)
#define sys_mmap(a, l, p, f, fd, o)		__S(__NR_mmap, a, l, p, f, fd, o)
#define sys_munmap(a, l)			__S(__NR_munmap, a, l, 0, 0, 0, 0)
#define sys_mprotect(a, l, p)			__S(__NR_mprotect, a, l, p, 0, 0, 0)
#define sys_mremap(o, ol, nl, f, n)		__S(__NR_mremap, o, ol, nl, f, n, 0)
#define sys_madvise(a, l, adv)			__S(__NR_madvise, a, l, adv, 0, 0, 0)
#define sys_brk(a)				__S(__NR_brk, a, 0, 0, 0, 0, 0)
#define sys_socket(d, t, p)			__S(__NR_socket, d, t, p, 0, 0, 0)
#define sys_connect(fd, a, l)			__S(__NR_connect, fd, a, l, 0, 0, 0)
#define sys_sendmsg(fd, m, f)			__S(__NR_sendmsg, fd, m, f, 0, 0, 0)
#define sys_sendto(fd, b, n, f, a, l)		__S(__NR_sendto, fd, b, n, f, a, l)
#define sys_recvmsg(fd, m, f)			__S(__NR_recvmsg, fd, m, f, 0, 0, 0)
#define sys_vmsplice(fd, iov, n, f)		__S(__NR_vmsplice, fd, iov, n, f, 0, 0)
#define sys_rt_sigaction(s, a, o, sz)		__S(__NR_rt_sigaction, s, a, o, sz, 0, 0)
#define sys_rt_sigprocmask(h, s, o, sz)		__S(__NR_rt_sigprocmask, h, s, o, sz, 0, 0)
#define sys_rt_tgsigqueueinfo(tg, t, s, i)	__S(__NR_rt_tgsigqueueinfo, tg, t, s, i, 0, 0)
#define sys_sigaltstack(n, o)			__S(__NR_sigaltstack, n, o, 0, 0, 0, 0)
#define sys_prlimit64(p, r, n, o)		__S(__NR_prlimit64, p, r, n, o, 0, 0)
#define sys_prctl(o, a, b, c, d)		__S(__NR_prctl, o, a, b, c, d, 0)
#define sys_arch_prctl(c, a)			__S(__NR_arch_prctl, c, a, 0, 0, 0, 0)
#define sys_personality(p)			__S(__NR_personality, p, 0, 0, 0, 0, 0)
#define sys_umask(m)				__S(__NR_umask, m, 0, 0, 0, 0, 0)
#define sys_getpid()				__S(__NR_getpid, 0, 0, 0, 0, 0, 0)
#define sys_gettid()				__S(__NR_gettid, 0, 0, 0, 0, 0, 0)
#define sys_setresuid(r, e, s)			__S(__NR_setresuid, r, e, s, 0, 0, 0)
#define sys_setresgid(r, e, s)			__S(__NR_setresgid, r, e, s, 0, 0, 0)
#define sys_setfsuid(u)				__S(__NR_setfsuid, u, 0, 0, 0, 0, 0)
#define sys_setfsgid(g)				__S(__NR_setfsgid, g, 0, 0, 0, 0, 0)
#define sys_setgroups(n, l)			__S(__NR_setgroups, n, l, 0, 0, 0, 0)
#define sys_getgroups(n, l)			__S(__NR_getgroups, n, l, 0, 0, 0, 0)
#define sys_capget(h, d)			__S(__NR_capget, h, d, 0, 0, 0, 0)
#define sys_capset(h, d)			__S(__NR_capset, h, d, 0, 0, 0, 0)
#define sys_exit_group(c)			__S(__NR_exit_group, c, 0, 0, 0, 0, 0)
#define sys_kill(p, s)				__S(__NR_kill, p, s, 0, 0, 0, 0)
#define sys_poll(f, n, t)			__S(__NR_poll, f, n, t, 0, 0, 0)
#define sys_nanosleep(r, m)			__S(__NR_nanosleep, r, m, 0, 0, 0, 0)

/* String helpers from compel/blob/std.c; the compiler may also emit calls to these. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Formats a message (%s %d %u %ld %lu %lx %x %p only) into buf, NUL-terminated. */
int blob_snprintf(char *buf, size_t size, const char *fmt, ...);

/*
 * Daemon side of the control channel. A parasite defines
 * blob_main(struct compel_args *) (called by compel's entry stub; returning
 * ends in a trap the tool waits for) and usually just calls compel_daemon()
 * with its command handler.
 */
typedef int (*compel_cmd_handler_t)(unsigned int cmd, void *args);

int compel_daemon(struct compel_args *args, compel_cmd_handler_t handler);
int compel_blob_send_fds(const int *fds, int nr);
int compel_blob_recv_fds(int *fds, int nr);

long blob_main(void *args);

#endif
