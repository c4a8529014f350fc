/*
 * What inotify and fanotify share: the objects they watch are found again
 * by the file handle fdinfo shows, decoded on a mount of the filesystem
 * (sdev) the object lives on; marks on whole mounts by mount id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "fsnotify.h"
#include "image.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "proc_parse.h"
#include "util.h"

/*
 * Calls @fn with every mount of our mountinfo until it returns >= 0; its
 * result, or -1.
 */
/* Our mountinfo through criu's /proc: a restoring process's mount namespace may have none. */
static char *own_mountinfo(void)
{
	size_t size = 0, used = 0;
	char *buf = NULL, *n;
	int fd = proc_open(O_RDONLY, "self/mountinfo");
	ssize_t r = 0;

	if (fd < 0)
		return NULL;
	do {
		used += r;
		if (used + 4096 > size) {
			n = realloc(buf, size += 65536);
			if (!n) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = n;
		}
		r = read(fd, buf + used, size - used - 1);
	} while (r > 0);
	close(fd);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[used] = '\0';
	return buf;
}

static int for_each_mount(int (*fn)(const struct fsn_mount *m, const void *arg), const void *arg)
{
	struct fsn_mount *m = malloc(sizeof(*m));
	/* the tree's mounts: at dump its root's (a namespace of its own, or criu's seen from an agent) */
	pid_t view = mntns_dumping() ? mntns_dump_pid() : ns_dump_view_pid();
	char *text = view ? read_proc_file(view, "mountinfo", NULL) : own_mountinfo();
	const char *l;
	int ret = -1;

	if (!text || !m) {
		pr_err("can't read /proc/self/mountinfo\n");
		goto out;
	}
	for (l = text; l && *l && ret < 0; l = fsn_next_line(l)) {
		if (fsn_parse_mountinfo_line(l, m)) {
			pr_err("bad line in /proc/self/mountinfo: %.80s\n", l);
			break;
		}
		ret = fn(m, arg);
	}
out:
	free(text);
	free(m);
	return ret;
}

