/*
 * Pipes. The queued bytes are copied with tee(2) from a duplicate of the
 * task's read end (pidfd_getfd), so the task's data stays where it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cr_options.h"
#include "external.h"
#include "log.h"
#include "pipes.h"
#include "util.h"

/*
 * Is the one buffer of @len bytes queued in @rd a packet? Read all but its
 * last byte from another copy: a packet's rest goes with that read.
 */
static int one_packet(int rd, int size, size_t len)
{
	uint8_t *buf = malloc(len);
	int tmp[2], ret = -1;
	ssize_t n;

	if (!buf) {
		pr_err("out of memory\n");
		return -1;
	}
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) || fcntl(tmp[1], F_SETPIPE_SZ, size) < 0) {
		pr_perror("can't make a pipe to copy pipe data");
		free(buf);
		return -1;
	}
	n = tee(rd, tmp[1], len, SPLICE_F_NONBLOCK);
	if (n != (ssize_t)len) {
		pr_perror("tee of %zu queued bytes returned %zd", len, n);
		goto out;
	}
	if (read(tmp[0], buf, len - 1) != (ssize_t)len - 1) {
		pr_perror("reading pipe data");
		goto out;
	}
	n = read(tmp[0], buf, 1);
	if (n < 0 && errno != EAGAIN) {
		pr_perror("reading pipe data");
		goto out;
	}
	ret = n != 1;
out:
	free(buf);
	close(tmp[0]);
	close(tmp[1]);
	return ret;
}

/*
 * Copy what is queued in @rd without consuming it. A read() returns one
 * packet at most: data that comes out in several reads was written in
 * packets, whose sizes those reads are.
 */
int peek_pipe(int rd, int size, uint8_t **data, size_t *len, uint32_t **packets, size_t *nr_packets)
{
	int tmp[2] = { -1, -1 }, queued = 0, ret = -1;
	uint32_t *pk = NULL;
	uint8_t *buf = NULL;
	size_t got = 0, nr = 0;
	ssize_t n;

	*data = NULL;
	*len = 0;
	if (packets) {
		*packets = NULL;
		*nr_packets = 0;
	}
	if (ioctl(rd, FIONREAD, &queued)) {
		pr_perror("FIONREAD on a pipe");
		return -1;
	}
	if (queued == 0)
		return 0;
	if (pipe2(tmp, O_CLOEXEC) || fcntl(tmp[1], F_SETPIPE_SZ, size) < 0) {
		pr_perror("can't make a pipe to copy pipe data");
		goto out;
	}
	n = tee(rd, tmp[1], queued, SPLICE_F_NONBLOCK);
	if (n != queued) {
		pr_perror("tee of %d queued bytes returned %zd", queued, n);
		goto out;
	}
	buf = malloc(queued);
	pk = malloc(queued * sizeof(*pk));
	if (!buf || !pk) {
		pr_err("out of memory\n");
		goto out;
	}
	while (got < (size_t)queued) {
		n = read(tmp[0], buf + got, queued - got);
		if (n <= 0) {
			pr_perror("reading pipe data (%zu of %d bytes)", got, queued);
			goto out;
		}
		pk[nr++] = n;
		got += n;
	}
	if (nr == 1 && queued > 1) {
		int r = one_packet(rd, size, queued);

		if (r < 0)
			goto out;
		if (!r)
			nr = 0;
	} else if (nr == 1) {
		nr = 0;	/* a single byte reads the same either way */
	}
	if (nr && !packets) {
		pr_err("data written in packets (O_DIRECT) queued in a FIFO; not supported\n");
		goto out;
	}
	*data = buf;
	*len = queued;
	buf = NULL;
	if (nr) {
		*packets = pk;
		*nr_packets = nr;
		pk = NULL;
	}
	ret = 0;
out:
	free(buf);
	free(pk);
	if (tmp[0] >= 0)
		close(tmp[0]);
	if (tmp[1] >= 0)
		close(tmp[1]);
	return ret;
}

