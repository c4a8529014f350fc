/*
 * Resources outside the tree: --external at dump, --inherit-fd at restore.
 *
 * At dump, an fd that `--external RES` names is not looked into: it goes to
 * files.img as an FT_REG entry whose path is its name as /proc showed it
 * (`pipe:[INO]`, `socket:[INO]`, `/dev/pts/3`, a file path), and
 * ext-files.img lists its file id with the name --external gave it (the
 * same for a pipe or socket; `tty[RDEV:DEV]` or `file[MNT:INO]` else). Restore refuses such an
 * image unless an `--inherit-fd fd[N]:NAME` gives it criu's fd N.
 *
 * At restore, `--inherit-fd fd[N]:RES` also stands for any other file of
 * the images whose name is RES (a pipe's `pipe:[INO]`, a file's path):
 * the restored tasks get criu's own open file description instead of a
 * new one. The root lifts these fds into service slots before it closes
 * everything else, so that every restore process can dup them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "external.h"
#include "ext-file.pb-c.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "util.h"

#define MAX_EXTERNAL	64

/* --external */
static const char *externals[MAX_EXTERNAL];
static int nr_externals;

/* --inherit-fd */
static struct {
	int fd;			/* criu's fd, then its service slot in the restore processes */
	const char *key;
} inherit[MAX_INHERIT_FD];
static int nr_inherit;

/* ext-files.img, at dump and at restore */
static ExtFileEntry *ext_files;
static size_t nr_ext_files;

static int valid_external(const char *s)
{
	unsigned long long a, b;
	int n = 0;

	if ((sscanf(s, "pipe:[%llu]%n", &a, &n) == 1 || sscanf(s, "socket:[%llu]%n", &a, &n) == 1) && !s[n])
		return 1;
	n = 0;
	if ((sscanf(s, "tty[%llx:%llx]%n", &a, &b, &n) == 2 || sscanf(s, "file[%llx:%llx]%n", &a, &b, &n) == 2) &&
	    !s[n])
		return 1;
	return 0;
}

int external_add(const char *arg)
{
	/* a namespace, not a file: criu/ns/ns.c */
	if (ns_is_external_arg(arg))
		return ns_external_add(arg);
	if (!valid_external(arg)) {
		pr_err("bad --external '%s': expected pipe:[INO], socket:[INO], tty[RDEV:DEV] or "
		       "file[MNT_ID:INO] (hex)\n", arg);
		return -1;
	}
	if (nr_externals == MAX_EXTERNAL) {
		pr_err("too many --external options (at most %d)\n", MAX_EXTERNAL);
		return -1;
	}
	externals[nr_externals++] = arg;
	return 0;
}

