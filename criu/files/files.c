/*
 * File descriptors: which kinds we can dump, writing them to files.img and
 * fdinfo-PID.img, and opening them again at restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cr_options.h"
#include "files.h"
#include "image.h"
#include "chunks.h"
#include "fdkinds.h"
#include "file-lock.h"
#include "epoll.h"
#include "external.h"
#include "fileobj.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "pipes.h"
#include "proc_parse.h"
#include "tty.h"
#include "util.h"

struct file_desc *file_desc_new(struct file_table *ft)
{
	struct file_desc *d;

	if (ft->nr == ft->cap) {
		size_t cap = ft->cap ? ft->cap * 2 : 16;
		struct file_desc *n = realloc(ft->d, cap * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			return NULL;
		}
		ft->d = n;
		ft->cap = cap;
	}
	d = &ft->d[ft->nr];
	memset(d, 0, sizeof(*d));
	file_entry__init(&d->fe);
	reg_file_entry__init(&d->reg);
	d->id = ft->nr + 1;
	d->owner_fd = -1;
	return d;
}

static int is_tty(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == 4 || maj == 5 || (maj >= 136 && maj <= 143));
}

/* Two fds of one task sharing one open file description must stay shared. */
static struct file_desc *find_shared(struct file_table *ft, pid_t pid, int fd, const struct stat *st)
{
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];

		if (d->owner_fd < 0 || d->st.st_dev != st->st_dev || d->st.st_ino != st->st_ino)
			continue;
		if (syscall(SYS_kcmp, d->owner_pid, pid, KCMP_FILE, d->owner_fd, fd) == 0)
			return d;
	}
	return NULL;
}

/* Names an fd kind we can't dump, for the refusal message. */
static const char *fd_kind(const char *link, const struct stat *st, char *buf, size_t size)
{
	if (anon_kind_name(link, buf, size))
		return buf;
	if (!strncmp(link, "socket:", 7))
		return "socket";
	if (S_ISFIFO(st->st_mode))
		return "fifo";
	if (S_ISSOCK(st->st_mode))
		return "socket";
	if (S_ISBLK(st->st_mode))
		return "block device";
	if (is_tty(st))
		return "terminal";
	return "unknown";
}

/* The file's owner for signal-driven I/O, read through a duplicate (same description). */
static int collect_fown(pid_t pid, int fd, unsigned int flags, struct file_desc *d)
{
	struct f_owner_ex owner = { 0 };
	int dup, sig;

	/* an O_PATH fd has no owner to ask (fcntl says EBADF) */
	if (d->fe.type == FILE_TYPE__FT_PIDFD || (flags & O_PATH))
		return 0;
	dup = task_fd(pid, fd);
	if (dup < 0)
		return -1;
	if (fcntl(dup, F_GETOWN_EX, &owner) || (sig = fcntl(dup, F_GETSIG)) < 0) {
		pr_perror("can't read the owner of fd %d of %d", fd, pid);
		close(dup);
		return -1;
	}
	close(dup);
	if (!owner.pid && !sig && !(flags & O_ASYNC))
		return 0;
	fown_entry__init(&d->fown);
	d->fown.type = owner.type;
	d->fown.pid = owner.pid;
	d->fown.signum = sig;
	d->fown.async = !!(flags & O_ASYNC);
	d->fe.fown = &d->fown;
	return 0;
}

/*
 * F_SETOWN records the caller's uid and euid, which decide whom SIGIO may
 * reach: criu's root does everywhere, but inside a user namespace the
 * restore runs as the namespace's root, so there the owner is set with
 * the task's own euid (restore_fown_as()).
 */
static uid_t fown_euid = (uid_t)-1;

void restore_fown_as(uid_t euid)
{
	fown_euid = euid;
}

/* After open: owner, signal and O_ASYNC back. */
static int restore_fown(FileEntry *fe, int fd)
{
	FownEntry *o = fe->fown;
	struct f_owner_ex owner;
	uid_t was = geteuid();
	int ret = 0;

	if (!o)
		return 0;
	owner.type = o->type;
	owner.pid = o->pid;
	if (o->pid && fown_euid != (uid_t)-1 && fown_euid != was && setresuid(-1, fown_euid, -1)) {
		pr_perror("can't take euid %u to give file %u its owner", fown_euid, fe->id);
		return -1;
	}
	if (o->pid && fcntl(fd, F_SETOWN_EX, &owner))
		ret = -1;
	if (geteuid() != was) {
		/* an euid change makes us undumpable: our /proc/self would close to us */
		if (setresuid(-1, was, -1) || prctl(PR_SET_DUMPABLE, 1)) {
			pr_perror("can't go back to euid %u", was);
			return -1;
		}
	}
	if (ret || (o->signum && fcntl(fd, F_SETSIG, o->signum)) ||
	    (o->async && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC))) {
		pr_perror("can't give file %u its owner %d (signal %u)", fe->id, o->pid, o->signum);
		return -1;
	}
	return 0;
}

