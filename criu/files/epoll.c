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
#include <unistd.h>

#include "epoll.h"
#include "fdkinds.h"
#include "files.h"
#include "log.h"

static int add_tfd(EpollEntry *e, int tfd, unsigned int events, unsigned long long data)
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
	e->tfds = n;
	e->tfds[e->n_tfds++] = t;
	return 0;
}

static void free_epoll(FileEntry *fe);

static int dump_epoll(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
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
		if (add_tfd(e, tfd, events, data)) {
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

static int open_epoll(FileEntry *fe)
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

static int find_adders(struct file_desc *d, const pid_t *pids, int nr)
{
	EpollEntry *e = d->fe.epoll;

	e->tfd_pids = calloc(e->n_tfds ? e->n_tfds : 1, sizeof(*e->tfd_pids));
	if (!e->tfd_pids) {
		pr_err("out of memory\n");
		return -1;
	}
	e->n_tfd_pids = e->n_tfds;
	for (size_t i = 0; i < e->n_tfds; i++) {
		unsigned int toff = 0;
		pid_t found = 0;

		/* targets registered twice under one number are told apart by their rank */
		for (size_t j = 0; j < i; j++)
			toff += e->tfds[j]->tfd == e->tfds[i]->tfd;
		/* the epoll's holder first: then nothing needs passing on */
		if (has_target(d->owner_pid, d->owner_pid, d->owner_fd, e->tfds[i], toff))
			found = d->owner_pid;
		for (int k = 0; k < nr && !found; k++)
			if (has_target(pids[k], d->owner_pid, d->owner_fd, e->tfds[i], toff))
				found = pids[k];
		if (!found) {
			pr_err("can't dump task %d: epoll fd %d watches a file registered as fd %d, which no process "
			       "of the tree has at fd %d any more; not supported\n", d->owner_pid, d->owner_fd,
			       e->tfds[i]->tfd, e->tfds[i]->tfd);
			return -1;
		}
		e->tfd_pids[i] = found;
	}
	return 0;
}

int epoll_check_targets(struct file_table *ft, const pid_t *pids, int nr)
{
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (d->fe.type == FILE_TYPE__FT_EPOLL && d->fe.epoll && d->owner_fd >= 0 &&
		    find_adders(d, pids, nr))
			return -1;
	}
	return 0;
}

/* ---- restore: the targets this process adds ---- */

int epoll_add_targets(struct rst_files *rf, pid_t pid, const int *opened, const struct rst_transit *tr)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		EpollEntry *e = fe->type == FILE_TYPE__FT_EPOLL ? fe->epoll : NULL;
		int epfd = -1;

		if (!e || e->n_tfd_pids != e->n_tfds)
			continue;
		for (size_t j = 0; j < e->n_tfds; j++) {
			if (e->tfd_pids[j] != pid)
				continue;
			if (epfd < 0)
				epfd = opened[fe->id] >= 0 ? opened[fe->id] : tr ? tr->base + (int)fe->id : -1;
			if (epfd < 0 || fcntl(epfd, F_GETFD) < 0) {
				pr_err("epoll file %u: process %d is to add its target fd %d but does not have it\n",
				       fe->id, pid, e->tfds[j]->tfd);
				return -1;
			}
			if (add_target(epfd, e->tfds[j]))
				return -1;
		}
	}
	return 0;
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
	.late = 1,
};