int inherit_fd_add(const char *arg)
{
	char *end;
	long fd;

	if (strncmp(arg, "fd[", 3))
		goto bad;
	errno = 0;
	fd = strtol(arg + 3, &end, 10);
	if (errno || end == arg + 3 || fd < 0 || fd > INT32_MAX || strncmp(end, "]:", 2) || !end[2])
		goto bad;
	if (fcntl(fd, F_GETFD) < 0) {
		pr_err("--inherit-fd '%s': fd %ld is not open in criu\n", arg, fd);
		return -1;
	}
	if (nr_inherit == MAX_INHERIT_FD) {
		pr_err("too many --inherit-fd options (at most %d)\n", MAX_INHERIT_FD);
		return -1;
	}
	for (int i = 0; i < nr_inherit; i++)
		if (!strcmp(inherit[i].key, end + 2)) {
			/*
			 * runc names a pipe that was both stdout and stderr
			 * once for each: the first fd given stands for it.
			 */
			struct stat a, b;

			if (fstat(inherit[i].fd, &a) || fstat(fd, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
				pr_warn("--inherit-fd: %s given twice; fd %d is used, not fd %ld\n", end + 2,
					inherit[i].fd, fd);
			return 0;
		}
	inherit[nr_inherit].fd = fd;
	inherit[nr_inherit++].key = end + 2;
	return 0;
bad:
	pr_err("bad --inherit-fd '%s': expected fd[N]:RESOURCE\n", arg);
	return -1;
}

/* ---- dump ---- */

const char *external_match(const char *link, const struct stat *st, int mnt_id)
{
	char name[64];

	for (int i = 0; i < nr_externals; i++) {
		if (!strcmp(externals[i], link))
			return externals[i];
		snprintf(name, sizeof(name), "tty[%" PRIx64 ":%" PRIx64 "]", (uint64_t)st->st_rdev,
			 (uint64_t)st->st_dev);
		if (S_ISCHR(st->st_mode) && !strcmp(externals[i], name))
			return externals[i];
		snprintf(name, sizeof(name), "file[%x:%" PRIx64 "]", mnt_id, (uint64_t)st->st_ino);
		if (mnt_id >= 0 && !strcmp(externals[i], name))
			return externals[i];
	}
	return NULL;
}

int external_note(uint32_t id, const char *link, const char *what)
{
	ExtFileEntry *n = realloc(ext_files, (nr_ext_files + 1) * sizeof(*n));

	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	ext_files = n;
	ext_file_entry__init(&n[nr_ext_files]);
	n[nr_ext_files].id = id;
	n[nr_ext_files].name = strdup(link);
	if (!n[nr_ext_files].name) {
		pr_err("out of memory\n");
		return -1;
	}
	nr_ext_files++;
	pr_info("file %u (%s) is external (%s)\n", id, link, what);
	return 0;
}

int external_dump(int dfd)
{
	struct cr_img *img;
	int ret = 0;

	if (!nr_ext_files)
		return 0;
	img = open_image_at(dfd, CR_FD_EXT_FILES, O_DUMP);
	if (!img)
		return -1;
	for (size_t i = 0; i < nr_ext_files && !ret; i++)
		ret = pb_write_one(img, &ext_files[i]);
	return finish_image(img, ret);
}

int external_set_ctty(struct file_table *ft, dev_t rdev, pid_t sid, pid_t pgrp)
{
	for (size_t i = 0; i < nr_ext_files; i++) {
		struct file_desc *d = NULL;

		for (size_t j = 0; j < ft->nr && !d; j++)
			if (ft->d[j].id == ext_files[i].id)
				d = &ft->d[j];
		if (!d || !S_ISCHR(d->st.st_mode) || d->st.st_rdev != rdev)
			continue;
		if (ext_files[i].has_ctty_sid) {
			pr_err("can't dump: external terminal %s is the controlling terminal of sessions %d and %d\n",
			       ext_files[i].name, ext_files[i].ctty_sid, sid);
			return -1;
		}
		ext_files[i].has_ctty_sid = ext_files[i].has_ctty_pgrp = true;
		ext_files[i].ctty_sid = sid;
		ext_files[i].ctty_pgrp = pgrp;
		pr_info("%s (file %u): the controlling terminal of session %d\n", ext_files[i].name, ext_files[i].id,
			sid);
		return 0;
	}
	return -1;
}

const ExtFileEntry *external_file(size_t i)
{
	return i < nr_ext_files ? &ext_files[i] : NULL;
}

void external_free(void)
{
	for (size_t i = 0; i < nr_ext_files; i++)
		free(ext_files[i].name);
	free(ext_files);
	ext_files = NULL;
	nr_ext_files = 0;
}

/* ---- restore ---- */

static int find_inherit(const char *key)
{
	for (int i = 0; i < nr_inherit; i++)
		if (!strcmp(inherit[i].key, key))
			return i;
	return -1;
}

int inherit_fd_lookup(const char *key)
{
	int i = key ? find_inherit(key) : -1;

	return i < 0 ? -1 : inherit[i].fd;
}

static const char *ext_name(uint32_t id)
{
	for (size_t i = 0; i < nr_ext_files; i++)
		if (ext_files[i].id == id)
			return ext_files[i].name;
	return NULL;
}

/* What --inherit-fd would name this file by. */
static const char *file_key(FileEntry *fe, char *buf, size_t size)
{
	const char *ext = ext_name(fe->id);

	if (ext)
		return ext;
	if (fe->type == FILE_TYPE__FT_PIPE && fe->pipe) {
		snprintf(buf, size, "pipe:[%" PRIu64 "]", (uint64_t)fe->pipe->ino);
		return buf;
	}
	if (fe->type == FILE_TYPE__FT_REG && fe->reg)
		return fe->reg->path;
	return NULL;
}

/* The lazy-pages daemon reads the images, restores no file: --inherit-fd is the restore's to give. */
bool inherit_fd_unused;

int inherit_fd_prepare(int dfd, struct rst_files *rf)
{
	struct cr_img *img;
	void *msg;
	int ret;

	if (faccessat(dfd, img_descs[CR_FD_EXT_FILES].name_fmt, F_OK, AT_SYMLINK_NOFOLLOW)) {
		if (errno == ENOENT)
			return 0;
		pr_perror("can't look for ext-files.img");
		return -1;
	}
	img = open_image_at(dfd, CR_FD_EXT_FILES, O_RDONLY);
	if (!img)
		return -1;
	while ((ret = pb_read_one(img, &msg)) == 1) {
		ExtFileEntry *e = msg, *n;

		if (!find_file(rf, e->id)) {
			pr_err("ext-files.img: file %u is not in files.img\n", e->id);
			ret = -1;
		} else if (find_inherit(e->name) < 0 && !inherit_fd_unused) {
			pr_err("file %u (%s) was outside the tree at dump (--external): restore needs "
			       "--inherit-fd fd[N]:%s\n", e->id, e->name, e->name);
			ret = -1;
		}
		n = ret < 0 ? NULL : realloc(ext_files, (nr_ext_files + 1) * sizeof(*n));
		if (!n) {
			pb_free(img, msg);
			ret = -1;
			break;
		}
		ext_files = n;
		ext_file_entry__init(&n[nr_ext_files]);
		n[nr_ext_files].id = e->id;
		n[nr_ext_files].has_ctty_sid = e->has_ctty_sid;
		n[nr_ext_files].ctty_sid = e->ctty_sid;
		n[nr_ext_files].has_ctty_pgrp = e->has_ctty_pgrp;
		n[nr_ext_files].ctty_pgrp = e->ctty_pgrp;
		n[nr_ext_files++].name = strdup(e->name);
		pb_free(img, msg);
	}
	close_image(img);
	return ret < 0 ? -1 : 0;
}

int inherit_fd_lift(int base)
{
	int tmp[MAX_INHERIT_FD];

	/* all out of the way first: a slot may be another one's number */
	for (int i = 0; i < nr_inherit; i++) {
		tmp[i] = fcntl(inherit[i].fd, F_DUPFD_CLOEXEC, 0);
		if (tmp[i] < 0) {
			pr_perror("can't take --inherit-fd fd %d", inherit[i].fd);
			return -1;
		}
	}
	for (int i = 0; i < nr_inherit; i++) {
		/* dup2 drops FD_CLOEXEC: the tasks get these fds only where the images name them */
		if (move_fd(tmp[i], base + i) < 0 || fcntl(base + i, F_SETFD, FD_CLOEXEC)) {
			pr_perror("can't keep --inherit-fd fd %d", inherit[i].fd);
			return -1;
		}
		inherit[i].fd = base + i;
	}
	return base + nr_inherit;
}

int inherit_fd_open(FileEntry *fe)
{
	char buf[64];
	const char *key = file_key(fe, buf, sizeof(buf));
	int i = key ? find_inherit(key) : -1, fl, want, fd;

	if (i < 0)
		return -2;
	fl = fcntl(inherit[i].fd, F_GETFL);
	want = fe->type == FILE_TYPE__FT_PIPE ? (int)fe->pipe->flags : (int)fe->reg->flags;
	if (fl < 0) {
		pr_perror("--inherit-fd for %s is gone", key);
		return -1;
	}
	pr_info("file %u (%s): criu's --inherit-fd\n", fe->id, key);
	if ((fl & O_ACCMODE) == (want & O_ACCMODE))
		return fcntl(inherit[i].fd, F_DUPFD_CLOEXEC, 0);
	/* the other end of an inherited pipe, say: the same object, another mode */
	fd = proc_open(want & ~(O_CREAT | O_EXCL | O_TRUNC), "self/fd/%d", inherit[i].fd);
	if (fd < 0)
		pr_perror("can't open %s (--inherit-fd) with the mode file %u had", key, fe->id);
	return fd;
}