static void reg_set_mtime(RegFileEntry *r, const struct stat *st)
{
	r->has_mtime_sec = r->has_mtime_nsec = true;
	r->mtime_sec = st->st_mtim.tv_sec;
	r->mtime_nsec = st->st_mtim.tv_nsec;
}

static int has_locks(const char *fdinfo)
{
	return strstr(fdinfo, "\nlock:") != NULL;
}

/* @d, new, is the description of fd @fd of @pid, the first one seen: it is dumped with its owner. */
static void desc_owned(struct file_table *ft, struct file_desc *d, pid_t pid, int fd, const struct stat *st)
{
	d->owner_pid = pid;
	d->owner_fd = fd;
	d->st = *st;
	d->fe.id = d->id;
	ft->nr++;
}

static int refuse_fd(pid_t pid, int fd, const char *link, const struct stat *st)
{
	char name[64];
	const char *kind = fd_kind(link, st, name, sizeof(name));

	if (!strcmp(kind, "terminal"))
		pr_err("can't dump task %d: fd %d is the terminal %s (use --shell-job if it is the caller's)\n", pid,
		       fd, link);
	else
		pr_err("can't dump task %d: fd %d is of an unsupported kind: %s (%s)\n", pid, fd, kind, link);
	return -1;
}

/* The path, position, flags and inode of a regular file, directory or device description @d. */
static void fill_reg(struct file_desc *d, const struct proc_fdinfo *fi, const struct stat *st)
{
	d->reg.flags = fi->flags & ~O_CLOEXEC;
	d->reg.pos = fi->pos;
	d->reg.mode = st->st_mode;
	d->reg.has_size = d->reg.has_ino = d->reg.has_dev = d->reg.has_rdev = true;
	d->reg.size = st->st_size;
	d->reg.ino = st->st_ino;
	d->reg.dev = st->st_dev;
	d->reg.rdev = st->st_rdev;
	reg_set_mtime(&d->reg, st);
}

static int collect_one_fd(struct file_table *ft, struct fd_list *fl, pid_t pid, int fd)
{
	char path[64], what[32], link[PATH_MAX], *info;
	struct proc_fdinfo fi;
	struct file_desc *d;
	FdinfoEntry *fe;
	struct stat st;
	int locked;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0 || stat(path, &st)) {
		pr_perror("can't inspect fd %d of %d", fd, pid);
		return -1;
	}
	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	info = read_proc_file(pid, path, NULL);
	if (!info || parse_fdinfo_buf(info, &fi)) {
		pr_err("can't parse /proc/%d/fdinfo/%d\n", pid, fd);
		free(info);
		return -1;
	}
	locked = has_locks(info);
	if (locked && !opts.file_locks) {
		free(info);
		pr_err("can't dump task %d: fd %d (%s) holds a file lock; dump with --file-locks to save it\n",
		       pid, fd, link);
		return -1;
	}

	d = find_shared(ft, pid, fd, &st);
	if (d) {
		free(info);
		goto add_fd;
	}

	const char *ext = external_match(link, &st, fi.mnt_id);
	/* another open file description of a memfd or unlinked file seen before */
	uint32_t holder = ext ? 0 : fileobj_find(ft, &st);

	if (holder) {
		free(info);
		d = file_desc_new(ft);
		if (!d)
			return -1;
		d->fe.type = FILE_TYPE__FT_REG;
		d->reg.has_same_as = true;
		d->reg.same_as = holder;
		if (strstr(link, " (deleted)"))
			*strstr(link, " (deleted)") = '\0';
		d->reg.path = strdup(link);
		goto reg;
	}

	const struct fd_kind *kind;

	if (link[0] == '/' && S_ISFIFO(st.st_mode)) {
		kind = &fifo_kind;
	} else if (!ext && !strncmp(link, "socket:[", 8)) {
		/* by family; one we can't dump is refused there, by name */
		kind = fd_kind_of(pid, fd, link);
		if (!kind) {
			free(info);
			return -1;
		}
	} else {
		kind = fd_kind_by_link(link);
	}

	if (!kind && !ext && is_tty(&st) && tty_is_pty(pid, fd, &st))
		kind = &tty_kind;
	if (!kind && !ext && is_tun_dev(&st))
		kind = &tun_kind;

	if (kind && !ext) {
		d = file_desc_new(ft);
		if (!d || kind->dump(pid, fd, info, &fi, &d->fe)) {
			free(info);
			return -1;
		}
		free(info);
		d->fe.type = kind->type;
		desc_owned(ft, d, pid, fd, &st);
		goto add_fd;
	}
	free(info);

	if (ext) {
		/* not looked into: restore gets it from --inherit-fd */
		d = file_desc_new(ft);
		if (!d || external_note(d->id, link, ext))
			return -1;
		d->fe.type = FILE_TYPE__FT_REG;
		d->reg.path = strdup(link);
	} else if (is_tty(&st) && opts.shell_job) {
		d = file_desc_new(ft);
		if (!d)
			return -1;
		d->fe.type = FILE_TYPE__FT_TTY_SHELL;
		d->reg.path = strdup(link);
	} else if (!strncmp(link, "pipe:", 5)) {
		d = file_desc_new(ft);
		if (!d || dump_pipe(pid, fd, &st, &fi, d))
			return -1;
		desc_owned(ft, d, pid, fd, &st);
		goto add_fd;
	} else if (link[0] == '/' && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
				      (S_ISCHR(st.st_mode) && !is_tty(&st)))) {
		int ghost = st.st_nlink == 0 || strstr(link, " (deleted)");

		d = file_desc_new(ft);
		if (!d)
			return -1;
		d->fe.type = FILE_TYPE__FT_REG;
		if (ghost) {
			char *del = strstr(link, " (deleted)");

			if (del)
				*del = '\0';
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
			snprintf(what, sizeof(what), "fd %d", fd);
			if (fileobj_dump_unlinked(pid, what, path, link, &st, &d->reg))
				return -1;
		} else if (mntns_file_mount(pid, fd, fi.mnt_id, link, &st, &d->reg)) {
			return -1;
		}
		d->reg.path = strdup(link);
	} else {
		return refuse_fd(pid, fd, link, &st);
	}
