/*
 * inotify: each watch (wd, mask, watched inode) from fdinfo. At restore the
 * inode is found again by its file handle and watched through
 * /proc/self/fd/N. The kernel hands out wds in increasing order (cyclic),
 * so a wd is reached by adding and removing a throwaway watch (on a pipe)
 * until the counter stands right below it; the IN_IGNORED events that
 * leaves are read away before the fd is handed over. Queued events can't
 * be read without taking them from the task: a non-empty queue is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdkinds.h"
#include "fsnotify.h"
#include "log.h"
#include "namespaces.h"
#include "util.h"

/* The highest wd we are willing to reach by add/remove rounds. */
#define INOTIFY_MAX_WD	(1 << 20)

static void free_inotify(FileEntry *fe);

/* A readable name of the watched object, or a message why it can't be watched again. */
static int check_watch(pid_t pid, int fd, const struct fsn_inotify_wd *w, char *path, size_t size)
{
	struct stat st;
	int ofd;

	ofd = fsn_open_handle(w->sdev, w->ino, &w->fh);
	if (ofd < 0) {
		int err = errno;

		pr_err("can't dump task %d: inotify fd %d: watch %d is on inode %lu of device %u:%u, which %s\n", pid,
		       fd, w->wd, (unsigned long)w->ino, w->sdev >> 20, w->sdev & 0xfffff,
		       err == ESTALE	 ? "was deleted; watches on deleted files are not supported" :
		       err == ENODEV	 ? "is on no mounted filesystem (a pipe, socket or other internal object); "
					   "not supported" :
		       err == EOPNOTSUPP ? "its filesystem gives no file handle for; not supported" :
					   "can't be opened by its file handle");
		if (err != ESTALE && err != ENODEV && err != EOPNOTSUPP)
			pr_err("open_by_handle_at: %s\n", strerror(err));
		return -1;
	}
	if (fsn_inspect(ofd, &st, path, size)) {
		pr_perror("can't inspect the object of watch %d of inotify fd %d of %d", w->wd, fd, pid);
		close(ofd);
		return -1;
	}
	close(ofd);
	if (st.st_nlink == 0) {
		pr_err("can't dump task %d: inotify fd %d: watch %d is on %s, which was deleted; watches on deleted "
		       "files are not supported\n", pid, fd, w->wd, path);
		return -1;
	}
	if (w->wd > INOTIFY_MAX_WD) {
		pr_err("can't dump task %d: inotify fd %d: watch %d (on %s) has a number above %d, which restore can't "
		       "give back\n", pid, fd, w->wd, path, INOTIFY_MAX_WD);
		return -1;
	}
	return 0;
}

static int add_wd(InotifyEntry *e, const struct fsn_inotify_wd *w, const char *path)
{
	InotifyWdEntry *d = calloc(1, sizeof(*d)), **n;
	FsnotifyHandle *h = fsn_handle_to_pb(&w->fh);

	n = realloc(e->wds, (e->n_wds + 1) * sizeof(*n));
	if (n)
		e->wds = n;
	if (!d || !h || !n)
		goto err;
	inotify_wd_entry__init(d);
	d->path = strdup(path);
	if (!d->path)
		goto err;
	d->wd = w->wd;
	d->mask = w->mask;
	d->ino = w->ino;
	d->sdev = w->sdev;
	d->handle = h;
	e->wds[e->n_wds++] = d;
	return 0;
err:
	pr_err("out of memory\n");
	fsn_handle_free(h);
	if (d)
		free(d->path);
	free(d);
	return -1;
}

static int cmp_wd(const void *a, const void *b)
{
	const InotifyWdEntry *x = *(InotifyWdEntry *const *)a, *y = *(InotifyWdEntry *const *)b;

	return (x->wd > y->wd) - (x->wd < y->wd);
}

static int dump_inotify(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	InotifyEntry *e = malloc(sizeof(*e));
	char path[PATH_MAX];
	const char *l;

	/* restore opens what it watches by handle: that needs capabilities in criu's user namespace */
	if (ns_tree_has_userns()) {
		pr_err("can't dump task %d: inotify fd %d in a tree with a user namespace of its own is not supported\n",
		       pid, fd);
		free(e);
		return -1;
	}
	if (!e)
		return -1;
	inotify_entry__init(e);
	e->flags = fi->flags & O_NONBLOCK;
	fe->inotify = e;
	if (fsn_refuse_queued(pid, fd, "inotify"))
		goto err;
	fsn_for_each_line(l, info) {
		struct fsn_inotify_wd w;
		int r = fsn_parse_inotify_wd(l, &w);

		if (r < 0) {
			pr_err("can't parse the inotify watch of fd %d of %d: %.200s\n", fd, pid, l);
			goto err;
		}
		if (r == 0)
			continue;
		if (check_watch(pid, fd, &w, path, sizeof(path)) || add_wd(e, &w, path))
			goto err;
		pr_debug("inotify fd %d of %d: wd %d mask %#x on %s\n", fd, pid, w.wd, w.mask, path);
	}
	qsort(e->wds, e->n_wds, sizeof(*e->wds), cmp_wd);
	return 0;
err:
	free_inotify(fe);
	return -1;
}

