/*
 * Bytes queued inside a pty (criu/files/tty.c): output the slave wrote that the
 * master has not read, and input written to the master that the slave has
 * not read (non-canonical mode only).
 *
 * Dump: with the tree frozen nobody else reads, so criu reads both queues
 * (output through a copy of the master, input through a slave it opens
 * with TIOCGPTPEER) and writes them straight back, the way they came in:
 * the output through the slave with OPOST off, the input through the
 * master with everything that would change it (echo, signals, CR/NL
 * mapping, flow control, stripping) off. Then the termios is put back as
 * it was. The live tree, the dump done or failed, finds the same bytes.
 *
 * Restore: the same writes on the new pty, before packet mode is on.
 *
 * Refused, before anything is read: lines queued in canonical mode (their
 * boundaries and the special characters in them can't be fed back
 * exactly), a queue near the size of the read buffer (more may wait behind
 * it, and it might not all fit back), a tty whose output is stopped or
 * full, a master that can't be read or written, and in packet mode the
 * cases where changing termios would post a status byte (EXTPROC, or the
 * IXON flow control state that TIOCPKT_DOSTOP/NOSTOP report).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <asm/termbits.h>

#include "log.h"
#include "tty-queue.h"

/* N_TTY's read buffer is 4096 bytes; past its throttle mark more may wait in the flip buffer. */
#define TTYQ_LIMIT	(4096 - 128)
/* what may come back from a queue when the flip buffer had more after all */
#define TTYQ_READ_MAX	(64 * 1024)

#define IN_IFLAGS	(ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK)
#define IN_LFLAGS	(ISIG | ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | IEXTEN)

static int writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Would a termios change post a packet-mode status byte to the master's reader? */
static int posts_status(const struct termios2 *t, int packet, int in_queue)
{
	int flow = (t->c_iflag & IXON) && t->c_cc[VSTOP] == '\023' && t->c_cc[VSTART] == '\021';

	return packet && ((t->c_lflag & EXTPROC) || (in_queue && flow));
}

/* Everything queued for reading on @fd; a master in packet mode starts each read with a status byte. */
static int drain(int fd, int packet, struct ttyq_buf *b)
{
	char buf[4097];

	b->data = malloc(TTYQ_READ_MAX);
	b->len = 0;
	if (!b->data)
		return -1;
	while (readable(fd)) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			pr_perror("reading a pty queue (%zd)", n);
			return -1;
		}
		if (packet && buf[0] != 0) {
			pr_err("a packet-mode status byte 0x%x turned up in a pty queue\n", (unsigned char)buf[0]);
			return -1;
		}
		n -= !!packet;
		if (b->len + n > TTYQ_READ_MAX) {
			pr_err("a pty queue holds more than %d bytes\n", TTYQ_READ_MAX);
			return -1;
		}
		memcpy(b->data + b->len, buf + !!packet, n);
		b->len += n;
	}
	return 0;
}

static int write_all(int fd, const struct ttyq_buf *b, const char *what)
{
	ssize_t n = b->len ? write(fd, b->data, b->len) : 0;

	if (n != (ssize_t)b->len) {
		pr_perror("can't write %zu bytes of %s back into the pty (%zd written)", b->len, what, n);
		return -1;
	}
	return 0;
}

/* The pty's buffer work runs asynchronously: wait until @fd reads at least @len bytes. */
static int wait_queued(int fd, size_t len, const char *what)
{
	struct timespec d = { 0, 1000 * 1000 };

	for (int i = 0; i < 2000; i++) {
		int n = 0;

		if (ioctl(fd, FIONREAD, &n)) {
			pr_perror("FIONREAD on a pty");
			return -1;
		}
		if ((size_t)n >= len)
			return 0;
		readable(fd);	/* poll() with nothing readable waits for the buffer work */
		nanosleep(&d, NULL);
	}
	pr_err("the %zu bytes of %s written back don't show up in the pty\n", len, what);
	return -1;
}

int ttyq_feed(int m, int s, const struct termios2 *orig, const struct ttyq_buf *in, const struct ttyq_buf *out)
{
	struct termios2 t = *orig, now;
	int ret = 0;

	if (!in->len && !out->len)
		return 0;
	if (out->len)
		t.c_oflag &= ~OPOST;
	if (in->len) {
		t.c_iflag &= ~IN_IFLAGS;
		t.c_lflag &= ~IN_LFLAGS;
	}
	if (ioctl(m, TCSETS2, &t)) {
		pr_perror("can't switch the pty's processing off");
		return -1;
	}
	if (write_all(m, in, "input") || write_all(s, out, "output"))
		ret = -1;
	/* the input is processed when the buffer work runs: with the termios it finds then */
	if (!ret && in->len && wait_queued(s, in->len, "input"))
		ret = -1;
	if (!ret && out->len && wait_queued(m, out->len, "output"))
		ret = -1;
	if (ioctl(m, TCSETS2, orig) || ioctl(m, TCGETS2, &now)) {
		pr_perror("can't give the pty its termios back");
		return -1;
	}
	if (memcmp(&now, orig, sizeof(now))) {
		pr_err("the pty's termios changed while its queues were written back\n");
		return -1;
	}
	return ret;
}