reg:
	if (!d->reg.path) {
		pr_err("out of memory\n");
		return -1;
	}
	fill_reg(d, &fi, &st);
	desc_owned(ft, d, pid, fd, &st);
add_fd:
	if (d->owner_pid == pid && d->owner_fd == fd && collect_fown(pid, fd, fi.flags, d))
		return -1;
	if (locked && file_locks_collect(pid, fd, d->id, link))
		return -1;
	fe = &fl->fds[fl->nr++];
	fdinfo_entry__init(fe);
	fe->fd = fd;
	fe->id = d->id;
	fe->fd_flags = (fi.flags & O_CLOEXEC) ? FD_CLOEXEC : 0;
	if (fd > fl->max_fd)
		fl->max_fd = fd;
	pr_debug("fd %d of %d: %s, file id %u, pos %lu\n", fd, pid, link, d->id, (unsigned long)fi.pos);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int collect_fds(pid_t pid, struct file_table *ft, struct fd_list *fl)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0, ret = -1, r;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		pr_perror("can't open %s", path);
		return -1;
	}
	while ((r = next_dirent(dir, &de, path)) > 0) {
		if (de->d_name[0] == '.')
			continue;
		if (nr == cap) {
			cap = cap ? cap * 2 : 64;
			int *n = realloc(fds, cap * sizeof(int));

			if (!n) {
				pr_err("out of memory\n");
				goto out;
			}
			fds = n;
		}
		fds[nr++] = atoi(de->d_name);
	}
	if (r < 0)
		goto out;
	qsort(fds, nr, sizeof(int), cmp_int);
	fl->fds = calloc(nr ? nr : 1, sizeof(*fl->fds));
	if (!fl->fds) {
		pr_err("out of memory\n");
		goto out;
	}
	fl->max_fd = -1;
	for (int i = 0; i < nr; i++)
		if (collect_one_fd(ft, fl, pid, fds[i]))
			goto out;
	ret = 0;
out:
	closedir(dir);
	free(fds);
	return ret;
}

int file_table_add_path(struct file_table *ft, const char *path, int flags, const struct stat *st, uint32_t *id)
{
	struct file_desc *d;

	for (size_t i = 0; i < ft->nr; i++) {
		d = &ft->d[i];
		if (d->owner_fd < 0 && d->fe.type == FILE_TYPE__FT_REG && !d->reg.has_ghost && !d->reg.has_same_as &&
		    d->reg.flags == (uint32_t)flags && !strcmp(d->reg.path, path)) {
			*id = d->id;
			return 0;
		}
	}
	d = file_desc_new(ft);
	if (!d)
		return -1;
	d->fe.type = FILE_TYPE__FT_REG;
	d->reg.path = strdup(path);
	if (!d->reg.path) {
		pr_err("out of memory\n");
		return -1;
	}
	d->reg.flags = flags;
	d->st = *st;
	d->reg.mode = st->st_mode;
	d->reg.has_size = d->reg.has_ino = d->reg.has_dev = true;
	d->reg.size = st->st_size;
	d->reg.ino = st->st_ino;
	d->reg.dev = st->st_dev;
	reg_set_mtime(&d->reg, st);
	d->fe.id = d->id;
	ft->nr++;
	*id = d->id;
	return 0;
}

