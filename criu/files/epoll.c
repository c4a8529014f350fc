/*
 * epoll: the interest list from fdinfo (target fd, events, data). A
 * target is named by the fd number it had in the table of the process
 * that registered it, which need not be a process holding the epoll now
 * (an epoll inherited by a child, or passed on). So the dump finds, for
 * each target, a process of the tree that has that very file at that
 * number (kcmp KCMP_EPOLL_TFD) and records it; at restore the epoll is
 * made empty wherever shared descriptions are made, and each target is
 * added by its recorded process, by number in its own table, once all its
 * fds are in place.
 */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "epoll.h"
#include "fdkinds.h"
#include "fsnotify.h"
#include "files.h"
#include "log.h"

static int add_tfd(EpollEntry *e, int tfd, unsigned int events, unsigned long long data, uint64_t ino,
		   uint32_t sdev)
{
	EpollTfdEntry *t = malloc(sizeof(*t)), **n;

	n = realloc(e->tfds, (e->n_tfds + 1) * sizeof(*n));
	if (!t || !n) {
		free(t);
		return -1;
	}
	epoll_tfd_entry__init(t);
	t->tfd = tfd;
	t->events = events;
	t->data = data;
	t->has_ino = t->has_sdev = true;
	t->ino = ino;
	t->sdev = sdev;
	e->tfds = n;
	e->tfds[e->n_tfds++] = t;
	return 0;
}

static void free_epoll(FileEntry *fe);

static int dump_epoll(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	EpollEntry *e = malloc(sizeof(*e));
	const char *l;

	if (!e)
		return -1;
	epoll_entry__init(e);
	e->flags = fi->flags & O_NONBLOCK;
	fe->epoll = e;
	for (l = info; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long long data;
		unsigned int events, sdev;
		unsigned long ino;
		long long pos;
		int tfd;

		if (sscanf(l, "tfd: %d events: %x data: %llx pos:%lli ino:%lx sdev:%x", &tfd, &events, &data, &pos,
			   &ino, &sdev) != 6)
			continue;
		if (add_tfd(e, tfd, events, data, ino, sdev)) {
			free_epoll(fe);
			return -1;
		}
	}
	return 0;
}

static int add_target(int epfd, const EpollTfdEntry *t)
{
	struct epoll_event ev = { .events = t->events, .data.u64 = t->data };

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, t->tfd, &ev)) {
		pr_perror("can't watch fd %d with epoll again", t->tfd);
		return -1;
	}
	return 0;
}

static int open_epoll(struct fd_rst *c, FileEntry *fe)
{
	EpollEntry *e = fe->epoll;
	int fd;

	if (!e || (e->n_tfd_pids && e->n_tfd_pids != e->n_tfds)) {
		pr_err("file %u: a bad epoll record\n", fe->id);
		return -1;
	}
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0) {
		pr_perror("epoll_create1");
		return -1;
	}
	if ((e->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		pr_perror("can't make epoll file %u non-blocking", fe->id);
		close(fd);
		return -1;
	}
	/* an image without tfd_pids: the targets are the maker's own fds */
	for (size_t i = 0; i < e->n_tfds && !e->n_tfd_pids; i++)
		if (add_target(fd, e->tfds[i])) {
			close(fd);
			return -1;
		}
	return fd;
}

/* Only an epoll of an image without tfd_pids must be made by a process holding it. */
static int epoll_numbered(const FileEntry *fe)
{
	return fe->epoll && fe->epoll->n_tfds && !fe->epoll->n_tfd_pids;
}

/* ---- dump: who can add each target at restore ---- */

static int has_target(pid_t pid, pid_t owner, int efd, const EpollTfdEntry *t, unsigned int toff)
{
	struct kcmp_epoll_slot slot = { .efd = efd, .tfd = t->tfd, .toff = toff };

	return syscall(SYS_kcmp, pid, owner, KCMP_EPOLL_TFD, t->tfd, &slot) == 0;
}

/* The kernel's dev_t of fdinfo (major << 20 | minor) as stat shows it. */
static dev_t kdev_to_dev(uint32_t kdev)
{
	return fsn_kdev(kdev);
}

/*
 * A target no process has at its number any more (closed, moved or dup'ed
 * away; the registration lives as long as the file): the description the
 * dump knows that is that very file, found among those of its inode.
 */
