/*
 * inotify: each watch (wd, mask, watched inode) from fdinfo. At restore the
 * inode is found again by its file handle and watched through
 * /proc/self/fd/N. The kernel hands out wds in increasing order (cyclic),
 * so a wd is reached by adding and removing a throwaway watch (on a pipe)
 * until the counter stands right below it; the IN_IGNORED events that
 * leaves are read away before the fd is handed over. Queued events can't
 * be read without taking them from the task: a non-empty queue is refused.
 * An object on a filesystem the restore makes anew (a tmpfs of the tree's
 * mount namespace, its contents put back) is a new inode: no handle finds
 * it, its path (as the tree saw it) does, on the new filesystem.
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
#include "fileobj.h"
#include "fsnotify.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "util.h"

/* The highest wd we are willing to reach by add/remove rounds. */
#define INOTIFY_MAX_WD	(1 << 20)

static void free_inotify(FileEntry *fe);

/*
 * A readable name of the watched object, or a message why it can't be
 * watched again. 1: the object was deleted (an fd of the tree may hold it,
 * see check_deleted()).
 */
static int check_watch(pid_t pid, int fd, const struct fsn_inotify_wd *w, char *path, size_t size)
{
	struct stat st;
	int ofd;

	if (w->wd > INOTIFY_MAX_WD) {
		pr_err("can't dump task %d: inotify fd %d: watch %d has a number above %d, which restore can't give "
		       "back\n", pid, fd, w->wd, INOTIFY_MAX_WD);
		return -1;
	}
	ofd = fsn_open_handle_named(w->sdev, w->ino, &w->fh);
	if (ofd < 0 && errno == ESTALE && !fsn_sb_decodes(w->sdev)) {
		pr_err("can't dump task %d: inotify fd %d: watch %d is on inode %lu of device %u:%u, whose filesystem "
		       "can't open files by handle (an overlay without nfs_export=on, like a container's root); "
		       "not supported\n", pid, fd, w->wd, (unsigned long)w->ino, w->sdev >> KDEV_MINORBITS,
		       w->sdev & KDEV_MINORMASK);
		return -1;
	}
	if (ofd < 0 && errno == ESTALE) {
		snprintf(path, size, "(deleted inode %lu)", (unsigned long)w->ino);
		return 1;
	}
	if (ofd < 0) {
		int err = errno;

		pr_err("can't dump task %d: inotify fd %d: watch %d is on inode %lu of device %u:%u, which %s\n", pid,
		       fd, w->wd, (unsigned long)w->ino, w->sdev >> KDEV_MINORBITS, w->sdev & KDEV_MINORMASK,
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
	return st.st_nlink == 0;
}

/*
 * A tree with a user namespace of its own is restored by its root there,
 * which can't open files by handle (CAP_DAC_READ_SEARCH of criu's user
 * namespace): only a watch restore finds by path can be made again, one on
 * a filesystem made anew (a container's /run or /dev/shm).
 */
static int refuse_in_userns(pid_t pid, int fd, const struct fsn_inotify_wd *w, const char *path, int deleted)
{
	if (!ns_tree_has_userns() || (!deleted && mntns_dump_dev_fresh(fsn_kdev(w->sdev))))
		return 0;
	pr_err("can't dump task %d: inotify fd %d watches %s (device %u:%u), %s; in a tree with a user namespace of "
	       "its own only watches on a filesystem the restore makes anew (a tmpfs of the tree's) are supported\n",
	       pid, fd, path, w->sdev >> KDEV_MINORBITS, w->sdev & KDEV_MINORMASK,
	       deleted ? "which was deleted" : "which restore would have to open by file handle");
	return -1;
}

static int add_wd(InotifyEntry *e, const struct fsn_inotify_wd *w, const char *path, int deleted)
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
	/* which file holds it is found once every fd is known */
	d->has_file_id = deleted;
	d->file_id = 0;
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

static int dump_inotify(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	InotifyEntry *e = malloc(sizeof(*e));
	char path[PATH_MAX];
	const char *l;

	if (!e)
		return -1;
	inotify_entry__init(e);
	e->flags = fi->flags & O_NONBLOCK;
	fe->inotify = e;
	if (fsn_refuse_queued(pid, fd, "inotify"))
		goto err;
	fsn_for_each_line(l, info) {
		struct fsn_inotify_wd w;
		int r = fsn_parse_inotify_wd(l, &w), deleted;

		if (r < 0) {
			pr_err("can't parse the inotify watch of fd %d of %d: %.200s\n", fd, pid, l);
			goto err;
		}
		if (r == 0)
			continue;
		deleted = check_watch(pid, fd, &w, path, sizeof(path));
		if (deleted < 0 || refuse_in_userns(pid, fd, &w, path, deleted) || add_wd(e, &w, path, deleted))
			goto err;
		pr_debug("inotify fd %d of %d: wd %d mask %#x on %s\n", fd, pid, w.wd, w.mask, path);
	}
	sort_array(e->wds, e->n_wds, sizeof(*e->wds), cmp_wd);
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

/*
 * Every task's fds are known: a watch on a deleted inode is watched again
 * on the object restore makes for the fd (or mapping) that holds it.
 */
static int check_deleted(struct file_table *ft, struct file_desc *d)
{
	InotifyEntry *e = d->fe.inotify;

	for (size_t i = 0; e && i < e->n_wds; i++) {
		InotifyWdEntry *w = e->wds[i];
		struct stat st = { .st_dev = fsn_kdev(w->sdev), .st_ino = w->ino };

		if (!w->has_file_id)
			continue;
		w->file_id = fileobj_find(ft, &st);
		if (!w->file_id) {
			pr_err("can't dump task %d: inotify fd %d: watch %u is on inode %lu of device %u:%u, which was "
			       "deleted and which no fd or mapping of the tree holds; nothing would make it again\n",
			       d->owner_pid, d->owner_fd, w->wd, (unsigned long)w->ino, major(st.st_dev),
			       minor(st.st_dev));
			return -1;
		}
		pr_info("inotify fd %d of %d: watch %u is on a deleted file, file %u\n", d->owner_fd, d->owner_pid,
			w->wd, w->file_id);
	}
	return 0;
}

static int add_watch(struct rst_files *rf, int fd, const InotifyWdEntry *d)
{
	const char *name = d->path ? d->path : "?";
	struct fsn_handle fh;
	char proc[64];
	int ofd, got;

	if (d->has_file_id) {
		/* a deleted file: the object made again for its holder */
		ofd = fileobj_fd(rf, d->file_id);
		if (ofd < 0) {
			pr_err("inotify watch %u: file %u is no object made again\n", d->wd, d->file_id);
			return -1;
		}
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", ofd);
		got = inotify_add_watch(fd, proc, d->mask);
		if (got < 0)
			pr_perror("can't watch the deleted file %u again (mask %#x)", d->file_id, d->mask);
		else if ((unsigned int)got != d->wd)
			pr_err("inotify watch on file %u got number %d instead of %u\n", d->file_id, got, d->wd);
		return got < 0 || (unsigned int)got != d->wd ? -1 : 0;
	}
	if (fsn_handle_from_pb(d->handle, &fh)) {
		pr_err("inotify watch %u: a bad file handle\n", d->wd);
		return -1;
	}
	ofd = fsn_open_restored(d->sdev, d->ino, &fh, d->path);
	if (ofd < 0) {
		pr_perror("can't find %s (inode %lu) again for inotify watch %u%s", name, (unsigned long)d->ino, d->wd,
			  mntns_dev_remade(fsn_kdev(d->sdev)) ? " (its filesystem was made anew)" : "");
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
		/* a deleted file's object is a new inode, and so is one of a filesystem made anew */
		if (i == e->n_wds || e->wds[i]->mask != w.mask ||
		    (!e->wds[i]->has_file_id && !mntns_dev_remade(fsn_kdev(e->wds[i]->sdev)) &&
		     (e->wds[i]->ino != w.ino || e->wds[i]->sdev != w.sdev)) ||
		    (mntns_dev_remade(fsn_kdev(e->wds[i]->sdev)) &&
		     fsn_kdev(w.sdev) != mntns_dev(fsn_kdev(e->wds[i]->sdev)))) {
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

static int open_inotify(struct fd_rst *c, FileEntry *fe)
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
		if (skip_to(fd, dummy, &next, e->wds[i]->wd) || add_watch(c->rf, fd, e->wds[i]))
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
	.check_tree = check_deleted,
	/* after the other fds: opening them must not leave events in the queue */
	.late = 1,
	/* watches and marks name no fds: made wherever shared descriptions are made */
	.numbered = fd_kind_never_numbered,
};
