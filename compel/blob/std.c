/*
 * The library every blob is linked with: entry stub, string helpers, a tiny
 * formatter, and the daemon side of the control channel.
 */
#include <stdarg.h>
#include <sys/socket.h>
#include <linux/errno.h>

#include "compel/blob.h"
#include "compel/fdmsg.h"

/*
 * compel starts a blob with %rdi = args and %rsp somewhere in the blob's
 * stack. Align the stack, run blob_main, and stop on a trap the tool
 * waits for; the tool never lets execution go past it.
 */
asm(".section .text.blob_head, \"ax\"\n"
    ".globl __blob_start\n"
    "__blob_start:\n"
    "	andq $-16, %rsp\n"
    "	call blob_main\n"
    ".globl __blob_trap\n"
    "__blob_trap:\n"
    "	int3\n"
    "	jmp __blob_trap\n"
    ".globl __blob_syscall\n"
    "__blob_syscall:\n"		/* syscall; int3: for syscalls run by the tool */
    "	syscall\n"
    "	int3\n"
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

/*
 * Never a SIGPIPE if the tool hung up: it would be the task's (this runs
 * in the task), and could kill it.
 */
static int ctl_send(struct compel_ctl_msg *m)
{
	long ret = sys_sendto(ctl_sock, m, sizeof(*m), MSG_NOSIGNAL, 0, 0);

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

int compel_daemon(struct compel_args *args, compel_cmd_handler_t handler)
{
	struct compel_ctl_msg m;
	long ret;

	if (args->magic != COMPEL_ARGS_MAGIC)
		return -EINVAL;

	ctl_sock = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl_sock < 0)
		return ctl_sock;
	ret = sys_connect(ctl_sock, &args->addr, args->addr_len);
	if (ret < 0)
		goto out;

	while (1) {
		if (ctl_recv(&m)) {
			ret = -EPIPE;
			break;
		}
		if (m.cmd == COMPEL_CMD_FINI) {
			m.ret = 0;
			m.err = 0;
			ctl_send(&m);
			ret = 0;
			break;
		}
		ret = handler(m.cmd, compel_user_args(args));
		m.ret = ret < 0 ? -1 : ret;
		m.err = ret < 0 ? -ret : 0;
		if (ctl_send(&m)) {
			ret = -EPIPE;
			break;
		}
	}
out:
	sys_close(ctl_sock);
	ctl_sock = -1;
	return ret;
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
