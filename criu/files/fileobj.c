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
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunks.h"
#include "image.h"
#include "cr_options.h"
#include "fileobj.h"
#include "shmem.h"
#include "log.h"
#include "sparse.h"
#include "mntns.h"
#include "proc_parse.h"
#include "namespaces.h"
#include "util.h"

static int reg_is_holder(const RegFileEntry *r)
{
	return !r->has_same_as && ((r->has_ghost && r->ghost) || r->link_remap || r->other_link ||
				   (r->has_dir_deleted && r->dir_deleted) ||
				   (r->has_node_deleted && r->node_deleted));
}

static int desc_is_holder(const struct file_desc *d)
{
	if (d->fe.type == FILE_TYPE__FT_MEMFD)
		return 1;
	return d->fe.type == FILE_TYPE__FT_REG && reg_is_holder(&d->reg);
}

uint32_t fileobj_find(struct file_table *ft, const struct stat *st)
{
	uint64_t *id = hmap_get(&ft->holders, inode_key(st->st_dev, st->st_ino));
	struct file_desc *d = id ? file_desc_by_id(ft, *id) : NULL;

	/* a hash collision of two inodes is no match */
	return d && d->st.st_dev == st->st_dev && d->st.st_ino == st->st_ino ? d->id : 0;
}

int fileobj_note(struct file_table *ft, struct file_desc *d)
{
	if (!desc_is_holder(d) || fileobj_find(ft, &d->st))
		return 0;
	if (hmap_put(&ft->holders, inode_key(d->st.st_dev, d->st.st_ino), d->id)) {
		pr_err("out of memory\n");
		return -1;
	}
	return 0;
}

