/*
 * Unix98 ptys held inside the tree: the master (/dev/ptmx), slaves
 * (/dev/pts/N) and /dev/tty opened on a pty. The pty's state (termios,
 * window size, modes, owner of /dev/pts/N, the session it is the
 * controlling terminal of and its foreground group) is saved with the
 * master. Both ends must be in the dump; with --shell-job a slave whose
 * master is outside is the caller's terminal. Bytes queued either way are
 * saved with the master and put back at once (tty-queue.c).
 *
 * Restore: the pty is made again with its index (ptmx is opened until
 * the kernel hands out N), slaves come from TIOCGPTPEER on the master.
 * All descriptions of one pty are made by one task (restore.c links
 * them like the two ends of a pipe), except /dev/tty ones, which are
 * opened inside their session once it has its terminal again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <asm/termbits.h>

#include "action-scripts.h"
#include "cr_options.h"
#include "fdkinds.h"
#include "external.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "pipes.h"
#include "rpc.h"
#include "tty-queue.h"
#include "tty.h"
#include "util.h"

#define PTS_MAJOR_FIRST	136
#define PTS_MAJOR_LAST	143
#define PTS_MINORS	256		/* ptys a major holds */
#define MAX_PTYS	4096

static int is_pts_dev(dev_t dev)
{
	return major(dev) >= PTS_MAJOR_FIRST && major(dev) <= PTS_MAJOR_LAST;
}

static uint32_t pts_index(dev_t dev)
{
	return (major(dev) - PTS_MAJOR_FIRST) * PTS_MINORS + minor(dev);
}

static dev_t pts_dev(uint32_t index)
{
	return makedev(PTS_MAJOR_FIRST + index / PTS_MINORS, index % PTS_MINORS);
}

static int is_ptmx(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 5 && minor(st->st_rdev) == 2;
}

static int is_dev_tty(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 5 && minor(st->st_rdev) == 0;
}

/* The real device behind a tty fd (a /dev/tty fd names its pty this way). */
static int tty_dev(int fd, dev_t *dev)
{
	unsigned int d;

	if (ioctl(fd, TIOCGDEV, &d))
		return -1;
	*dev = makedev((d >> 8) & 0xfff, (d & 0xff) | ((d >> 12) & 0xfff00));
	return 0;
}

int tty_is_pty(pid_t pid, int fd, const struct stat *st)
{
	dev_t dev;
	int dup, ret;

	if (is_ptmx(st) || (S_ISCHR(st->st_mode) && is_pts_dev(st->st_rdev)))
		return 1;
	if (!is_dev_tty(st))
		return 0;
	dup = task_fd(pid, fd);
	if (dup < 0)
		return 0;
	ret = !tty_dev(dup, &dev) && is_pts_dev(dev);
	close(dup);
	return ret;
}

/* ---- dump ---- */

/* What the dump learnt about pty N from all its fds. */
struct dump_pty {
	uint32_t index;
	dev_t devpts;		/* the devpts instance (its st_dev), 0 while unknown */
	TtyEntry *master;
	int nr_slaves;		/* slave and /dev/tty descriptions */
};

/* The ptys of the dump (file_table.ttys). */
struct tty_dump {
	struct hmap by_index;	/* pty index -> position in p */
	struct dump_pty *p;
	size_t nr;
	int has_orphan;		/* --orphan-pts-master: the one pty whose master is made anew */
	uint32_t orphan_index;
};