/* The mount point opened, if it shows the filesystem mountinfo says (not overmounted). */
static int open_point(const struct fsn_mount *m)
{
	char at[PATH_MAX + 64];
	struct stat st;
	int fd;

	fd = open(mntns_path(m->point, at, sizeof(at)), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_dev != makedev(m->maj, m->min)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int match_mnt_id(const struct fsn_mount *m, const void *arg)
{
	return m->mnt_id == *(const int *)arg ? open_point(m) : -1;
}

static int match_sdev(const struct fsn_mount *m, const void *arg)
{
	return makedev(m->maj, m->min) == fsn_kdev(*(const unsigned int *)arg) ? open_point(m) : -1;
}

int fsn_open_mount(int mnt_id)
{
	return for_each_mount(match_mnt_id, &mnt_id);
}

int fsn_open_sb(unsigned int sdev)
{
	return for_each_mount(match_sdev, &sdev);
}

/* What open_handle() looks for on each mount, and what it found. */
struct handle_search {
	unsigned int sdev;
	uint64_t ino;
	struct file_handle *h;
	bool reachable;	/* the object's path through the mount must lead back to it */
	int first;	/* the object, through a mount its path does not lead back from */
	int err;	/* the first error decoding the handle */
};

/* Is the path /proc shows for @fd (as the tree sees it) the way to @st? */
static bool path_leads_back(int fd, const struct stat *st)
{
	char proc[64], path[PATH_MAX], at[PATH_MAX + 64];
	struct stat there;
	ssize_t n;

	snprintf(proc, sizeof(proc), "self/fd/%d", fd);
	n = readlinkat(proc_dir(), proc, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return false;
	path[n] = '\0';
	return !stat(mntns_path(path, at, sizeof(at)), &there) && there.st_dev == st->st_dev &&
	       there.st_ino == st->st_ino;
}

static int decode_on(const struct fsn_mount *m, const void *arg)
{
	struct handle_search *s = (struct handle_search *)arg;
	struct stat st;
	int mfd, fd;

	if (makedev(m->maj, m->min) != fsn_kdev(s->sdev))
		return -1;
	mfd = open_point(m);
	if (mfd < 0)
		return -1;
	fd = open_by_handle_at(mfd, s->h, O_PATH | O_CLOEXEC);
	if (fd < 0 && !s->err)
		s->err = errno;
	close(mfd);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_ino != s->ino || st.st_dev != fsn_kdev(s->sdev)) {
		close(fd);
		if (!s->err)
			s->err = ESTALE;
		return -1;
	}
	if (!s->reachable || path_leads_back(fd, &st))
		return fd;
	/*
	 * Reached through a mount whose root does not hold it (a bind of
	 * another directory of the same filesystem): its path would be
	 * wrong; kept in case no mount does better.
	 */
	if (s->first < 0)
		s->first = fd;
	else
		close(fd);
	return -1;
}

static int open_handle(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh, bool reachable)
{
	struct handle_search s = { .sdev = sdev, .ino = ino, .reachable = reachable, .first = -1 };
	int fd;

	if (!fh->bytes) {
		errno = EOPNOTSUPP;
		return -1;
	}
	s.h = malloc(sizeof(*s.h) + fh->bytes);
	if (!s.h) {
		errno = ENOMEM;
		return -1;
	}
	s.h->handle_bytes = fh->bytes;
	s.h->handle_type = fh->type;
	memcpy(s.h->f_handle, fh->data, fh->bytes);
	fd = for_each_mount(decode_on, &s);
	free(s.h);
	if (fd >= 0) {
		if (s.first >= 0)
			close(s.first);
		return fd;
	}
	if (s.first >= 0)
		return s.first;
	errno = s.err ? s.err : ENODEV;
	return -1;
}

int fsn_open_handle(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh)
{
	return open_handle(sdev, ino, fh, false);
}

int fsn_open_handle_named(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh)
{
	return open_handle(sdev, ino, fh, true);
}

int fsn_open_restored(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh, const char *path)
{
	struct stat st;
	int fd;

	if (!mntns_dev_remade(fsn_kdev(sdev)))
		return fsn_open_handle(sdev, ino, fh);
	if (!path || path[0] != '/') {
		errno = ENOENT;
		return -1;
	}
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_dev != mntns_dev(fsn_kdev(sdev))) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

bool fsn_sb_decodes(unsigned int sdev)
{
	struct file_handle *h = malloc(sizeof(*h) + FSN_HANDLE_MAX);
	int mfd = fsn_open_sb(sdev), fd = -1, mnt_id, err = errno;

	if (h && mfd >= 0) {
		h->handle_bytes = FSN_HANDLE_MAX;
		if (!name_to_handle_at(mfd, "", h, &mnt_id, AT_EMPTY_PATH))
			fd = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);
	}
	free(h);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
	errno = err;
	return fd >= 0;
}

static int queued(pid_t pid, int fd)
{
	int dup = task_fd(pid, fd), n = 0;

	if (dup < 0)
		return -1;
	if (ioctl(dup, FIONREAD, &n)) {
		pr_perror("FIONREAD on fd %d of %d", fd, pid);
		n = -1;
	}
	close(dup);
	return n;
}

int fsn_refuse_queued(pid_t pid, int fd, const char *kind)
{
	int n = queued(pid, fd);

	if (n > 0)
		pr_err("can't dump task %d: %s fd %d has %d bytes of events queued and not read yet; "
		       "they can't be saved without taking them from the task\n", pid, kind, fd, n);
	return n ? -1 : 0;
}

int fsn_inspect(int ofd, struct stat *st, char *path, size_t size)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "self/fd/%d", ofd);
	if (fstat(ofd, st) || (n = readlinkat(proc_dir(), proc, path, size - 1)) < 0)
		return -1;
	path[n] = '\0';
	return 0;
}

char *fsn_own_fdinfo(int fd)
{
	char name[64];

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	return read_proc_file(0, name, NULL);
}