int dump_pipe(pid_t pid, int fd, const struct stat *st, const struct proc_fdinfo *fi, struct file_desc *d)
{
	int acc = fi->flags & O_ACCMODE, dup, size;
	PipeEntry *pe = &d->pipe;

	pipe_entry__init(pe);
	pe->ino = st->st_ino;
	pe->flags = fi->flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT);
	dup = task_fd(pid, fd);
	if (dup < 0)
		return -1;
	size = fcntl(dup, F_GETPIPE_SZ);
	if (size < 0) {
		pr_perror("F_GETPIPE_SZ on fd %d of %d", fd, pid);
		close(dup);
		return -1;
	}
	pe->has_pipe_size = true;
	pe->pipe_size = size;
	/* a read-write description (bash's exec {fd}<> <(:), /proc/PID/fd/N opened O_RDWR) reads too */
	if (acc == O_RDONLY || acc == O_RDWR) {
		if (peek_pipe(dup, size, &pe->data.data, &pe->data.len, &pe->packets, &pe->n_packets)) {
			close(dup);
			return -1;
		}
		pe->has_data = pe->data.len > 0;
	}
	close(dup);
	d->fe.type = FILE_TYPE__FT_PIPE;
	d->fe.pipe = pe;
	return 0;
}

/*
 * A pipe end whose other end no task holds: fine if nobody else holds it
 * either (a read end then sees POLLHUP once the data is read, a write end
 * POLLERR), as the restore closes that end again; refused if the other end
 * lives on outside the tree, unless the dump is a runtime's (swrk:
 * opts.ext_pipes), whose container stdio pipes are such.
 */
static int far_end_external(struct file_desc *d)
{
	char name[48];

	/*
	 * As with --external pipe:[INO]: restore needs an --inherit-fd for
	 * it (runc and crun give the new pipes that way, by this name). Its
	 * queued bytes stay with the pipe, which lives on outside.
	 */
	snprintf(name, sizeof(name), "pipe:[%lu]", (unsigned long)d->pipe.ino);
	if (external_note(d->id, name, "its other end is outside the tree"))
		return -1;
	if (d->pipe.has_data)
		pr_info("fd %d of %d: %zu bytes queued in %s are left to it\n", d->owner_fd, d->owner_pid,
			d->pipe.data.len, name);
	free(d->pipe.data.data);
	d->pipe.data.data = NULL;
	d->pipe.data.len = 0;
	d->pipe.has_data = false;
	free(d->pipe.packets);
	d->pipe.packets = NULL;
	d->pipe.n_packets = 0;
	return 0;
}

static int check_far_end(struct file_desc *d)
{
	int rd = (d->pipe.flags & O_ACCMODE) == O_RDONLY, fd = task_fd(d->owner_pid, d->owner_fd);
	struct pollfd p = { .events = rd ? POLLIN : POLLOUT };

	if (fd < 0)
		return -1;
	p.fd = fd;
	if (poll(&p, 1, 0) < 0) {
		pr_perror("can't poll fd %d of %d", d->owner_fd, d->owner_pid);
		close(fd);
		return -1;
	}
	close(fd);
	if (p.revents & (rd ? POLLHUP : POLLERR)) {
		pr_info("fd %d of %d: pipe:[%lu] has no %s end left anywhere\n", d->owner_fd, d->owner_pid,
			(unsigned long)d->pipe.ino, rd ? "write" : "read");
		return 0;
	}
	if (opts.ext_pipes)
		return far_end_external(d);
	pr_err("can't dump task %d: fd %d is the %s end of pipe:[%lu], whose %s end is held outside the dumped "
	       "tree (dump with --external pipe:[%lu] and restore with --inherit-fd fd[N]:pipe:[%lu] to plug it "
	       "in)\n", d->owner_pid, d->owner_fd, rd ? "read" : "write", (unsigned long)d->pipe.ino,
	       rd ? "write" : "read", (unsigned long)d->pipe.ino, (unsigned long)d->pipe.ino);
	return -1;
}