/* stat's tty_nr is the kernel's encoding of dev_t: minor bits 0-7 and 20-31, major bits 8-19 */
static dev_t tty_nr_dev(unsigned int nr)
{
	return makedev((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
}


static struct dump_pty *find_pty(struct file_table *ft, uint32_t index)
{
	uint64_t *pos = ft->ttys ? hmap_get(&ft->ttys->by_index, index) : NULL;

	return pos ? &ft->ttys->p[*pos] : NULL;
}

static struct dump_pty *dump_pty(struct file_table *ft, uint32_t index)
{
	struct dump_pty *dp = find_pty(ft, index), *n;
	struct tty_dump *td;

	if (dp)
		return dp;
	if (index >= MAX_PTYS) {
		/* the restore opens ptmx until it gets this index */
		pr_err("pts %u: an index above %d is more than we make again\n", index, MAX_PTYS - 1);
		return NULL;
	}
	if (!ft->ttys && !(ft->ttys = calloc(1, sizeof(*ft->ttys))))
		goto oom;
	td = ft->ttys;
	n = realloc(td->p, (td->nr + 1) * sizeof(*n));
	if (!n)
		goto oom;
	td->p = n;
	if (hmap_put(&td->by_index, index, td->nr))
		goto oom;
	td->p[td->nr] = (struct dump_pty){ .index = index };
	return &td->p[td->nr++];
oom:
	pr_err("out of memory\n");
	return NULL;
}

void tty_dump_free(struct file_table *ft)
{
	if (!ft->ttys)
		return;
	hmap_free(&ft->ttys->by_index);
	free(ft->ttys->p);
	free(ft->ttys);
	ft->ttys = NULL;
}

static char *slave_path(const char *master, uint32_t index)
{
	const char *slash = strrchr(master, '/');
	char buf[4200];

	/* /dev/ptmx serves the devpts at /dev/pts; a devpts's own ptmx its directory */
	if (!strcmp(master, "/dev/ptmx") || !slash)
		snprintf(buf, sizeof(buf), "/dev/pts/%u", index);
	else
		snprintf(buf, sizeof(buf), "%.*s/%u", (int)(slash - master), master, index);
	return strdup(buf);
}

static int fill_info(pid_t pid, int fd, int m, TtyEntry *te, dev_t *inst)
{
	struct pollfd pfd = { .fd = m, .events = POLLIN | POLLPRI };
	TtyInfo *ti = calloc(1, sizeof(*ti));
	struct termios2 t;
	struct winsize ws;
	int pkt = 0, lck = 0, excl = 0, ldisc = 0;
	pid_t sid = 0, pgrp = 0;
	struct stat st;
	char at[PATH_MAX + 64];

	if (!ti)
		return -1;
	tty_info__init(ti);
	te->info = ti;
	if (ioctl(m, TCGETS2, &t) || ioctl(m, TIOCGWINSZ, &ws) || ioctl(m, TIOCGPKT, &pkt) ||
	    ioctl(m, TIOCGPTLCK, &lck) || ioctl(m, TIOCGEXCL, &excl) || ioctl(m, TIOCGETD, &ldisc) ||
	    ioctl(m, TIOCGPGRP, &pgrp) || poll(&pfd, 1, 0) < 0) {
		pr_perror("can't read the state of pts %u (fd %d of %d)", te->index, fd, pid);
		return -1;
	}
	if (ioctl(m, TIOCGSID, &sid)) {
		if (errno != ENOTTY) {
			pr_perror("TIOCGSID on pts %u", te->index);
			return -1;
		}
		sid = pgrp = 0;	/* nobody's controlling terminal */
	}
	if (ldisc != N_TTY) {
		pr_err("can't dump task %d: fd %d is the master of pts %u with line discipline %d; only N_TTY "
		       "is supported\n", pid, fd, te->index, ldisc);
		return -1;
	}
	if (pkt && (pfd.revents & POLLPRI)) {
		pr_err("can't dump task %d: fd %d is the master of pts %u in packet mode with a status byte "
		       "nobody read; not supported\n", pid, fd, te->index);
		return -1;
	}
	ti->iflag = t.c_iflag;
	ti->oflag = t.c_oflag;
	ti->cflag = t.c_cflag;
	ti->lflag = t.c_lflag;
	ti->line = t.c_line;
	ti->cc.data = malloc(sizeof(t.c_cc));
	if (!ti->cc.data)
		return -1;
	memcpy(ti->cc.data, t.c_cc, sizeof(t.c_cc));
	ti->cc.len = sizeof(t.c_cc);
	ti->ispeed = t.c_ispeed;
	ti->ospeed = t.c_ospeed;
	ti->rows = ws.ws_row;
	ti->cols = ws.ws_col;
	ti->xpixel = ws.ws_xpixel;
	ti->ypixel = ws.ws_ypixel;
	ti->packet = !!pkt;
	ti->locked = !!lck;
	ti->excl_master = !!excl;
	ti->sid = sid;
	ti->pgrp = pgrp;
	ti->slave_closed = !!(pfd.revents & POLLHUP);
	ti->slave_path = slave_path(te->path, te->index);
	if (!ti->slave_path)
		return -1;
	if (stat(mntns_path(ti->slave_path, at, sizeof(at)), &st) || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != pts_dev(te->index)) {
		pr_err("can't dump task %d: the slave of pts %u (fd %d) is not at %s\n", pid, te->index, fd,
		       ti->slave_path);
		return -1;
	}
	*inst = st.st_dev;
	ti->uid = st.st_uid;
	ti->gid = st.st_gid;
	if (ns_owner_inside(&ti->uid, &ti->gid, ti->slave_path))
		return -1;
	ti->mode = st.st_mode & 07777;
	return 0;
}

static void free_tty(FileEntry *fe);

static int dump_tty(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[4096];
	TtyEntry *te = calloc(1, sizeof(*te));
	struct dump_pty *dp;
	struct stat st;
	dev_t minst = 0;
	int dup = -1;

	if (!te)
		goto err;
	tty_entry__init(te);
	fe->tty = te;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0 || stat(path, &st))
		goto err;
	te->path = strdup(link);
	te->flags = fi->flags & ~O_CLOEXEC;
	dup = task_fd(pid, fd);
	if (!te->path || dup < 0)
		goto err;
	if (is_ptmx(&st)) {
		unsigned int n;

		te->type = TTY_TYPE__TTY_MASTER;
		if (ioctl(dup, TIOCGPTN, &n)) {
			pr_perror("can't dump task %d: fd %d (%s) is a pty master that doesn't tell its index", pid,
				  fd, link);
			goto fail;
		}
		te->index = n;
		if (fill_info(pid, fd, dup, te, &minst))
			goto fail;
	} else {
		dev_t dev = st.st_rdev;

		te->type = is_dev_tty(&st) ? TTY_TYPE__TTY_CURRENT : TTY_TYPE__TTY_SLAVE;
		if ((is_dev_tty(&st) && tty_dev(dup, &dev)) || !is_pts_dev(dev)) {
			pr_perror("can't dump task %d: fd %d (%s) is a terminal that is not a pty (or hung up)", pid,
				  fd, link);
			goto fail;
		}
		te->index = pts_index(dev);
	}
	dp = dump_pty(ft, te->index);
	if (!dp)
		goto fail;
	/*
	 * ptys are known by their index: two devpts instances (a container's
	 * and the host's) can each have pts N. The instance is the slave's
	 * st_dev (the master's: of the slave at its path, fill_info()).
	 */
	dev_t inst = te->type == TTY_TYPE__TTY_SLAVE ? st.st_dev : te->type == TTY_TYPE__TTY_MASTER ? minst : 0;

	if (inst && dp->devpts && inst != dp->devpts) {
		pr_err("can't dump task %d: fd %d (%s) is pts %u of another devpts instance than another pts %u of "
		       "the tree; not supported\n", pid, fd, link, te->index, te->index);
		goto fail;
	}
	if (inst)
		dp->devpts = inst;
	if (te->type == TTY_TYPE__TTY_MASTER)
		dp->master = te;
	else
		dp->nr_slaves++;
	close(dup);
	pr_debug("fd %d of %d: pts %u, %s\n", fd, pid, te->index,
		 te->type == TTY_TYPE__TTY_MASTER ? "master" : te->type == TTY_TYPE__TTY_SLAVE ? "slave" : "/dev/tty");
	return 0;
err:
	pr_perror("can't dump the terminal at fd %d of %d", fd, pid);
fail:
	if (dup >= 0)
		close(dup);
	free_tty(fe);
	return -1;
}

/* The slave side, looked at once we know both ends are ours: a shell job's terminal is left alone. */
static int check_slave(struct file_desc *d, TtyInfo *ti)
{
	int s = task_fd(d->owner_pid, d->owner_fd), ldisc = 0, excl = 0;

	if (s < 0)
		return -1;
	if (ioctl(s, TIOCGETD, &ldisc) || ioctl(s, TIOCGEXCL, &excl)) {
		pr_perror("can't dump task %d: can't read the state of pts %u at fd %d (hung up?)", d->owner_pid,
			  d->fe.tty->index, d->owner_fd);
		close(s);
		return -1;
	}
	close(s);
	if (ldisc != N_TTY) {
		pr_err("can't dump task %d: fd %d is pts %u with line discipline %d; only N_TTY is supported\n",
		       d->owner_pid, d->owner_fd, d->fe.tty->index, ldisc);
		return -1;
	}
	ti->excl_slave = ti->excl_slave || excl;
	return 0;
}

static const struct tty_proc *find_proc(const struct tty_proc *p, int nr, pid_t pid)
{
	for (int i = 0; i < nr; i++)
		if (p[i].pid == pid)
			return &p[i];
	return NULL;
}

/* Where pts @index is: the slave's own path if it names it in a devpts, else /dev/pts/N (a /dev/console bind). */
static char *orphan_slave_path(const char *link, uint32_t index)
{
	const char *slash = strrchr(link, '/');
	char buf[4200];

	if (slash && slash > link && strtoul(slash + 1, NULL, 10) == index && !strncmp(slash - 4, "/pts", 4))
		return strdup(link);
	snprintf(buf, sizeof(buf), "/dev/pts/%u", index);
	return strdup(buf);
}

/*
 * What the master would tell of pty @te, read through slave @s: termios,
 * window size, modes of the slave side. The session is the tree's leader
 * whose terminal it is, the foreground group what that leader's stat says.
 * Packet mode and the lock are the master's own: the client's business.
 */
static int orphan_info(int s, TtyEntry *te, const char *link, const struct tty_proc *p, int nr)
{
	TtyInfo *ti = calloc(1, sizeof(*ti));
	dev_t dev = pts_dev(te->index);
	struct termios2 t;
	struct winsize ws;
	struct stat st;
	int ldisc = 0, queued = 0;

	if (!ti)
		return -1;
	tty_info__init(ti);
	te->info = ti;
	if (ioctl(s, TCGETS2, &t) || ioctl(s, TIOCGWINSZ, &ws) || ioctl(s, TIOCGETD, &ldisc) ||
	    ioctl(s, FIONREAD, &queued) || fstat(s, &st)) {
		pr_perror("can't read the state of pts %u through its slave", te->index);
		return -1;
	}
	if (ldisc != N_TTY) {
		pr_err("can't dump: pts %u has line discipline %d; only N_TTY is supported\n", te->index, ldisc);
		return -1;
	}
	/* input the slave has not read can't be read without taking it */
	if (queued) {
		pr_err("can't dump: pts %u, whose master is outside the tree, has %d bytes of input queued that "
		       "nobody read\n", te->index, queued);
		return -1;
	}
	ti->iflag = t.c_iflag;
	ti->oflag = t.c_oflag;
	ti->cflag = t.c_cflag;
	ti->lflag = t.c_lflag;
	ti->line = t.c_line;
	ti->cc.data = malloc(sizeof(t.c_cc));
	if (!ti->cc.data)
		return -1;
	memcpy(ti->cc.data, t.c_cc, sizeof(t.c_cc));
	ti->cc.len = sizeof(t.c_cc);
	ti->ispeed = t.c_ispeed;
	ti->ospeed = t.c_ospeed;
	ti->rows = ws.ws_row;
	ti->cols = ws.ws_col;
	ti->xpixel = ws.ws_xpixel;
	ti->ypixel = ws.ws_ypixel;
	ti->uid = st.st_uid;
	ti->gid = st.st_gid;
	/* the restore gives the slave its owner from inside the tree's user namespace */
	if (ns_owner_inside(&ti->uid, &ti->gid, "the slave of an orphan pts master"))
		return -1;
	ti->mode = st.st_mode & 07777;
	for (int i = 0; i < nr; i++) {
		dev_t ctty = tty_nr_dev(p[i].tty_nr);

		if (!p[i].zombie && p[i].sid == p[i].pid && p[i].tty_nr && ctty == dev) {
			ti->sid = p[i].pid;
			ti->pgrp = p[i].tpgid > 0 ? p[i].tpgid : 0;
		}
	}
	ti->slave_path = orphan_slave_path(link, te->index);
	return ti->slave_path ? 0 : -1;
}

/*
 * --orphan-pts-master: a slave of the tree whose master is held outside
 * (runc's and crun's console): a master entry of our own, made anew at
 * restore and handed to the swrk client. One such pty at most: the
 * notification carries one master.
 */
static int orphan_master(struct file_table *ft, size_t i, struct dump_pty *dp, const struct tty_proc *p, int nr)
{
	struct file_desc *d = &ft->d[i], *m;
	TtyEntry *te;
	char *slash;
	int s;

	if (ft->ttys->has_orphan && ft->ttys->orphan_index != d->fe.tty->index) {
		pr_err("can't dump: pts %u and pts %u both have their master outside the tree; "
		       "--orphan-pts-master hands over one\n", ft->ttys->orphan_index, d->fe.tty->index);
		return -1;
	}
	ft->ttys->has_orphan = 1;
	ft->ttys->orphan_index = d->fe.tty->index;
	te = calloc(1, sizeof(*te));
	s = task_fd(d->owner_pid, d->owner_fd);
	if (!te || s < 0) {
		free(te);
		if (s >= 0)
			close(s);
		return -1;
	}
	tty_entry__init(te);
	te->type = TTY_TYPE__TTY_MASTER;
	te->index = d->fe.tty->index;
	te->flags = O_RDWR;
	te->has_orphan = te->orphan = true;
	if (orphan_info(s, te, d->fe.tty->path, p, nr)) {
		close(s);
		goto err;
	}
	close(s);
	/* the devpts's ptmx; /dev/pts is served by /dev/ptmx */
	slash = strrchr(te->info->slave_path, '/');
	if (!strncmp(te->info->slave_path, "/dev/pts/", 9) && slash == te->info->slave_path + 8)
		te->path = strdup("/dev/ptmx");
	else if (asprintf(&te->path, "%.*s/ptmx", (int)(slash - te->info->slave_path), te->info->slave_path) < 0)
		te->path = NULL;
	if (!te->path)
		goto err;
	m = file_desc_new(ft);	/* may move the table: d is stale from here */
	if (!m)
		goto err;
	m->fe.type = FILE_TYPE__FT_TTY;
	m->fe.id = m->id;
	m->fe.tty = te;
	m->owner_pid = 0;
	ft->nr++;
	dp->master = te;
	pr_info("pts %u: its master is outside the tree; a new one is made at restore (file %u)\n", te->index, m->id);
	return 0;
err:
	if (te->info) {
		free(te->info->cc.data);
		free(te->info->slave_path);
		free(te->info);
	}
	free(te->path);
	free(te);
	return -1;
}

/* A slave whose master is outside: the caller's terminal with --shell-job, else refused. */
static int outside_master(struct file_desc *d)
{
	TtyEntry *te = d->fe.tty;

	if (!opts.shell_job || te->type == TTY_TYPE__TTY_MASTER) {
		pr_err("can't dump task %d: fd %d is pts %u (%s), whose master is outside the dump (use "
		       "--shell-job if it is the caller's terminal, --orphan-pts-master if a client of criu swrk "
		       "takes a new master)\n", d->owner_pid, d->owner_fd, te->index, te->path);
		return -1;
	}
	d->reg.path = strdup(te->path);
	if (!d->reg.path)
		return -1;
	d->reg.flags = te->flags;
	d->reg.mode = d->st.st_mode;
	/* /dev/tty stays /dev/tty: opened again, it is the caller's terminal of the restore too */
	d->fe.type = te->type == TTY_TYPE__TTY_CURRENT ? FILE_TYPE__FT_REG : FILE_TYPE__FT_TTY_SHELL;
	d->reg.has_rdev = true;
	d->reg.rdev = d->st.st_rdev;
	free_tty(&d->fe);
	return 0;
}

static int check_session(const TtyEntry *m, const struct tty_proc *p, int nr)
{
	const TtyInfo *ti = m->info;
	const struct tty_proc *l, *g;

	if (!ti->sid)
		return 0;
	l = find_proc(p, nr, ti->sid);
	if (!l || l->zombie || l->sid != l->pid) {
		pr_err("can't dump: pts %u is the controlling terminal of session %d, which is not led from inside "
		       "the dump\n", m->index, ti->sid);
		return -1;
	}
	if (!ti->pgrp || ti->pgrp == ti->sid)
		return 0;
	g = find_proc(p, nr, ti->pgrp);
	if (!g || g->zombie || g->pgid != g->pid || g->sid != ti->sid) {
		pr_err("can't dump: the foreground group %d of pts %u (session %d) has no live leader in the "
		       "dump\n", ti->pgrp, m->index, ti->sid);
		return -1;
	}
	return 0;
}

/* Take the bytes queued in the pty of master @d (both ends are in the dump) into its image. */
static int save_queues(struct file_desc *d)
{
	TtyInfo *ti = d->fe.tty->info;
	struct ttyq_ctx c = { .pid = d->owner_pid, .fd = d->owner_fd, .index = d->fe.tty->index,
			      .packet = ti->packet, .locked = ti->locked };
	int m = task_fd(d->owner_pid, d->owner_fd), ret;
	char at[PATH_MAX + 64];
	struct file_times times;
	const char *here;
	struct ttyq q;

	if (m < 0)
		return -1;
	/* the reads and writes that take the queues and put them back would change the node's times */
	mntns_dump_task(d->owner_pid);
	here = mntns_path(ti->slave_path, at, sizeof(at));
	times_save(here, &times);
	c.node = here;		/* the reader puts them back: it finishes with criu killed */
	c.times = &times;
	ret = ttyq_dump(&c, m, &q);
	close(m);
	if (ret)
		return -1;
	if (times.valid) {
		ti->has_atime_sec = ti->has_atime_nsec = ti->has_mtime_sec = ti->has_mtime_nsec = true;
		ti->atime_sec = times.ts[0].tv_sec;
		ti->atime_nsec = times.ts[0].tv_nsec;
		ti->mtime_sec = times.ts[1].tv_sec;
		ti->mtime_nsec = times.ts[1].tv_nsec;
	}
	/* the image takes the buffers over; an empty one's is not the image's to free (free_tty() looks at has_*) */
	if (!q.in.len) {
		free(q.in.data);
		q.in.data = NULL;
	}
	if (!q.out.len) {
		free(q.out.data);
		q.out.data = NULL;
	}
	if (!q.partial.len) {
		free(q.partial.data);
		q.partial.data = NULL;
	}
	ti->has_in_queue = !!q.in.len;
	ti->in_queue.data = q.in.data;
	ti->in_queue.len = q.in.len;
	ti->has_out_queue = !!q.out.len;
	ti->out_queue.data = q.out.data;
	ti->out_queue.len = q.out.len;
	ti->has_in_partial = !!q.partial.len;
	ti->in_partial.data = q.partial.data;
	ti->in_partial.len = q.partial.len;
	q.in.data = q.out.data = q.partial.data = NULL;
	ti->in_lines = calloc(q.nr_lines + 1, sizeof(*ti->in_lines));
	if (!ti->in_lines) {
		ttyq_free(&q);
		return -1;
	}
	for (size_t i = 0; i < q.nr_lines; i++) {
		TtyLine *l = malloc(sizeof(*l));

		if (!l) {
			ttyq_free(&q);
			return -1;
		}
		tty_line__init(l);
		l->data.data = q.lines[i].b.data;
		l->data.len = q.lines[i].b.len;
		l->has_eof = l->eof = q.lines[i].eof;
		q.lines[i].b.data = NULL;
		ti->in_lines[ti->n_in_lines++] = l;
	}
	ttyq_free(&q);
	return 0;
}

/* Every session leader's controlling terminal must be a pty of the dump that knows it. */
static int check_cttys(struct file_table *ft, const struct tty_proc *p, int nr)
{
	for (int i = 0; i < nr; i++) {
		dev_t dev = tty_nr_dev(p[i].tty_nr);
		struct dump_pty *dp = NULL;

		if (p[i].zombie || p[i].sid != p[i].pid || !p[i].tty_nr)
			continue;
		if (is_pts_dev(dev))
			dp = find_pty(ft, pts_index(dev));
		/* a terminal given with --external tty[...] (LXC's console): given back by --inherit-fd */
		if ((!dp || !dp->master) &&
		    !external_set_ctty(ft, dev, p[i].pid, p[i].tpgid > 0 ? p[i].tpgid : p[i].pid))
			continue;
		if (!dp || !dp->master || dp->master->info->sid != p[i].pid) {
			pr_err("can't dump task %d: its session's controlling terminal (%u:%u) is not a pty whose "
			       "master is in the dump; not supported\n", p[i].pid, major(dev), minor(dev));
			return -1;
		}
	}
	return 0;
}

int tty_check_tree(struct file_table *ft, const struct tty_proc *p, int nr)
{
	for (size_t i = 0; i < ft->nr; i++) {
		struct file_desc *d = &ft->d[i];
		struct dump_pty *dp;
		TtyEntry *te = d->fe.tty;

		if (d->fe.type != FILE_TYPE__FT_TTY || !te)
			continue;
		dp = dump_pty(ft, te->index);
		if (!dp)
			return -1;
		if (!dp->master && opts.orphan_pts_master && !opts.shell_job && te->type != TTY_TYPE__TTY_MASTER) {
			if (orphan_master(ft, i, dp, p, nr))
				return -1;
			d = &ft->d[i];
		}
		if (!dp->master) {
			if (outside_master(d))
				return -1;
			continue;
		}
		if (te->type == TTY_TYPE__TTY_MASTER && te->orphan)
			continue;
		if (te->type == TTY_TYPE__TTY_MASTER) {
			if (!te->info->slave_closed && !dp->nr_slaves) {
				pr_err("can't dump task %d: fd %d is the master of pts %u, whose slave is open outside "
				       "the dump (or was never opened); not supported\n", d->owner_pid, d->owner_fd,
				       te->index);
				return -1;
			}
			if (check_session(te, p, nr) || save_queues(d))
				return -1;
			continue;
		}
		if (check_slave(d, dp->master->info))
			return -1;
		if (te->type == TTY_TYPE__TTY_CURRENT) {
			const struct tty_proc *h = find_proc(p, nr, d->owner_pid);

			if (!h || h->sid != dp->master->info->sid) {
				pr_err("can't dump task %d: fd %d is /dev/tty of pts %u, which is not the controlling "
				       "terminal of its session; not supported\n", d->owner_pid, d->owner_fd, te->index);
				return -1;
			}
		}
	}
	return check_cttys(ft, p, nr);
}

/* ---- restore ---- */

/* The key of a pty's count of slaves opened here, in fd_rst.made. */
#define MADE_PTY	(1ULL << 62)

static int tty_prepare(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];

		if (fe->type != FILE_TYPE__FT_TTY || !fe->tty || fe->tty->type != TTY_TYPE__TTY_MASTER ||
		    !fe->tty->info)
			continue;
		if (hmap_get(&rf->pty_masters, fe->tty->index)) {
			pr_err("files.img: pts %u has two masters\n", fe->tty->index);
			return -1;
		}
		if (hmap_put(&rf->pty_masters, fe->tty->index, fe->id)) {
			pr_err("out of memory\n");
			return -1;
		}
	}
	return 0;
}

