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
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/major.h>
#include <unistd.h>

#include "cr_options.h"
#include "files.h"
#include "image.h"
#include "chunks.h"
#include "cow.h"
#include "fdkinds.h"
#include "ipc-mqueue.h"
#include "file-lock.h"
#include "epoll.h"
#include "external.h"
#include "fileobj.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "pipes.h"
#include "proc_parse.h"
#include "sk-unix.h"
#include "tty.h"
#include "shmem.h"
#include "util.h"

/*
 * fd numbers a restore needs above a task's highest fd, in the usual case
 * (see plan_fd_layout()): its service fds (24), the files it maps directly
 * (COW_DIRECT_FILES), and a few slots and temporaries.
 */
#define FD_RESTORE_ROOM	(24 + COW_DIRECT_FILES + 40)
/* 2^64 / the golden ratio: spreads positions before they are mixed into a key */
#define GOLDEN_MULT	0x9e3779b97f4a7c15ULL

/* fdinfo is read in one go into a buffer this big (an epoll's or inotify's may need more). */
#define FDINFO_READ	4096

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


/*
 * @set on and @clear off in @fd's file status flags. A failed F_GETFL
 * must not reach F_SETFL: -1 there turns on every flag it may set
 * (O_APPEND, O_DIRECT, O_NOATIME... on a restored file).
 */
static int fd_setfl(int fd, int set, int clear)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, (fl | set) & ~clear);
}
static int is_tty(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == TTY_MAJOR || maj == TTYAUX_MAJOR ||
					(maj >= UNIX98_PTY_SLAVE_MAJOR &&
					 maj < UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT));
}

/*
 * A terminal that is the machine's, not made by the tree: a virtual
 * console or serial line (major 4), /dev/console, or /dev/tty (the caller's
 * controlling terminal, whichever it is). It outlives the tree with its
 * state: opened again by path (without becoming a controlling terminal).
 */
static int is_system_tty(const struct stat *st)
{
	unsigned int maj = major(st->st_rdev), min = minor(st->st_rdev);

	return S_ISCHR(st->st_mode) && (maj == TTY_MAJOR || (maj == TTYAUX_MAJOR && (min == 0 || min == 1)));
}

uint64_t inode_key(dev_t dev, ino_t ino)
{
	return hash_u64(dev) ^ ino;
}

struct file_desc *file_desc_by_id(struct file_table *ft, uint32_t id)
{
	return id && id <= ft->nr ? &ft->d[id - 1] : NULL;
}

/*
 * Set when kcmp() could not order two files: the search can't tell
 * whether an fd shares a description with another that has the same
 * inode, position and flags (two opens of one file), and either guess
 * would restore them wrong, so the dump fails.
 */
static int order_failed;

