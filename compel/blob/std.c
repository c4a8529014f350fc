/*
 * The library every blob is linked with: entry stub, string helpers, a tiny
 * formatter, and the daemon side of the control channel.
 */
#include <stdarg.h>
#include <sys/socket.h>
#include <linux/errno.h>

#include "compel/blob.h"
#include "compel/frame.h"
#include "compel/fdmsg.h"

/*
 * compel starts a blob with %rdi = args and %rsp somewhere in the blob's
 * stack. Align the stack and run blob_main. A daemon's blob_main returns
 * only when its tool is gone: __blob_finish then puts the task back by
 * itself (rt_sigreturn of the frame compel prepared before starting us).
 * A blob without a daemon ends on a trap the tool waits for.
 *
 * The tool's own syscalls run at __blob_syscall ("syscall; ret") with
 * %rsp at that frame, whose first word points at __blob_heal: if the
 * tool dies at any instant, the task goes on from there into its own
 * registers, mask and FPU state (__blob_heal_fix() first settles how its
 * interrupted syscall ends).
 */
asm(".section .text.blob_head, \"ax\"\n"
    ".globl __blob_start\n"
    "__blob_start:\n"
    "	andq $-16, %rsp\n"
    "	call blob_main\n"
    "	call __blob_finish\n"
    ".globl __blob_trap\n"
    "__blob_trap:\n"
    "	int3\n"
    "	jmp __blob_trap\n"
    ".globl __blob_heal\n"
    "__blob_heal:\n"		/* a frame's return address: %rsp = frame + 8 */
    "	leaq -8(%rsp), %rbx\n"
    "	movq %rbx, %rsp\n"		/* the frame is 16-aligned: room below it */
    "	movq %rbx, %rdi\n"
    "	call __blob_heal_fix\n"
    "	movq %rbx, %rdi\n"
    ".globl __blob_sigreturn_to\n"
    "__blob_sigreturn_to:\n"	/* %rdi = frame */
    "	leaq 8(%rdi), %rsp\n"
    ".globl __blob_sigreturn\n"
    "__blob_sigreturn:\n"
    "	movl $15, %eax\n"		/* __NR_rt_sigreturn */
    "	syscall\n"
    "	ud2\n"
    ".globl __blob_syscall\n"
    "__blob_syscall:\n"
    "	syscall\n"
    "	ret\n"
    ".text\n");

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (!(((uintptr_t)d | (uintptr_t)s | n) & 7)) {
		uint64_t *d8 = dst;
		const uint64_t *s8 = src;

		for (n /= 8; n; n--)
			*d8++ = *s8++;
		return dst;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *p, int c, size_t n)
{
	unsigned char *d = p;

	while (n--)
		*d++ = (unsigned char)c;
	return p;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

struct fmtbuf {
	char *p;
	size_t left;
	int len;
};

static void put(struct fmtbuf *b, char c)
{
	if (b->left > 1) {
		*b->p++ = c;
		b->left--;
	}
	b->len++;
}

static void put_num(struct fmtbuf *b, unsigned long v, int base, int neg)
{
	char tmp[24];
	int i = 0;

	if (neg)
		put(b, '-');
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		put(b, tmp[--i]);
}

int blob_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct fmtbuf b = { .p = buf, .left = size };
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		int lng = 0;

		if (*fmt != '%') {
			put(&b, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == 'l') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			while (s && *s)
				put(&b, *s++);
			break;
		}
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);

			put_num(&b, v < 0 ? -(unsigned long)v : (unsigned long)v, 10, v < 0);
			break;
		}
		case 'u':
			put_num(&b, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int), 10, 0);
			break;
		case 'x':
			put_num(&b, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int), 16, 0);
			break;
		case 'p':
			put(&b, '0');
			put(&b, 'x');
			put_num(&b, (unsigned long)va_arg(ap, void *), 16, 0);
			break;
		case '%':
			put(&b, '%');
			break;
		default:
			put(&b, '?');
			break;
		}
	}
	va_end(ap);
	if (size)
		*b.p = '\0';
	return b.len;
}

static int ctl_sock = -1;
static struct compel_args *daemon_args;
unsigned long __blob_trap_frame;

void __blob_sigreturn_to(uint64_t frame) __attribute__((noreturn));

/*
 * Never SIGPIPE: every signal is blocked while we run, so one raised here
 * would stay pending and hit the task once its own mask is back.
 */
