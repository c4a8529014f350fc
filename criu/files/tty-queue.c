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
 * In canonical mode the input is read line by line (a read gives one
 * line; one without its newline or EOL character was ended by EOF, which
 * the queue keeps as no byte), then the line typed only in part, which no
 * read returns, with ICANON off for the moment (the queue is empty by
 * then, so switching back leaves nothing behind). It goes back with
 * ICANON on, every special character off but the one that ends each line.
 *
 * Refused, before anything is read: a queue near the size of the read
 * buffer (more may wait behind it, and it might not all fit back), a tty
 * whose output is stopped or full, a master that can't be read or
 * written, and in packet mode the cases where changing termios would post
 * a status byte (EXTPROC, or the IXON flow control state that
 * TIOCPKT_DOSTOP/NOSTOP report).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <asm/termbits.h>

#include "log.h"
#include "util.h"
#include "tty-queue.h"

/* N_TTY's read buffer is 4096 bytes; past its throttle mark more may wait in the flip buffer. */
#define TTYQ_LIMIT	(4096 - 128)
/* what may come back from a queue when the flip buffer had more after all */
#define TTYQ_READ_MAX	(64 * 1024)
/* how long the pty's buffer work may take to show queued bytes */
#define QUEUE_WAIT_MS	2000

/*
 * How often a call that takes a queue out or puts it (or the termios)
 * back is tried: a failure half-way leaves the pty changed (bytes gone, or
 * the rest ahead of those taken, ICANON off, the lock off), and poll() and
 * the tty ioctls fail for a moment only (EINTR, ENOMEM) on a pty that works.
 */
#define TRIES		3

#define IN_IFLAGS	(ISTRIP | IUCLC | IGNCR | ICRNL | INLCR | IXON | PARMRK)
#define IN_LFLAGS	(ISIG | ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | IEXTEN)

/* 1 if @fd has @ev now, 0 if not, -1 if poll() kept failing */
static int poll_now(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n = -1;

	for (int i = 0; i < TRIES && n < 0; i++)
		n = poll(&p, 1, 0);
	if (n < 0) {
		pr_perror("poll() on a pty");
		return -1;
	}
	return n == 1 && (p.revents & ev);
}

static int writable(int fd)
{
	return poll_now(fd, POLLOUT);
}

static int readable(int fd)
{
	return poll_now(fd, POLLIN);
}

static int set_termios(int m, const struct termios2 *t)
{
	int ret = -1;

	for (int i = 0; i < TRIES && ret; i++)
		ret = ioctl(m, TCSETS2, t);
	return ret;
}

