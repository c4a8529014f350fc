/*
 * File objects: unlinked files and memfds, the inodes that have no name to
 * be opened by at restore. Whatever refers to one (fds with their own open
 * file descriptions, mappings) must find the same inode again, or writes
 * through an fd would no longer show in a shared mapping. So one file
 * entry carries the contents (the holder: a memfd entry or an unlinked
 * reg entry), the others are reg entries with same_as naming it, and at
 * restore the root makes every object once, before anything forks, at a
 * fd all tasks inherit; every fd and mapping is a new open of that fd.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunks.h"
#include "cr_options.h"
#include "fileobj.h"
#include "shmem.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "util.h"

static int reg_is_holder(const RegFileEntry *r)
{
	return !r->has_same_as && ((r->has_ghost && r->ghost) || r->link_remap || (r->has_dir_deleted && r->dir_deleted));
}

static int desc_is_holder(const struct file_desc *d)
{
	if (d->fe.type == FILE_TYPE__FT_MEMFD)
		return 1;
	return d->fe.type == FILE_TYPE__FT_REG && reg_is_holder(&d->reg);
}

uint32_t fileobj_find(struct file_table *ft, const struct stat *st)
{
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (desc_is_holder(d) && d->st.st_dev == st->st_dev && d->st.st_ino == st->st_ino)
			return d->id;
	}
	return 0;
}

int ghost_save(int fd, const struct stat *st, RegFileEntry *r)
{
	r->has_ghost = r->has_ghost_size = true;
	r->has_uid = r->has_gid = true;
	r->uid = st->st_uid;
	r->gid = st->st_gid;
	if (ns_owner_inside(&r->uid, &r->gid, r->path))
		return -1;
	r->ghost = true;
	r->ghost_size = st->st_size;
	return read_chunks(fd, st->st_size, &r->ghost_chunks, &r->n_ghost_chunks);
}

/* --link-remap names this dump made: gone again if the dump fails. */
static char **remaps;
static size_t nr_remaps;

/*
 * Link the file open at @proc back next to @path under a name of ours
 * (only files with links left: see fileobj_dump_unlinked()).
 * 0, or -1 with errno set.
 */
static int link_remap(const char *proc, const char *path, const struct stat *st, RegFileEntry *r)
{
	char dir[PATH_MAX], name[PATH_MAX + 64], at[PATH_MAX + 128], **n;
	const char *here;
	struct stat o;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash) {
		errno = EINVAL;
		return -1;
	}
	*slash = '\0';
	snprintf(name, sizeof(name), "%s/.criu-link-remap.%lx.%lx", dir, (unsigned long)st->st_dev,
		 (unsigned long)st->st_ino);
	/* the name as the tree sees it goes into the image; we reach it through its namespace */
	here = mntns_path(name, at, sizeof(at));
	if (linkat(AT_FDCWD, proc, AT_FDCWD, here, AT_SYMLINK_FOLLOW) == 0) {
		n = realloc(remaps, (nr_remaps + 1) * sizeof(*n));
		if (!n || !(n[nr_remaps] = strdup(here))) {
			unlink(here);
			remaps = n ? n : remaps;
			errno = ENOMEM;
			return -1;
		}
		remaps = n;
		nr_remaps++;
	} else if (errno != EEXIST || stat(here, &o) || o.st_dev != st->st_dev || o.st_ino != st->st_ino) {
		return -1;
	}
	/* an earlier dump's link to the same file (--leave-running) serves as well */
	r->link_remap = strdup(name);
	if (!r->link_remap) {
		errno = ENOMEM;
		return -1;
	}
	pr_info("%s is linked at %s until the restore\n", path, name);
	return 0;
}