/* kcmp's order of the files: <0, 0 (the same open file description) or >0. */
static int file_order(pid_t pid, int fd, const struct file_desc *d)
{
	long r = syscall(SYS_kcmp, pid, d->owner_pid, KCMP_FILE, fd, d->owner_fd);

	if (r < 0) {
		pr_perror("kcmp of fd %d of %d with fd %d of %d", fd, pid, d->owner_fd, d->owner_pid);
		order_failed = 1;
		return 0;	/* ends the search; the caller fails */
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

/* Two fds of one description agree on inode, position and flags (but for O_CLOEXEC, the fd's own). */
static uint64_t share_key(const struct stat *st, uint64_t pos, uint32_t flags)
{
	return inode_key(st->st_dev, st->st_ino) ^ hash_u64(pos * GOLDEN_MULT + (flags & ~O_CLOEXEC));
}

/* The descriptions fds hold with that key (made if @make); NULL if none. */
static struct inode_descs *inode_descs(struct file_table *ft, uint64_t key, int make)
{
	uint64_t *slot;
	int made;

	if (!make) {
		slot = hmap_get(&ft->inodes, key);
		return slot ? &ft->ifds[*slot] : NULL;
	}
	slot = hmap_get_or_put(&ft->inodes, key, ft->nr_ifds, &made);
	if (!slot)
		return NULL;
	if (made) {
		struct inode_descs *n = realloc(ft->ifds, (ft->nr_ifds + 1) * sizeof(*n));

		if (!n)
			return NULL;	/* the slot names a missing entry: the dump fails and frees all */
		ft->ifds = n;
		memset(&ft->ifds[ft->nr_ifds++], 0, sizeof(*n));
	}
	return &ft->ifds[*slot];
}

/* Where fd @fd of @pid is, or goes, among them (binary search, kcmp as the comparison). */
static size_t inode_pos(struct file_table *ft, struct inode_descs *in, pid_t pid, int fd, const struct stat *st,
			struct file_desc **found)
{
	size_t lo = 0, hi = in->nr;

	*found = NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct file_desc *d = &ft->d[in->idx[mid]];
		int c = file_order(pid, fd, d);

		if (c == 0) {
			/* a hash collision of two inodes is no sharing */
			if (d->st.st_dev == st->st_dev && d->st.st_ino == st->st_ino)
				*found = d;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Two fds (of one task or two) sharing one open file description must stay shared. -1 in @err: can't tell. */
static struct file_desc *find_shared(struct file_table *ft, pid_t pid, int fd, const struct stat *st,
				     const struct proc_fdinfo *fi, int *err)
{
	uint64_t key = share_key(st, fi->pos, fi->flags);
	struct inode_descs *in = inode_descs(ft, key, 0);
	struct file_desc *d;

	ft->hint.key = 0;
	*err = 0;
	if (!in)
		return NULL;
	order_failed = 0;
	ft->hint.pos = inode_pos(ft, in, pid, fd, st, &d);
	if (order_failed) {
		pr_err("can't dump fd %d of %d: can't tell whether it shares its open file with another fd\n", fd, pid);
		*err = -1;
		return NULL;
	}
	/* where index_owned() puts it, if nothing comes in between */
	ft->hint.key = key;
	ft->hint.nr = in->nr;
	return d;
}

/* @d, counted in the table, is held by fd @fd of @pid: later fds of it find it. */
static int index_owned(struct file_table *ft, struct file_desc *d)
{
	uint64_t key = share_key(&d->st, d->pos, d->flags);
	struct inode_descs *in = inode_descs(ft, key, 1);
	struct file_desc *same = NULL;
	size_t pos;

	if (!in) {
		pr_err("out of memory\n");
		return -1;
	}
	if (ft->hint.key == key && ft->hint.nr == in->nr) {
		pos = ft->hint.pos;
	} else {
		order_failed = 0;
		pos = inode_pos(ft, in, d->owner_pid, d->owner_fd, &d->st, &same);
		if (order_failed) {
			pr_err("can't dump fd %d of %d: can't tell whether it shares its open file with another fd\n",
			       d->owner_fd, d->owner_pid);
			return -1;
		}
	}
	ft->hint.key = 0;
	if (same)
		return 0;
	if (in->nr == in->cap) {
		uint32_t cap = in->cap ? in->cap * 2 : 4, *n = realloc(in->idx, cap * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		in->idx = n;
		in->cap = cap;
	}
	memmove(&in->idx[pos + 1], &in->idx[pos], (in->nr - pos) * sizeof(*in->idx));
	in->idx[pos] = d - ft->d;
	in->nr++;
	return 0;
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
	int dup, held, sig;

	/* an O_PATH fd has no owner to ask (fcntl says EBADF) */
	if (d->fe.type == FILE_TYPE__FT_PIDFD || (flags & O_PATH))
		return 0;
	/* the copy collect_one_fd() holds, else one of our own */
	held = task_fd_held(pid, fd);
	dup = held >= 0 ? held : task_fd(pid, fd);
	if (dup < 0)
		return -1;
	if (fcntl(dup, F_GETOWN_EX, &owner) || (sig = fcntl(dup, F_GETSIG)) < 0) {
		pr_perror("can't read the owner of fd %d of %d", fd, pid);
		if (dup != held)
			close(dup);
		return -1;
	}
	if (dup != held)
		close(dup);
	if (!owner.pid && !sig && !(flags & O_ASYNC))
		return 0;
	/* F_SETOWN_EX takes a pid of the caller's pid namespace at restore (a group: its leader's) */
	if (owner.pid > 0 && !ns_dump_pid_seen(pid, owner.pid)) {
		pr_err("can't dump task %d: the SIGIO owner of its fd %d is %d, which is not in its pid namespace nor "
		       "below it; not supported\n", pid, fd, owner.pid);
		return -1;
	}
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

/*
 * After open: owner, signal and O_ASYNC back. The owner is a pid of the
 * images; F_SETOWN_EX takes it as the opening task sees it (in a nested
 * pid namespace, its pid there). Another task than the opener may not
 * exist yet: its restorer sets all three once every task does (with the
 * task's own credentials, which F_SETOWN records).
 */
static int restore_fown(struct fd_rst *c, FileEntry *fe, int fd)
{
	FownEntry *o = fe->fown;
	struct f_owner_ex owner;
	uid_t was;
	pid_t self = c->pid;
	int ret = 0;

	/* most files have no owner: not even a syscall for them */
	if (!o || (!o->pid && !o->signum && !o->async))
		return 0;
	was = geteuid();
	owner.type = o->type;
	owner.pid = o->pid ? ns_pid_view(self, o->pid) : 0;
	if (o->pid && !owner.pid) {
		pr_err("file %u: its owner %d is not in the pid namespace of %d, which opens it (or below it)\n",
		       fe->id, o->pid, self);
		return -1;
	}
	if (o->pid && o->pid != self && c->late) {
		struct late_fd *l;

		if (*c->nr_late >= c->max_late) {
			pr_err("file %u: too many fds for the restorer to finish (pidfds, /proc files and SIGIO owners "
			       "of other tasks, at most %d)\n", fe->id, c->max_late);
			return -1;
		}
		l = &c->late[(*c->nr_late)++];
		memset(l, 0, sizeof(*l));
		l->kind = LATE_FOWN;
		l->fd = fd;
		l->pid = owner.pid;
		l->flags = owner.type;
		l->pos = o->signum | ((uint64_t)!!o->async << 32);
		return 0;
	}
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
	if (ret || (o->signum && fcntl(fd, F_SETSIG, o->signum)) || (o->async && fd_setfl(fd, O_ASYNC, 0))) {
		pr_perror("can't give file %u its owner %d (%d in its namespace; signal %u)", fe->id, o->pid,
			  owner.pid, o->signum);
		return -1;
	}
	return 0;
}

static void reg_set_mtime(RegFileEntry *r, const struct stat *st)
{
	r->has_mtime_sec = r->has_mtime_nsec = r->has_atime_sec = r->has_atime_nsec = true;
	r->mtime_sec = st->st_mtim.tv_sec;
	r->mtime_nsec = st->st_mtim.tv_nsec;
	r->atime_sec = st->st_atim.tv_sec;
	r->atime_nsec = st->st_atim.tv_nsec;
}

static int has_locks(const char *fdinfo)
{
	return strstr(fdinfo, "\nlock:") != NULL;
}

/* @d, new, is the description of fd @fd of @pid, the first one seen: it is dumped with its owner. */
static int desc_owned(struct file_table *ft, struct file_desc *d, pid_t pid, int fd, const struct stat *st,
		      const struct proc_fdinfo *fi)
{
	d->owner_pid = pid;
	d->owner_fd = fd;
	d->st = *st;
	d->pos = fi->pos;
	d->flags = fi->flags;
	d->fe.id = d->id;
	ft->nr++;
	return index_owned(ft, d) ?: fileobj_note(ft, d);
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

/*
 * A file opened for writing before chattr +a or +i: the kernel opens it so
 * no more (nor takes O_APPEND off), so restore could not: refused.
 */
static int check_inode_attrs(pid_t pid, int fd, const char *link, unsigned int flags)
{
	char path[64];
	struct statx sx;
	uint64_t attrs;

	if ((flags & O_ACCMODE) == O_RDONLY || (flags & O_PATH))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (statx(AT_FDCWD, path, 0, 0, &sx)) {
		pr_perror("can't statx fd %d of %d", fd, pid);
		return -1;
	}
	attrs = sx.stx_attributes & sx.stx_attributes_mask;
	if (attrs & STATX_ATTR_IMMUTABLE) {
		pr_err("can't dump task %d: fd %d (%s) is open for writing on an immutable file (chattr +i); not "
		       "supported\n", pid, fd, link);
		return -1;
	}
	if ((attrs & STATX_ATTR_APPEND) && !(flags & O_APPEND)) {
		pr_err("can't dump task %d: fd %d (%s) is open for writing without O_APPEND on an append-only file "
		       "(chattr +a); not supported\n", pid, fd, link);
		return -1;
	}
	return 0;
}

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC		0x5345434d
#endif

/* A memfd_secret() fd: a regular file named /secretmem, whose pages no one outside the task can read */
static int is_secretmem(pid_t pid, int fd, const char *link)
{
	char path[64];
	struct statfs sf;

	if (strncmp(link, "/secretmem", strlen("/secretmem")))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return !statfs(path, &sf) && sf.f_type == SECRETMEM_MAGIC;
}

/* The path, position, flags and inode of a regular file, directory or device description @d. */
/*
 * Is @st, fd @fd of @pid, a file of procfs? Its inode, size and mtime say
 * nothing about it being the same. Criu's procfs is known by its device;
 * another instance (the tree's own, in a mount namespace of its own) by
 * the filesystem's type.
 */
static int is_procfs(struct file_table *ft, const struct stat *st, pid_t pid, int fd)
{
	char path[64];
	struct statfs sf;
	struct stat p;

	if (!ft->proc_dev_known) {
		if (stat("/proc/self", &p))
			return 0;
		ft->proc_dev = p.st_dev;
		ft->proc_dev_known = 1;
	}
	if (st->st_dev == ft->proc_dev)
		return 1;
	if (major(st->st_dev) != 0)
		return 0;	/* procfs has an anonymous device */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return !statfs(path, &sf) && sf.f_type == PROC_SUPER_MAGIC;
}

/* Is @st a pipe (not a FIFO of a filesystem)? Pipes are all on pipefs. */
static int is_pipe(struct file_table *ft, const struct stat *st)
{
	struct stat p;
	int fds[2];

	if (!S_ISFIFO(st->st_mode))
		return 0;
	if (!ft->pipe_dev_known) {
		if (pipe2(fds, O_CLOEXEC)) {
			pr_perror("pipe");
			return 0;
		}
		if (!fstat(fds[0], &p)) {
			ft->pipe_dev = p.st_dev;
			ft->pipe_dev_known = 1;
		}
		close(fds[0]);
		close(fds[1]);
	}
	return ft->pipe_dev_known && st->st_dev == ft->pipe_dev;
}

/*
 * The /proc link of a socket or pipe, made from its stat as the kernel
 * makes it ("socket:[INO]", "pipe:[INO]"): no walk in /proc for the
 * commonest kinds of fds. Its length, or 0 for others (readlink them).
 */
static ssize_t fd_link_of_stat(struct file_table *ft, const struct stat *st, char *link, size_t size)
{
	int n;

	if (S_ISSOCK(st->st_mode))
		n = snprintf(link, size, "socket:[%lu]", (unsigned long)st->st_ino);
	else if (is_pipe(ft, st))
		n = snprintf(link, size, "pipe:[%lu]", (unsigned long)st->st_ino);
	else
		return 0;
	return n > 0 && (size_t)n < size ? n : 0;
}

/* The PID of a path /proc/PID/..., 0 if it is none. */
static pid_t proc_path_pid(const char *path)
{
	char *end;
	long pid;

	if (strncmp(path, "/proc/", 6))
		return 0;
	pid = strtol(path + 6, &end, 10);
	return end != path + 6 && *end == '/' && pid > 0 && pid <= INT32_MAX ? pid : 0;
}

static void fill_reg(struct file_table *ft, struct file_desc *d, pid_t pid, int fd, const struct proc_fdinfo *fi,
		     const struct stat *st)
{
	d->reg.flags = fi->flags & ~O_CLOEXEC;
	d->reg.pos = fi->pos;
	d->reg.mode = st->st_mode;
	if (is_procfs(ft, st, pid, fd)) {
		/* reopened by path; one of a task of the tree once that task is back (restore decides) */
		pid_t pid = proc_path_pid(d->reg.path);

		d->reg.has_proc_pid = pid > 0;
		d->reg.proc_pid = pid;
		return;
	}
	d->reg.has_size = d->reg.has_ino = d->reg.has_dev = d->reg.has_rdev = true;
	d->reg.size = st->st_size;
	d->reg.ino = st->st_ino;
	d->reg.dev = st->st_dev;
	d->reg.rdev = st->st_rdev;
	reg_set_mtime(&d->reg, st);
}

/*
 * /proc/PID/fd and /proc/PID/fdinfo of the task whose fds are collected,
 * and criu's own (/proc/self), open all along.
 */
struct fd_dirs {
	int fd, info;
	int self_fd, self_info;
};

/* All but fd (a DIR's, closed with it). */
static void close_fd_dirs(struct fd_dirs *dirs)
{
	if (dirs->info >= 0)
		close(dirs->info);
	if (dirs->self_fd >= 0)
		close(dirs->self_fd);
	if (dirs->self_info >= 0)
		close(dirs->self_info);
}

/* The text of fdinfo/@fd of @dir; one read() returns all of a file this small, a full buffer asks for more. */
static char *read_fdinfo_text(int dir, int fd)
{
	size_t size = FDINFO_READ, used = 0;
	char name[16], *buf = malloc(size), *n;
	int f;

	snprintf(name, sizeof(name), "%d", fd);
	f = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (f < 0 || !buf)
		goto err;
	for (;;) {
		ssize_t got = read(f, buf + used, size - used - 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto err;
		used += got;
		if (used < size - 1)
			break;		/* a short read: the whole of a single-record /proc file */
		n = realloc(buf, size * 2);
		if (!n)
			goto err;
		buf = n;
		size *= 2;
	}
	buf[used] = '\0';
	close(f);
	return buf;
err:
	pr_perror("can't read fdinfo %d", fd);
	if (f >= 0)
		close(f);
	free(buf);
	return NULL;
}

/* Does anyone hold a POSIX or OFD lock on the file's inode? Not knowing counts as yes. */
static int posix_locked(int copy)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	/* criu's own lock owner: the task's POSIX locks and any OFD lock conflict with a write lock */
	return fcntl(copy, F_GETLK, &l) || l.l_type != F_UNLCK;
}

/*
 * The fdinfo text of fd @fd of the task, parsed into @fi (the
 * close-on-exec flag left out: the parasite reads it). Read through
 * criu's copy @copy if there is one: its /proc entry is made once for all
 * fds (each copy takes the same number in turn), the task's anew for each
 * fd. The copy's shows the same file, but for the task's POSIX locks (its
 * fd table owns them, not the description): with a lock of any kind on
 * the file the task's own is read.
 */
static char *fdinfo_of(const struct fd_dirs *dirs, pid_t pid, int fd, int copy, struct proc_fdinfo *fi)
{
	char *info = NULL;

	if (copy >= 0) {
		info = read_fdinfo_text(dirs->self_info, copy);
		if (info && (has_locks(info) || posix_locked(copy))) {
			free(info);
			info = NULL;
			copy = -1;
		}
	}
	if (copy < 0)
		info = read_fdinfo_text(dirs->info, fd);
	if (!info || parse_fdinfo_buf(info, fi)) {
		pr_err("can't parse /proc/%d/fdinfo/%d\n", pid, fd);
		free(info);
		return NULL;
	}
	fi->flags &= ~O_CLOEXEC;
	return info;
}

static int collect_one_fd_held(struct file_table *ft, struct fd_list *fl, pid_t pid, const struct fd_dirs *dirs,
				int fd);

/* One fd of @pid, with a copy of it held meanwhile: what looks into it dups that (task_fd()). */
static int collect_one_fd(struct file_table *ft, struct fd_list *fl, pid_t pid, const struct fd_dirs *dirs, int fd)
{
	int ret = collect_one_fd_held(ft, fl, pid, dirs, fd);

	task_fd_release();
	return ret;
}

static int collect_one_fd_held(struct file_table *ft, struct fd_list *fl, pid_t pid, const struct fd_dirs *dirs,
				int fd)
{
	char path[64], what[32], link[PATH_MAX], *info;
	struct proc_fdinfo fi;
	struct file_desc *d;
	FdinfoEntry *fe;
	struct stat st;
	ssize_t len;
	int locked, copy, shared_err;

	snprintf(path, sizeof(path), "%d", fd);
	/* fstat of a copy walks no path; an O_PATH fd gives no copy */
	copy = task_fd_hold(pid, fd);
	if (copy >= 0 && fstat(copy, &st)) {
		pr_perror("can't inspect fd %d of %d", fd, pid);
		return -1;
	}
	len = copy >= 0 ? fd_link_of_stat(ft, &st, link, sizeof(link)) : 0;
	if (!len && copy >= 0) {
		/* the copy's link is the fd's (one file, one reader), and its /proc entry is made once */
		snprintf(what, sizeof(what), "%d", copy);
		len = readlinkat(dirs->self_fd, what, link, sizeof(link) - 1);
	} else if (!len) {
		len = readlinkat(dirs->fd, path, link, sizeof(link) - 1);
		if (len >= 0 && fstatat(dirs->fd, path, &st, 0))
			len = -1;
	}
	if (len < 0 || len == sizeof(link) - 1) {
		pr_perror("can't inspect fd %d of %d", fd, pid);
		return -1;
	}
	link[len] = '\0';
	info = fdinfo_of(dirs, pid, fd, copy, &fi);
	if (!info)
		return -1;
	locked = has_locks(info);
	if (locked && !opts.file_locks) {
		free(info);
		pr_err("can't dump task %d: fd %d (%s) holds a file lock; dump with --file-locks to save it\n",
		       pid, fd, link);
		return -1;
	}

	d = find_shared(ft, pid, fd, &st, &fi, &shared_err);
	if (shared_err) {
		free(info);
		return -1;
	}
	if (d) {
		free(info);
		if (mntns_check_holder(pid, fd, d))
			return -1;
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

	/* an O_PATH fd holds no object of its kind (no pipe, no pty): a name to reopen, whatever it names */
	int path_only = (fi.flags & O_PATH) && link[0] == '/';
	const struct fd_kind *kind = NULL;

	if (path_only) {
		;
	} else if (!ext && !strncmp(link, "socket:[", 8)) {
		/* by family; one we can't dump is refused there, by name */
		kind = fd_kind_of(pid, fd, link, &st);
		if (!kind) {
			free(info);
			return -1;
		}
	} else {
		kind = fd_kind_by_link(link, &st);
	}

	if (!kind && !ext && !path_only && is_tty(&st) && tty_is_pty(pid, fd, &st))
		kind = &tty_kind;
	if (!kind && !ext && is_tun_dev(&st))
		kind = &tun_kind;
	if (!kind && !ext && !path_only && is_mqueue_fd(ft, copy, link, &st))
		kind = &mqueue_kind;

	if (kind && !ext) {
		/* aside first: a kind's dump may add descriptions of its own (files in flight on a socket) */
		FileEntry fe_kind = FILE_ENTRY__INIT;
		int ret = kind->dump(ft, pid, fd, info, &fi, &fe_kind);

		free(info);
		if (ret)
			return -1;
		d = file_desc_new(ft);
		if (!d) {
			kind->free(&fe_kind);
			return -1;
		}
		d->fe = fe_kind;
		d->fe.type = kind->type;
		if ((kind->type == FILE_TYPE__FT_INOTIFY || kind->type == FILE_TYPE__FT_FANOTIFY) &&
		    mntns_dump_nested(pid)) {
			/* their watches are found again in the tree's namespace */
			pr_err("can't dump task %d: fd %d is an inotify or fanotify fd, held in a mount namespace "
			       "nested below the tree's; not supported\n", pid, fd);
			return -1;
		}
		if (desc_owned(ft, d, pid, fd, &st, &fi))
			return -1;
		goto add_fd;
	}
	free(info);

	if (ext) {
		/* not looked into: restore gets it from --inherit-fd */
		d = file_desc_new(ft);
		/* named as --external named it: LXC gives its console back as --inherit-fd fd[N]:tty[RDEV:DEV] */
		if (!d || external_note(d->id, ext, link))
			return -1;
		d->fe.type = FILE_TYPE__FT_REG;
		d->reg.path = strdup(link);
	} else if (is_tty(&st) && opts.shell_job && !path_only && !is_system_tty(&st)) {
		d = file_desc_new(ft);
		if (!d)
			return -1;
		d->fe.type = FILE_TYPE__FT_TTY_SHELL;
		d->reg.path = strdup(link);
	} else if (!strncmp(link, "pipe:", 5)) {
		d = file_desc_new(ft);
		if (!d || dump_pipe(pid, fd, &st, &fi, d) || desc_owned(ft, d, pid, fd, &st, &fi))
			return -1;
		goto add_fd;
	} else if (!path_only && is_secretmem(pid, fd, link)) {
		pr_err("can't dump task %d: fd %d is of an unsupported kind: memfd_secret (%s)\n", pid, fd, link);
		return -1;
	} else if (link[0] == '/' && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || path_only ||
				      (S_ISCHR(st.st_mode) && (!is_tty(&st) || is_system_tty(&st))))) {
		int ghost = st.st_nlink == 0 || strstr(link, " (deleted)");

		d = file_desc_new(ft);
		if (!d)
			return -1;
		d->fe.type = FILE_TYPE__FT_REG;
		if (ghost && mntns_dump_nested(pid)) {
			/* its remains are named and cleaned up in the tree's namespace */
			pr_err("can't dump task %d: fd %d (%s) is a removed file, held in a mount namespace nested "
			       "below the tree's; not supported\n", pid, fd, link);
			return -1;
		}
		if (ghost) {
			char *del = strstr(link, " (deleted)");

			if (del)
				*del = '\0';
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
			snprintf(what, sizeof(what), "fd %d", fd);
			if (fileobj_dump_unlinked(ft, pid, what, path, link, &st, d))
				return -1;
		} else if (mntns_file_mount(pid, fd, fi.mnt_id, link, &st, &d->reg)) {
			return -1;
		}
		if (S_ISREG(st.st_mode) && check_inode_attrs(pid, fd, link, fi.flags))
			return -1;
		/* its reader's place in the kernel log is no offset: the kernel can't be told it again */
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 11) && (fi.flags & O_ACCMODE) != O_WRONLY &&
		    !path_only) {
			pr_err("can't dump task %d: fd %d (%s) reads the kernel log (/dev/kmsg), whose place in it "
			       "can't be restored; not supported\n", pid, fd, link);
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
	fill_reg(ft, d, pid, fd, &fi, &st);
	if (desc_owned(ft, d, pid, fd, &st, &fi))
		return -1;
add_fd:
	if (d->owner_pid == pid && d->owner_fd == fd && collect_fown(pid, fd, fi.flags, d))
		return -1;
	if (locked && file_locks_collect(pid, fd, d->id, link))
		return -1;
	/* the restorer opens these, from a table of its own: refused now what would not fit there */
	if ((d->fe.type == FILE_TYPE__FT_PIDFD && d->fe.pidfd && !d->fe.pidfd->dead) ||
	    (d->fe.type == FILE_TYPE__FT_REG && d->reg.has_proc_pid)) {
		if (d->fe.type == FILE_TYPE__FT_REG && strlen(d->reg.path) >= LATE_PATH_MAX) {
			pr_err("can't dump task %d: fd %d is %s, a /proc file with a path longer than %d\n", pid, fd,
			       d->reg.path, LATE_PATH_MAX - 1);
			return -1;
		}
		if (++fl->nr_late > MAX_LATE_FDS) {
			pr_err("can't dump task %d: it has more than %d pidfds and /proc/PID files (fd %d)\n", pid,
			       MAX_LATE_FDS, fd);
			return -1;
		}
	}
	fe = &fl->fds[fl->nr++];
	fdinfo_entry__init(fe);
	fe->fd = fd;
	fe->id = d->id;
	fe->fd_flags = 0;	/* the task's close-on-exec flag: the parasite reads it (dump.c) */
	if (fd > fl->max_fd)
		fl->max_fd = fd;
	pr_debug("fd %d of %d: %s, file id %u, pos %lu\n", fd, pid, link, d->id, (unsigned long)fi.pos);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int files_dump_inflight(struct file_table *ft, int fd, uint32_t *id)
{
	FdinfoEntry one;
	struct fd_list fl = { .fds = &one };
	struct fd_dirs dirs = { -1, -1, -1, -1 };
	struct file_desc *d;
	pid_t self = getpid();
	int ret = -1;

	dirs.fd = dirs.self_fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirs.info = dirs.self_info = open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirs.fd < 0 || dirs.info < 0) {
		pr_perror("can't open /proc/self/fd");
		goto out;
	}
	if (collect_one_fd(ft, &fl, self, &dirs, fd))
		goto out;
	*id = one.id;
	d = file_desc_by_id(ft, one.id);
	if (d->fe.type == FILE_TYPE__FT_EPOLL || d->fe.type == FILE_TYPE__FT_TTY ||
	    d->fe.type == FILE_TYPE__FT_TTY_SHELL) {
		pr_err("can't dump: an %s is in flight on a unix socket (SCM_RIGHTS); not supported\n",
		       d->fe.type == FILE_TYPE__FT_EPOLL ? "epoll" : "terminal");
		goto out;
	}
	/* a description first seen here is reached through our fd until the dump ends */
	ret = d->owner_pid == self && d->owner_fd == fd;
	if (ret) {
		int *n = realloc(ft->inflight, (ft->nr_inflight + 1) * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			ret = -1;
			goto out;
		}
		ft->inflight = n;
		ft->inflight[ft->nr_inflight++] = fd;
	}
	pr_debug("a file in flight: our fd %d, file %u\n", fd, *id);
out:
	if (dirs.fd >= 0)
		close(dirs.fd);
	if (dirs.info >= 0)
		close(dirs.info);
	return ret;
}

/*
 * The restore puts its own fds (service fds, slots, temporaries) above the
 * task's highest one: refused now if they could not fit under the fd limit
 * this machine gives criu.
 */
static int check_fd_room(pid_t pid, int max_fd)
{
	unsigned long most;
	long lim = raise_nofile_limit(&most);

	if (lim < 0 || max_fd + FD_RESTORE_ROOM <= lim)
		return lim < 0 ? -1 : 0;
	pr_err("can't dump task %d: it has fd %d, and a restore here needs about %d fd numbers above the task's "
	       "highest, but RLIMIT_NOFILE allows only %ld (fs.nr_open is %lu, raising the hard limit needs "
	       "CAP_SYS_RESOURCE)\n", pid, max_fd, FD_RESTORE_ROOM, lim, most);
	return -1;
}

/* An fd table up to this big is probed number by number. */
#define FD_PROBE_MAX	16384

static int add_fd_nr(int **fds, int *nr, int *cap, int fd)
{
	if (*nr == *cap) {
		int c = *cap ? *cap * 2 : 64, *n = realloc(*fds, c * sizeof(int));

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		*fds = n;
		*cap = c;
	}
	(*fds)[(*nr)++] = fd;
	return 0;
}

/*
 * The fd numbers of @pid in order, asked of kcmp() one by one up to the
 * size of its fd table: a readdir of /proc/PID/fd costs more per fd, as it
 * makes an entry for each. 1: not done (a big table, or kcmp says no),
 * read the directory.
 */
static int probe_fds(pid_t pid, int fdsize, int **fds, int *nr, int *cap)
{
	if (fdsize <= 0 || fdsize > FD_PROBE_MAX)
		return 1;
	for (int i = 0; i < fdsize; i++) {
		if (!syscall(SYS_kcmp, pid, pid, KCMP_FILE, i, i)) {
			if (add_fd_nr(fds, nr, cap, i))
				return -1;
		} else if (errno != EBADF) {
			*nr = 0;
			return 1;
		}
	}
	return 0;
}

int collect_fds(pid_t pid, int fdsize, struct file_table *ft, struct fd_list *fl)
{
	struct fd_dirs dirs = { -1, -1, -1, -1 };
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0, ret = -1, r;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	dirs.info = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirs.self_fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dirs.self_info = open("/proc/self/fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!dir || dirs.info < 0 || dirs.self_fd < 0 || dirs.self_info < 0) {
		pr_perror("can't open the fds of %d", pid);
		if (dir)
			closedir(dir);
		close_fd_dirs(&dirs);
		return -1;
	}
	dirs.fd = dirfd(dir);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	r = probe_fds(pid, fdsize, &fds, &nr, &cap);
	if (r < 0)
		goto out;
	while (r > 0 && (r = next_dirent(dir, &de, path)) > 0)
		if (de->d_name[0] != '.' && add_fd_nr(&fds, &nr, &cap, atoi(de->d_name)))
			goto out;
	if (r < 0)
		goto out;
	sort_array(fds, nr, sizeof(int), cmp_int);
	fl->fds = calloc(nr ? nr : 1, sizeof(*fl->fds));
	if (!fl->fds) {
		pr_err("out of memory\n");
		goto out;
	}
	fl->max_fd = -1;
	if (nr && check_fd_room(pid, fds[nr - 1]))
		goto out;
	for (int i = 0; i < nr; i++)
		if (collect_one_fd(ft, fl, pid, &dirs, fds[i]))
			goto out;
	ret = 0;
out:
	closedir(dir);
	close_fd_dirs(&dirs);
	free(fds);
	return ret;
}

static uint64_t path_key(const char *path, int flags)
{
	return hash_bytes(path, strlen(path), (uint32_t)flags);
}

int file_table_add_path(struct file_table *ft, const char *path, int flags, const struct stat *st, uint32_t *id)
{
	uint64_t key = path_key(path, flags), *first = hmap_get(&ft->paths, key);
	struct file_desc *d;

	/* the same file too: in two mount namespaces of the tree one path may name two files */
	for (d = first ? file_desc_by_id(ft, *first) : NULL; d; d = file_desc_by_id(ft, d->next_path)) {
		if (d->reg.flags == (uint32_t)flags && !strcmp(d->reg.path, path) && d->st.st_dev == st->st_dev &&
		    d->st.st_ino == st->st_ino) {
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
	d->next_path = first ? *first : 0;
	if (hmap_put(&ft->paths, key, d->id)) {
		pr_err("out of memory\n");
		return -1;
	}
	*id = d->id;
	return 0;
}

int dump_fdinfo(int dfd, pid_t pid, struct fd_list *fl)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_DUMP, pid);
	int ret = 0;

	/* an entry of a few bytes per fd: through a buffer, not a write each */
	if (!img || img_buffer_writes(img)) {
		close_image(img);
		return -1;
	}
	for (size_t i = 0; i < fl->nr && !ret; i++)
		ret = pb_write_one(img, &fl->fds[i]);
	if (!ret && img_flush(img))
		ret = -1;
	return finish_image(img, ret);
}

void fd_list_free(struct fd_list *fl)
{
	free(fl->fds);
	memset(fl, 0, sizeof(*fl));
}

int files_check_tree(struct file_table *ft)
{
	if (check_pipes(ft))
		return -1;
	for (size_t i = 0; i < ft->nr; i++) {
		const struct fd_kind *k = fd_kind_by_type(ft->d[i].fe.type);

		if (k && k->check_tree && k->check_tree(ft, &ft->d[i]))
			return -1;
	}
	return 0;
}

int dump_files(int dfd, struct file_table *ft)
{
	struct cr_img *img;
	int ret = 0;

	if (fileobj_dump_ghosts(dfd, ft))
		return -1;
	img = open_image_at(dfd, CR_FD_FILES, O_DUMP);
	if (!img || img_buffer_writes(img)) {
		close_image(img);
		return -1;
	}
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
	if (!ret && img_flush(img))
		ret = -1;
	return finish_image(img, ret);
}

int dump_fs(int dfd, pid_t pid)
{
	char path[64], cwd[PATH_MAX], root[PATH_MAX];
	FsEntry fe = FS_ENTRY__INIT;
	struct cr_img *img;
	struct stat st;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (read_link(path, cwd, sizeof(cwd)) < 0 || stat(path, &st)) {
		pr_perror("can't read the cwd of %d", pid);
		return -1;
	}
	if (st.st_nlink == 0 || strstr(cwd, " (deleted)")) {
		char *del = strstr(cwd, " (deleted)");

		/* made again at restore where it was (with its parents for a moment if they went too) */
		if (del)
			*del = '\0';
		if (cwd[0] != '/') {
			pr_err("can't dump task %d: its cwd %s was removed and has no path to make it at\n", pid, cwd);
			return -1;
		}
		fe.has_cwd_deleted_mode = fe.has_cwd_uid = fe.has_cwd_gid = true;
		fe.cwd_deleted_mode = st.st_mode;
		fe.cwd_uid = st.st_uid;
		fe.cwd_gid = st.st_gid;
		if (ns_owner_inside(&fe.cwd_uid, &fe.cwd_gid, "a removed cwd"))
			return -1;
		/* an fd may hold it too: then it is one directory again */
		fe.has_cwd_dev = fe.has_cwd_ino = true;
		fe.cwd_dev = st.st_dev;
		fe.cwd_ino = st.st_ino;
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
		free(ft->d[i].reg.other_link);
		free(ft->d[i].ghost_src);
		free(ft->d[i].reg.ghost_csum);
		free(ft->d[i].pipe.data.data);
		free(ft->d[i].pipe.packets);
		free_chunks(ft->d[i].reg.ghost_chunks, ft->d[i].reg.n_ghost_chunks);
		if (k)
			k->free(&ft->d[i].fe);
	}
	free(ft->d);
	for (size_t i = 0; i < ft->nr_ifds; i++)
		free(ft->ifds[i].idx);
	free(ft->ifds);
	hmap_free(&ft->inodes);
	hmap_free(&ft->holders);
	hmap_free(&ft->paths);
	hmap_free(&ft->views);
	hmap_free(&ft->fifos);
	for (size_t i = 0; i < ft->nr_inflight; i++)
		close(ft->inflight[i]);
	free(ft->inflight);
	shmem_dump_free(ft);
	task_fd_forget();
	tty_dump_free(ft);
	usk_dump_free(ft);
	memset(ft, 0, sizeof(*ft));
}

/* ---- restore ---- */

/* More than this many file ids is a damaged image, not a task (the fd limit is far lower). */
#define MAX_FILE_IDS	(1U << 22)

static int index_files(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr; i++) {
		if (rf->fe[i]->id >= MAX_FILE_IDS) {
			pr_err("files.img: file id %u is more than we handle\n", rf->fe[i]->id);
			return -1;
		}
		if (rf->fe[i]->id + 1 > rf->nr_ids)
			rf->nr_ids = rf->fe[i]->id + 1;
	}
	rf->by_id = calloc(rf->nr_ids + 1, sizeof(*rf->by_id));
	if (!rf->by_id) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];

		if (!fe->id || rf->by_id[fe->id]) {
			pr_err("files.img: file id %u is %s\n", fe->id, fe->id ? "there twice" : "0");
			return -1;
		}
		rf->by_id[fe->id] = fe;
	}
	return pipes_index(rf) ?: fd_kinds_prepare(rf);
}

int read_files(int dfd, struct rst_files *rf)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FILES, O_RDONLY);
	size_t cap = 0;
	void *msg;
	int ret;

	memset(rf, 0, sizeof(*rf));
	rf->obj_base = -1;
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
		if (rf->nr == cap) {
			cap = cap ? cap * 2 : 64;
			n = realloc(rf->fe, cap * sizeof(*n));
			if (!n) {
				pb_free(img, msg);
				ret = -1;
				break;
			}
			rf->fe = n;
		}
		rf->fe[rf->nr++] = fe;
	}
	close_image(img);
	if (ret < 0)
		return -1;
	return index_files(rf);
}

void free_files(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr; i++)
		file_entry__free_unpacked(rf->fe[i], NULL);
	free(rf->fe);
	free(rf->by_id);
	hmap_free(&rf->pipes);
	free(rf->pipe_next);
	hmap_free(&rf->pty_masters);
	hmap_free(&rf->usk_groups);
	free(rf->usk_next);
	free(rf->obj_slot);
	hmap_free(&rf->obj_aliases);
	free(rf->obj_next);
	hmap_free(&rf->tree_pids);
	free(rf->memfd_late);
	memset(rf, 0, sizeof(*rf));
}

