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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsnotify.h"
#include "log.h"
#include "proc_parse.h"
#include "util.h"

/*
 * Calls @fn with every mount of our mountinfo until it returns >= 0; its
 * result, or -1.
 */
static int for_each_mount(int (*fn)(const struct fsn_mount *m, const void *arg), const void *arg)
{
	struct fsn_mount *m = malloc(sizeof(*m));
	char *text = read_proc_file(0, "mountinfo", NULL), *l;
	int ret = -1;

	if (!text || !m) {
		pr_err("can't read /proc/self/mountinfo\n");
		goto out;
	}
	for (l = text; l && *l && ret < 0; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
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
	struct stat st;
	int fd = open(m->point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

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

int fsn_open_handle(unsigned int sdev, uint64_t ino, const struct fsn_handle *fh)
{
	struct file_handle *h;
	struct stat st;
	int mfd, fd, err;

	if (!fh->bytes) {
		errno = EOPNOTSUPP;
		return -1;
	}
	mfd = fsn_open_sb(sdev);
	if (mfd < 0) {
		errno = ENODEV;
		return -1;
	}
	h = malloc(sizeof(*h) + fh->bytes);
	if (!h) {
		close(mfd);
		errno = ENOMEM;
		return -1;
	}
	h->handle_bytes = fh->bytes;
	h->handle_type = fh->type;
	memcpy(h->f_handle, fh->data, fh->bytes);
	fd = open_by_handle_at(mfd, h, O_PATH | O_CLOEXEC);
	err = errno;
	free(h);
	close(mfd);
	if (fd < 0) {
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) || st.st_ino != ino || st.st_dev != fsn_kdev(sdev)) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

int fsn_queued(pid_t pid, int fd)
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