int fileobj_dump_unlinked(pid_t pid, const char *what, const char *proc, const char *path, const struct stat *st,
			  RegFileEntry *r)
{
	int big = (uint64_t)st->st_size > opts.ghost_limit, fd, ret;

	if (S_ISDIR(st->st_mode)) {
		/* removed, so empty: only its mode and owner matter */
		r->has_dir_deleted = r->dir_deleted = true;
		r->has_uid = r->has_gid = true;
		r->uid = st->st_uid;
		r->gid = st->st_gid;
		return ns_owner_inside(&r->uid, &r->gid, r->path);
	}
	if (!S_ISREG(st->st_mode)) {
		pr_err("can't dump task %d: %s refers to %s, removed and not a regular file or directory\n", pid, what,
		       path);
		return -1;
	}
	if (st->st_nlink > 0) {
		if (!opts.link_remap) {
			pr_err("can't dump task %d: %s refers to %s, whose name was removed but which has %lu other "
			       "link(s) we can't find; dump with --link-remap\n", pid, what, path,
			       (unsigned long)st->st_nlink);
			return -1;
		}
		if (!link_remap(proc, path, st, r))
			return 0;
		pr_perror("can't dump task %d: %s refers to %s, whose name was removed, and --link-remap can't link "
			  "it back", pid, what, path);
		return -1;
	}
	/*
	 * No links left: never linked back, even an O_TMPFILE file (which the
	 * kernel would allow): a link takes from it for good the task's right
	 * to link it in itself.
	 */
	if (big) {
		pr_err("can't dump task %d: %s refers to the unlinked file %s (%ld bytes, no links left); only files "
		       "up to --ghost-limit (%lu) are saved%s\n", pid, what, path, (long)st->st_size,
		       (unsigned long)opts.ghost_limit,
		       opts.link_remap ? ", and --link-remap links back only files with links left" : "");
		return -1;
	}
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s (%s of %d)", proc, what, pid);
		return -1;
	}
	ret = ghost_save(fd, st, r);
	if (ret)
		pr_perror("can't save the unlinked file %s (%s of %d)", path, what, pid);
	close(fd);
	return ret;
}

void fileobj_dump_fini(int ok)
{
	for (size_t i = 0; i < nr_remaps; i++) {
		if (!ok && unlink(remaps[i]) && errno != ENOENT)
			pr_perror("can't remove the link-remap file %s", remaps[i]);
		free(remaps[i]);
	}
	free(remaps);
	remaps = NULL;
	nr_remaps = 0;
}

static void fill_reg(struct file_desc *d, const char *path, int flags, const struct stat *st)
{
	d->fe.type = FILE_TYPE__FT_REG;
	d->reg.path = strdup(path);
	d->reg.flags = flags;
	d->reg.mode = st->st_mode;
	d->reg.has_size = d->reg.has_ino = d->reg.has_dev = true;
	d->reg.size = st->st_size;
	d->reg.ino = st->st_ino;
	d->reg.dev = st->st_dev;
	d->st = *st;
	d->fe.id = d->id;
}

static int refuse(pid_t pid, const struct proc_vma *p, const char *why)
{
	pr_err("can't dump task %d: memory area %lx-%lx (%s, deleted): %s\n", pid, (unsigned long)p->start,
	       (unsigned long)p->end, p->name, why);
	return 0;
}

/* Kernel-internal files that show as deleted but are no memfd or unlinked file. */
static const char *const internal[] = { "/SYSV", "/[", "/anon_hugepage", "/secretmem", "/dev/zero" };

/* The holder for a mapped inode no fd of the dump holds: its contents read through map_files. */
static uint32_t add_holder(struct file_table *ft, pid_t pid, const struct proc_vma *p, const char *mf,
			   const struct stat *st)
{
	int memfd = !strncmp(p->name, "/memfd:", 7), fd, ret;
	struct file_desc *d;

	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		if (!strncmp(p->name, internal[i], strlen(internal[i])))
			return refuse(pid, p, "a kernel-internal file of this kind is not supported");
	if (!S_ISREG(st->st_mode))
		return refuse(pid, p, "not a regular file");
	d = file_desc_new(ft);
	if (!d)
		return 0;
	d->owner_pid = pid;
	ft->nr++;		/* freed with the table even if half filled */
	if (!memfd) {
		char what[64];

		snprintf(what, sizeof(what), "memory area %lx-%lx", (unsigned long)p->start, (unsigned long)p->end);
		fill_reg(d, p->name, O_RDWR, st);
		if (!d->reg.path || fileobj_dump_unlinked(pid, what, mf, p->name, st, &d->reg))
			return 0;
		return d->id;
	}
	d->fe.type = FILE_TYPE__FT_MEMFD;
	d->st = *st;
	d->fe.id = d->id;
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -1 : memfd_dump_fd(fd, p->name, O_RDWR, 0, &d->fe);
	if (fd >= 0)
		close(fd);
	if (ret) {
		pr_perror("can't save the memfd %s mapped at %lx by %d", p->name, (unsigned long)p->start, pid);
		return 0;
	}
	return d->id;
}