int dump_fdinfo(int dfd, pid_t pid, struct fd_list *fl)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_DUMP, pid);
	int ret = 0;

	if (!img)
		return -1;
	for (size_t i = 0; i < fl->nr && !ret; i++)
		ret = pb_write_one(img, &fl->fds[i]);
	return finish_image(img, ret);
}

void fd_list_free(struct fd_list *fl)
{
	free(fl->fds);
	memset(fl, 0, sizeof(*fl));
}

int check_pipes_all(struct file_table *ft)
{
	return check_pipes(0, ft);
}

int dump_files(int dfd, struct file_table *ft)
{
	struct cr_img *img;
	int ret = 0;

	img = open_image_at(dfd, CR_FD_FILES, O_DUMP);
	if (!img)
		return -1;
	for (size_t i = 0; i < ft->nr && !ret; i++) {
		/* the table may have moved since: point at the embedded records again */
		if (ft->d[i].fe.type == FILE_TYPE__FT_REG || ft->d[i].fe.type == FILE_TYPE__FT_TTY_SHELL)
			ft->d[i].fe.reg = &ft->d[i].reg;
		if (ft->d[i].fe.type == FILE_TYPE__FT_PIPE)
			ft->d[i].fe.pipe = &ft->d[i].pipe;
		if (ft->d[i].fe.fown)
			ft->d[i].fe.fown = &ft->d[i].fown;
		ret = pb_write_one(img, &ft->d[i].fe);
	}
	return finish_image(img, ret);
}

int dump_fs(int dfd, pid_t pid)
{
	char path[64], cwd[PATH_MAX], root[PATH_MAX], parent[PATH_MAX], at[PATH_MAX + 64];
	FsEntry fe = FS_ENTRY__INIT;
	struct cr_img *img;
	struct stat st, pst;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (read_link(path, cwd, sizeof(cwd)) < 0 || stat(path, &st)) {
		pr_perror("can't read the cwd of %d", pid);
		return -1;
	}
	if (st.st_nlink == 0 || strstr(cwd, " (deleted)")) {
		char *del = strstr(cwd, " (deleted)");

		/* made again at restore: its parent must be there */
		if (del)
			*del = '\0';
		snprintf(parent, sizeof(parent), "%s", cwd);
		if (strrchr(parent, '/'))
			*strrchr(parent, '/') = '\0';
		if (cwd[0] != '/' ||
		    (parent[0] && (stat(mntns_path(parent, at, sizeof(at)), &pst) || !S_ISDIR(pst.st_mode)))) {
			pr_err("can't dump task %d: its cwd %s was removed along with its parent\n", pid, cwd);
			return -1;
		}
		fe.has_cwd_deleted_mode = fe.has_cwd_uid = fe.has_cwd_gid = true;
		fe.cwd_deleted_mode = st.st_mode;
		fe.cwd_uid = st.st_uid;
		fe.cwd_gid = st.st_gid;
		if (ns_owner_inside(&fe.cwd_uid, &fe.cwd_gid, "a removed cwd"))
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	if (read_link(path, root, sizeof(root)) < 0) {
		pr_perror("can't read the root of %d", pid);
		return -1;
	}
	if (mntns_check_reach(pid, "root", path, root))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (!fe.has_cwd_deleted_mode && mntns_check_reach(pid, "cwd", path, cwd))
		return -1;
	fe.cwd = cwd;
	fe.root = root;
	img = open_image_at(dfd, CR_FD_FS, O_DUMP, pid);
	if (!img)
		return -1;
	ret = pb_write_one(img, &fe);
	return finish_image(img, ret);
}

void file_table_free(struct file_table *ft)
{
	for (size_t i = 0; i < ft->nr; i++) {
		const struct fd_kind *k = fd_kind_by_type(ft->d[i].fe.type);

		free(ft->d[i].reg.path);
		free(ft->d[i].reg.link_remap);
		free(ft->d[i].pipe.data.data);
		free_chunks(ft->d[i].reg.ghost_chunks, ft->d[i].reg.n_ghost_chunks);
		if (k)
			k->free(&ft->d[i].fe);
	}
	free(ft->d);
	memset(ft, 0, sizeof(*ft));
}

/* ---- restore ---- */

int read_files(int dfd, struct rst_files *rf)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FILES, O_RDONLY);
	void *msg;
	int ret;

	memset(rf, 0, sizeof(*rf));
	if (!img)
		return -1;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		FileEntry *fe = msg, **n;

		if ((fe->type == FILE_TYPE__FT_REG && !fe->reg) || (fe->type == FILE_TYPE__FT_PIPE && !fe->pipe)) {
			pr_err("%s: file %u has no path\n", img->path, fe->id);
			pb_free(img, msg);
			ret = -1;
			break;
		}
		n = realloc(rf->fe, (rf->nr + 1) * sizeof(*n));
		if (!n) {
			pb_free(img, msg);
			ret = -1;
			break;
		}
		rf->fe = n;
		rf->fe[rf->nr++] = fe;
	}
	close_image(img);
	return ret < 0 ? -1 : 0;
}