FileEntry *find_file(struct rst_files *rf, uint32_t id)
{
	return id < rf->nr_ids ? rf->by_id[id] : NULL;
}

uint32_t files_root(uint32_t *parent, uint32_t id)
{
	uint32_t r = id;

	while (parent[r] != r)
		r = parent[r];
	/* path compression: the next walk is short */
	while (parent[id] != r) {
		uint32_t next = parent[id];

		parent[id] = r;
		id = next;
	}
	return r;
}

static void files_union(uint32_t *parent, uint32_t a, uint32_t b)
{
	a = files_root(parent, a);
	b = files_root(parent, b);
	if (a != b)
		parent[a > b ? a : b] = a < b ? a : b;
}

/* A pipe's ends are found by its inode; other kinds say what links them (link_key, refs). */
static uint64_t link_class(const FileEntry *fe)
{
	const struct fd_kind *k = fd_kind_by_type(fe->type);
	uint64_t key;

	if (fe->type == FILE_TYPE__FT_PIPE)
		key = fe->pipe ? fe->pipe->ino : 0;
	else
		key = k && k->link_key ? k->link_key(fe) : 0;
	return key ? hash_u64(key) ^ ((uint64_t)fe->type << 56) : 0;
}

int files_link(struct rst_files *rf, uint32_t *parent)
{
	struct hmap first = { 0 };
	size_t max = 64;
	uint32_t *refs = malloc(max * sizeof(*refs));
	int ret = -1;

	if (!refs) {
		pr_err("out of memory\n");
		return -1;
	}

	for (uint32_t id = 0; id < rf->nr_ids; id++)
		parent[id] = id;
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		const struct fd_kind *k = fd_kind_by_type(fe->type);
		uint64_t key = link_class(fe), *f;

		if (key) {
			f = hmap_get_or_put(&first, key, fe->id, NULL);
			if (!f) {
				pr_err("out of memory\n");
				goto out;
			}
			/* a hash collision of two classes only makes more files go together: still right */
			files_union(parent, *f, fe->id);
		}
		if (!k || !k->refs)
			continue;
		size_t n = k->refs(fe, refs, max);

		if (n > max) {
			uint32_t *more = realloc(refs, n * sizeof(*refs));

			if (!more) {
				pr_err("out of memory\n");
				goto out;
			}
			refs = more;
			max = n;
			k->refs(fe, refs, max);
		}
		for (size_t j = 0; j < n; j++) {
			if (!find_file(rf, refs[j])) {
				pr_err("files.img: file %u refers to file %u, which is not there\n", fe->id, refs[j]);
				goto out;
			}
			files_union(parent, fe->id, refs[j]);
		}
	}
	ret = 0;