/* A reg entry opening the object of file @holder with @flags (one per holder and flags). */
static int add_view(struct file_table *ft, uint32_t holder, const char *path, int flags, const struct stat *st,
		    uint32_t *id)
{
	struct file_desc *d;

	for (size_t i = 0; i < ft->nr; i++) {
		d = &ft->d[i];
		if (d->owner_fd < 0 && d->fe.type == FILE_TYPE__FT_REG && d->reg.has_same_as &&
		    d->reg.same_as == holder && d->reg.flags == (uint32_t)flags) {
			*id = d->id;
			return 0;
		}
	}
	d = file_desc_new(ft);
	if (!d)
		return -1;
	fill_reg(d, path, flags, st);
	d->reg.has_same_as = true;
	d->reg.same_as = holder;
	ft->nr++;
	if (!d->reg.path) {
		pr_err("out of memory\n");
		return -1;
	}
	*id = d->id;
	return 0;
}

int fileobj_add_vma(struct file_table *ft, pid_t pid, const struct proc_vma *p, int flags, uint32_t *id)
{
	char mf[128];
	struct stat st;
	uint32_t holder;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)p->start, (unsigned long)p->end);
	if (stat(mf, &st)) {
		pr_perror("can't stat %s", mf);
		return -1;
	}
	holder = fileobj_find(ft, &st);
	if (!holder)
		holder = add_holder(ft, pid, p, mf, &st);
	if (!holder)
		return -1;
	return add_view(ft, holder, p->name, flags, &st, id);
}

int fileobj_view_flags(struct file_table *ft, uint32_t *id, int flags)
{
	struct file_desc *d = NULL;
	struct stat st;
	char *path;
	int ret;

	for (size_t i = 0; i < ft->nr; i++)
		if (ft->d[i].id == *id)
			d = &ft->d[i];
	if (!d || d->fe.type != FILE_TYPE__FT_REG || !d->reg.has_same_as)
		return 0;
	/* the table may move under add_view */
	path = strdup(d->reg.path);
	st = d->st;
	if (!path)
		return -1;
	ret = add_view(ft, d->reg.same_as, path, flags, &st, id);
	free(path);
	return ret ? -1 : 1;
}

/* ---- restore ---- */

static int obj_base = -1;

int fileobj_is_holder(const FileEntry *fe)
{
	if (fe->type == FILE_TYPE__FT_MEMFD)
		return fe->memfd != NULL;
	if (fe->type == FILE_TYPE__FT_FIFO)
		return fe->fifo && fe->fifo->unlinked;
	return fe->type == FILE_TYPE__FT_REG && fe->reg && reg_is_holder(fe->reg);
}

/*
 * An unlinked file comes back unlinked: made next to where it was (under
 * its own name if that is free, so /proc shows what it showed), filled,
 * unlinked again.
 */
