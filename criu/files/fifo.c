/*
 * FIFOs opened by path. Every open of one FIFO shares its pipe, so the
 * queued bytes are saved once (peeked through a fresh read-only open of
 * /proc/PID/fd/N, which consumes nothing) and written back by whoever
 * opens that FIFO first at restore. Opens go through a read-write keeper
 * so that none of them blocks waiting for the other end.
 *
 * A FIFO whose path was unlinked is a file object (fileobj.c): the root
 * makes it at its old name (or next to it, if the name is taken), keeps a
 * read-write fd of it for the whole tree, unlinks it and puts the queued
 * bytes back; every description of that inode is then opened again
 * through /proc/self/fd of the keeper, so all of them are one pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdkinds.h"
#include "fileobj.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "pipes.h"
#include "util.h"

/* The key of a FIFO whose bytes went in already, in fd_rst.made. */
#define MADE_FIFO	(1ULL << 61)

/* Is this the first time @ino is seen in @m? 1, 0, or -1 (out of memory). */
static int first_time(struct hmap *m, uint64_t key)
{
	int made;

	if (!hmap_get_or_put(m, key, 1, &made)) {
		pr_err("out of memory\n");
		return -1;
	}
	return made;
}

static void free_fifo(FileEntry *fe);

/* Made again next to its old name at restore: that directory must still be there. */
static int dump_unlinked(pid_t pid, int fd, char *link, const struct stat *st, FifoEntry *f)
{
	char *del = strstr(link, " (deleted)"), dir[4096], at[4096 + 64], *slash;
	struct stat dst;

	if (del)
		*del = '\0';
	/* a new FIFO would not be the one still reachable by its other name */
	if (st->st_nlink) {
		pr_err("can't dump task %d: fd %d is the FIFO %s, unlinked there but linked elsewhere; not "
		       "supported\n", pid, fd, link);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", link);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';
	if (link[0] != '/' || !slash || stat(mntns_path(dir, at, sizeof(at)), &dst) || !S_ISDIR(dst.st_mode)) {
		pr_err("can't dump task %d: fd %d is the unlinked FIFO %s, whose directory is gone too\n", pid, fd,
		       link);
		return -1;
	}
	f->unlinked = malloc(sizeof(*f->unlinked));
	if (!f->unlinked) {
		pr_err("out of memory\n");
		return -1;
	}
	fifo_unlinked_entry__init(f->unlinked);
	f->unlinked->mode = st->st_mode & 07777;
	f->unlinked->uid = st->st_uid;
	f->unlinked->gid = st->st_gid;
	return ns_owner_inside(&f->unlinked->uid, &f->unlinked->gid, "an unlinked FIFO");
}

static int dump_fifo(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[4096];
	FifoEntry *f = calloc(1, sizeof(*f));
	struct stat st;
	int rd = -1, size;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (!f || read_link(path, link, sizeof(link)) < 0 || stat(path, &st))
		goto err;
	fifo_entry__init(f);
	fe->fifo = f;
	if ((st.st_nlink == 0 || strstr(link, " (deleted)")) && dump_unlinked(pid, fd, link, &st, f))
		goto err_quiet;
	f->path = strdup(link);
	f->flags = fi->flags & ~O_CLOEXEC;
	f->ino = st.st_ino;
	if (!f->path)
		goto err;
	switch (first_time(&ft->fifos, st.st_ino)) {
	case 0:
		return 0;
	case -1:
		goto err_quiet;
	}
	/* a new read-only open of the same FIFO: peeking it takes nothing away */
	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	size = rd >= 0 ? fcntl(rd, F_GETPIPE_SZ) : -1;
	if (size < 0 || peek_pipe(rd, size, &f->data.data, &f->data.len, NULL, NULL))
		goto err;
	f->has_pipe_size = true;
	f->pipe_size = size;
	f->has_data = f->data.len > 0;
	close(rd);
	return 0;
err:
	pr_perror("can't dump the FIFO at fd %d of %d", fd, pid);
err_quiet:
	if (rd >= 0)
		close(rd);
	free_fifo(fe);
	return -1;
}

static int open_fifo(struct fd_rst *c, FileEntry *fe)
{
	FifoEntry *f = fe->fifo;
	int keeper, fd = -1;
	struct stat st;

	if (!f || !f->path) {
		pr_err("file %u: a bad FIFO record\n", fe->id);
		return -1;
	}
	/*
	 * O_ASYNC comes with the owner (restore_fown(), at the fd's final
	 * number): an open with it shows it without arming the FIFO's fasync,
	 * and F_SETFL can't arm it then (only a change of the flag does).
	 */
	if (f->unlinked) {
		/* the keeper is read-write: no open blocks for the other end */
		fd = fileobj_reopen(c->rf, fe->id, (f->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_ASYNC)) | O_NONBLOCK);
		if (fd >= 0 && fcntl(fd, F_SETFL, f->flags & ~(O_ACCMODE | O_ASYNC))) {
			pr_perror("can't give the unlinked FIFO %s its flags", f->path);
			close(fd);
			return -1;
		}
		return fd;
	}
	keeper = open(f->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (keeper < 0 || fstat(keeper, &st) || !S_ISFIFO(st.st_mode)) {
		pr_perror("can't open the FIFO %s", f->path);
		goto out;
	}
	fd = open(f->path, (f->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_ASYNC)) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_SETFL, f->flags & ~(O_ACCMODE | O_ASYNC))) {
		pr_perror("can't open the FIFO %s as it was", f->path);
		goto fail;
	}
	if (f->has_data && first_time(&c->made, MADE_FIFO | st.st_ino) > 0) {
		struct file_times t;

		if (f->has_pipe_size && fcntl(keeper, F_SETPIPE_SZ, f->pipe_size) < 0)
			pr_warn("can't give the FIFO %s its size %u\n", f->path, f->pipe_size);
		/* the writes would make it look written to now */
		times_save(f->path, &t);
		if (write_all(keeper, f->data.data, f->data.len)) {
			pr_perror("can't refill the FIFO %s", f->path);
			goto fail;
		}
		times_put_back(f->path, &t);
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	fd = -1;
out:
	if (keeper >= 0)
		close(keeper);
	return fd;
}