FsnotifyHandle *fsn_handle_to_pb(const struct fsn_handle *fh)
{
	FsnotifyHandle *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	fsnotify_handle__init(h);
	h->type = fh->type;
	h->bytes.len = fh->bytes;
	h->bytes.data = malloc(fh->bytes ? fh->bytes : 1);
	if (!h->bytes.data) {
		free(h);
		return NULL;
	}
	memcpy(h->bytes.data, fh->data, fh->bytes);
	return h;
}

int fsn_handle_from_pb(const FsnotifyHandle *h, struct fsn_handle *fh)
{
	if (h->bytes.len > FSN_HANDLE_MAX)
		return -1;
	fh->bytes = h->bytes.len;
	fh->type = h->type;
	memcpy(fh->data, h->bytes.data, fh->bytes);
	return 0;
}

void fsn_handle_free(FsnotifyHandle *h)
{
	if (h)
		free(h->bytes.data);
	free(h);
}

ssize_t fsn_read_away(int fd, int fan)
{
	char buf[16384] __attribute__((aligned(8)));
	ssize_t len, total = 0;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *m = (void *)buf;

		total += len;
		for (; fan && FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len))
			if (m->fd >= 0)
				close(m->fd);
	}
	return len < 0 && errno != EAGAIN ? -1 : total;
}

int fsn_empty_new(int fd, int fan)
{
	if (fsn_read_away(fd, fan) < 0) {
		pr_perror("can't empty a new %s fd", fan ? "fanotify" : "inotify");
		return -1;
	}
	return 0;
}

int fsn_set_blocking(int fd, unsigned int flags, uint32_t id)
{
	int fl;

	if (flags & O_NONBLOCK)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		pr_perror("can't make notification file %u blocking", id);
		return -1;
	}
	return 0;
}

/* ---- restore: what the restore itself queued ---- */

/* Read everything queued on our copy of the task's notification fd (a fanotify event carries an fd). */
static int drain_one(pid_t pid, int fd, int fan)
{
	int f = task_fd(pid, fd), flags, ret = 0;
	ssize_t dropped;

	if (f < 0)
		return -1;
	flags = fcntl(f, F_GETFL);
	/* the description is the task's, which is stopped: its O_NONBLOCK comes back below */
	if (flags < 0 || fcntl(f, F_SETFL, flags | O_NONBLOCK)) {
		pr_perror("can't drain the notification fd %d of %d", fd, pid);
		close(f);
		return -1;
	}
	dropped = fsn_read_away(f, fan);
	if (dropped < 0) {
		pr_perror("can't drain the notification fd %d of %d", fd, pid);
		ret = -1;
	} else if (dropped) {
		pr_debug("fd %d of %d: %zd bytes of events queued by the restore dropped\n", fd, pid, dropped);
	}
	if (fcntl(f, F_SETFL, flags)) {
		pr_perror("can't give the notification fd %d of %d its flags back", fd, pid);
		ret = -1;
	}
	close(f);
	return ret;
}

int fsnotify_drain(int dfd, struct rst_files *rf, const pid_t *pids, int nr)
{
	uint8_t *done = calloc(rf->nr_ids + 1, 1);	/* by file id */
	int ret = 0;

	if (!done) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < nr && !ret; i++) {
		struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pids[i]);
		void *msg;
		int r;

		if (!img) {
			ret = -1;
			break;
		}
		while (!ret && (r = pb_read_one(img, &msg)) == 1) {
			FdinfoEntry *e = msg;
			FileEntry *fe = find_file(rf, e->id);

			if (fe && !done[fe->id] &&
			    (fe->type == FILE_TYPE__FT_INOTIFY || fe->type == FILE_TYPE__FT_FANOTIFY)) {
				done[fe->id] = 1;
				ret = drain_one(pids[i], e->fd, fe->type == FILE_TYPE__FT_FANOTIFY);
			}
			pb_free(img, msg);
		}
		if (r < 0)
			ret = -1;
		close_image(img);
	}
	free(done);
	return ret;
}