int check_pipes(struct file_table *ft)
{
	struct hmap ends = { 0 };	/* pipe inode -> 1 << access mode of every end seen */
	int ret = -1;

	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		uint64_t *seen;

		if (d->fe.type != FILE_TYPE__FT_PIPE)
			continue;
		seen = hmap_get_or_put(&ends, d->pipe.ino, 0, NULL);
		if (!seen) {
			pr_err("out of memory\n");
			goto out;
		}
		*seen |= 1 << (d->pipe.flags & O_ACCMODE);
	}
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		uint64_t *seen;

		if (d->fe.type != FILE_TYPE__FT_PIPE)
			continue;
		seen = hmap_get(&ends, d->pipe.ino);
		/* both ends in the tree (a read-write description is both) */
		if (*seen == ((1 << O_RDONLY) | (1 << O_WRONLY)) || (*seen & (1 << O_RDWR)))
			continue;
		if (check_far_end(d))
			goto out;
	}
	ret = 0;
out:
	hmap_free(&ends);
	return ret;
}

/* ---- restore ---- */

/* The key of a pipe in fd_rst.made (other kinds use the map too). */
#define MADE_PIPE	(1ULL << 63)

int pipes_index(struct rst_files *rf)
{
	rf->pipe_next = calloc(rf->nr_ids + 1, sizeof(*rf->pipe_next));
	if (!rf->pipe_next) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = rf->nr; i-- > 0;) {
		FileEntry *fe = rf->fe[i];

		if (fe->type == FILE_TYPE__FT_PIPE && hmap_list_push(&rf->pipes, fe->pipe->ino, fe->id, rf->pipe_next)) {
			pr_err("out of memory\n");
			return -1;
		}
	}
	return 0;
}

/* The descriptions of pipe @ino, one after the other. */
static FileEntry *first_end(struct rst_files *rf, uint64_t ino)
{
	uint64_t *id = hmap_get(&rf->pipes, ino);

	return id ? find_file(rf, *id) : NULL;
}

static FileEntry *next_end(struct rst_files *rf, FileEntry *fe)
{
	return find_file(rf, rf->pipe_next[fe->id]);
}

static int is_read_end(const FileEntry *fe)
{
	return (fe->pipe->flags & O_ACCMODE) == O_RDONLY;
}

/* The queued data back into a new pipe's write end @wr: packet by packet, if it was written so. */
static int refill_pipe(int wr, const PipeEntry *pe)
{
	size_t off = 0;

	if (!pe->n_packets)
		return write_all(wr, pe->data.data, pe->data.len);
	if (fcntl(wr, F_SETFL, O_DIRECT))
		return -1;
	for (size_t i = 0; i < pe->n_packets; i++) {
		if (pe->packets[i] > pe->data.len - off) {
			errno = EINVAL;
			return -1;
		}
		if (write(wr, pe->data.data + off, pe->packets[i]) != (ssize_t)pe->packets[i])
			return -1;
		off += pe->packets[i];
	}
	if (off != pe->data.len) {
		errno = EINVAL;
		return -1;
	}
	return fcntl(wr, F_SETFL, 0);
}

/* The status flags a pipe end keeps; a new end has none of them, so nothing to do for most. */
static int set_pipe_flags(int fd, uint32_t flags)
{
	flags &= O_NONBLOCK | O_DIRECT;
	return flags ? fcntl(fd, F_SETFL, flags) : 0;
}

/*
 * A new pipe for @pe: the end @pe asks for is returned, the other end goes
 * to a description of it that has a place here (or is closed: nobody holds
 * that end any more, or it is made again later from the first).
 */
