/*
 * File locks (--file-locks): flock, POSIX (F_SETLK) and OFD (F_OFD_SETLK)
 * locks the tree holds, read from the "lock:" lines of fdinfo, saved in
 * file-locks.img and taken again by the restorer of the owning process.
 *
 * fdinfo of an fd lists the locks taken through its open file description
 * whose owner is that description (flock, OFD) or the process holding the fd
 * (POSIX), so each lock shows up at an fd of its owner. flock and OFD locks
 * are recorded once per description, POSIX locks once per process and range.
 *
 * They are taken back in the restorer, after the service fds are closed:
 * closing any fd of a file drops the POSIX locks the process holds on it,
 * and the files opened for mappings are such fds.
 *
 * Leases (F_SETLEASE) are recorded like flock locks, once per description,
 * and taken back there too, once criu's own opens of the file are gone: a
 * write lease needs the file open nowhere else, a read lease no writer. A
 * lease being broken (an open waits for it) is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file-lock.h"
#include "file-lock.pb-c.h"
#include "image.h"
#include "log.h"
#include "proc_parse.h"
#include "restorer.h"
#include "util.h"

struct held_lock {
	FileLockEntry e;
	struct proc_lock pl;	/* as /proc showed it, to find its waiters */
	char path[256];		/* for messages */
};

static struct held_lock *held;
static size_t nr_held, cap_held;

static const char *kind_name(int kind)
{
	switch (kind) {
	case FILE_LOCK_KIND__FL_FLOCK: return "flock";
	case FILE_LOCK_KIND__FL_POSIX: return "POSIX";
	case FILE_LOCK_KIND__FL_OFD: return "OFD";
	case FILE_LOCK_KIND__FL_LEASE: return "lease";
	}
	return "unknown";
}

/* The kind of a lock we can restore, or a refusal naming what it is. */
static int lock_kind(pid_t pid, int fd, const char *link, const struct proc_lock *l)
{
	if (!strcmp(l->kind, "LEASE")) {
		/* one being broken has an open waiting for it and a timer running: nothing makes those again */
		if (strcmp(l->mode, "ACTIVE") || (strcmp(l->type, "READ") && strcmp(l->type, "WRITE"))) {
			pr_err("can't dump task %d: fd %d (%s) holds a lease (F_SETLEASE) that is %s %s: one being "
			       "broken (an open of the file waits for it) is not supported\n", pid, fd, link, l->mode,
			       l->type);
			return -1;
		}
		return FILE_LOCK_KIND__FL_LEASE;
	}
	if (!strcmp(l->kind, "DELEG")) {
		pr_err("can't dump task %d: fd %d (%s) holds a delegation (%s %s); not supported\n", pid, fd, link,
		       l->mode, l->type);
		return -1;
	}
	if (strcmp(l->mode, "ADVISORY") || (strcmp(l->type, "READ") && strcmp(l->type, "WRITE"))) {
		pr_err("can't dump task %d: fd %d (%s) holds a %s lock that is %s %s; only advisory read and "
		       "write locks are supported\n", pid, fd, link, l->kind, l->mode, l->type);
		return -1;
	}
	if (!strcmp(l->kind, "FLOCK"))
		return FILE_LOCK_KIND__FL_FLOCK;
	if (!strcmp(l->kind, "POSIX"))
		return FILE_LOCK_KIND__FL_POSIX;
	if (!strcmp(l->kind, "OFDLCK"))
		return FILE_LOCK_KIND__FL_OFD;
	pr_err("can't dump task %d: fd %d (%s) holds a file lock of an unsupported kind (%s)\n", pid, fd, link,
	       l->kind);
	return -1;
}

/* The same lock seen again, at another fd of its owner or of a sharer of its description. */
static int already_held(const FileLockEntry *e, const struct proc_lock *l)
{
	for (size_t i = 0; i < nr_held; i++) {
		const struct held_lock *h = &held[i];

		if (h->e.kind != e->kind || h->e.type != e->type || h->pl.start != l->start || h->pl.end != l->end)
			continue;
		if (e->kind == FILE_LOCK_KIND__FL_POSIX) {
			if (h->e.pid == e->pid && h->pl.maj == l->maj && h->pl.min == l->min && h->pl.ino == l->ino)
				return 1;
		} else if (h->e.file_id == e->file_id) {
			return 1;
		}
	}
	return 0;
}

static size_t locks_of(pid_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < nr_held; i++)
		n += held[i].e.pid == pid;
	return n;
}