static int ctl_send(struct compel_ctl_msg *m)
{
	long ret = __S(__NR_sendto, ctl_sock, m, sizeof(*m), MSG_NOSIGNAL, 0, 0);

	return ret == sizeof(*m) ? 0 : -1;
}

static int ctl_recv(struct compel_ctl_msg *m)
{
	long ret;

	do {
		ret = sys_read(ctl_sock, m, sizeof(*m));
	} while (ret == -EINTR);
	return ret == sizeof(*m) ? 0 : -1;
}

/*
 * The daemon's loop. It ends only when the channel breaks: the tool died
 * (or gave up on us). FINI lets the handler clean up and is answered, but
 * the daemon then keeps waiting: a live tool stops the task here and puts
 * its state back exactly (a sigreturn would lose a sleep's restart block).
 */
int compel_daemon(struct compel_args *args, compel_cmd_handler_t handler)
{
	struct compel_ctl_msg m;
	long ret;

	if (args->magic != COMPEL_ARGS_MAGIC)
		return -EINVAL;
	daemon_args = args;
	if (args->no_close)
		__blob_trap_frame = args->frame;
	args->sock_fd = -1;
	ctl_sock = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl_sock < 0)
		return ctl_sock;
	args->sock_fd = ctl_sock;
	args->pidfd = -1;
	ret = sys_connect(ctl_sock, &args->addr, args->addr_len);
	if (ret < 0)
		return ret;
	if (args->wait_tool) {
		int fd;

		ret = compel_blob_recv_fds(&fd, 1);
		if (ret < 0)
			return ret;
		args->pidfd = fd;
	}

	while (1) {
		if (ctl_recv(&m))
			return -EPIPE;
		ret = handler(m.cmd, compel_user_args(args));
		if (m.cmd == COMPEL_CMD_FINI && ret == -ENOSYS)
			ret = 0;	/* a handler with nothing to clean up */
		if (m.cmd == COMPEL_CMD_FINI && args->pidfd >= 0) {
			/*
			 * The tool's pidfd goes before the answer: a tool that dies
			 * during its cure, between its closes of our fds, would leave
			 * it open in the task. Losing the tool from here on, we wait
			 * blind (wait_tool_blind()).
			 */
			sys_close(args->pidfd);
			args->pidfd = -1;
		}
		m.ret = ret < 0 ? -1 : ret;
		m.err = ret < 0 ? -ret : 0;
		if (ctl_send(&m))
			return -EPIPE;
	}
}

/*
 * The channel closes when the tool dies, but the kernel closes a dying
 * process's files before it detaches its tracees: until then the task
 * would run its own code still traced with PTRACE_O_SUSPEND_SECCOMP, its
 * filters not enforced. The tool's pidfd becomes readable only after
 * exit_notify(), i.e. after the detach. A live tool never lets us get
 * here (it stops us in this poll and puts the task back itself); the
 * bound is for a tool that let go of us without that and lives on.
 */
#define WAIT_TOOL_MS	(60 * 1000)

static void wait_tool_gone(int pidfd)
{
	struct { int fd; short events, revents; } p = { pidfd, 1 /* POLLIN */, 0 };
	long ret;

	do {
		ret = sys_poll(&p, 1, WAIT_TOOL_MS);
	} while (ret == -EINTR);
}

/*
 * The tool died before its pidfd reached us (between our connect() and
 * the first read): nothing tells us when it has detached. Its exit takes
 * microseconds from closing its files to the detach; give it far more.
 */
#define WAIT_TOOL_BLIND_NS	(200 * 1000 * 1000L)

static void wait_tool_blind(void)
{
	struct { long sec, nsec; } t = { 0, WAIT_TOOL_BLIND_NS }, rem;

	while (sys_nanosleep(&t, &rem) == -EINTR)
		t = rem;
}

#define K_SIG_DFL	0UL
#define K_SIG_IGN	1UL
#define K_SA_RESTART	0x10000000UL
#define K_ERESTARTSYS	(-512)
#define K_ERESTARTNOINTR (-513)

struct k_sigaction {
	unsigned long handler, flags, restorer;
	uint64_t mask;
};