static struct file_desc *moved_target(struct file_table *ft, struct hmap *by_ino, uint32_t *next, struct file_desc *d,
				      const EpollTfdEntry *t, unsigned int toff)
{
	uint64_t *first = hmap_get(by_ino, inode_key(kdev_to_dev(t->sdev), t->ino));

	for (uint32_t id = first ? *first : 0; id; id = next[id]) {
		struct file_desc *c = file_desc_by_id(ft, id);
		struct kcmp_epoll_slot slot = { .efd = d->owner_fd, .tfd = t->tfd, .toff = toff };

		if (syscall(SYS_kcmp, c->owner_pid, d->owner_pid, KCMP_EPOLL_TFD, c->owner_fd, &slot) == 0)
			return c;
	}
	return NULL;
}

static int find_adders(struct file_table *ft, struct hmap *by_ino, uint32_t *next, struct file_desc *d,
		       const pid_t *pids, int nr)
{
	EpollEntry *e = d->fe.epoll;

	e->tfd_pids = calloc(e->n_tfds ? e->n_tfds : 1, sizeof(*e->tfd_pids));
	if (!e->tfd_pids) {
		pr_err("out of memory\n");
		return -1;
	}
	e->n_tfd_pids = e->n_tfds;
	for (size_t i = 0; i < e->n_tfds; i++) {
		EpollTfdEntry *t = e->tfds[i];
		unsigned int toff = 0;
		struct file_desc *f;
		pid_t found = 0;

		/* targets registered twice under one number are told apart by their rank */
		for (size_t j = 0; j < i; j++)
			toff += e->tfds[j]->tfd == t->tfd;
		/* the epoll's holder first: then nothing needs passing on */
		if (has_target(d->owner_pid, d->owner_pid, d->owner_fd, t, toff))
			found = d->owner_pid;
		for (int k = 0; k < nr && !found; k++)
			if (has_target(pids[k], d->owner_pid, d->owner_fd, t, toff))
				found = pids[k];
		if (found) {
			e->tfd_pids[i] = found;
			continue;
		}
		f = moved_target(ft, by_ino, next, d, t, toff);
		if (!f) {
			pr_err("can't dump task %d: epoll fd %d watches a file registered as fd %d (inode %lu), which no "
			       "fd of the tree holds any more; not supported\n", d->owner_pid, d->owner_fd, t->tfd,
			       (unsigned long)t->ino);
			return -1;
		}
		/* the holder of the epoll adds it, with the file at the number for a moment */
		e->tfd_pids[i] = d->owner_pid;
		t->has_file_id = true;
		t->file_id = f->id;
		pr_info("epoll fd %d of %d: the target registered as fd %d is now file %u (fd %d of %d)\n",
			d->owner_fd, d->owner_pid, t->tfd, f->id, f->owner_fd, f->owner_pid);
	}
	return 0;
}

int epoll_check_targets(struct file_table *ft, const pid_t *pids, int nr)
{
	struct hmap by_ino = { 0 };	/* inode -> the first description fds hold of it; next[] the others */
	uint32_t *next = calloc(ft->nr + 2, sizeof(*next));
	int ret = -1;

	if (!next)
		goto oom;
	for (size_t i = ft->nr; i-- > 0;) {
		struct file_desc *d = &ft->d[i];

		if (d->owner_fd >= 0 && hmap_list_push(&by_ino, inode_key(d->st.st_dev, d->st.st_ino), d->id, next))
			goto oom;
	}
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (d->fe.type == FILE_TYPE__FT_EPOLL && d->fe.epoll && d->owner_fd >= 0 &&
		    find_adders(ft, &by_ino, next, d, pids, nr))
			goto out;
	}
	ret = 0;
	goto out;
oom:
	pr_err("out of memory\n");
out:
	hmap_free(&by_ino);
	free(next);
	return ret;
}

/* ---- restore: the targets this process adds ---- */

/*
 * Target @t registered as fd tfd for file file_id, which our fd tfd is
 * not: that file goes to fd tfd for the EPOLL_CTL_ADD, and whatever the
 * fd was comes back.
 */