static FileEntry *find_master(struct rst_files *rf, uint32_t index)
{
	uint64_t *id = hmap_get(&rf->pty_masters, index);

	if (!id)
		pr_err("files.img: pts %u has no master with its state\n", index);
	return id ? find_file(rf, *id) : NULL;
}

/* Open ptmx until the kernel hands out @index (it gives the lowest free one). */
static int open_ptmx_at(const TtyEntry *te)
{
	int *extra = malloc((te->index + 1) * sizeof(int)), nr = 0, fd = -1;

	if (!extra)
		return -1;
	while (nr <= (int)te->index) {
		unsigned int n;
		int m = open(te->path, (te->flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC);

		if (m < 0 || ioctl(m, TIOCGPTN, &n)) {
			pr_perror("can't open %s for pts %u", te->path, te->index);
			if (m >= 0)
				close(m);
			break;
		}
		if (n == te->index) {
			fd = m;
			break;
		}
		extra[nr++] = m;
		if (n > te->index) {
			pr_err("can't restore pts %u: it is in use by someone else\n", te->index);
			break;
		}
	}
	while (nr)
		close(extra[--nr]);
	free(extra);
	return fd;
}

static int setup_pty(int m, const TtyEntry *te)
{
	const TtyInfo *ti = te->info;
	struct winsize ws = { .ws_row = ti->rows, .ws_col = ti->cols, .ws_xpixel = ti->xpixel,
			      .ws_ypixel = ti->ypixel };
	struct ttyq q = {
		.in = { ti->in_queue.data, ti->has_in_queue ? ti->in_queue.len : 0 },
		.out = { ti->out_queue.data, ti->has_out_queue ? ti->out_queue.len : 0 },
		.partial = { ti->in_partial.data, ti->has_in_partial ? ti->in_partial.len : 0 },
	};
	struct termios2 t = { 0 };
	int zero = 0, one = 1, ret;

	t.c_iflag = ti->iflag;
	t.c_oflag = ti->oflag;
	t.c_cflag = ti->cflag;
	t.c_lflag = ti->lflag;
	t.c_line = ti->line;
	memcpy(t.c_cc, ti->cc.data, ti->cc.len < sizeof(t.c_cc) ? ti->cc.len : sizeof(t.c_cc));
	t.c_ispeed = ti->ispeed;
	t.c_ospeed = ti->ospeed;
	if (ioctl(m, TIOCSPTLCK, &zero) || ioctl(m, TCSETS2, &t) || ioctl(m, TIOCSWINSZ, &ws)) {
		pr_perror("can't give pts %u its state", te->index);
		return -1;
	}
	/* before packet mode: switching processing off and on could post status bytes */
	q.lines = calloc(ti->n_in_lines + 1, sizeof(*q.lines));
	if (!q.lines)
		return -1;
	for (size_t i = 0; i < ti->n_in_lines; i++)
		q.lines[q.nr_lines++] = (struct ttyq_line){ { ti->in_lines[i]->data.data, ti->in_lines[i]->data.len },
							    ti->in_lines[i]->has_eof && ti->in_lines[i]->eof };
	ret = ttyq_restore(m, te->index, &q);
	free(q.lines);
	if (ret)
		return -1;
	if ((ti->packet && ioctl(m, TIOCPKT, &one)) || (ti->excl_master && ioctl(m, TIOCEXCL))) {
		pr_perror("can't give pts %u its modes", te->index);
		return -1;
	}
	if (chown(ti->slave_path, ti->uid, ti->gid) || chmod(ti->slave_path, ti->mode)) {
		pr_perror("can't give %s its owner and mode", ti->slave_path);
		return -1;
	}
	if (ti->has_atime_sec && ti->has_mtime_sec) {
		struct file_times times = { 1, { { ti->atime_sec, ti->atime_nsec }, { ti->mtime_sec, ti->mtime_nsec } } };

		times_put_back(ti->slave_path, &times);
	}
	return 0;
}

/* The pty of master @fe made again, here: its master fd. */
static int make_pty(struct fd_rst *c, FileEntry *fe)
{
	uint32_t *n;
	int m;

	if (fe->tty->index >= MAX_PTYS) {
		pr_err("pts %u: more ptys than we make again\n", fe->tty->index);
		return -1;
	}
	n = realloc(c->ptys, (c->nr_ptys + 1) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	c->ptys = n;
	/* a bind of /dev/pts/N (say, runc's /dev/console) needed the pty made with the mounts */
	m = fe->tty->info ? mntns_take_pty(fe->tty->info->slave_path, fe->tty->index) : -1;
	if (m >= 0 && (fe->tty->flags & O_ACCMODE) != O_RDWR)
		pr_warn("pts %u: its master was opened with flags %o, made again read-write for a bind of it\n",
			fe->tty->index, fe->tty->flags);
	if (m < 0)
		m = open_ptmx_at(fe->tty);
	if (m < 0)
		return -1;
	if (setup_pty(m, fe->tty)) {
		close(m);
		return -1;
	}
	c->ptys[c->nr_ptys++] = fe->id;
	pr_info("pts %u made again\n", fe->tty->index);
	return m;
}

static int set_flags(int fd, const TtyEntry *te)
{
	if (fcntl(fd, F_SETFL, te->flags & (O_NONBLOCK | O_APPEND))) {
		pr_perror("can't set the flags of pts %u", te->index);
		close(fd);
		return -1;
	}
	return fd;
}

/* /dev/tty is opened in the session whose terminal it is; a slave is held open meanwhile. */
static int open_current(struct rst_files *rf, const TtyEntry *te)
{
	FileEntry *m = find_master(rf, te->index);
	int keep, fd;
	dev_t dev;

	if (!m)
		return -1;
	keep = open(m->tty->info->slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (keep < 0) {
		pr_perror("can't open %s", m->tty->info->slave_path);
		return -1;
	}
	/* O_ASYNC comes with the owner (restore_fown()): opened with it, the tty's fasync is never armed */
	fd = open("/dev/tty", (te->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_ASYNC)) | O_NOCTTY | O_CLOEXEC);
	close(keep);
	if (fd < 0) {
		pr_perror("can't open /dev/tty of pts %u", te->index);
		return -1;
	}
	if (tty_dev(fd, &dev) || dev != pts_dev(te->index)) {
		pr_err("/dev/tty here is not pts %u\n", te->index);
		close(fd);
		return -1;
	}
	return fd;
}

static int open_tty(struct fd_rst *c, FileEntry *fe)
{
	TtyEntry *te = fe->tty;
	FileEntry *m;
	uint64_t *slaves;
	int fd;

	if (!te) {
		pr_err("file %u: a bad tty record\n", fe->id);
		return -1;
	}
	if (te->type == TTY_TYPE__TTY_CURRENT)
		return open_current(c->rf, te);
	if (te->type == TTY_TYPE__TTY_MASTER) {
		/* a master: made once (its slaves need it); another description of it is refused at dump */
		if (!te->info) {
			pr_err("file %u: pts %u's master has no state\n", fe->id, te->index);
			return -1;
		}
		fd = make_pty(c, fe);
		return fd < 0 ? -1 : set_flags(fd, te);
	}
	m = find_master(c->rf, te->index);
	if (!m || fd_rst_get(c, m->id) < 0)
		return -1;
	/*
	 * By path, not TIOCGPTPEER: that one leaves O_CLOEXEC in the file's
	 * flags and no O_LARGEFILE. By its own path when that is another name
	 * of the pty (a bind of it, such as runc's /dev/console).
	 */
	fd = -1;
	if (te->path && strcmp(te->path, m->tty->info->slave_path)) {
		struct stat st;

		fd = open(te->path, (te->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_ASYNC)) | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) || st.st_rdev != pts_dev(te->index))) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		fd = open(m->tty->info->slave_path, (te->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_ASYNC)) | O_NOCTTY |
			  O_CLOEXEC);
	if (fd < 0 || (m->tty->info->excl_slave && ioctl(fd, TIOCEXCL))) {
		pr_perror("can't open the slave of pts %u", te->index);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	slaves = hmap_get_or_put(&c->made, MADE_PTY | te->index, 0, NULL);
	if (!slaves) {
		pr_err("out of memory\n");
		close(fd);
		return -1;
	}
	(*slaves)++;
	return fd;
}