static int add_lock(pid_t pid, int fd, uint32_t file_id, const char *link, const struct proc_lock *l)
{
	FileLockEntry e = FILE_LOCK_ENTRY__INIT;
	struct held_lock *h;
	int kind = lock_kind(pid, fd, link, l);

	if (kind < 0)
		return -1;
	e.kind = kind;
	e.type = strcmp(l->type, "WRITE") ? F_RDLCK : F_WRLCK;
	e.pid = pid;
	e.fd = fd;
	e.file_id = file_id;
	e.start = kind == FILE_LOCK_KIND__FL_LEASE ? 0 : l->start;
	e.len = kind == FILE_LOCK_KIND__FL_LEASE || l->end == UINT64_MAX ? 0 : l->end - l->start + 1;
	if (already_held(&e, l))
		return 0;
	if (locks_of(pid) >= RST_MAX_LOCKS) {
		pr_err("can't dump task %d: it holds more than %d file locks\n", pid, RST_MAX_LOCKS);
		return -1;
	}
	if (nr_held == cap_held) {
		size_t cap = cap_held ? cap_held * 2 : 16;

		h = realloc(held, cap * sizeof(*h));
		if (!h) {
			pr_err("out of memory\n");
			return -1;
		}
		held = h;
		cap_held = cap;
	}
	h = &held[nr_held++];
	h->e = e;
	h->pl = *l;
	snprintf(h->path, sizeof(h->path), "%s", link);
	pr_debug("fd %d of %d: %s %s lock on %s, %lu+%lu\n", fd, pid, kind_name(kind), l->type, link,
		 (unsigned long)e.start, (unsigned long)e.len);
	return 0;
}

int file_locks_collect(pid_t pid, int fd, uint32_t file_id, const char *link)
{
	char name[32], *info, *line, *end;
	struct proc_lock l;
	int ret = 0;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	info = read_proc_file(pid, name, NULL);
	if (!info)
		return -1;
	for (line = info; *line && !ret; line = end ? end + 1 : line + strlen(line)) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (!strncmp(line, "lock:", 5))
			ret = parse_lock_line(line, &l) || add_lock(pid, fd, file_id, link, &l);
	}
	free(info);
	return ret ? -1 : 0;
}

static const struct held_lock *lock_on(const struct proc_lock *l)
{
	for (size_t i = 0; i < nr_held; i++)
		if (held[i].pl.maj == l->maj && held[i].pl.min == l->min && held[i].pl.ino == l->ino)
			return &held[i];
	return NULL;
}

/*
 * A task waiting for a lock we hold would get it the moment the dump kills
 * us, and the restore could not take it back. (Waiters inside the tree are
 * not listed: freezing interrupts their wait, and they wait again after the
 * restore.)
 */
int file_locks_check_waiters(void)
{
	char *buf, *line, *end;
	struct proc_lock l;
	int ret = 0;

	if (!nr_held)
		return 0;
	/* /proc/self/.. is /proc */
	buf = read_proc_file(0, "../locks", NULL);
	if (!buf)
		return -1;
	for (line = buf; *line && !ret; line = end ? end + 1 : line + strlen(line)) {
		const struct held_lock *h;

		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (!strstr(line, "->"))
			continue;
		if (parse_lock_line(line, &l)) {
			ret = -1;
			break;
		}
		h = lock_on(&l);
		if (!h)
			continue;
		if (l.pid > 0)
			pr_err("can't dump: process %d waits for a %s lock on %s, held by task %d at fd %d; "
			       "blocked lock waiters are not supported\n", l.pid, l.kind, h->path, h->e.pid, h->e.fd);
		else
			pr_err("can't dump: a process waits for an %s lock on %s, held by task %d at fd %d; "
			       "blocked lock waiters are not supported\n", l.kind, h->path, h->e.pid, h->e.fd);
		ret = -1;
	}
	free(buf);
	return ret;
}

int file_locks_dump(int dfd)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_FILE_LOCKS, O_DUMP);
	int ret = 0;

	if (!img)
		return -1;
	for (size_t i = 0; i < nr_held && !ret; i++)
		ret = pb_write_one(img, &held[i].e);
	return finish_image(img, ret);
}

void file_locks_free(void)
{
	free(held);
	held = NULL;
	nr_held = cap_held = 0;
}

/* ---- restore ---- */

static int check_fields(const FileLockEntry *e)
{
	if (e->kind < FILE_LOCK_KIND__FL_FLOCK || e->kind > FILE_LOCK_KIND__FL_LEASE ||
	    (e->type != F_RDLCK && e->type != F_WRLCK) || e->fd < 0 || e->start > INT64_MAX ||
	    e->len > INT64_MAX ||
	    ((e->kind == FILE_LOCK_KIND__FL_FLOCK || e->kind == FILE_LOCK_KIND__FL_LEASE) && (e->start || e->len))) {
		pr_err("file-locks.img: a bad %s lock of %d at fd %d\n", kind_name(e->kind), e->pid, e->fd);
		return -1;
	}
	return 0;
}