static int add_moved(struct fd_rst *c, int epfd, const EpollTfdEntry *t)
{
	int file = fd_rst_get(c, t->file_id), saved = -1, flags = -1, ret;

	if (file < 0)
		return -1;
	if (file == t->tfd)
		return add_target(epfd, t);
	flags = fcntl(t->tfd, F_GETFD);
	if (flags >= 0 && (saved = fd_rst_lift(c, fcntl(t->tfd, F_DUPFD_CLOEXEC, 0))) < 0)
		return -1;
	if (dup2(file, t->tfd) < 0) {
		pr_perror("can't put file %u at fd %d to watch it", t->file_id, t->tfd);
		ret = -1;
	} else {
		ret = add_target(epfd, t);
	}
	if (saved >= 0) {
		if (dup3(saved, t->tfd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			pr_perror("can't put fd %d back", t->tfd);
			ret = -1;
		}
		close(saved);
	} else {
		close(t->tfd);
	}
	return ret;
}

/*
 * Target @t is a late fd of ours (a pidfd: the restorer opens it once every
 * process exists): the restorer adds it too, to the epoll at its own fd.
 * 1: handed over, 0: not a late fd, -1: error.
 */
static int add_late(struct fd_rst *c, const FileEntry *fe, const EpollTfdEntry *t)
{
	struct late_fd *l = NULL;
	int late = 0;

	for (int i = 0; c->late && i < *c->nr_late; i++)
		if (c->late[i].fd == t->tfd && c->late[i].kind != LATE_FOWN && c->late[i].kind != LATE_EPOLL)
			late = 1;
	if (!late)
		return 0;
	if (t->has_file_id || fe->id >= c->rf->nr_ids || c->lowest[fe->id] < 0) {
		pr_err("epoll file %u: its target fd %d is a pidfd, opened once every process exists, and the "
		       "epoll is not at an fd of %d's own; not supported\n", fe->id, t->tfd, c->pid);
		return -1;
	}
	if (*c->nr_late >= c->max_late) {
		pr_err("epoll file %u: too many fds for the restorer to finish (at most %d)\n", fe->id, c->max_late);
		return -1;
	}
	l = &c->late[(*c->nr_late)++];
	memset(l, 0, sizeof(*l));
	l->kind = LATE_EPOLL;
	l->fd = c->lowest[fe->id];
	l->pid = t->tfd;
	l->flags = t->events;
	l->pos = t->data;
	return 1;
}

int epoll_add_targets(struct fd_rst *c)
{
	struct rst_files *rf = c->rf;

	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		EpollEntry *e = fe->type == FILE_TYPE__FT_EPOLL ? fe->epoll : NULL;
		int epfd = -1, ret;

		if (!e || e->n_tfd_pids != e->n_tfds)
			continue;
		for (size_t j = 0; j < e->n_tfds; j++) {
			EpollTfdEntry *t = e->tfds[j];

			if (e->tfd_pids[j] != c->pid)
				continue;
			if (epfd < 0)
				epfd = fd_rst_have(c, fe->id);
			if (epfd < 0) {
				pr_err("epoll file %u: process %d is to add its target fd %d but does not have it\n",
				       fe->id, c->pid, t->tfd);
				return -1;
			}
			ret = add_late(c, fe, t);
			if (ret < 0)
				return -1;
			if (!ret && (t->has_file_id ? add_moved(c, epfd, t) : add_target(epfd, t)))
				return -1;
		}
	}
	return 0;
}

/* A moved target is made with the epoll when that is made elsewhere: they go together. */
static size_t epoll_refs(const FileEntry *fe, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; fe->epoll && i < fe->epoll->n_tfds; i++)
		if (fe->epoll->tfds[i]->has_file_id) {
			if (n < max)
				ids[n] = fe->epoll->tfds[i]->file_id;
			n++;
		}
	return n;
}

static void free_epoll(FileEntry *fe)
{
	EpollEntry *e = fe->epoll;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_tfds; i++)
		free(e->tfds[i]);
	free(e->tfds);
	free(e->tfd_pids);
	free(e);
	fe->epoll = NULL;
}

const struct fd_kind epoll_kind = {
	.link = "anon_inode:[eventpoll]",
	.type = FILE_TYPE__FT_EPOLL,
	.dump = dump_epoll,
	.open = open_epoll,
	.free = free_epoll,
	.numbered = epoll_numbered,
	.refs = epoll_refs,
	.late = 1,
};