/* The bytes of @fd (of @size) that hold data: holes are neither counted against --ghost-limit nor saved. */
static int64_t data_bytes(int fd, uint64_t size)
{
	int64_t total = 0;
	off_t off = 0;

	while ((uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? total : -1;	/* ENXIO: only a hole is left */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = size;
		total += hole - data;
		off = hole;
	}
	return total;
}

/*
 * Link the file open at @proc back next to @path under a name of ours
 * (only files with links left: see fileobj_dump_unlinked()).
 * 0, or -1 with errno set.
 */
static int link_remap(struct file_table *ft, const char *proc, const char *path, const struct stat *st,
		      RegFileEntry *r)
{
	char dir[PATH_MAX], name[PATH_MAX + 64], at[PATH_MAX + 128], atd[PATH_MAX + 64], **n;
	struct file_times dt;
	const char *here, *dhere;
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
	dhere = mntns_path(dir, atd, sizeof(atd));
	times_save(dhere, &dt);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, here, AT_SYMLINK_FOLLOW) == 0) {
		/* the name is ours: the directory looks untouched */
		times_put_back(dhere, &dt);
		n = realloc(ft->remaps, (ft->nr_remaps + 1) * sizeof(*n));
		if (!n || !(n[ft->nr_remaps] = strdup(here))) {
			unlink(here);
			ft->remaps = n ? n : ft->remaps;
			errno = ENOMEM;
			return -1;
		}
		ft->remaps = n;
		ft->nr_remaps++;
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

/*
 * A file whose name was removed but which has another link, looked for
 * beside the removed name: a file made under a temporary name and linked
 * or renamed into place while held (glibc's sem_open(), which maps its
 * temporary file and links it to the semaphore's name). That name opens
 * the same inode at restore, as any other file's path would.
 * 1 when found (r->other_link set), 0 when not, -1 on error.
 */
static int find_other_link(const char *path, const struct stat *st, RegFileEntry *r)
{
	char dir[PATH_MAX], at[PATH_MAX + 64], name[PATH_MAX + 256];
	const char *here;
	struct dirent *de;
	struct stat o;
	int ret = 0;
	DIR *d;

	if (parent_dir(path, dir, sizeof(dir)))
		return 0;
	here = mntns_path(dir, at, sizeof(at));
	d = opendir(here);
	if (!d)
		return 0;	/* its directory went too: no name beside it */
	while ((ret = next_dirent(d, &de, here)) > 0) {
		/* a link of an earlier dump with --link-remap is link_remap()'s, removed at restore */
		if (!strncmp(de->d_name, ".criu-link-remap.", 17))
			continue;
		if (fstatat(dirfd(d), de->d_name, &o, AT_SYMLINK_NOFOLLOW) || o.st_dev != st->st_dev ||
		    o.st_ino != st->st_ino)
			continue;
		snprintf(name, sizeof(name), "%s/%s", dir, de->d_name);
		r->other_link = strdup(name);
		ret = r->other_link ? 1 : -1;
		if (ret > 0)
			pr_info("%s was removed; its inode is opened by its other name %s\n", path, name);
		break;
	}
	closedir(d);
	return ret;
}

/* An unlinked regular file with no links left: its contents go to ghost-ID.img when the images are written. */
static int dump_ghost(struct file_table *ft, pid_t pid, const char *what, const char *proc, const char *path,
		      const struct stat *st, struct file_desc *d)
{
	RegFileEntry *r = &d->reg;
	int64_t data;
	int fd;

	/* a description of our own, which reads leave the file's atime and the task's position alone */
	fd = open(proc, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s (%s of %d)", proc, what, pid);
		return -1;
	}
	data = data_bytes(fd, st->st_size);
	close(fd);
	if (data < 0) {
		pr_perror("can't find the data of %s (%s of %d)", path, what, pid);
		return -1;
	}
	if ((uint64_t)data > opts.ghost_limit) {
		pr_err("can't dump task %d: %s refers to the unlinked file %s (%ld bytes of data in %ld, no links "
		       "left); only files with up to --ghost-limit (%lu) bytes of data are saved%s\n", pid, what,
		       path, (long)data, (long)st->st_size, (unsigned long)opts.ghost_limit,
		       opts.link_remap ? ", and --link-remap links back only files with links left" : "");
		return -1;
	}
	(void)ft;
	r->has_ghost = r->has_ghost_size = r->has_ghost_raw = true;
	r->ghost = r->ghost_raw = true;
	r->has_uid = r->has_gid = true;
	r->uid = st->st_uid;
	r->gid = st->st_gid;
	/* as the tree's user namespace sees them: the restore makes the file inside it */
	if (ns_owner_inside(&r->uid, &r->gid, r->path))
		return -1;
	r->ghost_size = st->st_size;
	d->ghost_src = strdup(proc);
	if (!d->ghost_src) {
		pr_err("out of memory\n");
		return -1;
	}
	return 0;
}

int fileobj_dump_unlinked(struct file_table *ft, pid_t pid, const char *what, const char *proc, const char *path,
			  const struct stat *st, struct file_desc *d)
{
	RegFileEntry *r = &d->reg;

	if (S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		/* removed, so empty (or a device): only its mode, owner and device matter */
		if (S_ISDIR(st->st_mode))
			r->has_dir_deleted = r->dir_deleted = true;
		else
			r->has_node_deleted = r->node_deleted = true;
		r->has_uid = r->has_gid = r->has_rdev = true;
		r->uid = st->st_uid;
		r->gid = st->st_gid;
		r->rdev = st->st_rdev;
		return ns_owner_inside(&r->uid, &r->gid, r->path);
	}
	if (!S_ISREG(st->st_mode)) {
		pr_err("can't dump task %d: %s refers to %s, removed and not a regular file, directory or device\n",
		       pid, what, path);
		return -1;
	}
	if (st->st_nlink > 0) {
		int found = find_other_link(path, st, r);

		if (found)
			return found > 0 ? 0 : -1;
		if (!opts.link_remap) {
			pr_err("can't dump task %d: %s refers to %s, whose name was removed but which has %lu other "
			       "link(s) we can't find; dump with --link-remap\n", pid, what, path,
			       (unsigned long)st->st_nlink);
			return -1;
		}
		if (!link_remap(ft, proc, path, st, r))
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
	return dump_ghost(ft, pid, what, proc, path, st, d);
}

int fileobj_dump_ghosts(int dfd, struct file_table *ft)
{
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		struct cr_img *img;
		int src, ret;

		if (!d->ghost_src)
			continue;
		src = open(d->ghost_src, O_RDONLY | O_NOATIME | O_CLOEXEC);
		if (src < 0) {
			pr_perror("can't open %s to save the unlinked file %s", d->ghost_src, d->reg.path);
			return -1;
		}
		img = open_image_at(dfd, CR_FD_GHOST, O_DUMP, d->id);
		d->reg.n_ghost_csum = sparse_nr_csum(d->reg.ghost_size);
		d->reg.ghost_csum = calloc(d->reg.n_ghost_csum + 1, sizeof(uint64_t));
		ret = !img || !d->reg.ghost_csum ||
		      save_sparse(src, img->fd, d->reg.ghost_size, d->reg.ghost_csum, img->path);
		if (ret)
			pr_err("can't save the unlinked file %s\n", d->reg.path);
		ret = finish_image(img, ret);
		close(src);
		if (ret)
			return -1;
	}
	return 0;
}

/* Remove a name criu made, leaving its directory's times as they were. */
static int unlink_keeping_times(const char *name)
{
	char dir[PATH_MAX];
	struct file_times dt = { 0 };
	int ret;

	if (!parent_dir(name, dir, sizeof(dir)))
		times_save(dir, &dt);
	ret = unlink(name);
	times_put_back(dir, &dt);
	return ret;
}

void fileobj_dump_fini(struct file_table *ft, int ok)
{
	for (size_t i = 0; i < ft->nr_remaps; i++) {
		if (!ok && unlink_keeping_times(ft->remaps[i]) && errno != ENOENT)
			pr_perror("can't remove the link-remap file %s", ft->remaps[i]);
		free(ft->remaps[i]);
	}
	free(ft->remaps);
	ft->remaps = NULL;
	ft->nr_remaps = 0;
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
	d->reg.has_mtime_sec = d->reg.has_mtime_nsec = d->reg.has_atime_sec = d->reg.has_atime_nsec = true;
	d->reg.mtime_sec = st->st_mtim.tv_sec;
	d->reg.mtime_nsec = st->st_mtim.tv_nsec;
	d->reg.atime_sec = st->st_atim.tv_sec;
	d->reg.atime_nsec = st->st_atim.tv_nsec;
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

	if (!strncmp(p->name, "/secretmem", strlen("/secretmem")))
		return refuse(pid, p, "memfd_secret() memory is not supported");
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
		if (!d->reg.path || fileobj_dump_unlinked(ft, pid, what, mf, p->name, st, d) || fileobj_note(ft, d))
			return 0;
		return d->id;
	}
	d->fe.type = FILE_TYPE__FT_MEMFD;
	d->st = *st;
	d->fe.id = d->id;
	fd = open(mf, O_RDONLY | O_NOATIME | O_CLOEXEC);
	ret = fd < 0 ? -1 : memfd_dump_fd(fd, p->name, O_RDWR, 0, &d->fe);
	if (fd >= 0)
		close(fd);
	if (ret) {
		pr_perror("can't save the memfd %s mapped at %lx by %d", p->name, (unsigned long)p->start, pid);
		return 0;
	}
	return fileobj_note(ft, d) ? 0 : d->id;
}

