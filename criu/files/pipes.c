/*
 * Pipes. The queued bytes are copied with tee(2) from a duplicate of the
 * task's read end (pidfd_getfd), so the task's data stays where it is.
 */
#include <errno.h>
#include <fcntl.h>
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

/* Copy what is queued in @rd without consuming it. */
int peek_pipe(int rd, int size, uint8_t **data, size_t *len)
{
	int tmp[2] = { -1, -1 }, queued = 0, ret = -1;
	uint8_t *buf = NULL;
	ssize_t n;

	*data = NULL;
	*len = 0;
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
	if (!buf || read(tmp[0], buf, queued) != queued) {
		pr_perror("reading pipe data");
		goto out;
	}
	*data = buf;
	*len = queued;
	buf = NULL;
	ret = 0;
out:
	free(buf);
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

	if (acc == O_RDWR) {
		pr_err("can't dump task %d: fd %d is a pipe opened read-write; not supported\n", pid, fd);
		return -1;
	}
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
	if (acc == O_RDONLY) {
		if (peek_pipe(dup, size, &pe->data.data, &pe->data.len)) {
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
 * A pipe whose other end no task of the tree holds is refused, unless the
 * dump is a runtime's (swrk: opts.ext_pipes), whose container stdio pipes
 * are such: it becomes external, as with --external pipe:[INO], and
 * restore needs an --inherit-fd for it (runc and crun give the new pipes
 * that way, by this name). Its queued bytes stay with the pipe, which
 * lives on outside.
 */
int check_pipes(pid_t pid, struct file_table *ft)
{
	char name[48];

	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		int found = 0;

		if (d->fe.type != FILE_TYPE__FT_PIPE)
			continue;
		for (size_t j = 0; j < ft->nr && !found; j++)
			found = j != i && ft->d[j].fe.type == FILE_TYPE__FT_PIPE && ft->d[j].pipe.ino == d->pipe.ino &&
				(ft->d[j].pipe.flags & O_ACCMODE) != (d->pipe.flags & O_ACCMODE);
		if (found)
			continue;
		if (!opts.ext_pipes) {
			pr_err("can't dump task %d: fd %d is a pipe (pipe:[%lu]) whose other end is outside the dump; "
			       "dump with --external pipe:[%lu]\n", d->owner_pid, d->owner_fd,
			       (unsigned long)d->pipe.ino, (unsigned long)d->pipe.ino);
			return -1;
		}
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
	}
	return 0;
}

/* ---- restore ---- */

struct rst_pipe {
	uint64_t ino;
	int fd[2];		/* -1 once handed out */
	int keep[2];		/* for reopening an end as another open file description */
};

static struct rst_pipe *rst_pipes;
static size_t nr_rst_pipes;
static int scratch_base;

void pipes_restore_init(int scratch)
{
	scratch_base = scratch;
}

/* Keep an fd not yet handed out away from fd numbers still to be placed. */
int restore_lift_fd(int fd)
{
	int hi;

	if (!scratch_base)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, scratch_base);
	if (hi < 0) {
		pr_perror("can't move a pipe end above %d", scratch_base);
		return -1;
	}
	close(fd);
	return hi;
}

static FileEntry *find_read_end(struct rst_files *rf, uint64_t ino)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];

		if (fe->type == FILE_TYPE__FT_PIPE && fe->pipe && fe->pipe->ino == ino &&
		    (fe->pipe->flags & O_ACCMODE) == O_RDONLY)
			return fe;
	}
	return NULL;
}

static struct rst_pipe *create_pipe(struct rst_files *rf, PipeEntry *pe)
{
	FileEntry *rd = find_read_end(rf, pe->ino);
	struct rst_pipe *p, *n;

	n = realloc(rst_pipes, (nr_rst_pipes + 1) * sizeof(*n));
	if (!n)
		return NULL;
	rst_pipes = n;
	p = &rst_pipes[nr_rst_pipes];
	p->ino = pe->ino;
	p->keep[0] = p->keep[1] = -1;
	if (pipe2(p->fd, O_CLOEXEC)) {
		pr_perror("pipe");
		return NULL;
	}
	nr_rst_pipes++;
	p->fd[0] = restore_lift_fd(p->fd[0]);
	p->fd[1] = restore_lift_fd(p->fd[1]);
	if (p->fd[0] < 0 || p->fd[1] < 0)
		return NULL;
	p->keep[0] = restore_lift_fd(fcntl(p->fd[0], F_DUPFD_CLOEXEC, 0));
	p->keep[1] = restore_lift_fd(fcntl(p->fd[1], F_DUPFD_CLOEXEC, 0));
	if (p->keep[0] < 0 || p->keep[1] < 0)
		return NULL;
	if (pe->has_pipe_size && fcntl(p->fd[1], F_SETPIPE_SZ, pe->pipe_size) < 0) {
		pr_perror("can't give pipe:[%lu] its size %u", (unsigned long)pe->ino, pe->pipe_size);
		return NULL;
	}
	if (rd && rd->pipe->has_data && rd->pipe->data.len &&
	    write_all(p->fd[1], rd->pipe->data.data, rd->pipe->data.len)) {
		pr_perror("can't refill pipe:[%lu] with %zu bytes", (unsigned long)pe->ino, rd->pipe->data.len);
		return NULL;
	}
	return p;
}

int open_pipe_end(struct rst_files *rf, FileEntry *fe)
{
	PipeEntry *pe = fe->pipe;
	struct rst_pipe *p = NULL;
	int end, fd;

	if (!pe) {
		pr_err("pipe file %u has no pipe record\n", fe->id);
		return -1;
	}
	for (size_t i = 0; i < nr_rst_pipes; i++)
		if (rst_pipes[i].ino == pe->ino)
			p = &rst_pipes[i];
	if (!p)
		p = create_pipe(rf, pe);
	if (!p)
		return -1;
	end = (pe->flags & O_ACCMODE) == O_WRONLY;
	if (p->fd[end] < 0) {
		/* Another open file description of the same end, as /proc/PID/fd/N opens make. */
		fd = proc_open(end ? O_WRONLY : O_RDONLY, "self/fd/%d", p->keep[end]);
		if (fd < 0) {
			pr_perror("can't reopen pipe:[%lu]", (unsigned long)pe->ino);
			return -1;
		}
	} else {
		fd = p->fd[end];
		p->fd[end] = -1;
	}
	if (fcntl(fd, F_SETFL, pe->flags & (O_NONBLOCK | O_DIRECT))) {
		pr_perror("can't set pipe flags");
		close(fd);
		return -1;
	}
	return fd;
}

/* In a new child: the parent's table is not ours; its fds were closed. */
void pipes_restore_forget(void)
{
	free(rst_pipes);
	rst_pipes = NULL;
	nr_rst_pipes = 0;
}

void pipes_restore_fini(void)
{
	for (size_t i = 0; i < nr_rst_pipes; i++)
		for (int j = 0; j < 2; j++) {
			if (rst_pipes[i].fd[j] >= 0)
				close(rst_pipes[i].fd[j]);
			if (rst_pipes[i].keep[j] >= 0)
				close(rst_pipes[i].keep[j]);
		}
	free(rst_pipes);
	rst_pipes = NULL;
	nr_rst_pipes = 0;
}