/* A slave of the pty for the purpose; a lock only matters to opens, and it is put back. */
static int open_peer(int m, int locked)
{
	int zero = 0, one = 1, s;

	if (locked && ioctl(m, TIOCSPTLCK, &zero))
		return -1;
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (locked && ioctl(m, TIOCSPTLCK, &one)) {
		pr_perror("can't lock the pty again");
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* Can the queues of sizes @nin/@nout be taken and put back exactly? Nothing is read yet. */
static int can_take(const struct ttyq_ctx *c, int m, int s, const struct termios2 *t, int nin, int nout)
{
	int acc = fcntl(m, F_GETFL);
	const char *why = NULL;

	if (acc < 0)
		return -1;
	acc &= O_ACCMODE;
	if (nin && (t->c_lflag & ICANON))
		why = "whole lines queued in canonical mode can't be fed back exactly";
	else if (nin >= TTYQ_LIMIT || nout >= TTYQ_LIMIT)
		why = "the queue fills the tty buffer, more may wait behind it";
	else if ((nout && acc == O_WRONLY) || (nin && acc == O_RDONLY))
		why = "the master's file can't be read or written to put the bytes back";
	else if (!writable(s) || (nin && !writable(m)))
		why = "its output is stopped (flow control) or full";
	else if (posts_status(t, c->packet, nin))
		why = "in packet mode, switching the processing off would post a status byte";
	if (!why)
		return 0;
	pr_err("can't dump task %d: fd %d is the master of pts %u with %d bytes of output and %d bytes of "
	       "input queued: %s\n", c->pid, c->fd, c->index, nout, nin, why);
	return -1;
}

int ttyq_dump(const struct ttyq_ctx *c, int m, struct ttyq_buf *in, struct ttyq_buf *out)
{
	int s, nin = 0, nout = 0, ret = -1;
	struct termios2 t;

	in->data = out->data = NULL;
	in->len = out->len = 0;
	s = open_peer(m, c->locked);
	if (s < 0) {
		pr_perror("can't dump task %d: can't open the slave of pts %u (fd %d) to look at its queues",
			  c->pid, c->index, c->fd);
		return -1;
	}
	if (ioctl(m, FIONREAD, &nout) || ioctl(s, FIONREAD, &nin) || ioctl(m, TCGETS2, &t)) {
		pr_perror("can't read the queues of pts %u (fd %d of %d)", c->index, c->fd, c->pid);
		goto out;
	}
	if (!nin && !nout) {
		ret = 0;
		goto out;
	}
	if (can_take(c, m, s, &t, nin, nout))
		goto out;
	ret = drain(m, c->packet, out);
	if (!ret)
		ret = drain(s, 0, in);
	/* whatever was taken goes back, even if not all could be */
	if (ttyq_feed(m, s, &t, in, out)) {
		pr_err("pts %u (fd %d of %d): its queued bytes could not all be put back\n", c->index, c->fd, c->pid);
		ret = -1;
	}
	if (!ret && (out->len < (size_t)nout || in->len < (size_t)nin)) {
		pr_err("pts %u: read %zu of %d output and %zu of %d input bytes\n", c->index, out->len, nout,
		       in->len, nin);
		ret = -1;
	}
	if (!ret)
		pr_info("pts %u: %zu bytes of output and %zu of input queued, saved\n", c->index, out->len,
			in->len);
out:
	close(s);
	if (ret) {
		free(in->data);
		free(out->data);
		in->data = out->data = NULL;
		in->len = out->len = 0;
	}
	return ret;
}

int ttyq_restore(int m, uint32_t index, const struct ttyq_buf *in, const struct ttyq_buf *out)
{
	struct termios2 t;
	int s, ret;

	if (!in->len && !out->len)
		return 0;
	if (ioctl(m, TCGETS2, &t)) {
		pr_perror("TCGETS2 on pts %u", index);
		return -1;
	}
	if (in->len && (t.c_lflag & ICANON)) {
		pr_err("pts %u: input queued in canonical mode in the image\n", index);
		return -1;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s < 0) {
		pr_perror("can't open the slave of pts %u to queue its bytes", index);
		return -1;
	}
	ret = ttyq_feed(m, s, &t, in, out);
	close(s);
	if (ret)
		pr_err("can't queue the saved bytes in pts %u\n", index);
	else
		pr_info("pts %u: %zu bytes of output and %zu of input queued again\n", index, out->len, in->len);
	return ret;
}