static int create_pipe(struct fd_rst *c, FileEntry *want)
{
	PipeEntry *pe = want->pipe;
	int p[2], rd = is_read_end(want), other;
	FileEntry *fe, *ofe;

	/* the other end goes to the first of its descriptions that has no place here yet */
	for (ofe = first_end(c->rf, pe->ino); ofe; ofe = next_end(c->rf, ofe))
		if (is_read_end(ofe) != rd && fd_rst_have(c, ofe->id) < 0)
			break;
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	p[!rd] = fd_rst_lift_for(c, p[!rd], want->id);
	p[rd] = ofe ? fd_rst_lift_for(c, p[rd], ofe->id) : fd_rst_lift(c, p[rd]);
	if (p[0] < 0 || p[1] < 0)
		goto err;
	if (pe->has_pipe_size && fcntl(p[1], F_SETPIPE_SZ, pe->pipe_size) < 0) {
		pr_perror("can't give pipe:[%lu] its size %u", (unsigned long)pe->ino, pe->pipe_size);
		goto err;
	}
	/* the data every reading description saw (read-write ones too), once */
	for (fe = first_end(c->rf, pe->ino); fe; fe = next_end(c->rf, fe)) {
		if (!fe->pipe->has_data || !fe->pipe->data.len)
			continue;
		if (refill_pipe(p[1], fe->pipe)) {
			pr_perror("can't refill pipe:[%lu] with %zu bytes", (unsigned long)pe->ino, fe->pipe->data.len);
			goto err;
		}
		break;
	}
	/* the other end, to the first of its descriptions that has a place here */
	other = p[rd];
	p[rd] = -1;
	if (ofe) {
		if (set_pipe_flags(other, ofe->pipe->flags)) {
			pr_perror("can't set pipe flags");
			goto err_other;
		}
		int to = fd_rst_place(c, ofe->id, other);

		if (to == -1)
			goto err;
		if (to >= 0)
			hmap_put(&c->made, MADE_PIPE | pe->ino, ofe->id);
		other = -1;
	}
	if (other >= 0)
		close(other);
	if (!hmap_get(&c->made, MADE_PIPE | pe->ino) && hmap_put(&c->made, MADE_PIPE | pe->ino, want->id)) {
		pr_err("out of memory\n");
		goto err;
	}
	if (set_pipe_flags(p[!rd], pe->flags)) {
		pr_perror("can't set pipe flags");
		goto err;
	}
	return p[!rd];
err_other:
	close(other);
err:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return -1;
}

/* Another open file description of the pipe that @any is an end of, as /proc/PID/fd/N opens make. */
static int reopen_end(int any, FileEntry *fe)
{
	PipeEntry *pe = fe->pipe;
	int acc = pe->flags & O_ACCMODE, fd;

	fd = proc_open(acc == O_RDWR ? O_RDWR : acc == O_RDONLY ? O_RDONLY : O_WRONLY, "self/fd/%d", any);
	if (fd < 0) {
		pr_perror("can't reopen pipe:[%lu]", (unsigned long)pe->ino);
		return -1;
	}
	if (fcntl(fd, F_SETFL, pe->flags & (O_NONBLOCK | O_DIRECT))) {
		pr_perror("can't set pipe flags");
		close(fd);
		return -1;
	}
	return fd;
}

int open_pipe_end(struct fd_rst *c, FileEntry *fe)
{
	PipeEntry *pe = fe->pipe;
	uint64_t *made;
	int fd, any;

	if (!pe) {
		pr_err("pipe file %u has no pipe record\n", fe->id);
		return -1;
	}
	made = hmap_get(&c->made, MADE_PIPE | pe->ino);
	if (!made) {
		/* a read-write description: the pipe is made with it as its write end, then opened again */
		fd = create_pipe(c, fe);
		if (fd < 0 || (pe->flags & O_ACCMODE) != O_RDWR)
			return fd;
		any = reopen_end(fd, fe);
		close(fd);
		return any;
	}
	any = fd_rst_have(c, *made);
	if (any < 0) {
		pr_err("pipe:[%lu] was made here, but none of its ends is left to open again\n", (unsigned long)pe->ino);
		return -1;
	}
	return reopen_end(any, fe);
}
