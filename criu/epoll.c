/*
 * epoll: the interest list from fdinfo (target fd, events, data). The
 * targets are fds of the task that owns the epoll, so epoll fds are opened
 * after every other fd (restore_fds places them in a second pass).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdkinds.h"
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

/* The target must still be the file the fd number names now. */
static int check_target(pid_t pid, int fd, int tfd, unsigned long ino, unsigned int sdev)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, tfd);
	if (stat(path, &st) || st.st_ino != ino) {
		pr_err("can't dump task %d: epoll fd %d watches a file that is no longer its fd %d; not supported yet\n",
		       pid, fd, tfd);
		return -1;
	}
	(void)sdev;
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
		if (check_target(pid, fd, tfd, ino, sdev) || add_tfd(e, tfd, events, data)) {
			free_epoll(fe);
			return -1;
		}
	}
	return 0;
}

static int open_epoll(FileEntry *fe)
{
	EpollEntry *e = fe->epoll;
	int fd;

	if (!e) {
		pr_err("file %u: a bad epoll record\n", fe->id);
		return -1;
	}
	fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0) {
		pr_perror("epoll_create1");
		return -1;
	}
	if (e->flags & O_NONBLOCK)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	for (size_t i = 0; i < e->n_tfds; i++) {
		struct epoll_event ev = { .events = e->tfds[i]->events, .data.u64 = e->tfds[i]->data };

		if (epoll_ctl(fd, EPOLL_CTL_ADD, e->tfds[i]->tfd, &ev)) {
			pr_perror("can't watch fd %d with epoll again", e->tfds[i]->tfd);
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void free_epoll(FileEntry *fe)
{
	EpollEntry *e = fe->epoll;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_tfds; i++)
		free(e->tfds[i]);
	free(e->tfds);
	free(e);
	fe->epoll = NULL;
}

const struct fd_kind epoll_kind = {
	.link = "anon_inode:[eventpoll]",
	.type = FILE_TYPE__FT_EPOLL,
	.dump = dump_epoll,
	.open = open_epoll,
	.free = free_epoll,
	.late = 1,
};
