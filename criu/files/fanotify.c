/*
 * fanotify: the group's init flags and event flags, and each mark (on an
 * inode, a mount or a whole filesystem) with its mask, ignored mask and
 * mark flags, all from fdinfo. Inodes are found again by file handle (by
 * path on a filesystem the restore makes anew, as inotify's watches),
 * mounts by mount id, filesystems by any mount of them. Groups for
 * permission events are refused: an event read and not answered yet would
 * be answered to a group that no longer exists. Queued events are refused
 * as for inotify.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdkinds.h"
#include "fsnotify.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "util.h"

#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE	0x00000200
#endif
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE		0x00000400
#endif

#define FAN_PERM_CLASSES	(FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT)

static const char *const type_names[] = {
	[FSN_MARK_INODE] = "inode", [FSN_MARK_MOUNT] = "mount", [FSN_MARK_SB] = "filesystem",
};

static void free_fanotify(FileEntry *fe);

/*
 * The marked object, opened: an O_PATH fd for an inode, a directory of the
 * mount or filesystem. At restore (@path given) an inode of a filesystem
 * made anew is found by its path.
 */
static int open_object(const struct fsn_fanotify_mark *m, const char *path)
{
	switch (m->type) {
	case FSN_MARK_INODE:
		return path ? fsn_open_restored(m->sdev, m->ino, &m->fh, path) : fsn_open_handle_named(m->sdev, m->ino, &m->fh);
	case FSN_MARK_MOUNT:
		return fsn_open_mount(m->mnt_id);
	case FSN_MARK_SB:
		return fsn_open_sb(m->sdev);
	}
	errno = EINVAL;
	return -1;
}

static int check_mark(pid_t pid, int fd, const struct fsn_fanotify_mark *m, char *path, size_t size)
{
	struct stat st;
	int ofd = open_object(m, NULL);

	if (ofd < 0) {
		int err = errno;

		if (m->type == FSN_MARK_MOUNT)
			pr_err("can't dump task %d: fanotify fd %d marks mount %d, which is not in our mount table; "
			       "not supported\n", pid, fd, m->mnt_id);
		else
			pr_err("can't dump task %d: fanotify fd %d: the %s mark on inode %lu of device %u:%u can't be "
			       "made again: %s\n", pid, fd, type_names[m->type], (unsigned long)m->ino, m->sdev >> KDEV_MINORBITS,
			       m->sdev & KDEV_MINORMASK,
			       err == ESTALE	 ? "the file was deleted" :
			       err == ENODEV	 ? "no mount of its filesystem is visible" :
			       err == EOPNOTSUPP ? "its filesystem gives no file handle" : strerror(err));
		return -1;
	}
	if (fsn_inspect(ofd, &st, path, size)) {
		pr_perror("can't inspect a mark of fanotify fd %d of %d", fd, pid);
		close(ofd);
		return -1;
	}
	close(ofd);
	if (m->type == FSN_MARK_INODE && st.st_nlink == 0) {
		pr_err("can't dump task %d: fanotify fd %d marks %s, which was deleted; not supported\n", pid, fd,
		       path);
		return -1;
	}
	return 0;
}

/*
 * A tree with a user namespace of its own is restored by its root there,
 * which can't open files by handle (CAP_DAC_READ_SEARCH of criu's user
 * namespace): an inode mark can be made again only on a filesystem the
 * restore makes anew (found by path); mount and filesystem marks are found
 * by a mount point.
 */
static int refuse_in_userns(pid_t pid, int fd, const struct fsn_fanotify_mark *m, const char *path)
{
	if (!ns_tree_has_userns() || m->type != FSN_MARK_INODE || mntns_dump_dev_fresh(fsn_kdev(m->sdev)))
		return 0;
	pr_err("can't dump task %d: fanotify fd %d marks %s (device %u:%u), which restore would have to open by "
	       "file handle; in a tree with a user namespace of its own only inode marks on a filesystem the "
	       "restore makes anew (a tmpfs of the tree's) are supported\n", pid, fd, path,
	       m->sdev >> KDEV_MINORBITS, m->sdev & KDEV_MINORMASK);
	return -1;
}