/* TIOCSPGRP from a background group would stop us with SIGTTOU. */
static int set_fg(int m, pid_t pgrp, uint32_t index)
{
	sigset_t ttou, old;
	int ret;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	ret = ioctl(m, TIOCSPGRP, &pgrp);
	if (ret)
		pr_perror("can't make group %d the foreground of pts %u", pgrp, index);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* An external terminal (--inherit-fd) that was a session's controlling terminal. */
static int tty_restore_ext_ctty(struct fd_rst *c, pid_t sid, pid_t pgrp, pid_t me)
{
	const ExtFileEntry *e;
	pid_t pid = c->pid;
	int fd;

	for (size_t i = 0; (e = external_file(i)); i++) {
		if (!e->has_ctty_sid || !sid || ns_pid_view(pid, e->ctty_sid) != sid)
			continue;
		if (e->ctty_sid == pid) {
			fd = fd_rst_get(c, e->id);
			if (fd < 0 || ioctl(fd, TIOCSCTTY, 0)) {
				pr_perror("can't make %s the controlling terminal of session %d", e->name, pid);
				return -1;
			}
			pr_info("%s: the controlling terminal of session %d\n", e->name, pid);
		} else if (e->has_ctty_pgrp && e->ctty_pgrp == pid && pgrp == me) {
			fd = fd_rst_get(c, e->id);
			if (fd < 0 || set_fg(fd, me, 0))
				return -1;
		}
	}
	return 0;
}

int tty_restore_session(struct fd_rst *c)
{
	/* getsid() and getpgrp() answer in our pid namespace: the images' pids are seen from there too */
	pid_t sid = getsid(0), pgrp = getpgrp(), pid = c->pid, me = ns_pid_view(pid, pid);
	struct rst_files *rf = c->rf;

	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		TtyInfo *ti = fe->type == FILE_TYPE__FT_TTY && fe->tty && fe->tty->type == TTY_TYPE__TTY_MASTER ?
			      fe->tty->info : NULL;
		int m;

		if (!ti || !ti->sid || !sid || ns_pid_view(pid, ti->sid) != sid)
			continue;
		if (ti->sid == pid) {
			m = fd_rst_get(c, fe->id);
			if (m < 0 || ioctl(m, TIOCSCTTY, 0)) {
				pr_perror("can't make pts %u the controlling terminal of session %d", fe->tty->index, pid);
				return -1;
			}
			pr_info("pts %u: the controlling terminal of session %d\n", fe->tty->index, pid);
		} else if (ti->pgrp == pid && pgrp == me) {
			m = fd_rst_get(c, fe->id);
			if (m < 0 || set_fg(m, me, fe->tty->index))
				return -1;
		}
	}
	return tty_restore_ext_ctty(c, sid, pgrp, me);
}