/* Add and remove a watch on a pipe until the kernel's next wd is @wd; 0 or -1. */
static int skip_to(int fd, const char *dummy, int *next, int wd)
{
	unsigned int rounds = 0;

	while (*next < wd) {
		int got = inotify_add_watch(fd, dummy, IN_MODIFY);

		if (got < 0 || inotify_rm_watch(fd, got)) {
			pr_perror("can't advance the inotify wd counter to %d", wd);
			return -1;
		}
		if (got < *next) {
			pr_err("the inotify wd counter went back from %d to %d\n", *next, got);
			return -1;
		}
		*next = got + 1;
		/* the queue holds 16384 events by default: make room in time */
		if (++rounds % 4096 == 0 && fsn_empty_new(fd, 0))
			return -1;
	}
	return 0;
}

static int add_watch(int fd, const InotifyWdEntry *d)
{
	const char *name = d->path ? d->path : "?";
	struct fsn_handle fh;
	char proc[64];
	int ofd, got;

	if (fsn_handle_from_pb(d->handle, &fh)) {
		pr_err("inotify watch %u: a bad file handle\n", d->wd);
		return -1;
	}
	ofd = fsn_open_handle(d->sdev, d->ino, &fh);
	if (ofd < 0) {
		pr_perror("can't find %s (inode %lu) again for inotify watch %u", name, (unsigned long)d->ino, d->wd);
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
	got = inotify_add_watch(fd, proc, d->mask);
	if (got < 0)
		pr_perror("can't watch %s again (mask %#x)", name, d->mask);
	else if ((unsigned int)got != d->wd)
		pr_err("inotify watch on %s got number %d instead of %u\n", name, got, d->wd);
	close(ofd);
	return got < 0 || (unsigned int)got != d->wd ? -1 : 0;
}

/* Every watch as the image has it, seen by the kernel: fdinfo of the new fd. */
static int verify(int fd, const InotifyEntry *e)
{
	char *info = fsn_own_fdinfo(fd);
	size_t found = 0;
	const char *l;
	int ret = 0;

	if (!info)
		return -1;
	fsn_for_each_line(l, info) {
		struct fsn_inotify_wd w;
		size_t i;

		if (fsn_parse_inotify_wd(l, &w) != 1)
			continue;
		for (i = 0; i < e->n_wds; i++)
			if (e->wds[i]->wd == (uint32_t)w.wd)
				break;
		if (i == e->n_wds || e->wds[i]->mask != w.mask || e->wds[i]->ino != w.ino ||
		    e->wds[i]->sdev != w.sdev) {
			pr_err("restored inotify watch differs from the image: %.200s\n", l);
			ret = -1;
		}
		found++;
	}
	if (found != e->n_wds) {
		pr_err("the restored inotify fd has %zu watches instead of %zu\n", found, e->n_wds);
		ret = -1;
	}
	free(info);
	return ret;
}

static int open_inotify(FileEntry *fe)
{
	InotifyEntry *e = fe->inotify;
	int fd, p[2], next = 1;
	char dummy[64];

	if (!e) {
		pr_err("file %u: a bad inotify record\n", fe->id);
		return -1;
	}
	for (size_t i = 0; i < e->n_wds; i++)
		if (!e->wds[i]->handle || e->wds[i]->wd == 0 || e->wds[i]->wd > INOTIFY_MAX_WD ||
		    (i && e->wds[i]->wd <= e->wds[i - 1]->wd)) {
			pr_err("file %u: a bad inotify record (watch %zu)\n", fe->id, i);
			return -1;
		}
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		pr_perror("inotify_init1");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		close(fd);
		return -1;
	}
	snprintf(dummy, sizeof(dummy), "/proc/self/fd/%d", p[0]);
	for (size_t i = 0; i < e->n_wds; i++) {
		if (skip_to(fd, dummy, &next, e->wds[i]->wd) || add_watch(fd, e->wds[i]))
			goto err;
		next = e->wds[i]->wd + 1;
	}
	close(p[0]);
	close(p[1]);
	/* the IN_IGNORED events of the throwaway watches go */
	if (fsn_empty_new(fd, 0) || verify(fd, e) || fsn_set_blocking(fd, e->flags, fe->id))
		goto err_fd;
	return fd;
err:
	close(p[0]);
	close(p[1]);
err_fd:
	close(fd);
	return -1;
}

static void free_inotify(FileEntry *fe)
{
	InotifyEntry *e = fe->inotify;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_wds; i++) {
		fsn_handle_free(e->wds[i]->handle);
		free(e->wds[i]->path);
		free(e->wds[i]);
	}
	free(e->wds);
	free(e);
	fe->inotify = NULL;
}

const struct fd_kind inotify_kind = {
	.link = "anon_inode:inotify",
	.type = FILE_TYPE__FT_INOTIFY,
	.dump = dump_inotify,
	.open = open_inotify,
	.free = free_inotify,
	/* after the other fds: opening them must not leave events in the queue */
	.late = 1,
	/* watches and marks name no fds: made wherever shared descriptions are made */
	.numbered = fd_kind_never_numbered,
};