void free_files(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr; i++)
		file_entry__free_unpacked(rf->fe[i], NULL);
	free(rf->fe);
	memset(rf, 0, sizeof(*rf));
}

int files_linked(const FileEntry *a, const FileEntry *b)
{
	const struct fd_kind *k = fd_kind_by_type(a->type);

	if (a->type != b->type)
		return 0;
	if (a->type == FILE_TYPE__FT_PIPE)
		return a->pipe && b->pipe && a->pipe->ino == b->pipe->ino;
	return k && k->link_key && k->link_key(a) && k->link_key(a) == k->link_key(b);
}

FileEntry *find_file(struct rst_files *rf, uint32_t id)
{
	for (size_t i = 0; i < rf->nr; i++)
		if (rf->fe[i]->id == id)
			return rf->fe[i];
	return NULL;
}

/* A regular file must be the one dumped: same inode, same size, not modified since. */
static int reg_changed(const RegFileEntry *r, const struct stat *st)
{
	/* a file of a tmpfs made again is a new inode: its size and mtime are what can tell */
	bool remade = r->has_dev && mntns_dev_remade(r->dev);

	if ((r->has_ino && !remade && st->st_ino != r->ino) || (r->has_size && (uint64_t)st->st_size != r->size)) {
		pr_err("%s changed since the dump (inode %lu, size %lu; it was inode %lu, size %lu); "
		       "restore with --allow-changed-files to use it anyway\n", r->path, (unsigned long)st->st_ino,
		       (unsigned long)st->st_size, (unsigned long)r->ino, (unsigned long)r->size);
		return 1;
	}
	if (r->has_mtime_sec && (st->st_mtim.tv_sec != r->mtime_sec ||
				 (r->has_mtime_nsec && (uint32_t)st->st_mtim.tv_nsec != r->mtime_nsec))) {
		pr_err("%s was modified since the dump (mtime %ld.%09ld; it was %ld.%09u); "
		       "restore with --allow-changed-files to use it anyway\n", r->path, (long)st->st_mtim.tv_sec,
		       (long)st->st_mtim.tv_nsec, (long)r->mtime_sec, r->has_mtime_nsec ? r->mtime_nsec : 0);
		return 1;
	}
	return 0;
}

/* Another view of a memfd or unlinked file: the object made for its holder. */
static int open_same_as(struct rst_files *rf, RegFileEntry *r, int flags)
{
	FileEntry *h = find_file(rf, r->same_as);

	if (!h || !fileobj_is_holder(h)) {
		pr_err("%s: file %u is no memfd or unlinked file to open again\n", r->path, r->same_as);
		return -1;
	}
	return fileobj_reopen(r->same_as, flags);
}

/* An object made at restore: a dup of an O_TMPFILE file's own description, else a new open. */
static int open_holder(const FileEntry *fe, int flags)
{
	int fd = fileobj_dup_tmpfile(fe);

	return fd != -2 ? fd : fileobj_reopen(fe->id, flags);
}

/* Is the character device of @r (its number) at its path? */
static bool device_at(const RegFileEntry *r)
{
	struct stat st;

	return !stat(r->path, &st) && S_ISCHR(st.st_mode) && st.st_rdev == r->rdev;
}