/* A reg entry opening the object of file @holder with @flags (one per holder and flags). */
static int add_view(struct file_table *ft, uint32_t holder, const char *path, int flags, const struct stat *st,
		    uint32_t *id)
{
	uint64_t key = ((uint64_t)holder << 32) | (uint32_t)flags, *known = hmap_get(&ft->views, key);
	struct file_desc *d;

	if (known) {
		*id = *known;
		return 0;
	}
	d = file_desc_new(ft);
	if (!d)
		return -1;
	fill_reg(d, path, flags, st);
	d->reg.has_same_as = true;
	d->reg.same_as = holder;
	ft->nr++;
	if (!d->reg.path || hmap_put(&ft->views, key, d->id)) {
		pr_err("out of memory\n");
		return -1;
	}
	*id = d->id;
	return 0;
}

int fileobj_add_exe(struct file_table *ft, pid_t pid, const char *exe, const struct stat *st, uint32_t *id)
{
	uint32_t holder = fileobj_find(ft, st);
	const char *del = strstr(exe, " (deleted)");
	char path[PATH_MAX];

	if (!holder) {
		pr_err("can't dump task %d: its executable %s was unlinked and is mapped no more; not supported\n",
		       pid, exe);
		return -1;
	}
	snprintf(path, sizeof(path), "%.*s", del ? (int)(del - exe) : (int)strlen(exe), exe);
	return add_view(ft, holder, path, O_RDONLY, st, id);
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
	struct file_desc *d = file_desc_by_id(ft, *id);
	struct stat st;
	char *path;
	int ret;

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

/* The fd the object of file @id sits at in every restoring process, or -1. */
static int obj_fd(const struct rst_files *rf, uint32_t id)
{
	return rf->obj_base >= 0 && rf->obj_slot && id < rf->nr_ids && rf->obj_slot[id] >= 0 ?
		       rf->obj_base + rf->obj_slot[id] : -1;
}

int fileobj_is_holder(const FileEntry *fe)
{
	if (fe->type == FILE_TYPE__FT_MEMFD)
		return fe->memfd != NULL;
	if (fe->type == FILE_TYPE__FT_FIFO)
		return fe->fifo && fe->fifo->unlinked;
	return fe->type == FILE_TYPE__FT_REG && fe->reg && reg_is_holder(fe->reg);
}

/*
 * The directories missing on the way to @path, made for a moment (mode
 * 0700): an object whose directory was removed too is made in a
 * directory of that name, which goes again with it. The first one made
 * is returned in @made ("" if none).
 */
static int make_parents(const char *path, char *made, size_t size)
{
	char buf[PATH_MAX];
	struct stat st;

	made[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (stat(buf, &st)) {
			if (errno != ENOENT || mkdir(buf, 0700)) {
				pr_perror("can't make the directory %s that %s was in", buf, path);
				*p = '/';
				return -1;
			}
			if (!made[0])
				snprintf(made, size, "%s", buf);
		}
		*p = '/';
	}
	return 0;
}

/* Remove what make_parents() made under @path, deepest first. */
static void remove_parents(const char *path, const char *made)
{
	char buf[PATH_MAX], *slash;

	if (!made[0])
		return;
	snprintf(buf, sizeof(buf), "%s", path);
	while ((slash = strrchr(buf, '/')) && strlen(buf) > strlen(made)) {
		*slash = '\0';
		if (rmdir(buf))
			pr_perror("can't remove %s again", buf);
	}
}

/* A name to make @path's object at: its own if free, so /proc shows what it showed. */
static void free_name(const char *path, const char *what, char *buf, size_t size)
{
	struct stat st;

	snprintf(buf, size, "%s", path);
	if (!lstat(buf, &st) || errno != ENOENT)
		snprintf(buf, size, "%s.criu-%s.%d", path, what, getpid());
}

/* Owner first: a chown clears the set-id bits of the mode. Through /proc for an O_PATH fd. */
static int set_owner_mode(int fd, const RegFileEntry *r)
{
	char proc[64];

	/* criu's /proc: the tree's mount namespace may have none */
	snprintf(proc, sizeof(proc), "self/fd/%d", fd);
	if ((r->has_uid && fchownat(fd, "", r->uid, r->has_gid ? r->gid : (gid_t)-1, AT_EMPTY_PATH)) ||
	    fchmodat(proc_dir(), proc, r->mode & 07777, 0)) {
		pr_perror("can't give %s its owner and mode", r->path);
		return -1;
	}
	return 0;
}

/* The contents of an unlinked file: from ghost-ID.img (holes kept), or from chunks (older images). */
static int ghost_fill(int dfd, uint32_t id, RegFileEntry *r, int fd)
{
	struct cr_img *img;
	int ret;

	if (!r->has_ghost_raw || !r->ghost_raw) {
		if (ftruncate(fd, r->ghost_size))
			return -1;
		return write_chunks(fd, r->ghost_chunks, r->n_ghost_chunks, r->ghost_size);
	}
	img = open_image_at(dfd, CR_FD_GHOST, O_RDONLY, id);
	if (!img)
		return -1;
	ret = load_sparse_fd(img, r->ghost_size, fd, r->ghost_csum, r->n_ghost_csum);
	close_image(img);
	return ret;
}

/* Another name an object is made under for a moment, and the times of its directory to put back. */
struct alias {
	char name[PATH_MAX];
	struct file_times dir_times;
};

/* The nearest directory above @path that exists: the one whose times making things below change. */
static int existing_parent(const char *path, char *buf, size_t size)
{
	char tmp[PATH_MAX];
	struct stat st;

	if (parent_dir(path, buf, size))
		return -1;
	while (stat(buf, &st)) {
		snprintf(tmp, sizeof(tmp), "%s", buf);
		if (parent_dir(tmp, buf, size))
			return -1;
	}
	return 0;
}

/* The object's own times as the dump saw them, through its fd (it has no name any more). */
static void set_object_times(int fd, const RegFileEntry *r)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
	char proc[64];

	if (r->has_atime_sec) {
		ts[0].tv_sec = r->atime_sec;
		ts[0].tv_nsec = r->has_atime_nsec ? r->atime_nsec : 0;
	}
	if (r->has_mtime_sec) {
		ts[1].tv_sec = r->mtime_sec;
		ts[1].tv_nsec = r->has_mtime_nsec ? r->mtime_nsec : 0;
	}
	snprintf(proc, sizeof(proc), "self/fd/%d", fd);
	if ((r->has_atime_sec || r->has_mtime_sec) && utimensat(proc_dir(), proc, ts, 0))
		pr_warn("can't give %s its times back: %s\n", r->path, strerror(errno));
}