/* Give master @m the termios @orig back, and see that it has it. */
static int put_termios(int m, const struct termios2 *orig)
{
	struct termios2 now;
	int ret = -1;

	if (set_termios(m, orig)) {
		pr_perror("can't give the pty its termios back");
		return -1;
	}
	for (int i = 0; i < TRIES && ret; i++)
		ret = ioctl(m, TCGETS2, &now);
	if (ret) {
		pr_perror("can't read the termios given back to the pty");
		return -1;
	}
	if (memcmp(&now, orig, sizeof(now))) {
		pr_err("the pty's termios changed while its queues were taken or written back\n");
		return -1;
	}
	return 0;
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
	for (;;) {
		int r = readable(fd), tries = 0;
		ssize_t n;

		if (r <= 0)
			return r;
		/* a failed read takes nothing: given up, the bytes taken would go back behind the rest */
		do
			n = read(fd, buf, sizeof(buf));
		while (n < 0 && errno != EAGAIN && ++tries < TRIES);
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

static int put_all(int fd, const struct ttyq_buf *b, const char *what)
{
	size_t done = 0;
	int tries = 0;

	while (done < b->len) {
		ssize_t n = write(fd, b->data + done, b->len - done);

		if (n > 0) {
			done += n;
			continue;
		}
		if (++tries == TRIES) {
			pr_perror("can't write %zu bytes of %s back into the pty (%zu written)", b->len, what, done);
			return -1;
		}
	}
	return 0;
}

/* The pty's buffer work runs asynchronously: wait until @fd reads at least @len bytes. */
static int wait_queued(int fd, size_t len, const char *what)
{
	struct timespec d = { 0, 1000 * 1000 };	/* 1 ms a try */
	int n = 0, failed = 0;

	/*
	 * Not waiting (a failed FIONREAD) would let the termios go back before
	 * the bytes are processed: with echo, signals and mapping on.
	 */
	for (int i = 0; i < QUEUE_WAIT_MS; i++) {
		if (ioctl(fd, FIONREAD, &n)) {
			if (++failed == TRIES) {
				pr_perror("FIONREAD on a pty");
				return -1;
			}
			continue;
		}
		if ((size_t)n >= len)
			return 0;
		readable(fd);	/* poll() with nothing readable waits for the buffer work */
		nanosleep(&d, NULL);
	}
	pr_err("the %zu bytes of %s written back don't show up in the pty (%d do)\n", len, what, n);
	return -1;
}

/* The characters that are special in canonical input, all switched off while lines are fed. */
static const int canon_specials[] = { VINTR, VQUIT, VERASE, VKILL, VEOF, VEOL, VEOL2, VSTART, VSTOP, VSUSP,
				      VREPRINT, VWERASE, VLNEXT, VDISCARD };

/* Is @c what ends a canonical line under @t (but the newline, always one)? */
static int ends_line(const struct termios2 *t, uint8_t c)
{
	return (t->c_cc[VEOL] && c == t->c_cc[VEOL]) || ((t->c_lflag & IEXTEN) && t->c_cc[VEOL2] && c == t->c_cc[VEOL2]);
}

static size_t canon_bytes(const struct ttyq *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->nr_lines; i++)
		n += q->lines[i].b.len;
	return n;
}

/*
 * The canonical lines and the line typed in part through master @m, in one
 * write (the buffer work takes it in one go): EOF-ended lines with the EOF
 * character after them. Only the characters that end lines are on (the
 * dump refused lines holding one as data).
 */
static int feed_lines(int m, const struct termios2 *orig, const struct ttyq *q)
{
	size_t len = q->partial.len;
	uint8_t *all, *p;
	int ret;

	for (size_t i = 0; i < q->nr_lines; i++)
		len += q->lines[i].b.len + !!q->lines[i].eof;
	p = all = malloc(len + 1);
	if (!all)
		return -1;
	for (size_t i = 0; i < q->nr_lines; i++) {
		if (q->lines[i].b.len)	/* an empty bytes field has no data (NULL) */
			memcpy(p, q->lines[i].b.data, q->lines[i].b.len);
		p += q->lines[i].b.len;
		if (q->lines[i].eof)
			*p++ = orig->c_cc[VEOF];
	}
	memcpy(p, q->partial.data, q->partial.len);
	ret = put_all(m, &(struct ttyq_buf){ all, len }, "input lines");
	free(all);
	return ret;
}

/* The lines can be fed back: no byte of theirs but the last ends a line, no EOF ends one without VEOF. */
static int lines_fit(const struct termios2 *t, const struct ttyq *q)
{
	for (size_t i = 0; i < q->nr_lines; i++) {
		const struct ttyq_buf *b = &q->lines[i].b;
		size_t upto = b->len - (b->len && !q->lines[i].eof);

		if (q->lines[i].eof && !t->c_cc[VEOF])
			return -1;
		for (size_t j = 0; j < upto; j++)
			if (b->data[j] == '\n' || ends_line(t, b->data[j]) || (t->c_cc[VEOF] && b->data[j] == t->c_cc[VEOF]))
				return -1;
	}
	for (size_t j = 0; j < q->partial.len; j++)
		if (q->partial.data[j] == '\n' || ends_line(t, q->partial.data[j]) ||
		    (t->c_cc[VEOF] && q->partial.data[j] == t->c_cc[VEOF]))
			return -1;
	return 0;
}

int ttyq_feed(int m, int s, const struct termios2 *orig, const struct ttyq *q)
{
	int canon = q->nr_lines || q->partial.len;
	struct termios2 t = *orig;
	int ret = 0;

	if (!q->in.len && !q->out.len && !canon)
		return 0;
	if (q->out.len)
		t.c_oflag &= ~OPOST;
	if (q->in.len || canon) {
		t.c_iflag &= ~IN_IFLAGS;
		t.c_lflag &= ~IN_LFLAGS;
	}
	if (canon) {
		/* every special character off but those that end lines */
		t.c_lflag |= ICANON;
		for (size_t i = 0; i < ARRAY_SIZE(canon_specials); i++)
			if (canon_specials[i] != VEOF && canon_specials[i] != VEOL && canon_specials[i] != VEOL2)
				t.c_cc[canon_specials[i]] = 0;	/* _POSIX_VDISABLE */
		t.c_lflag |= orig->c_lflag & IEXTEN;	/* VEOL2 counts only with it */
	}
	/* the termios may be another already (take_and_put_back() reads a line typed in part with ICANON off) */
	if (set_termios(m, &t)) {
		pr_perror("can't switch the pty's processing off: %zu bytes of output, %zu of input and %zu lines are lost",
			  q->out.len, q->in.len + q->partial.len, q->nr_lines);
		put_termios(m, orig);
		return -1;
	}
	if (put_all(m, &q->in, "input") || put_all(s, &q->out, "output") || (canon && feed_lines(m, orig, q)))
		ret = -1;
	/* the input is processed when the buffer work runs: with the termios it finds then */
	if (!ret && q->in.len && wait_queued(s, q->in.len, "input"))
		ret = -1;
	if (!ret && q->nr_lines && wait_queued(s, canon_bytes(q), "input lines"))
		ret = -1;
	/* it came in the same write: taken in with the lines (a poll with no line there waits for it) */
	if (!ret && q->partial.len && !q->nr_lines && readable(s) < 0)
		ret = -1;
	if (!ret && q->out.len && wait_queued(m, q->out.len, "output"))
		ret = -1;
	if (put_termios(m, orig))
		return -1;
	return ret;
}

/* A slave of the pty for the purpose; a lock only matters to opens, and it is put back. */
static int open_peer(int m, int locked)
{
	int zero = 0, one = 1, s, ret = -1;

	if (locked && ioctl(m, TIOCSPTLCK, &zero))
		return -1;
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	for (int i = 0; locked && i < TRIES && ret; i++)
		ret = ioctl(m, TIOCSPTLCK, &one);
	if (locked && ret) {
		pr_perror("can't lock the pty again: its slave can be opened by anyone now");
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* Can the queues of sizes @nin/@nout be taken and put back exactly? Nothing is read yet. */
static int can_take(const struct ttyq_ctx *c, int m, int s, const struct termios2 *t, int nin, int nout, int canon)
{
	int acc = fcntl(m, F_GETFL);
	const char *why = NULL;

	if (acc < 0)
		return -1;
	acc &= O_ACCMODE;
	if (nin >= TTYQ_LIMIT || nout >= TTYQ_LIMIT)
		why = "the queue fills the tty buffer, more may wait behind it";
	else if ((nout && acc == O_WRONLY) || ((nin || canon) && acc == O_RDONLY))
		why = "the master's file can't be read or written to put the bytes back";
	else if (!writable(s) || ((nin || canon) && !writable(m)))
		why = "its output is stopped (flow control) or full";
	else if (posts_status(t, c->packet, nin || canon))
		why = "in packet mode, switching the processing off would post a status byte";
	if (!why)
		return 0;
	pr_err("can't dump task %d: fd %d is the master of pts %u with %d bytes of output and %d bytes of "
	       "input queued: %s\n", c->pid, c->fd, c->index, nout, nin, why);
	return -1;
}

/* The whole canonical lines the slave @s reads, one per read, then the line typed in part. */
static int drain_lines(int m, int s, const struct termios2 *t, struct ttyq *q, int *changed)
{
	struct termios2 raw = *t;
	uint8_t buf[4097];

	for (;;) {
		int r = readable(s), tries = 0;
		struct ttyq_line *l;
		ssize_t n;

		if (r < 0)
			return -1;
		if (!r)
			break;
		do
			n = read(s, buf, sizeof(buf));
		while (n < 0 && errno != EAGAIN && ++tries < TRIES);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			pr_perror("reading a line of a pty");
			return -1;
		}
		l = realloc(q->lines, (q->nr_lines + 1) * sizeof(*l));
		if (!l)
			return -1;
		q->lines = l;
		l = &q->lines[q->nr_lines++];
		memset(l, 0, sizeof(*l));
		l->b.data = malloc(n ? n : 1);
		if (!l->b.data)
			return -1;
		memcpy(l->b.data, buf, n);
		l->b.len = n;
		/* a read ends at the newline or EOL it keeps, or at an EOF it doesn't */
		l->eof = !n || (buf[n - 1] != '\n' && !ends_line(t, buf[n - 1]));
	}
	/* the rest is a line typed in part: readable with ICANON off, and the queue is empty after */
	raw.c_lflag &= ~ICANON;
	raw.c_cc[VMIN] = raw.c_cc[VTIME] = 0;
	*changed = 1;	/* even if it fails: the caller puts the termios back either way */
	if (set_termios(m, &raw)) {
		pr_perror("can't switch canonical mode off for the moment");
		return -1;
	}
	return drain(s, 0, &q->partial);
}

void ttyq_free(struct ttyq *q)
{
	for (size_t i = 0; i < q->nr_lines; i++)
		free(q->lines[i].b.data);
	free(q->lines);
	free(q->in.data);
	free(q->out.data);
	free(q->partial.data);
	memset(q, 0, sizeof(*q));
}

static int take_and_put_back(const struct ttyq_ctx *c, int m, struct ttyq *q)
{
	int s, nin = 0, nout = 0, ret = -1, canon, changed = 0;
	struct termios2 t;

	memset(q, 0, sizeof(*q));
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
	/*
	 * In canonical mode a line typed in part is counted nowhere: looked
	 * for always, unless putting it back would post a packet-mode status
	 * byte while nothing else is queued.
	 */
	canon = (t.c_lflag & ICANON) && (nin || !posts_status(&t, c->packet, 1));
	if ((t.c_lflag & ICANON) && !canon)
		pr_warn("pts %u is in canonical and packet mode: a line typed only in part can't be looked at, and is "
			"not saved\n", c->index);
	if (!nin && !nout && !canon) {
		ret = 0;
		goto out;
	}
	if (can_take(c, m, s, &t, nin, nout, canon))
		goto out;
	ret = drain(m, c->packet, &q->out);
	if (!ret)
		ret = canon ? drain_lines(m, s, &t, q, &changed) : drain(s, 0, &q->in);
	if (!ret && canon && lines_fit(&t, q)) {
		pr_err("can't dump task %d: fd %d is the master of pts %u with a line queued in canonical mode that "
		       "holds a character ending lines as data (typed after LNEXT); not supported\n", c->pid, c->fd,
		       c->index);
		ret = -1;
	}
	/*
	 * Whatever was taken goes back, even if not all could be; the termios
	 * goes back too, when nothing was taken (ttyq_feed() then does nothing).
	 */
	if (ttyq_feed(m, s, &t, q)) {
		pr_err("pts %u (fd %d of %d): its queued bytes could not all be put back\n", c->index, c->fd, c->pid);
		ret = -1;
	} else if (changed && !q->in.len && !q->out.len && !q->nr_lines && !q->partial.len && put_termios(m, &t)) {
		pr_err("pts %u (fd %d of %d): left with its canonical mode off\n", c->index, c->fd, c->pid);
		ret = -1;
	}
	if (!ret && (q->out.len < (size_t)nout || q->in.len + canon_bytes(q) < (size_t)nin)) {
		pr_err("pts %u: read %zu of %d output and %zu of %d input bytes\n", c->index, q->out.len, nout,
		       q->in.len + canon_bytes(q), nin);
		ret = -1;
	}
	if (!ret && (q->out.len || q->in.len || canon_bytes(q)))
		pr_info("pts %u: %zu bytes of output and %zu of input queued, saved\n", c->index, q->out.len,
			q->in.len + canon_bytes(q));
	if (!ret && (q->nr_lines || q->partial.len))
		pr_info("pts %u: %zu whole lines and %zu bytes typed in part queued in canonical mode\n", c->index,
			q->nr_lines, q->partial.len);
out:
	close(s);
	if (ret)
		ttyq_free(q);
	return ret;
}

static int send_buf(int fd, const struct ttyq_buf *b)
{
	return write_all(fd, &b->len, sizeof(b->len)) || (b->len && write_all(fd, b->data, b->len)) ? -1 : 0;
}

static int recv_buf(int fd, struct ttyq_buf *b)
{
	if (read_full(fd, &b->len, sizeof(b->len)) || b->len > TTYQ_READ_MAX)
		return -1;
	b->data = malloc(b->len ? b->len : 1);	/* an empty line's too: the image's field takes it */
	if (!b->data)
		return -1;
	return b->len ? read_full(fd, b->data, b->len) : 0;
}

/* In the reader: the pty as it was, then what it held to @out. */
static int reader(const struct ttyq_ctx *c, int m, int out)
{
	struct ttyq q;
	int ret = take_and_put_back(c, m, &q);

	if (c->node)
		times_put_back(c->node, c->times);
	if (ret)
		return 1;
	if (send_buf(out, &q.out) || send_buf(out, &q.in) || send_buf(out, &q.partial) ||
	    write_all(out, &q.nr_lines, sizeof(q.nr_lines)))
		return 1;
	for (size_t i = 0; i < q.nr_lines; i++)
		if (write_all(out, &q.lines[i].eof, sizeof(q.lines[i].eof)) || send_buf(out, &q.lines[i].b))
			return 1;
	return 0;
}

/*
 * The queues are taken out and put back by a process of its own, as the
 * messages of a POSIX message queue are (criu/ipc/mqueue.c): criu killed
 * meanwhile, it finishes, and the task finds its pty as it was (termios,
 * lock, queued bytes, the slave node's times). Only a SIGKILL of that
 * process itself between the first change and the last put-back leaves the
 * pty changed: ICANON off, unlocked, or bytes gone.
 */
int ttyq_dump(const struct ttyq_ctx *c, int m, struct ttyq *q)
{
	int p[2], status = 0, ret = -1;
	pid_t pid;

	memset(q, 0, sizeof(*q));
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	/* a process group of its own too: a kill of criu's group misses it */
	pid = fork_finisher(1, "ptyq-finisher");
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		_exit(reader(c, m, p[1]));
	}
	close(p[1]);
	if (recv_buf(p[0], &q->out) || recv_buf(p[0], &q->in) || recv_buf(p[0], &q->partial) ||
	    read_full(p[0], &q->nr_lines, sizeof(q->nr_lines)) || q->nr_lines > TTYQ_READ_MAX)
		goto out;
	q->lines = calloc(q->nr_lines + 1, sizeof(*q->lines));
	if (!q->lines) {
		q->nr_lines = 0;
		goto out;
	}
	for (size_t i = 0; i < q->nr_lines; i++)
		if (read_full(p[0], &q->lines[i].eof, sizeof(q->lines[i].eof)) || recv_buf(p[0], &q->lines[i].b))
			goto out;
	ret = 0;
out:
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (!WIFEXITED(status))
			pr_err("the reader of the queues of pts %u died (status %#x): the pty may be left changed\n",
			       c->index, status);
		ret = -1;
	} else if (ret) {
		pr_err("can't take the queues of pts %u from their reader\n", c->index);
	}
	if (ret)
		ttyq_free(q);
	return ret;
}

int ttyq_restore(int m, uint32_t index, const struct ttyq *q)
{
	struct termios2 t;
	int s, ret;

	if (!q->in.len && !q->out.len && !q->nr_lines && !q->partial.len)
		return 0;
	if (ioctl(m, TCGETS2, &t)) {
		pr_perror("TCGETS2 on pts %u", index);
		return -1;
	}
	if (q->in.len && (t.c_lflag & ICANON)) {
		pr_err("pts %u: raw input queued in canonical mode in the image\n", index);
		return -1;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s < 0) {
		pr_perror("can't open the slave of pts %u to queue its bytes", index);
		return -1;
	}
	ret = ttyq_feed(m, s, &t, q);
	close(s);
	if (ret)
		pr_err("can't queue the saved bytes in pts %u\n", index);
	else
		pr_info("pts %u: %zu bytes of output, %zu of input, %zu lines and %zu bytes typed in part queued "
			"again\n", index, q->out.len, q->in.len, q->nr_lines, q->partial.len);
	return ret;
}