/* ---- --orphan-pts-master at restore ---- */

static int orphan_task_sk = -1, orphan_main_sk = -1;

int tty_orphan_prepare(struct rst_files *rf)
{
	int sk[2];
	const TtyEntry *te = NULL;

	for (size_t i = 0; i < rf->nr && !te; i++)
		if (rf->fe[i]->type == FILE_TYPE__FT_TTY && rf->fe[i]->tty && rf->fe[i]->tty->orphan)
			te = rf->fe[i]->tty;
	if (!te)
		return 0;
	if (!opts.orphan_pts_master) {
		pr_err("can't restore: the master of pts %u was outside the tree (dumped with --orphan-pts-master); "
		       "restore with --orphan-pts-master too\n", te->index);
		return -1;
	}
	/* a script can't take an fd: only a swrk client listening to notifications gets the master */
	if (!rpc_notify_wanted()) {
		pr_err("can't restore pts %u: its new master goes to the client in the orphan-pts-master "
		       "notification, and only criu swrk with notify_scripts has a client to take it\n", te->index);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't make a socket for the orphan pty master");
		return -1;
	}
	orphan_main_sk = sk[0];
	orphan_task_sk = sk[1];
	return 0;
}

int tty_orphan_task_sk(void)
{
	return orphan_task_sk;
}