/*
 * The other names the object of holder @id had (hard links, opened by
 * them): linked to @made while it has a name, each opened O_PATH into its
 * own slot, then unlinked, so that every fd shows its own name.
 */
static int make_aliases(struct rst_files *rf, uint32_t id, const char *made, struct alias *names, int *nr)
{
	*nr = 0;
	for (uint64_t *a = hmap_get(&rf->obj_aliases, id); a && *a; a = NULL) {
		for (uint32_t v = *a; v; v = rf->obj_next[v]) {
			FileEntry *fe = find_file(rf, v);
			char *name = names[*nr].name, dir[PATH_MAX];
			int fd, to = obj_fd(rf, v);

			free_name(fe->reg->path, "link", name, PATH_MAX);
			names[*nr].dir_times.valid = 0;
			if (!parent_dir(name, dir, sizeof(dir)))
				times_save(dir, &names[*nr].dir_times);
			if (link(made, name)) {
				pr_perror("can't link %s again as %s", made, fe->reg->path);
				return -1;
			}
			(*nr)++;
			fd = open(name, O_PATH | O_CLOEXEC);
			if (fd < 0 || move_fd(fd, to) < 0 || fcntl(to, F_SETFD, FD_CLOEXEC)) {
				pr_perror("can't keep %s", name);
				return -1;
			}
		}
	}
	return 0;
}