static int add_mark(FanotifyEntry *e, const struct fsn_fanotify_mark *m, const char *path)
{
	FanotifyMarkEntry *d = calloc(1, sizeof(*d)), **n;
	FsnotifyHandle *h = NULL;

	n = realloc(e->marks, (e->n_marks + 1) * sizeof(*n));
	if (n)
		e->marks = n;
	if (!d || !n)
		goto err;
	fanotify_mark_entry__init(d);
	d->path = strdup(path);
	if (!d->path)
		goto err;
	d->mflags = m->mflags;
	d->mask = m->mask;
	d->ignored_mask = m->ignored_mask;
	switch (m->type) {
	case FSN_MARK_INODE:
		h = fsn_handle_to_pb(&m->fh);
		if (!h)
			goto err;
		d->type = FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_INODE;
		d->handle = h;
		d->has_ino = d->has_sdev = true;
		d->ino = m->ino;
		d->sdev = m->sdev;
		break;
	case FSN_MARK_MOUNT:
		d->type = FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_MOUNT;
		d->has_mnt_id = true;
		d->mnt_id = m->mnt_id;
		break;
	case FSN_MARK_SB:
		d->type = FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_SB;
		d->has_sdev = true;
		d->sdev = m->sdev;
		break;
	}
	e->marks[e->n_marks++] = d;
	return 0;
err:
	pr_err("out of memory\n");
	fsn_handle_free(h);
	if (d)
		free(d->path);
	free(d);
	return -1;
}

static int dump_fanotify(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	FanotifyEntry *e = malloc(sizeof(*e));
	char path[PATH_MAX];
	int have_group = 0;
	const char *l;

	if (!e)
		return -1;
	fanotify_entry__init(e);
	e->file_flags = fi->flags & O_NONBLOCK;
	fe->fanotify = e;
	if (fsn_refuse_queued(pid, fd, "fanotify"))
		goto err;
	fsn_for_each_line(l, info) {
		struct fsn_fanotify_mark m;
		int r = fsn_parse_fanotify_group(l, &e->flags, &e->event_flags);

		if (r > 0) {
			have_group = 1;
			continue;
		}
		if (r == 0)
			r = fsn_parse_fanotify_mark(l, &m);
		if (r < 0) {
			pr_err("can't parse fdinfo line of fanotify fd %d of %d: %.200s\n", fd, pid, l);
			goto err;
		}
		if (r == 0)
			continue;
		if (check_mark(pid, fd, &m, path, sizeof(path)) || refuse_in_userns(pid, fd, &m, path) ||
		    add_mark(e, &m, path))
			goto err;
		pr_debug("fanotify fd %d of %d: %s mark on %s mask %#x ignored %#x mflags %#x\n", fd, pid,
			 type_names[m.type], path, m.mask, m.ignored_mask, m.mflags);
	}
	if (!have_group) {
		pr_err("can't dump task %d: fdinfo of fanotify fd %d shows no group flags\n", pid, fd);
		goto err;
	}
	if (e->flags & FAN_PERM_CLASSES) {
		pr_err("can't dump task %d: fanotify fd %d is a group for permission events (flags %#x); not supported "
		       "(an event read and not answered yet would be lost)\n", pid, fd, e->flags);
		goto err;
	}
	return 0;
err:
	free_fanotify(fe);
	return -1;
}

static int mark_type(const FanotifyMarkEntry *d, enum fsn_mark_type *t)
{
	switch (d->type) {
	case FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_INODE:
		*t = FSN_MARK_INODE;
		return d->handle && d->has_ino && d->has_sdev ? 0 : -1;
	case FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_MOUNT:
		*t = FSN_MARK_MOUNT;
		return d->has_mnt_id ? 0 : -1;
	case FANOTIFY_MARK_TYPE__FAN_MARK_TYPE_SB:
		*t = FSN_MARK_SB;
		return d->has_sdev ? 0 : -1;
	default:
		return -1;
	}
}

static int restore_mark(int fd, const FanotifyMarkEntry *d)
{
	static const unsigned int kind_flags[] = {
		[FSN_MARK_INODE] = 0, [FSN_MARK_MOUNT] = FAN_MARK_MOUNT, [FSN_MARK_SB] = FAN_MARK_FILESYSTEM,
	};
	struct fsn_fanotify_mark m = { 0 };
	unsigned int add, ign;
	char proc[64];
	int ofd, ret = 0;

	if (mark_type(d, &m.type) || (d->handle && fsn_handle_from_pb(d->handle, &m.fh))) {
		pr_err("a bad fanotify mark record (%s)\n", d->path ? d->path : "?");
		return -1;
	}
	m.ino = d->ino;
	/* a filesystem made anew in a restored mount namespace has a new device */
	m.sdev = m.type == FSN_MARK_SB ? fsn_sdev(mntns_dev(fsn_kdev(d->sdev))) : d->sdev;
	/* so has a mount of a restored mount namespace */
	m.mnt_id = m.type == FSN_MARK_MOUNT ? mntns_mnt_id(d->mnt_id) : d->mnt_id;
	ofd = open_object(&m, d->path ? d->path : "");
	if (ofd < 0) {
		pr_perror("can't find %s again for its fanotify %s mark%s", d->path ? d->path : "?", type_names[m.type],
			  mntns_dev_remade(fsn_kdev(d->sdev)) ? " (its filesystem was made anew)" : "");
		return -1;
	}
	snprintf(proc, sizeof(proc), "self/fd/%d", ofd);
	add = FAN_MARK_ADD | kind_flags[m.type] | (d->mflags & FAN_MARK_EVICTABLE);
	ign = ((d->mflags & FAN_MARK_IGNORE) ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK) |
	      (d->mflags & FAN_MARK_IGNORED_SURV_MODIFY);
	if (d->mask && fanotify_mark(fd, add, d->mask, proc_dir(), proc)) {
		pr_perror("can't mark %s (%s, mask %#x) again", d->path, type_names[m.type], d->mask);
		ret = -1;
	} else if ((d->ignored_mask || (d->mflags & FAN_MARK_IGNORED_SURV_MODIFY)) &&
		   fanotify_mark(fd, add | ign, d->ignored_mask, proc_dir(), proc)) {
		pr_perror("can't give the mark on %s its ignored mask %#x again", d->path, d->ignored_mask);
		ret = -1;
	}
	close(ofd);
	return ret;
}