void tty_orphan_set_task_sk(int fd)
{
	orphan_task_sk = fd;
}

/* In the task that made the pty: its master to criu, which hands it over. */
static int send_orphan(int m, uint32_t index)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	uint32_t idx = index;
	struct iovec iov = { .iov_base = &idx, .iov_len = sizeof(idx) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *ch;

	memset(&c, 0, sizeof(c));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &m, sizeof(int));
	if (orphan_task_sk < 0 || sendmsg(orphan_task_sk, &mh, MSG_NOSIGNAL) != sizeof(idx)) {
		pr_perror("can't pass the new master of pts %u to criu", index);
		return -1;
	}
	return 0;
}

int tty_orphan_notify(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	uint32_t idx;
	struct iovec iov = { .iov_base = &idx, .iov_len = sizeof(idx) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *ch;
	int m = -1, ret;

	if (orphan_main_sk < 0)
		return 0;
	if (recvmsg(orphan_main_sk, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != sizeof(idx)) {
		pr_perror("the new master of the orphan pty never came");
		return -1;
	}
	ch = CMSG_FIRSTHDR(&mh);
	if (ch && ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS)
		memcpy(&m, CMSG_DATA(ch), sizeof(int));
	if (m < 0) {
		pr_err("the new master of pts %u came without its fd\n", idx);
		return -1;
	}
	pr_info("pts %u: its new master goes to the client\n", idx);
	ret = run_hook(HOOK_ORPHAN_PTS_MASTER, 0, m);
	close(m);
	return ret;
}

void tty_orphan_fini(void)
{
	if (orphan_main_sk >= 0)
		close(orphan_main_sk);
	if (orphan_task_sk >= 0)
		close(orphan_task_sk);
	orphan_main_sk = orphan_task_sk = -1;
}

static int tty_restore_fini(struct fd_rst *c)
{
	int ret = 0;

	for (size_t i = 0; i < c->nr_ptys; i++) {
		FileEntry *fe = find_file(c->rf, c->ptys[i]);
		const TtyInfo *ti = fe->tty->info;
		uint64_t *slaves = hmap_get(&c->made, MADE_PTY | fe->tty->index);
		int m = fd_rst_have(c, fe->id), one = 1;

		if (m < 0) {
			pr_err("pts %u: its master is gone before its restore ended\n", fe->tty->index);
			ret = -1;
			continue;
		}
		/* nobody in the tree holds this master: the client takes it (ours is closed with the kept ones) */
		if (fe->tty->orphan) {
			if (send_orphan(m, fe->tty->index))
				ret = -1;
			continue;
		}
		/* no slave anywhere: the master reads EIO, as after the slave's last close */
		if (ti->slave_closed && (!slaves || !*slaves)) {
			int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);

			if (s < 0) {
				pr_perror("can't close the slave of pts %u again", fe->tty->index);
				ret = -1;
			} else {
				close(s);
			}
		}
		if (ti->locked && ioctl(m, TIOCSPTLCK, &one)) {
			pr_perror("can't lock pts %u again", fe->tty->index);
			ret = -1;
		}
	}
	return ret;
}

/* The ids of the masters this task needs for its session's terminal, though it holds no fd of them. */
void tty_session_uses(struct rst_files *rf, pid_t pid, pid_t sid, pid_t pgid, uint8_t *uses, uint32_t nr_ids)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i];
		TtyInfo *ti = fe->type == FILE_TYPE__FT_TTY && fe->tty && fe->tty->type == TTY_TYPE__TTY_MASTER ?
			      fe->tty->info : NULL;

		if (!ti || !ti->sid || fe->id >= nr_ids)
			continue;
		if ((ti->sid == pid && sid == pid) || (ti->sid == sid && ti->pgrp == pid && pgid == pid))
			uses[fe->id] = 1;
	}
}