static int reopen_ro(const char *made, int *fd)
{
	int ro = open(made, O_RDONLY | O_CLOEXEC);

	if (ro < 0) {
		pr_perror("can't open %s again read-only", made);
		return -1;
	}
	close(*fd);
	*fd = ro;
	return 0;
}

/*
 * An unlinked file or device node comes back unlinked, and a removed
 * directory removed: made where it was (see free_name(), make_parents()),
 * given its owner, mode and contents, linked under its other names, opened
 * and unlinked again.
 */
static int object_make(int dfd, struct rst_files *rf, FileEntry *fe)
{
	RegFileEntry *r = fe->reg;
	char made[PATH_MAX], parents[PATH_MAX], above[PATH_MAX];
	int dir = r->has_dir_deleted && r->dir_deleted, node = r->has_node_deleted && r->node_deleted;
	int fd = -1, nr_names = 0, ret = -1;
	struct file_times above_times = { 0 };
	struct alias *names = NULL;

	free_name(r->path, dir ? "dir" : node ? "node" : "ghost", made, sizeof(made));
	/* the directory it goes into looks untouched afterwards */
	if (!existing_parent(made, above, sizeof(above)))
		times_save(above, &above_times);
	if (make_parents(made, parents, sizeof(parents)))
		return -1;
	if (dir)
		ret = mkdir(made, 0700);
	else if (node)
		ret = mknod(made, (r->mode & S_IFMT) | 0600, r->rdev);
	else
		ret = close(open(made, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	if (ret) {
		pr_perror("can't make %s again (at %s)", r->path, made);
		remove_parents(made, parents);
		times_put_back(above, &above_times);
		return -1;
	}
	ret = -1;
	fd = open(made, dir || node ? O_PATH | O_CLOEXEC : O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", made);
		goto out;
	}
	if (!dir && !node && ghost_fill(dfd, fe->id, r, fd)) {
		pr_perror("can't fill the unlinked file %s", r->path);
		goto out;
	}
	/*
	 * Filled: the object is held read-only. Held for writing, it would
	 * keep the inode written to, and an unlinked executable could not be
	 * a task's exe again (PR_SET_MM_MAP denies writes to it: EACCES).
	 * Views are new opens of it, writable ones too.
	 */
	if (!dir && !node && reopen_ro(made, &fd))
		goto out;
	if (set_owner_mode(fd, r))
		goto out;
	names = calloc(rf->nr_objs + 1, sizeof(*names));
	if (!names || make_aliases(rf, fe->id, made, names, &nr_names))
		goto out;
	ret = 0;
out:
	for (int i = 0; i < nr_names; i++) {
		char d[PATH_MAX];

		if (unlink(names[i].name))
			pr_perror("can't unlink %s again", names[i].name);
		if (!parent_dir(names[i].name, d, sizeof(d)))
			times_put_back(d, &names[i].dir_times);
	}
	if ((dir ? rmdir(made) : unlink(made)) && !ret) {
		pr_perror("can't remove %s again", made);
		ret = -1;
	}
	remove_parents(made, parents);
	times_put_back(above, &above_times);
	free(names);
	if (ret && fd >= 0)
		close(fd);
	if (!ret)
		set_object_times(fd, r);
	return ret ? -1 : fd;
}

/*
 * An O_TMPFILE file stays one: made with O_TMPFILE in its directory, so
 * that the task can still link it in, and filled from the image.
 */
static int tmpfile_make(int dfd, FileEntry *fe)
{
	RegFileEntry *r = fe->reg;
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
	if (set_owner_mode(fd, r))
		goto err;
	if (ghost_fill(dfd, fe->id, r, fd)) {
		pr_perror("can't fill the O_TMPFILE file %s", r->path);
		goto err;
	}
	set_object_times(fd, r);
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
int fileobj_dup_tmpfile(struct rst_files *rf, const FileEntry *fe)
{
	int fd;

	if (obj_fd(rf, fe->id) < 0 || fe->type != FILE_TYPE__FT_REG || !fe->reg || !is_tmpfile(fe->reg))
		return -2;
	fd = fcntl(obj_fd(rf, fe->id), F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		pr_perror("can't dup the O_TMPFILE file %s", fe->reg->path);
	return fd;
}

/*
 * A file linked back at dump (--link-remap): opened by that name, or
 * by its own name for a moment if that is free, so that /proc shows
 * what it showed. The link-remap name goes once the tree runs.
 */
static int remap_open(RegFileEntry *r)
{
	const char *other = r->link_remap ? r->link_remap : r->other_link;
	const char *what = r->link_remap ? "link-remap file" : "other name of the removed file";
	struct file_times dt = { 0 };
	char dir[PATH_MAX];
	struct stat st;
	int fd, ret;

	if (stat(other, &st)) {
		pr_perror("%s: the %s %s is gone", r->path, what, other);
		return -1;
	}
	/*
	 * A tmpfs the tree's mount namespace had is made again, its files
	 * new inodes: there the size tells (as for any file of it, reg_changed())
	 */
	if (r->has_ino && r->has_dev && mntns_dev_remade(r->dev) ?
	    !S_ISREG(st.st_mode) || (r->has_size && (uint64_t)st.st_size != r->size) :
	    r->has_ino && (st.st_ino != r->ino || st.st_dev != r->dev)) {
		pr_err("%s: the %s %s is not the dumped file\n", r->path, what, other);
		return -1;
	}
	if (!parent_dir(r->path, dir, sizeof(dir)))
		times_save(dir, &dt);
	if (linkat(AT_FDCWD, other, AT_FDCWD, r->path, 0) == 0) {
		fd = open(r->path, O_PATH | O_CLOEXEC);
		ret = unlink(r->path);
		times_put_back(dir, &dt);
		if (ret) {
			pr_perror("can't unlink %s", r->path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else {
		fd = open(other, O_PATH | O_CLOEXEC);
	}
	if (fd < 0)
		pr_perror("can't open the %s %s", what, other);
	return fd;
}

int fileobj_chdir_removed(struct rst_files *rf, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
			  uint64_t dev, uint64_t ino)
{
	RegFileEntry r = REG_FILE_ENTRY__INIT;
	FileEntry fe = FILE_ENTRY__INIT;
	int fd, ret;

	/* a removed directory an fd holds too: the same one */
	for (size_t i = 0; ino && i < rf->nr; i++) {
		FileEntry *h = rf->fe[i];

		if (obj_fd(rf, h->id) >= 0 && h->type == FILE_TYPE__FT_REG && h->reg->has_dir_deleted &&
		    h->reg->dir_deleted && h->reg->has_ino && h->reg->ino == ino && h->reg->dev == dev) {
			ret = fchdir(obj_fd(rf, h->id));
			if (ret)
				pr_perror("can't enter the removed directory %s", path);
			return ret;
		}
	}
	r.path = (char *)path;
	r.mode = mode;
	r.has_uid = uid != (uint32_t)-1;
	r.uid = uid;
	r.has_gid = gid != (uint32_t)-1;
	r.gid = gid;
	r.has_dir_deleted = r.dir_deleted = true;
	fe.type = FILE_TYPE__FT_REG;
	fe.reg = &r;
	fd = object_make(-1, rf, &fe);
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
		    unlink_keeping_times(mntns_rst_path(fe->reg->link_remap, at, sizeof(at))) && errno != ENOENT)
			pr_warn("can't remove the link-remap file %s: %s\n", fe->reg->link_remap, strerror(errno));
	}
}

/* A view of holder @h opened by another name than the holder's (a hard link): it needs one of its own. */
static int is_alias(struct rst_files *rf, const FileEntry *fe)
{
	FileEntry *h = fe->type == FILE_TYPE__FT_REG && fe->reg && fe->reg->has_same_as ?
			       find_file(rf, fe->reg->same_as) : NULL;
	RegFileEntry *r = h && h->type == FILE_TYPE__FT_REG ? h->reg : NULL;

	if (!r || !reg_is_holder(r) || is_tmpfile(r) || r->link_remap || r->other_link ||
	    (r->has_dir_deleted && r->dir_deleted))
		return 0;
	return strcmp(fe->reg->path, r->path) != 0;
}

int fileobj_plan(struct rst_files *rf)
{
	struct hmap names = { 0 };	/* holder and name -> the first view of that name */

	rf->obj_slot = malloc((rf->nr_ids + 1) * sizeof(*rf->obj_slot));
	rf->obj_next = calloc(rf->nr_ids + 1, sizeof(*rf->obj_next));
	if (!rf->obj_slot || !rf->obj_next)
		goto oom;
	rf->nr_objs = 0;
	for (uint32_t id = 0; id <= rf->nr_ids; id++) {
		FileEntry *fe = find_file(rf, id);

		rf->obj_slot[id] = fe && fileobj_is_holder(fe) ? (int)rf->nr_objs++ : -1;
	}
	/* views of a holder by another name: one slot per name, its views reopen that */
	for (uint32_t id = 0; id <= rf->nr_ids; id++) {
		FileEntry *fe = find_file(rf, id);
		uint64_t key, *first;
		int made;

		if (!fe || !is_alias(rf, fe))
			continue;
		key = hash_bytes(fe->reg->path, strlen(fe->reg->path), fe->reg->same_as);
		first = hmap_get_or_put(&names, key, id, &made);
		if (!first)
			goto oom;
		if (!made && !strcmp(find_file(rf, *first)->reg->path, fe->reg->path)) {
			rf->obj_slot[id] = rf->obj_slot[*first];
			continue;
		}
		rf->obj_slot[id] = rf->nr_objs++;
		if (hmap_list_push(&rf->obj_aliases, fe->reg->same_as, id, rf->obj_next))
			goto oom;
	}
	hmap_free(&names);
	return 0;
oom:
	pr_err("out of memory\n");
	hmap_free(&names);
	return -1;
}

/*
 * Images with two holders of one unlinked inode (ghosts by dev and inode,
 * FIFOs by inode): one object all the same. The fd of the object made
 * first for that inode, or -1.
 */
static int same_object(struct rst_files *rf, struct hmap *seen, FileEntry *fe, int *err)
{
	uint64_t key, *first;
	int made;

	if (fe->type == FILE_TYPE__FT_FIFO)
		key = hash_u64(fe->fifo->ino) ^ 1;
	else if (fe->type == FILE_TYPE__FT_REG && fe->reg->has_ghost && fe->reg->has_dev)
		key = inode_key(fe->reg->dev, fe->reg->ino);
	else
		return -1;
	first = hmap_get_or_put(seen, key, fe->id, &made);
	if (!first) {
		pr_err("out of memory\n");
		*err = 1;
		return -1;
	}
	return made ? -1 : obj_fd(rf, *first);
}

int fileobj_make_all(int dfd, struct rst_files *rf)
{
	struct hmap seen = { 0 };
	int ret = -1, err = 0;

	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		int fd, same, to = obj_fd(rf, fe->id);

		if (to < 0 || (fe->type == FILE_TYPE__FT_REG && fe->reg->has_same_as))
			continue;	/* no holder: an alias, made with its holder */
		same = same_object(rf, &seen, fe, &err);
		if (err)
			goto out;
		if (fe->type == FILE_TYPE__FT_MEMFD)
			fd = memfd_make(rf, fe);
		else if (fe->type == FILE_TYPE__FT_FIFO)
			fd = fifo_make_unlinked(fe, same);
		else if (fe->reg->link_remap || fe->reg->other_link)
			fd = remap_open(fe->reg);
		else if (same >= 0)
			fd = fcntl(same, F_DUPFD_CLOEXEC, 0);
		else
			fd = is_tmpfile(fe->reg) ? tmpfile_make(dfd, fe) : object_make(dfd, rf, fe);
		if (fd < 0 || move_fd(fd, to) < 0 || fcntl(to, F_SETFD, FD_CLOEXEC)) {
			pr_perror("can't make the object of file %u", fe->id);
			goto out;
		}
	}
	ret = 0;
out:
	hmap_free(&seen);
	return ret;
}

int fileobj_fd(struct rst_files *rf, uint32_t id)
{
	return obj_fd(rf, id);
}

int fileobj_has_own(struct rst_files *rf, uint32_t id)
{
	return obj_fd(rf, id) >= 0;
}

int fileobj_dup(struct rst_files *rf, uint32_t id)
{
	int obj = obj_fd(rf, id), fd;

	if (obj < 0) {
		pr_err("file %u: no object was made for it\n", id);
		return -1;
	}
	fd = fcntl(obj, F_DUPFD_CLOEXEC, 0);
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
	return fileobj_dup(rf, h->id);
}

int fileobj_reopen(struct rst_files *rf, uint32_t id, int flags)
{
	int fd;

	if (obj_fd(rf, id) < 0) {
		pr_err("file %u: no object was made for it\n", id);
		return -1;
	}
	/*
	 * Through /proc's link to the object: O_NOFOLLOW (shm_open() gives
	 * it) was about the name the task opened, and would refuse this link.
	 */
	fd = proc_open(flags & ~O_NOFOLLOW, "self/fd/%d", obj_fd(rf, id));
	if (fd < 0)
		pr_perror("can't open the object of file %u again", id);
	return fd;
}