int open_file(struct rst_files *rf, uint32_t id, int flags)
{
	FileEntry *fe = find_file(rf, id);
	RegFileEntry *r;
	struct stat st;
	int fd;

	if (!fe || fe->type != FILE_TYPE__FT_REG || !fe->reg) {
		pr_err("no regular file with id %u in the images\n", id);
		return -1;
	}
	r = fe->reg;
	if (flags < 0)
		flags = r->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC);
	/* an O_TMPFILE file is opened again as the file it now is */
	if (S_ISREG(r->mode) && (flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_TMPFILE;
	if (r->has_same_as)
		fd = open_same_as(rf, r, flags);
	else if (fileobj_is_holder(fe))
		fd = open_holder(fe, flags);
	else if (r->has_mnt_id)
		fd = mntns_open_hidden(r, flags);
	else if (S_ISCHR(r->mode) && r->has_rdev && !device_at(r))
		/* not even opened: opening another device may do something (a tty would become ours) */
		fd = opts.evasive_devices ? evasive_open(r, flags) : -2;
	else
		fd = open(r->path, flags | O_CLOEXEC);
	if (fd == -2) {
		pr_err("%s is not the device it was (%u:%u) at dump time; --evasive-devices opens it by its "
		       "number\n", r->path, major(r->rdev), minor(r->rdev));
		return -1;
	}
	/* a file whose owner a user namespace of the tree's does not map: criu opens it */
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		fd = img_open_file(r->path, flags);
	if (fd < 0) {
		pr_perror("can't open %s", r->path);
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_perror("can't stat %s", r->path);
		goto err;
	}
	if ((st.st_mode & S_IFMT) != (r->mode & S_IFMT) ||
	    (S_ISCHR(st.st_mode) && r->has_rdev && st.st_rdev != r->rdev)) {
		pr_err("%s is not the kind of file it was at dump time\n", r->path);
		goto err;
	}
	/* objects made at restore are new inodes (a link-remap file is checked when opened) */
	if (S_ISREG(st.st_mode) && !fileobj_is_holder(fe) && !r->has_same_as && !opts.allow_changed_files &&
	    reg_changed(r, &st))
		goto err;
	if (S_ISREG(st.st_mode) && r->pos && lseek(fd, r->pos, SEEK_SET) != (off_t)r->pos) {
		pr_perror("can't seek %s to %lu", r->path, (unsigned long)r->pos);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

int read_fd_ids(int dfd, pid_t pid, int *max_fd, uint8_t *uses, uint32_t nr_ids)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pid);
	int ret;
	void *msg;

	*max_fd = -1;
	if (!img)
		return -1;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		FdinfoEntry *e = msg;

		if (e->id >= nr_ids) {
			pr_err("fdinfo-%d.img: fd %u names file %u, which is not in files.img\n", pid, e->fd, e->id);
			pb_free(img, msg);
			ret = -1;
			break;
		}
		uses[e->id] = 1;
		if ((int)e->fd > *max_fd)
			*max_fd = e->fd;
		pb_free(img, msg);
	}
	close_image(img);
	return ret < 0 ? -1 : 0;
}

int fd_of_file(int dfd, pid_t pid, uint32_t id)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pid);
	int fd = -1, ret;
	void *msg;

	if (!img)
		return -2;
	while (fd < 0 && (ret = pb_read_one(img, &msg)) == 1) {
		FdinfoEntry *e = msg;

		if (e->id == id)
			fd = e->fd;
		pb_free(img, msg);
	}
	close_image(img);
	return ret < 0 && fd < 0 ? -2 : fd;
}

int image_max_fd(int dfd, pid_t pid)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pid);
	int max = -1, ret;
	void *msg;

	if (!img)
		return -2;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		FdinfoEntry *e = msg;

		if ((int)e->fd > max)
			max = e->fd;
		pb_free(img, msg);
	}
	close_image(img);
	return ret < 0 ? -2 : max;
}

/* A new open file description for file @id. */
static int open_desc(struct rst_files *rf, FileEntry *fe, int shell_tty)
{
	int fd = inherit_fd_open(fe);

	if (fd != -2)
		return fd;
	if (fe->type == FILE_TYPE__FT_TTY_SHELL) {
		if (shell_tty < 0) {
			pr_err("file %u was the caller's terminal: restore needs --shell-job and a terminal\n", fe->id);
			return -1;
		}
		return fcntl(shell_tty, F_DUPFD_CLOEXEC, 0);
	}
	if (fe->type == FILE_TYPE__FT_PIPE)
		return open_pipe_end(rf, fe);
	if (fd_kind_by_type(fe->type) && fd_kind_by_type(fe->type)->open_rf)
		return fd_kind_by_type(fe->type)->open_rf(rf, fe);
	if (fd_kind_by_type(fe->type))
		return fd_kind_by_type(fe->type)->open(fe);
	return open_file(rf, fe->id, -1);
}