/* SIG_DFL of @sig does nothing to a sleeping syscall: ignored, or a stop (restarted after SIGCONT). */
static int dfl_harmless(int sig)
{
	switch (sig) {
	case 17: case 18: case 23: case 28:	/* SIGCHLD, SIGCONT, SIGURG, SIGWINCH */
	case 19: case 20: case 21: case 22:	/* SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU */
		return 1;
	}
	return 0;
}

/*
 * Every signal sent to the thread while compel worked in it was blocked;
 * the rt_sigreturn of the frame unblocks them and the first is delivered
 * on its way out, with the frame's registers re-entering the interrupted
 * syscall. Had the signal come without us, the kernel would have ended
 * that syscall with EINTR if a handler runs (pause(), sigsuspend(), a
 * sleep; a read without SA_RESTART): re-entered, the handler's wakeup
 * would be lost. So, like the kernel's restart logic, look at the first
 * pending signal the task's mask lets through that has a handler, and
 * make the frame return -EINTR if that signal would have interrupted it.
 * A signal sent between this look and the rt_sigreturn still finds the
 * syscall re-entered (Documentation/compel.md, "lost wakeups").
 */
void __blob_heal_fix(struct compel_sigframe *f)
{
	struct compel_heal_restart *r = &f->restart;
	struct k_sigaction act;
	uint64_t pending = 0;

	/* strict mode: any syscall but read and write would heal by the leader's frame */
	if (__blob_trap_frame || r->magic != COMPEL_HEAL_MAGIC || !r->code || !(r->flags & COMPEL_HEAL_CHECK))
		return;
	if (__S(__NR_rt_sigpending, &pending, sizeof(pending), 0, 0, 0, 0))
		return;
	pending &= ~f->uc.sigmask;
	for (int sig = 1; sig <= 64; sig++) {
		if (!(pending & (1ULL << (sig - 1))))
			continue;
		if (sys_rt_sigaction(sig, 0, &act, sizeof(act.mask)))
			return;
		if (act.handler == K_SIG_IGN || (act.handler == K_SIG_DFL && dfl_harmless(sig)))
			continue;
		if (act.handler == K_SIG_DFL)
			return;		/* the task dies of it */
		if (r->code == K_ERESTARTNOINTR || (r->code == K_ERESTARTSYS && (act.flags & K_SA_RESTART)))
			return;
		f->uc.mc.rax = -EINTR;
		f->uc.mc.rip = r->rip;
		return;
	}
}

/*
 * blob_main returned: with a daemon, the tool is gone. Close the channel
 * (unless strict seccomp would kill us for it) and return into the task.
 */
void __blob_finish(void)
{
	struct compel_args *args = daemon_args;

	if (!args)
		return;		/* no daemon: the trap after us */
	if (ctl_sock >= 0 && !args->no_close)
		sys_close(ctl_sock);
	ctl_sock = -1;
	args->sock_fd = -1;
	if (args->pidfd >= 0) {
		wait_tool_gone(args->pidfd);
		sys_close(args->pidfd);
		args->pidfd = -1;
	} else if (args->wait_tool) {
		wait_tool_blind();
	}
	__blob_heal_fix((struct compel_sigframe *)args->frame);
	args->healed = 1;
	__blob_sigreturn_to(args->frame);
}

int compel_blob_send_fds(const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * COMPEL_MAX_FDS)] __attribute__((aligned(8)));
	struct msghdr mh;
	struct iovec iov;
	char dummy = 0;
	long ret;

	if (compel_fds_msg(&mh, &iov, cbuf, nr, &dummy))
		return -EINVAL;
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * nr);
	ret = sys_sendmsg(ctl_sock, &mh, MSG_NOSIGNAL);
	return ret < 0 ? ret : 0;
}

int compel_blob_recv_fds(int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * COMPEL_MAX_FDS)] __attribute__((aligned(8)));
	struct cmsghdr *ch;
	struct msghdr mh;
	struct iovec iov;
	char dummy;
	long ret;

	if (compel_fds_msg(&mh, &iov, cbuf, nr, &dummy))
		return -EINVAL;
	ret = sys_recvmsg(ctl_sock, &mh, MSG_CMSG_CLOEXEC);
	if (ret < 0)
		return ret;
	ch = CMSG_FIRSTHDR(&mh);
	if (!ch || ch->cmsg_type != SCM_RIGHTS || ch->cmsg_len != CMSG_LEN(sizeof(int) * nr))
		return -EBADMSG;
	memcpy(fds, CMSG_DATA(ch), sizeof(int) * nr);
	return 0;
}