out:
	hmap_free(&first);
	free(refs);
	return ret;
}

/*
 * Is @st's mtime the dump's @r? Also when whole seconds are all that's left
 * of it: archivers without sub-second times (tar in ustar/GNU format; podman
 * puts a container's /dev/shm and rootfs changes back from such tarballs)
 * write it truncated or rounded to the second, with no nanoseconds.
 */
static bool reg_mtime_same(const RegFileEntry *r, const struct stat *st)
{
	uint32_t nsec = r->has_mtime_nsec ? r->mtime_nsec : 0;

	if (st->st_mtim.tv_sec == r->mtime_sec && (uint32_t)st->st_mtim.tv_nsec == nsec)
		return true;
	if (st->st_mtim.tv_nsec != 0)
		return false;
	return st->st_mtim.tv_sec == r->mtime_sec || (st->st_mtim.tv_sec == r->mtime_sec + 1 && nsec >= 500000000);
}

/* A regular file must be the one dumped: same inode (or a copy of it), same size, not modified since. */
static int reg_changed(const RegFileEntry *r, const struct stat *st)
{
	/* a file of a tmpfs made again is a new inode: its size and mtime are what can tell */
	bool remade = r->has_dev && mntns_dev_remade(r->dev);
	/*
	 * So for a copy that kept the mtime (cp -p, rsync -t, an archive:
	 * podman --import puts a container's rootfs changes back from its
	 * rootfs-diff.tar in a new overlay; a root copied to another machine).
	 */
	bool copy = r->has_mtime_sec && reg_mtime_same(r, st);

	if (r->has_ino && !remade && copy && st->st_ino != r->ino)
		pr_info("%s is another inode (%lu, was %lu) with the dump's size and mtime: a copy of it\n", r->path,
			(unsigned long)st->st_ino, (unsigned long)r->ino);
	if ((r->has_ino && !remade && !copy && st->st_ino != r->ino) ||
	    (r->has_size && (uint64_t)st->st_size != r->size)) {
		pr_err("%s changed since the dump (inode %lu, size %lu; it was inode %lu, size %lu); "
		       "restore with --allow-changed-files to use it anyway\n", r->path, (unsigned long)st->st_ino,
		       (unsigned long)st->st_size, (unsigned long)r->ino, (unsigned long)r->size);
		return 1;
	}
	if (r->has_mtime_sec && !reg_mtime_same(r, st)) {
		pr_err("%s was modified since the dump (mtime %ld.%09ld; it was %ld.%09u); "
		       "restore with --allow-changed-files to use it anyway\n", r->path, (long)st->st_mtim.tv_sec,
		       (long)st->st_mtim.tv_nsec, (long)r->mtime_sec, r->has_mtime_nsec ? r->mtime_nsec : 0);
		return 1;
	}
	return 0;
}