int file_locks_read_check(int dfd, int (*is_task)(pid_t pid, void *arg), void *arg)
{
	struct cr_img *img;
	void *msg;
	int ret;

	if (faccessat(dfd, img_descs[CR_FD_FILE_LOCKS].name_fmt, F_OK, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		pr_perror("can't look for file-locks.img");
		return -1;
	}
	img = open_image_at(dfd, CR_FD_FILE_LOCKS, O_RDONLY);
	if (!img)
		return -1;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		FileLockEntry *e = msg;

		if (check_fields(e) || !is_task(e->pid, arg)) {
			if (!is_task(e->pid, arg))
				pr_err("file-locks.img: a lock of %d, which is no process of the tree\n", e->pid);
			ret = -1;
		}
		pb_free(img, msg);
		if (ret < 0)
			break;
	}
	close_image(img);
	return ret < 0 ? -1 : 0;
}

/*
 * A POSIX or OFD lock someone else took on the file since the dump: the
 * restorer's F_SETLK would fail with a bare errno. Asked here through the
 * fd's own description (F_OFD_GETLK), which sees the locks of every other
 * owner: the tree's own ones coexisted with this one at dump time, so a
 * conflict is a stranger's. (A flock is not asked: a probe from another
 * description would conflict with the tree's own lock on a shared one.)
 */
static int check_conflict(const FileLockEntry *e)
{
	struct flock fl = { .l_type = e->type, .l_whence = SEEK_SET, .l_start = e->start, .l_len = e->len };
	char link[PATH_MAX] = "?", fdp[32], who[32] = " (an OFD lock)";
	ssize_t n;

	if (e->kind != FILE_LOCK_KIND__FL_POSIX && e->kind != FILE_LOCK_KIND__FL_OFD)
		return 0;
	if (fcntl(e->fd, F_OFD_GETLK, &fl) || fl.l_type == F_UNLCK)
		return 0;	/* the restorer's own call says what is wrong, if anything */
	snprintf(fdp, sizeof(fdp), "self/fd/%d", e->fd);
	n = readlinkat(proc_dir(), fdp, link, sizeof(link) - 1);
	link[n > 0 ? n : 1] = '\0';
	if (fl.l_pid > 0)
		snprintf(who, sizeof(who), " of pid %d", fl.l_pid);
	pr_err("can't restore %d: its %s %s lock on fd %d (%s) at %lu+%lu conflicts with a %s lock%s taken "
	       "since the dump\n", e->pid, kind_name(e->kind), e->type == F_WRLCK ? "write" : "read", e->fd, link,
	       (unsigned long)e->start, (unsigned long)e->len, fl.l_type == F_WRLCK ? "write" : "read", who);
	return -1;
}

static int check_entry(const FileLockEntry *e)
{
	if (check_fields(e))
		return -1;
	/* every fd is in place by now */
	if (fcntl(e->fd, F_GETFD) < 0) {
		pr_err("file-locks.img: %d holds a %s lock at fd %d, which it does not have\n", e->pid,
		       kind_name(e->kind), e->fd);
		return -1;
	}
	return check_conflict(e);
}

int file_locks_prepare(int dfd, pid_t pid, struct restore_args *a)
{
	struct cr_img *img;
	void *msg;
	int ret;

	a->nr_locks = 0;
	if (img_accessat(dfd, img_descs[CR_FD_FILE_LOCKS].name_fmt)) {
		if (errno == ENOENT)
			return 0;	/* dumped without --file-locks */
		pr_perror("can't look for file-locks.img");
		return -1;
	}
	img = open_image_at(dfd, CR_FD_FILE_LOCKS, O_RDONLY);
	if (!img)
		return -1;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		FileLockEntry *e = msg;
		struct rst_file_lock *l;

		if (e->pid != pid) {
			pb_free(img, msg);
			continue;
		}
		if (check_entry(e) || a->nr_locks >= RST_MAX_LOCKS) {
			if (a->nr_locks >= RST_MAX_LOCKS)
				pr_err("file-locks.img: more than %d locks for %d\n", RST_MAX_LOCKS, pid);
			pb_free(img, msg);
			ret = -1;
			break;
		}
		l = &a->locks[a->nr_locks++];
		l->fd = e->fd;
		l->kind = e->kind;
		l->type = e->type;
		l->start = e->start;
		l->len = e->len;
		pr_debug("%d: takes back a %s lock at fd %d, %lu+%lu\n", pid, kind_name(e->kind), e->fd,
			 (unsigned long)e->start, (unsigned long)e->len);
		pb_free(img, msg);
	}
	close_image(img);
	return ret < 0 ? -1 : 0;
}