int in_transit(const struct rst_transit *tr, uint32_t id)
{
	if (!tr || id >= tr->nr_ids)
		return 0;
	if (fcntl(tr->base + id, F_GETFD) >= 0)
		return 1;
	if (errno == EBADF)
		return 0;
	/* not knowing must not pass for "not passed down": the sharing would be lost */
	pr_perror("can't tell whether file %u was passed down", id);
	return -1;
}

static int restore_one_fd(struct rst_files *rf, FdinfoEntry *e, int shell_tty, int *opened,
			  const struct rst_transit *tr)
{
	FileEntry *fe = find_file(rf, e->id);
	int fd;

	if (!fe) {
		pr_err("fd %u refers to file %u, which is not in files.img\n", e->fd, e->id);
		return -1;
	}
	int passed = opened[e->id] >= 0 ? 0 : in_transit(tr, e->id);

	if (passed < 0)
		return -1;
	if (opened[e->id] >= 0)		/* shared with an fd restored before */
		fd = fcntl(opened[e->id], F_DUPFD_CLOEXEC, 0);
	else if (passed)		/* shared with an ancestor or a relative */
		fd = fcntl(tr->base + e->id, F_DUPFD_CLOEXEC, 0);
	else
		fd = open_desc(rf, fe, shell_tty);
	if (fd < 0) {
		pr_perror("can't open fd %u", e->fd);
		return -1;
	}
	if (move_fd(fd, e->fd) < 0) {
		pr_perror("can't move fd %d to %u", fd, e->fd);
		close(fd);
		return -1;
	}
	if (fcntl(e->fd, F_SETFD, e->fd_flags & FD_CLOEXEC)) {
		pr_perror("can't set flags of fd %u", e->fd);
		return -1;
	}
	/* at its final number: O_ASYNC remembers the fd number it was set on */
	if (opened[e->id] < 0 && restore_fown(fe, e->fd))
		return -1;
	if (opened[e->id] < 0)
		opened[e->id] = e->fd;
	return 0;
}

/*
 * Hand the open file descriptions our descendants share down to them: each
 * goes to slot base + id, from our own fd if we hold it, else opened here
 * (the first task on the way down that needs it passed on), so that every
 * descendant inherits the same one.
 */
static int fill_transit(struct rst_files *rf, const struct rst_transit *tr, int *opened, int shell_tty)
{
	for (uint32_t id = 0; id < tr->nr_ids; id++) {
		int want = tr->need && tr->need[id], fd;
		const struct fd_kind *k;
		FileEntry *fe;

		if (!want)
			continue;
		switch (in_transit(tr, id)) {
		case -1:
			return -1;
		case 1:
			continue;
		}
		fe = find_file(rf, id);
		if (!fe) {
			pr_err("a descendant needs file %u, which is not in files.img\n", id);
			return -1;
		}
		k = fd_kind_by_type(fe->type);
		if (k && k->in_restorer) {
			close(tr->base + id);
			continue;	/* each holder opens its own in the restorer */
		}
		/* e.g. an epoll of an older image, which names its targets by the maker's fd numbers */
		if (opened[id] < 0 && k && k->late && (!k->numbered || k->numbered(fe))) {
			pr_err("file %u (%s) is shared by tasks none of whose ancestors holds it; not supported yet\n",
			       id, fd_kind_by_type(fe->type)->link);
			return -1;
		}
		fd = opened[id] >= 0 ? fcntl(opened[id], F_DUPFD_CLOEXEC, 0) : open_desc(rf, fe, shell_tty);
		if (fd < 0 || move_fd(fd, tr->base + id) < 0) {
			pr_perror("can't pass file %u on to the children", id);
			return -1;
		}
		fcntl(tr->base + id, F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

/* Slots inherited for ourselves only (or for adding epoll targets) are done with. */
static void drop_transit(const struct rst_transit *tr)
{
	for (uint32_t id = 0; id < tr->nr_ids; id++)
		if ((!tr->need || !tr->need[id]) && (!tr->keep || !tr->keep[id]))
			close(tr->base + id);
}

/* All entries are read before any fd is placed: the image's own fd must not be in the way. */
static FdinfoEntry **read_fdinfo(int dfd, pid_t pid, size_t *nr)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pid);
	FdinfoEntry **list = NULL, **n;
	void *msg;
	int ret;

	*nr = 0;
	if (!img)
		return NULL;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		n = realloc(list, (*nr + 1) * sizeof(*n));
		if (!n) {
			pb_free(img, msg);
			ret = -1;
			break;
		}
		list = n;
		list[(*nr)++] = msg;
	}
	close_image(img);
	if (ret < 0) {
		for (size_t i = 0; i < *nr; i++)
			fdinfo_entry__free_unpacked(list[i], NULL);
		free(list);
		return NULL;
	}
	return list ? list : calloc(1, sizeof(*list));
}