/* Another view of a memfd or unlinked file: the object made for its holder (or its name of the view's). */
static int open_same_as(struct rst_files *rf, FileEntry *fe, int flags)
{
	RegFileEntry *r = fe->reg;
	FileEntry *h = find_file(rf, r->same_as);

	if (!h || !fileobj_is_holder(h)) {
		pr_err("%s: file %u is no memfd or unlinked file to open again\n", r->path, r->same_as);
		return -1;
	}
	return fileobj_reopen(rf, fileobj_has_own(rf, fe->id) ? fe->id : r->same_as, flags);
}

/* An object made at restore: a dup of an O_TMPFILE file's own description, else a new open. */
static int open_holder(struct rst_files *rf, const FileEntry *fe, int flags)
{
	int fd = fileobj_dup_tmpfile(rf, fe);

	return fd != -2 ? fd : fileobj_reopen(rf, fe->id, flags);
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
	bool nonblock = false;
	int fd;

	if (!fe || fe->type != FILE_TYPE__FT_REG || !fe->reg) {
		pr_err("no regular file with id %u in the images\n", id);
		return -1;
	}
	r = fe->reg;
	/* files criu opens for itself (mappings, the exe) leave the file's atime alone */
	if (flags >= 0 && S_ISREG(r->mode))
		flags |= O_NOATIME;
	if (flags < 0)
		flags = r->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC);
	/* an O_TMPFILE file is opened again as the file it now is */
	if (S_ISREG(r->mode) && (flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_TMPFILE;
	/* a terminal opened by path must not become the restoring session leader's controlling one */
	if (S_ISCHR(r->mode))
		flags |= O_NOCTTY;
	/*
	 * A regular file by path may be a FIFO now, whose open for reading or
	 * writing alone waits for a peer that never comes: the restore would
	 * hang instead of saying so. Not waiting, the kind is checked below.
	 * (An O_PATH open waits for nothing, and its flags can't be changed.)
	 */
	if (S_ISREG(r->mode) && !r->has_same_as && !fileobj_is_holder(fe) && !(flags & (O_NONBLOCK | O_PATH))) {
		flags |= O_NONBLOCK;
		nonblock = true;
	}
	if (r->has_same_as)
		fd = open_same_as(rf, fe, flags);
	else if (fileobj_is_holder(fe))
		fd = open_holder(rf, fe, flags);
	else if (r->has_mnt_id)
		fd = mntns_open_hidden(r, flags);
	else if (S_ISCHR(r->mode) && r->has_rdev && !device_at(r))
		/* not even opened: opening another device may do something (a tty would become ours) */
		fd = opts.evasive_devices ? evasive_open(rf, r, flags) : -2;
	else
		fd = open(r->path, flags | O_CLOEXEC);
	if (fd == -2) {
		pr_err("%s is not the device it was (%u:%u) at dump time; --evasive-devices opens it by its "
		       "number\n", r->path, major(r->rdev), minor(r->rdev));
		return -1;
	}
	if (fd < 0 && errno == EPERM && (flags & O_NOATIME))
		fd = open(r->path, (flags & ~O_NOATIME) | O_CLOEXEC);	/* not ours, and no CAP_FOWNER */
	/* a lease someone else holds: breaking it is what a plain open waits for */
	if (fd < 0 && errno == EWOULDBLOCK && nonblock) {
		flags &= ~O_NONBLOCK;
		nonblock = false;
		fd = r->has_mnt_id ? mntns_open_hidden(r, flags) : open(r->path, flags | O_CLOEXEC);
	}
	/* a file whose owner a user namespace of the tree's does not map: criu opens it */
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		fd = img_open_file(r->path, flags);
	if (fd < 0 && errno == ENXIO && nonblock && !stat(r->path, &st) && S_ISFIFO(st.st_mode)) {
		/* a FIFO without a reader, opened for writing */
		pr_err("%s is not the kind of file it was at dump time (a FIFO now)\n", r->path);
		return -1;
	}
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
	if (nonblock && fd_setfl(fd, 0, O_NONBLOCK)) {
		pr_perror("can't clear O_NONBLOCK of %s", r->path);
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

/*
 * Opened by the restorer, once every process and thread of the tree
 * exists: pidfds of live processes, /proc/PID/... files of tree tasks.
 */
static int opened_by_restorer(struct rst_files *rf, const FileEntry *fe)
{
	const struct fd_kind *k = fd_kind_by_type(fe->type);

	if (fe->type == FILE_TYPE__FT_REG && fe->reg && fe->reg->has_proc_pid)
		return hmap_get(&rf->tree_pids, fe->reg->proc_pid) != NULL;
	return k && k->in_restorer && k->in_restorer(fe);
}

static int late_fd(const FileEntry *fe, const FdinfoEntry *e, struct late_fd *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = e->fd;
	l->fd_flags = e->fd_flags;
	if (fe->type == FILE_TYPE__FT_PIDFD) {
		l->kind = LATE_PIDFD;
		l->pid = fe->pidfd->pid;
		l->flags = fe->pidfd->flags;
		return 0;
	}
	l->kind = LATE_PATH;
	l->pid = fe->reg->proc_pid;
	l->flags = fe->reg->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC);
	l->pos = fe->reg->pos;
	if (strlen(fe->reg->path) >= sizeof(l->path)) {
		pr_err("%s: the path of this /proc file is too long for the restorer\n", fe->reg->path);
		return -1;
	}
	strcpy(l->path, fe->reg->path);
	return 0;
}

/* A new open file description for file @fe. */
static int open_desc(struct fd_rst *c, FileEntry *fe)
{
	const struct fd_kind *k = fd_kind_by_type(fe->type);
	int fd = inherit_fd_open(fe);

	if (fd != -2)
		return fd;
	if (fe->type == FILE_TYPE__FT_TTY_SHELL) {
		if (c->shell_tty < 0) {
			pr_err("file %u was the caller's terminal: restore needs --shell-job and a terminal\n", fe->id);
			return -1;
		}
		return fcntl(c->shell_tty, F_DUPFD_CLOEXEC, 0);
	}
	if (fe->type == FILE_TYPE__FT_PIPE)
		return open_pipe_end(c, fe);
	if (k)
		return k->open(c, fe);
	return open_file(c->rf, fe->id, -1);
}

static int transit_slot(const struct rst_transit *tr, uint32_t id)
{
	return tr && tr->slot && id < tr->nr_ids && tr->slot[id] >= 0 ? tr->base + tr->slot[id] : -1;
}

int in_transit(const struct rst_transit *tr, uint32_t id)
{
	int slot = transit_slot(tr, id);

	if (slot < 0)
		return 0;
	if (fcntl(slot, F_GETFD) >= 0)
		return 1;
	if (errno == EBADF)
		return 0;
	/* not knowing must not pass for "not passed down": the sharing would be lost */
	pr_perror("can't tell whether file %u was passed down", id);
	return -1;
}

int fd_rst_have(struct fd_rst *c, uint32_t id)
{
	if (id >= c->rf->nr_ids)
		return -1;
	uint64_t *kept;

	if (c->opened && c->opened[id] >= 0)
		return c->opened[id];
	if (in_transit(c->tr, id) > 0)
		return transit_slot(c->tr, id);
	kept = hmap_get(&c->kept, id);
	return kept ? (int)*kept : -1;
}

static int home_of(struct fd_rst *c, uint32_t id);

int fd_rst_lift(struct fd_rst *c, int fd)
{
	int hi;

	if (fd < 0 || fd >= c->scratch)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, c->scratch);
	if (hi < 0)
		pr_perror("can't move fd %d above %d", fd, c->scratch);
	close(fd);
	return hi;
}

/*
 * @fd just made for description @id: left where it is if that is the
 * number it goes to (a pipe or socketpair made while the fds below are
 * all placed lands right there), else lifted.
 */
int fd_rst_lift_for(struct fd_rst *c, int fd, uint32_t id)
{
	if (fd >= 0 && fd < c->scratch && fd == home_of(c, id))
		return fd;
	return fd_rst_lift(c, fd);
}

/* Temporaries alive at once beyond the sockets of one group: a pipe's ends, a few descriptions kept a while. */
#define SCRATCH_MIN	16

int fd_rst_scratch_room(struct rst_files *rf)
{
	uint32_t most = 0;

	for (size_t i = 0; i < rf->usk_groups.cap; i++) {
		uint32_t n = 0;

		if (!rf->usk_groups.used[i])
			continue;
		for (FileEntry *fe = find_file(rf, rf->usk_groups.vals[i]); fe; fe = find_file(rf, rf->usk_next[fe->id]))
			n++;
		if (n > most)
			most = n;
	}
	return SCRATCH_MIN + most;
}

/* Keep @fd, description @id the task uses but holds no fd of, until its fds are all placed. */
static int keep_fd(struct fd_rst *c, uint32_t id, int fd)
{
	fd = fd_rst_lift(c, fd);
	if (fd >= 0 && hmap_put(&c->kept, id, fd)) {
		pr_err("out of memory\n");
		close(fd);
		return -1;
	}
	return fd;
}

/* Where a new description of @id goes: the lowest fd the task has it at, or its transit slot; -1: nowhere. */
static int home_of(struct fd_rst *c, uint32_t id)
{
	if (id < c->rf->nr_ids && c->lowest[id] >= 0 && c->opened[id] < 0)
		return c->lowest[id];
	if (c->tr && c->tr->need && id < c->tr->nr_ids && c->tr->need[id] && in_transit(c->tr, id) == 0)
		return transit_slot(c->tr, id);
	return -1;
}

int fd_rst_place(struct fd_rst *c, uint32_t id, int fd)
{
	int to = home_of(c, id);

	if (fd < 0)
		return -1;
	if (to < 0) {
		/* neither the task nor its descendants have it */
		close(fd);
		return -2;
	}
	/*
	 * close-on-exec meanwhile (by-products are made so: pipes, sockets):
	 * place_one_fd() gives the fd its own flag when its turn comes
	 */
	if (fd != to && dup3(fd, to, O_CLOEXEC) < 0) {
		pr_perror("can't move fd %d of file %u to %d", fd, id, to);
		close(fd);
		return -1;
	}
	if (fd != to)
		close(fd);
	if (to == c->lowest[id])
		c->opened[id] = to;
	return to;
}

int fd_rst_place_or_keep(struct fd_rst *c, uint32_t id, int fd)
{
	if (fd >= 0 && home_of(c, id) < 0)
		return keep_fd(c, id, fd) < 0 ? -1 : -2;
	return fd_rst_place(c, id, fd);
}

int fd_rst_get(struct fd_rst *c, uint32_t id)
{
	FileEntry *fe = find_file(c->rf, id);
	int fd = fd_rst_have(c, id);

	if (fd >= 0)
		return fd;
	if (!fe) {
		pr_err("file %u is not in files.img\n", id);
		return -1;
	}
	fd = fd_rst_lift(c, open_desc(c, fe));
	if (fd < 0)
		return -1;
	/* made before its own fd comes: it waits there; else it is kept for now */
	if (home_of(c, id) >= 0)
		return fd_rst_place(c, id, fd);
	return keep_fd(c, id, fd);
}

static int place_one_fd(struct fd_rst *c, FdinfoEntry *e)
{
	FileEntry *fe = find_file(c->rf, e->id);
	int first = c->opened[e->id] < 0 || c->opened[e->id] == (int)e->fd;
	int cloexec = e->fd_flags & FD_CLOEXEC, from = -1, fd = e->fd;
	int passed = c->opened[e->id] >= 0 ? 0 : in_transit(c->tr, e->id);

	if (c->opened[e->id] == (int)e->fd)	/* made already, with another description */
		from = -1;
	else if (c->opened[e->id] >= 0)		/* shared with an fd restored before */
		from = c->opened[e->id];
	else if (passed < 0)
		return -1;
	else if (passed)			/* shared with an ancestor or a relative */
		from = transit_slot(c->tr, e->id);
	else if ((fd = open_desc(c, fe)) < 0)
		goto err_open;
	/* a dup keeps the description; a new one is opened at the lowest free number, often this one */
	if (from >= 0 && dup3(from, e->fd, cloexec ? O_CLOEXEC : 0) < 0)
		goto err;
	if (from < 0 && fd != (int)e->fd) {
		if (dup3(fd, e->fd, cloexec ? O_CLOEXEC : 0) < 0) {
			close(fd);
			goto err;
		}
		close(fd);
	} else if (from < 0 && fcntl(e->fd, F_SETFD, cloexec)) {
		goto err;
	}
	/* at its final number: O_ASYNC remembers the fd number it was set on */
	if (first && restore_fown(c, fe, e->fd))
		return -1;
	if (c->opened[e->id] < 0)
		c->opened[e->id] = e->fd;
	return 0;
err:
	pr_perror("can't restore fd %u (file %u)", e->fd, e->id);
	return -1;
err_open:
	/* open_desc() said why; errno is stale by now */
	pr_err("can't restore fd %u (file %u)\n", e->fd, e->id);
	return -1;
}

/*
 * Hand the open file descriptions our descendants share down to them: each
 * goes to its transit slot, from our own fd if we hold it, else opened here
 * (the first task on the way down that needs it passed on), so that every
 * descendant inherits the same one.
 */
static int fill_transit(struct fd_rst *c)
{
	const struct rst_transit *tr = c->tr;

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
		fe = find_file(c->rf, id);
		if (!fe || transit_slot(tr, id) < 0) {
			pr_err("a descendant needs file %u, which is not in files.img\n", id);
			return -1;
		}
		k = fd_kind_by_type(fe->type);
		if (opened_by_restorer(c->rf, fe))
			continue;	/* each holder opens its own in the restorer */
		/* e.g. an epoll of an older image, which names its targets by the maker's fd numbers */
		if (c->opened[id] < 0 && k && k->late && (!k->numbered || k->numbered(fe))) {
			pr_err("file %u (%s) is shared by tasks none of whose ancestors holds it; not supported yet\n",
			       id, k->link);
			return -1;
		}
		fd = c->opened[id] >= 0 ? fcntl(c->opened[id], F_DUPFD_CLOEXEC, 0) : open_desc(c, fe);
		/* a by-product of an earlier one may have filled the slot meanwhile */
		if (fd >= 0 && in_transit(tr, id) > 0) {
			close(fd);
			continue;
		}
		if (fd < 0 || move_fd(fd, transit_slot(tr, id)) < 0) {
			pr_perror("can't pass file %u on to the children", id);
			return -1;
		}
		fcntl(transit_slot(tr, id), F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

/* Slots inherited for ourselves only (or for adding epoll targets) are done with. */
static void drop_transit(const struct rst_transit *tr)
{
	for (uint32_t id = 0; id < tr->nr_ids; id++)
		if (transit_slot(tr, id) >= 0 && (!tr->need || !tr->need[id]) && (!tr->keep || !tr->keep[id]))
			close(transit_slot(tr, id));
}

FdinfoEntry **read_fdinfo(int dfd, pid_t pid, size_t *nr)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pid);
	FdinfoEntry **list = NULL, **n;
	size_t cap = 0;
	void *msg;
	int ret;

	*nr = 0;
	if (!img)
		return NULL;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		if (*nr == cap) {
			cap = cap ? cap * 2 : 64;
			n = realloc(list, cap * sizeof(*n));
			if (!n) {
				pb_free(img, msg);
				ret = -1;
				break;
			}
			list = n;
		}
		list[(*nr)++] = msg;
	}
	close_image(img);
	if (ret < 0) {
		for (size_t i = 0; i < *nr; i++)
			fdinfo_entry__free_unpacked(list[i], NULL);
		free(list);
		return NULL;
	}
	if (!list)
		list = calloc(1, sizeof(*list));
	for (size_t i = 1; list && i < *nr; i++)
		if (list[i]->fd <= list[i - 1]->fd) {
			pr_err("fdinfo-%d.img: fd %u comes after fd %u\n", pid, list[i]->fd, list[i - 1]->fd);
			free_fdinfo(list, *nr);
			return NULL;
		}
	return list;
}