/* Every file of one pty (master, slaves, /dev/tty) is made together. */
static uint64_t tty_link_key(const FileEntry *fe)
{
	return fe->tty ? (uint64_t)fe->tty->index + 1 : 0;
}

/* /dev/tty can only be opened in its session: no task outside it makes it for the ones inside. */
void tty_limit_needs(struct rst_files *rf, pid_t sid, uint8_t *need, uint32_t nr_ids)
{
	for (size_t i = 0; i < rf->nr; i++) {
		FileEntry *fe = rf->fe[i], *m;

		if (fe->type != FILE_TYPE__FT_TTY || !fe->tty || fe->tty->type != TTY_TYPE__TTY_CURRENT ||
		    fe->id >= nr_ids || !need[fe->id])
			continue;
		m = find_master(rf, fe->tty->index);
		if (m && m->tty->info->sid != sid)
			need[fe->id] = 0;
	}
}

static void free_tty(FileEntry *fe)
{
	TtyEntry *te = fe->tty;

	if (!te)
		return;
	if (te->info) {
		free(te->info->cc.data);
		free(te->info->slave_path);
		if (te->info->has_in_queue)
			free(te->info->in_queue.data);
		if (te->info->has_out_queue)
			free(te->info->out_queue.data);
		free(te->info->in_partial.data);
		for (size_t i = 0; i < te->info->n_in_lines; i++) {
			free(te->info->in_lines[i]->data.data);
			free(te->info->in_lines[i]);
		}
		free(te->info->in_lines);
		free(te->info);
	}
	free(te->path);
	free(te);
	fe->tty = NULL;
}

const struct fd_kind tty_kind = {
	.link = NULL,		/* files.c picks it for pty files (tty_is_pty) */
	.type = FILE_TYPE__FT_TTY,
	.dump = dump_tty,
	.open = open_tty,
	.free = free_tty,
	.prepare = tty_prepare,
	.restore_fini = tty_restore_fini,
	.link_key = tty_link_key,
};