static int same_mark(const FanotifyMarkEntry *d, const struct fsn_fanotify_mark *m)
{
	enum fsn_mark_type t;

	if (mark_type(d, &t) || t != m->type || d->mask != m->mask || d->ignored_mask != m->ignored_mask ||
	    d->mflags != m->mflags)
		return 0;
	/* an inode of a filesystem made anew is a new inode on the new device */
	if (t == FSN_MARK_INODE && mntns_dev_remade(fsn_kdev(d->sdev)))
		return fsn_sdev(mntns_dev(fsn_kdev(d->sdev))) == m->sdev;
	if (t == FSN_MARK_INODE)
		return d->ino == m->ino && d->sdev == m->sdev;
	return t == FSN_MARK_MOUNT ? mntns_mnt_id(d->mnt_id) == m->mnt_id :
				     fsn_sdev(mntns_dev(fsn_kdev(d->sdev))) == m->sdev;
}

/* The new group as the kernel shows it must be the one in the image. */
static int verify(int fd, const FanotifyEntry *e)
{
	unsigned int flags = 0, eflags = 0;
	char *info = fsn_own_fdinfo(fd);
	size_t found = 0;
	const char *l;
	int ret = 0;

	if (!info)
		return -1;
	fsn_for_each_line(l, info) {
		struct fsn_fanotify_mark m;
		size_t i;

		if (fsn_parse_fanotify_group(l, &flags, &eflags) == 1 || fsn_parse_fanotify_mark(l, &m) != 1)
			continue;
		for (i = 0; i < e->n_marks && !same_mark(e->marks[i], &m); i++)
			;
		if (i == e->n_marks) {
			pr_err("restored fanotify mark differs from the image: %.200s\n", l);
			ret = -1;
		}
		found++;
	}
	if (found != e->n_marks || flags != e->flags || eflags != e->event_flags) {
		pr_err("the restored fanotify group (flags %#x/%#x, %zu marks) is not the one dumped (%#x/%#x, %zu)\n",
		       flags, eflags, found, e->flags, e->event_flags, e->n_marks);
		ret = -1;
	}
	free(info);
	return ret;
}

static int open_fanotify(struct fd_rst *c, FileEntry *fe)
{
	FanotifyEntry *e = fe->fanotify;
	int fd, fl;

	if (!e || (e->flags & FAN_PERM_CLASSES)) {
		pr_err("file %u: a bad fanotify record\n", fe->id);
		return -1;
	}
	fd = fanotify_init(e->flags, e->event_flags);
	if (fd < 0) {
		pr_perror("fanotify_init(%#x, %#x)", e->flags, e->event_flags);
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		pr_perror("fcntl on a new fanotify fd");
		goto err;
	}
	for (size_t i = 0; i < e->n_marks; i++)
		if (restore_mark(fd, e->marks[i]))
			goto err;
	/* events the restore itself caused */
	if (fsn_empty_new(fd, 1) || verify(fd, e) || fsn_set_blocking(fd, e->file_flags, fe->id))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

static void free_fanotify(FileEntry *fe)
{
	FanotifyEntry *e = fe->fanotify;

	if (!e)
		return;
	for (size_t i = 0; i < e->n_marks; i++) {
		fsn_handle_free(e->marks[i]->handle);
		free(e->marks[i]->path);
		free(e->marks[i]);
	}
	free(e->marks);
	free(e);
	fe->fanotify = NULL;
}

const struct fd_kind fanotify_kind = {
	.link = "anon_inode:[fanotify]",
	.type = FILE_TYPE__FT_FANOTIFY,
	.dump = dump_fanotify,
	.open = open_fanotify,
	.free = free_fanotify,
	/* after the other fds: opening them must not leave events in the queue */
	.late = 1,
	/* watches and marks name no fds: made wherever shared descriptions are made */
	.numbered = fd_kind_never_numbered,
};