void free_fdinfo(FdinfoEntry **list, size_t nr)
{
	for (size_t i = 0; list && i < nr; i++)
		fdinfo_entry__free_unpacked(list[i], NULL);
	free(list);
}

static int fd_rst_init(struct fd_rst *c, pid_t pid, struct rst_files *rf, const struct rst_transit *tr, int shell_tty,
		       int scratch)
{
	memset(c, 0, sizeof(*c));
	c->rf = rf;
	c->tr = tr;
	c->pid = pid;
	c->shell_tty = shell_tty;
	c->scratch = scratch;
	c->opened = malloc((rf->nr_ids + 1) * sizeof(int));
	c->lowest = malloc((rf->nr_ids + 1) * sizeof(int));
	if (!c->opened || !c->lowest) {
		pr_err("out of memory\n");
		return -1;
	}
	for (uint32_t i = 0; i <= rf->nr_ids; i++)
		c->opened[i] = c->lowest[i] = -1;
	return 0;
}

static int fd_rst_fini(struct fd_rst *c)
{
	int ret = c->rf ? fd_kinds_restore_fini(c) : 0;

	for (size_t i = 0; i < c->kept.cap; i++)
		if (c->kept.used[i])
			close(c->kept.vals[i]);
	hmap_free(&c->kept);
	free(c->opened);
	free(c->lowest);
	free(c->ptys);
	hmap_free(&c->made);
	return ret;
}