/* Every description of one FIFO is made in one task: its bytes go in once. */
static uint64_t fifo_link_key(const FileEntry *fe)
{
	return fe->fifo ? fe->fifo->ino : 0;
}

static void free_fifo(FileEntry *fe)
{
	FifoEntry *f = fe->fifo;

	if (!f)
		return;
	free(f->path);
	free(f->data.data);
	free(f->unlinked);
	free(f);
	fe->fifo = NULL;
}

/*
 * The keeper of an unlinked FIFO, in the root before anything else: a dup
 * of @same (the keeper of an earlier description of the inode) or a new
 * FIFO. Either way the bytes this record carries go in.
 */
int fifo_make_unlinked(FileEntry *fe, int same)
{
	FifoEntry *f = fe->fifo;
	FifoUnlinkedEntry *u = f ? f->unlinked : NULL;
	char tmp[4200];
	int fd, ret;

	if (!u || !f->path) {
		pr_err("file %u: a bad FIFO record\n", fe->id);
		return -1;
	}
	if (same >= 0) {
		fd = fcntl(same, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			pr_perror("can't keep the unlinked FIFO %s", f->path);
		goto fill;
	}
	/* under its own name if free, so that /proc shows what it showed */
	snprintf(tmp, sizeof(tmp), "%s", f->path);
	ret = mknod(tmp, S_IFIFO | 0600, 0);
	if (ret && errno == EEXIST) {
		snprintf(tmp, sizeof(tmp), "%s.criu-fifo.%d", f->path, getpid());
		ret = mknod(tmp, S_IFIFO | 0600, 0);
	}
	if (ret)
		goto err_make;
	fd = open(tmp, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || unlink(tmp)) {
		pr_perror("can't open and unlink the FIFO %s made again", tmp);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	if (fchown(fd, u->uid, u->gid) || fchmod(fd, u->mode)) {
		pr_perror("can't give the unlinked FIFO %s its owner and mode", f->path);
		goto err;
	}
	if (f->has_pipe_size && fcntl(fd, F_SETPIPE_SZ, f->pipe_size) < 0)
		pr_warn("can't give the unlinked FIFO %s its size %u\n", f->path, f->pipe_size);
fill:
	if (fd >= 0 && f->has_data && write_all(fd, f->data.data, f->data.len)) {
		pr_perror("can't refill the unlinked FIFO %s", f->path);
		goto err;
	}
	return fd;
err_make:
	pr_perror("can't make the unlinked FIFO %s again", f->path);
	return -1;
err:
	close(fd);
	return -1;
}

/* A FIFO opened by path (an anonymous pipe's link is pipe:[INO]). */
static int is_fifo(const char *link, const struct stat *st)
{
	return link[0] == '/' && S_ISFIFO(st->st_mode);
}

const struct fd_kind fifo_kind = {
	.match = is_fifo,
	.type = FILE_TYPE__FT_FIFO,
	.dump = dump_fifo,
	.open = open_fifo,
	.free = free_fifo,
	.link_key = fifo_link_key,
};