int restore_fds(int dfd, pid_t pid, struct rst_files *rf, int shell_tty, int *max_fd,
		const struct rst_transit *tr, struct late_fd *late, int *nr_late, int max_late)
{
	FdinfoEntry **list;
	uint32_t max_id = 0;
	int *opened = NULL, ret = -1;
	size_t nr;

	list = read_fdinfo(dfd, pid, &nr);
	if (!list)
		return -1;
	for (size_t i = 0; i < rf->nr; i++)
		if (rf->fe[i]->id > max_id)
			max_id = rf->fe[i]->id;
	opened = malloc((max_id + 1) * sizeof(int));
	if (!opened)
		goto out;
	for (uint32_t i = 0; i <= max_id; i++)
		opened[i] = -1;
	*max_fd = -1;
	tty_restore_begin(rf);
	if (tty_restore_session(rf, pid, tr))
		goto out;
	/* two passes: kinds that refer to other fds (epoll) come last */
	for (size_t pass = 0; pass < 2 * nr; pass++) {
		FdinfoEntry *e = list[pass % nr];
		FileEntry *fe = find_file(rf, e->id);
		const struct fd_kind *k = fe ? fd_kind_by_type(fe->type) : NULL;

		if ((pass < nr) == (k && k->late))
			continue;
		if (k && k->in_restorer) {
			/* the restorer opens these: hand them over */
			if (pass >= nr)
				continue;
			if (!late || *nr_late >= max_late) {
				pr_err("too many fds for the restorer to open\n");
				goto out;
			}
			late[(*nr_late)++] = (struct late_fd){ .fd = e->fd, .fd_flags = e->fd_flags,
							      .pid = fe->pidfd ? fe->pidfd->pid : 0,
							      .flags = fe->pidfd ? fe->pidfd->flags : 0 };
			continue;
		}
		if (e->id > max_id) {
			pr_err("fdinfo-%d.img: fd %u names file %u, which is not in files.img\n", pid, e->fd, e->id);
			goto out;
		}
		if (restore_one_fd(rf, e, shell_tty, opened, tr))
			goto out;
		if ((int)e->fd > *max_fd)
			*max_fd = e->fd;
	}
	if (tr && fill_transit(rf, tr, opened, shell_tty))
		goto out;
	/* every fd and shared description is in place: epoll targets by our own numbers */
	if (epoll_add_targets(rf, pid, opened, tr))
		goto out;
	if (tr)
		drop_transit(tr);
	ret = 0;
out:
	for (size_t i = 0; i < nr; i++)
		fdinfo_entry__free_unpacked(list[i], NULL);
	free(list);
	free(opened);
	tty_restore_fini();
	evasive_fini();
	pipes_restore_fini();
	fd_kinds_restore_fini();
	return ret;
}

/* Before anything is made: fs-PID.img reads and holds absolute paths. */
int check_fs(int dfd, pid_t pid)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FS, O_RDONLY, pid);
	FsEntry *fe;
	int ret = -1;

	if (!img || pb_read_one_required(img, (void **)&fe))
		goto out;
	if (fe->cwd[0] != '/' || fe->root[0] != '/')
		pr_err("%s: cwd %s or root %s is not an absolute path\n", img->path, fe->cwd, fe->root);
	else
		ret = 0;
	pb_free(img, fe);
out:
	close_image(img);
	return ret;
}

int restore_fs(int dfd, pid_t pid)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FS, O_RDONLY, pid);
	FsEntry *fe;
	int ret = -1;

	if (!img)
		return -1;
	if (pb_read_one_required(img, (void **)&fe))
		goto out;
	/* Both paths are as seen from outside: cwd first, chroot keeps it. */
	if (fe->has_cwd_deleted_mode) {
		if (fileobj_chdir_removed(fe->cwd, fe->cwd_deleted_mode, fe->has_cwd_uid ? fe->cwd_uid : (uint32_t)-1,
					  fe->has_cwd_gid ? fe->cwd_gid : (uint32_t)-1))
			goto free;
	} else if (chdir(fe->cwd)) {
		pr_perror("can't chdir to %s", fe->cwd);
		goto free;
	}
	if (strcmp(fe->root, "/") && chroot(fe->root)) {
		pr_perror("can't chroot to %s", fe->root);
		goto free;
	}
	ret = 0;
free:
	pb_free(img, fe);
out:
	close_image(img);
	return ret;
}