int restore_tty_session(struct rst_files *rf, pid_t pid, const struct rst_transit *tr, int scratch)
{
	struct fd_rst c = { 0 };
	int ret;

	ret = fd_rst_init(&c, pid, rf, tr, -1, scratch) ?: tty_restore_session(&c);
	return fd_rst_fini(&c) ?: ret;
}

int restore_fds(FdinfoEntry **list, size_t nr, pid_t pid, struct rst_files *rf, int shell_tty,
		const struct rst_transit *tr, int scratch, struct late_fd *late, int *nr_late, int max_late)
{
	struct fd_rst c = { 0 };
	int ret = -1;

	if (fd_rst_init(&c, pid, rf, tr, shell_tty, scratch))
		goto out;
	c.late = late;
	c.nr_late = nr_late;
	c.max_late = max_late;
	for (size_t i = 0; i < nr; i++) {
		FdinfoEntry *e = list[i];

		if (!find_file(rf, e->id)) {
			pr_err("fdinfo-%d.img: fd %u names file %u, which is not in files.img\n", pid, e->fd, e->id);
			goto out;
		}
		if (c.lowest[e->id] < 0)
			c.lowest[e->id] = e->fd;
	}
	if (tty_restore_session(&c))
		goto out;
	/* two passes: kinds that refer to other fds (epoll) come last */
	for (size_t pass = 0; pass < 2 * nr; pass++) {
		FdinfoEntry *e = list[pass % nr];
		FileEntry *fe = find_file(rf, e->id);
		const struct fd_kind *k = fd_kind_by_type(fe->type);

		if ((pass < nr) == (k && k->late))
			continue;
		if (opened_by_restorer(rf, fe)) {
			/* the restorer opens these: hand them over */
			if (!late || *nr_late >= max_late) {
				pr_err("too many fds for the restorer to open (pidfds and /proc files, at most %d)\n",
				       max_late);
				goto out;
			}
			if (late_fd(fe, e, &late[(*nr_late)++]))
				goto out;
			continue;
		}
		if (place_one_fd(&c, e))
			goto out;
	}
	if (tr && fill_transit(&c))
		goto out;
	/* every fd and shared description is in place: epoll targets by our own numbers */
	if (epoll_add_targets(&c))
		goto out;
	ret = 0;
out:
	/* before the transit slots go: a kind's end may need what is there (a pty's master) */
	if (fd_rst_fini(&c))
		ret = -1;
	evasive_fini();
	if (tr)
		drop_transit(tr);
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

int restore_fs(int dfd, pid_t pid, struct rst_files *rf)
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
		if (fileobj_chdir_removed(rf, fe->cwd, fe->cwd_deleted_mode, fe->has_cwd_uid ? fe->cwd_uid : (uint32_t)-1,
					  fe->has_cwd_gid ? fe->cwd_gid : (uint32_t)-1, fe->has_cwd_dev ? fe->cwd_dev : 0,
					  fe->has_cwd_ino ? fe->cwd_ino : 0))
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