static int ghost_make(RegFileEntry *r)
{
	char tmp[4200];
	int fd;

	if (r->ghost_size > (1ULL << 32)) {
		pr_err("the unlinked file %s is too big (%lu bytes)\n", r->path, (unsigned long)r->ghost_size);
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s", r->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, r->mode & 07777);
	if (fd < 0 && errno == EEXIST) {
		snprintf(tmp, sizeof(tmp), "%s.criu-ghost.%d", r->path, getpid());
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, r->mode & 07777);
	}
	if (fd < 0) {
		pr_perror("can't make the unlinked file %s again", r->path);
		return -1;
	}
	if (unlink(tmp)) {
		pr_perror("can't unlink %s", tmp);
		goto err;
	}
	if ((r->has_uid && fchown(fd, r->uid, r->has_gid ? r->gid : (gid_t)-1)) || fchmod(fd, r->mode & 07777)) {
		pr_perror("can't give the unlinked file %s its owner and mode", r->path);
		goto err;
	}
	if (ftruncate(fd, r->ghost_size) || write_chunks(fd, r->ghost_chunks, r->n_ghost_chunks, r->ghost_size)) {
		pr_perror("can't fill the unlinked file %s", r->path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/*
 * An O_TMPFILE file stays one: made with O_TMPFILE in its directory, so
 * that the task can still link it in, and filled from the image.
 */
static int tmpfile_make(RegFileEntry *r)
{
	char dir[4200], *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", r->path);
	slash = strrchr(dir, '/');
	if (!slash) {
		pr_err("the O_TMPFILE file %s has no directory\n", r->path);
		return -1;
	}
	slash[slash == dir] = '\0';
	fd = open(dir, O_TMPFILE | O_CLOEXEC | (r->flags & (O_ACCMODE | O_EXCL | O_LARGEFILE)), r->mode & 07777);
	if (fd < 0) {
		pr_perror("can't make the O_TMPFILE file %s again in %s", r->path, dir);
		return -1;
	}
	if ((r->has_uid && fchown(fd, r->uid, r->has_gid ? r->gid : (gid_t)-1)) || fchmod(fd, r->mode & 07777)) {
		pr_perror("can't give the O_TMPFILE file %s its owner and mode", r->path);
		goto err;
	}
	if (ftruncate(fd, r->ghost_size) || write_chunks(fd, r->ghost_chunks, r->n_ghost_chunks, r->ghost_size)) {
		pr_perror("can't fill the O_TMPFILE file %s", r->path);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int is_tmpfile(const RegFileEntry *r)
{
	return S_ISREG(r->mode) && (r->flags & O_TMPFILE) == O_TMPFILE && r->has_ghost && r->ghost;
}

/*
 * The description of an O_TMPFILE file is the one O_TMPFILE made (dups of
 * it, not new opens), as it was: its flags say O_TMPFILE.
 */
int fileobj_dup_tmpfile(const FileEntry *fe)
{
	int fd;

	if (obj_base < 0 || fe->type != FILE_TYPE__FT_REG || !fe->reg || !is_tmpfile(fe->reg))
		return -2;
	fd = fcntl(obj_base + (int)fe->id, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		pr_perror("can't dup the O_TMPFILE file %s", fe->reg->path);
	return fd;
}

/* A removed directory: made again (under its own name if free), opened, removed. */
static int dir_make(RegFileEntry *r)
{
	char tmp[4200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s", r->path);
	if (mkdir(tmp, 0700)) {
		if (errno != EEXIST)
			goto err;
		snprintf(tmp, sizeof(tmp), "%s.criu-dir.%d", r->path, getpid());
		if (mkdir(tmp, 0700))
			goto err;
	}
	fd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (r->has_uid && fchownat(fd, "", r->uid, r->has_gid ? r->gid : (gid_t)-1, AT_EMPTY_PATH)) ||
	    chmod(tmp, r->mode & 07777) || rmdir(tmp)) {
		pr_perror("can't make the removed directory %s again (at %s)", r->path, tmp);
		if (fd >= 0)
			close(fd);
		rmdir(tmp);
		return -1;
	}
	return fd;
err:
	pr_perror("can't make the removed directory %s again", r->path);
	return -1;
}

/*
 * A file linked back at dump (--link-remap): opened by that name, or
 * by its own name for a moment if that is free, so that /proc shows
 * what it showed. The link-remap name goes once the tree runs.
 */
static int remap_open(RegFileEntry *r)
{
	struct stat st;
	int fd;

	if (stat(r->link_remap, &st)) {
		pr_perror("%s: the link-remap file %s is gone", r->path, r->link_remap);
		return -1;
	}
	if (r->has_ino && (st.st_ino != r->ino || st.st_dev != r->dev)) {
		pr_err("%s: the link-remap file %s is not the dumped file\n", r->path, r->link_remap);
		return -1;
	}
	if (linkat(AT_FDCWD, r->link_remap, AT_FDCWD, r->path, 0) == 0) {
		fd = open(r->path, O_PATH | O_CLOEXEC);
		if (unlink(r->path)) {
			pr_perror("can't unlink %s", r->path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else {
		fd = open(r->link_remap, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		pr_perror("can't open the link-remap file %s", r->link_remap);
	return fd;
}

int fileobj_chdir_removed(const char *path, uint32_t mode, uint32_t uid, uint32_t gid)
{
	RegFileEntry r = REG_FILE_ENTRY__INIT;
	int fd, ret;

	r.path = (char *)path;
	r.mode = mode;
	r.has_uid = uid != (uint32_t)-1;
	r.uid = uid;
	r.has_gid = gid != (uint32_t)-1;
	r.gid = gid;
	fd = dir_make(&r);
	if (fd < 0)
		return -1;
	ret = fchdir(fd);
	if (ret)
		pr_perror("can't enter the removed directory %s", path);
	close(fd);
	return ret;
}

void fileobj_restore_done(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];

		char at[PATH_MAX + 64];

		/* a path of the tree's mount namespace, which may not be ours */
		if (fe->type == FILE_TYPE__FT_REG && fe->reg && fe->reg->link_remap && !fe->reg->has_same_as &&
		    unlink(mntns_rst_path(fe->reg->link_remap, at, sizeof(at))) && errno != ENOENT)
			pr_warn("can't remove the link-remap file %s: %s\n", fe->reg->link_remap, strerror(errno));
	}
}

/* Images with two holders of one unlinked inode: one object all the same. */
static int same_ghost(struct rst_files *rf, size_t upto, RegFileEntry *r)
{
	for (size_t i = 0; i < upto; i++) {
		FileEntry *o = rf->fe[i];

		if (o->type == FILE_TYPE__FT_REG && fileobj_is_holder(o) && o->reg->has_ghost && o->reg->has_dev &&
		    r->has_dev &&
		    o->reg->dev == r->dev && o->reg->ino == r->ino)
			return obj_base + o->id;
	}
	return -1;
}

/* Every description of one unlinked FIFO reopens one FIFO. */
static int same_fifo(struct rst_files *rf, size_t upto, FifoEntry *f)
{
	for (size_t i = 0; i < upto; i++) {
		FileEntry *o = rf->fe[i];

		if (o->type == FILE_TYPE__FT_FIFO && fileobj_is_holder(o) && o->fifo->ino == f->ino)
			return obj_base + o->id;
	}
	return -1;
}

int fileobj_make_all(struct rst_files *rf, int base)
{
	obj_base = base;
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		int fd, same;

		if (!fileobj_is_holder(fe))
			continue;
		if (fe->type == FILE_TYPE__FT_MEMFD)
			fd = memfd_make(fe);
		else if (fe->type == FILE_TYPE__FT_FIFO)
			fd = fifo_make_unlinked(fe, same_fifo(rf, i, fe->fifo));
		else if (fe->reg->has_dir_deleted && fe->reg->dir_deleted)
			fd = dir_make(fe->reg);
		else if (fe->reg->link_remap)
			fd = remap_open(fe->reg);
		else if ((same = same_ghost(rf, i, fe->reg)) >= 0)
			fd = fcntl(same, F_DUPFD_CLOEXEC, 0);
		else
			fd = is_tmpfile(fe->reg) ? tmpfile_make(fe->reg) : ghost_make(fe->reg);
		if (fd < 0 || move_fd(fd, base + fe->id) < 0 || fcntl(base + fe->id, F_SETFD, FD_CLOEXEC)) {
			pr_perror("can't make the object of file %u", fe->id);
			return -1;
		}
	}
	return 0;
}

int fileobj_dup(uint32_t id)
{
	int fd;

	if (obj_base < 0) {
		pr_err("file %u: no object was made for it\n", id);
		return -1;
	}
	fd = fcntl(obj_base + (int)id, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		pr_perror("can't take the object of file %u", id);
	return fd;
}

/*
 * The fd a mapping of file @id is made from: for a memfd, memfd_create()'s
 * own file (a reopen for writing would keep the inode written to while
 * mapped: no execveat()), else -1 (open it as usual).
 */
int fileobj_map_fd(struct rst_files *rf, uint32_t id)
{
	FileEntry *fe = find_file(rf, id), *h;

	if (!fe || fe->type != FILE_TYPE__FT_REG || !fe->reg || !fe->reg->has_same_as)
		return -1;
	h = find_file(rf, fe->reg->same_as);
	if (!h || h->type != FILE_TYPE__FT_MEMFD)
		return -1;
	return fileobj_dup(h->id);
}

int fileobj_reopen(uint32_t id, int flags)
{
	int fd;

	if (obj_base < 0) {
		pr_err("file %u: no object was made for it\n", id);
		return -1;
	}
	fd = proc_open(flags, "self/fd/%d", obj_base + (int)id);
	if (fd < 0)
		pr_perror("can't open the object of file %u again", id);
	return fd;
}
