/*
 * The contents of a tmpfs made anew: every node (directories, regular
 * files with their holes, symlinks, hard links, device nodes, FIFOs and
 * sockets as plain nodes) with its mode, owner, times, xattrs and inode
 * flags. tmpfs.img lists the nodes, each filesystem's together, parents
 * first; the bytes of regular files follow one another in tmpfs.data
 * (one pair of files for all: a file made per filesystem costs more than
 * a small tmpfs's whole contents).
 *
 * The dump reads a copy of the mount alone (open_tree without its
 * submounts), so what other mounts cover is saved too. The restore fills
 * the new superblock before anything is mounted on it; times come last,
 * children before parents, and inode flags (immutable, append) after them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image.h"
#include "proc_parse.h"
#include "log.h"
#include "mount-api.h"
#include "csum.h"
#include "mnt.h"
#include "namespaces.h"
#include "util.h"

#define MAX_XATTRS	64
#define MAX_CHUNKS	4096

struct walk {
	struct cr_img *img;
	int data_fd;
	uint32_t origin;
	uint64_t data_off;
	struct u64_map links;		/* inode -> first path, for hard links */
	char **paths;			/* the strings the map points to */
	size_t nr_paths;
	int keep_atime;			/* a symlink's atime is put back after it is read */
};

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a, a[0] && b[0] ? "/" : "", b) < 0)
		return NULL;
	return s;
}

static int dump_xattrs(int dirfd, const char *name, TmpfsNode *n, TmpfsXattr *xa, TmpfsXattr **xp)
{
	const char *path = name[0] ? name : ".";
	char names[4096], *p;
	ssize_t len;

	/* no xattr call takes a directory fd on 6.1 headers: go there (/proc may not be ours) */
	if (fchdir(dirfd)) {
		pr_perror("can't enter the directory of %s", n->path);
		return -1;
	}
	len = llistxattr(path, names, sizeof(names));
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		pr_perror("can't list the xattrs of %s", n->path);
		return -1;
	}
	for (p = names; p < names + len; p += strlen(p) + 1) {
		ssize_t vlen = lgetxattr(path, p, NULL, 0);
		TmpfsXattr *x = &xa[n->n_xattrs];

		if (n->n_xattrs == MAX_XATTRS) {
			pr_err("%s has more than %d xattrs; not supported\n", n->path, MAX_XATTRS);
			return -1;
		}
		tmpfs_xattr__init(x);
		x->name = strdup(p);
		x->value.data = vlen > 0 ? malloc(vlen) : NULL;
		if (vlen < 0 || !x->name || (vlen > 0 && !x->value.data)) {
			pr_perror("can't read xattr %s of %s", p, n->path);
			free(x->name);
			return -1;
		}
		if (vlen > 0 && (vlen = lgetxattr(path, p, x->value.data, vlen)) < 0) {
			pr_perror("can't read xattr %s of %s", p, n->path);
			free(x->name);
			free(x->value.data);
			return -1;
		}
		x->value.len = vlen;
		xp[n->n_xattrs++] = x;
	}
	n->xattrs = xp;
	return 0;
}

/* Bytes [@off, @end) of @fd to the data file, a checksum per CSUM_CHUNK of them into @ch. */
static int copy_piece(struct walk *w, int fd, off_t off, off_t end, TmpfsChunk *ch, const char *path)
{
	static char buf[CSUM_CHUNK];

	ch->n_csum = (end - off + CSUM_CHUNK - 1) / CSUM_CHUNK;
	ch->csum = calloc(ch->n_csum, sizeof(*ch->csum));
	if (!ch->csum) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t k = 0; off < end; k++) {
		size_t n = end - off < CSUM_CHUNK ? end - off : CSUM_CHUNK, got = 0;

		while (got < n) {
			ssize_t r = pread(fd, buf + got, n - got, off + got);

			if (r <= 0) {
				pr_perror("can't read the data of %s", path);
				return -1;
			}
			got += r;
		}
		ch->csum[k] = csum_buf(buf, n);
		if (write_all(w->data_fd, buf, n)) {
			pr_perror("can't save the data of %s", path);
			return -1;
		}
		off += n;
	}
	return 0;
}

/* The data of a regular file, holes left out, appended to the data file. */
static int dump_data(struct walk *w, int fd, TmpfsNode *n, TmpfsChunk *ch, TmpfsChunk **cp)
{
	off_t off = 0, end;

	while ((off = lseek(fd, off, SEEK_DATA)) >= 0) {
		end = lseek(fd, off, SEEK_HOLE);
		if (end < 0)
			break;
		if (n->n_chunks == MAX_CHUNKS) {
			pr_err("%s has more than %d pieces of data between holes; not supported\n", n->path,
			       MAX_CHUNKS);
			return -1;
		}
		tmpfs_chunk__init(&ch[n->n_chunks]);
		ch[n->n_chunks].off = off;
		ch[n->n_chunks].len = end - off;
		cp[n->n_chunks] = &ch[n->n_chunks];
		/* counted first: its checksums are freed with the others', whatever happens */
		if (copy_piece(w, fd, off, end, &ch[n->n_chunks++], n->path))
			return -1;
		w->data_off += end - off;
		off = end;
	}
	if (errno != ENXIO) {
		pr_perror("can't find the data of %s", n->path);
		return -1;
	}
	n->chunks = cp;
	return 0;
}

static int dump_tree(struct walk *w, int dirfd, const char *name, const char *path);

static int dump_node(struct walk *w, int dirfd, const char *name, const char *path)
{
	static TmpfsXattr xa[MAX_XATTRS], *xp[MAX_XATTRS];
	static TmpfsChunk ch[MAX_CHUNKS], *cp[MAX_CHUNKS];
	TmpfsNode n = TMPFS_NODE__INIT;
	char target[PATH_MAX];
	struct stat st;
	unsigned int flags;
	int fd = -1, ret = -1;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH))) {
		pr_perror("can't stat %s", path);
		return -1;
	}
	n.origin = w->origin;
	n.path = (char *)path;
	n.mode = st.st_mode;
	n.uid = st.st_uid;
	n.gid = st.st_gid;
	/* as the tree's user namespace sees them: the restore makes the nodes inside it */
	if (ns_owner_inside(&n.uid, &n.gid, path))
		return -1;
	n.atime_sec = st.st_atim.tv_sec;
	n.atime_nsec = st.st_atim.tv_nsec;
	n.mtime_sec = st.st_mtim.tv_sec;
	n.mtime_nsec = st.st_mtim.tv_nsec;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		char *first = u64_map_get(&w->links, st.st_ino);

		if (first) {
			n.link = first;
			return pb_write_one(w->img, &n);
		}
		if (u64_map_put(&w->links, st.st_ino, (void *)path))
			return -1;
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		n.has_rdev = true;
		n.rdev = st.st_rdev;
	} else if (S_ISLNK(st.st_mode)) {
		ssize_t len = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (len < 0) {
			pr_perror("can't read the symlink %s", path);
			return -1;
		}
		target[len] = '\0';
		n.target = target;
		if (w->keep_atime &&
		    utimensat(dirfd, name, (struct timespec[2]){ st.st_atim, { 0, UTIME_OMIT } }, AT_SYMLINK_NOFOLLOW))
			pr_pwarn("the symlink %s is left with the atime of the dump's read", path);
	} else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		pr_err("%s is a node of an unknown type (%o); not supported\n", path, st.st_mode);
		return -1;
	}
	if (dump_xattrs(dirfd, name, &n, xa, xp))
		goto out;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name[0] ? name : ".", O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC |
			    (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0) {
			pr_perror("can't open %s", path);
			goto out;
		}
		if (!ioctl(fd, FS_IOC_GETFLAGS, &flags) && flags) {
			n.has_fsflags = true;
			n.fsflags = flags;
		}
	}
	if (S_ISREG(st.st_mode)) {
		n.has_size = true;
		n.size = st.st_size;
		if (dump_data(w, fd, &n, ch, cp))
			goto out;
	}
	ret = pb_write_one(w->img, &n);
out:
	for (size_t i = 0; i < n.n_chunks; i++) {
		free(ch[i].csum);
		ch[i].csum = NULL;
	}
	/* xa is reused by the nodes below this one */
	for (size_t i = 0; i < n.n_xattrs; i++) {
		free(xa[i].name);
		free(xa[i].value.data);
	}
	if (!ret && S_ISDIR(st.st_mode))
		ret = dump_tree(w, fd, name, path);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of the directory @dfd, in name order (images come out the same every time). */
static int dump_tree(struct walk *w, int dfd, const char *name, const char *path)
{
	int fd = dup(dfd), ret = 0;
	char **names = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	(void)name;
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		pr_perror("can't read the directory %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((ret = next_dirent(d, &de, path)) > 0) {
		ret = 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (nr == cap) {
			char **n = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*n));

			if (!n) {
				ret = -1;
				break;
			}
			names = n;
		}
		if (!(names[nr] = strdup(de->d_name))) {
			ret = -1;
			break;
		}
		nr++;
	}
	if (nr > 1)	/* an empty directory has no array (NULL) */
		sort_array(names, nr, sizeof(*names), cmp_names);
	for (size_t i = 0; i < nr && !ret; i++) {
		char *p = join(path, names[i]), **np;

		np = p ? realloc(w->paths, (w->nr_paths + 1) * sizeof(*np)) : NULL;
		if (!np) {
			free(p);
			ret = -1;
			break;
		}
		w->paths = np;
		/* a node's path may be a hard link's target: freed with the walk */
		w->paths[w->nr_paths++] = p;
		ret = dump_node(w, dirfd(d), names[i], p);
	}
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

/* Both images stay open from the first filesystem to tmpfs_contents_done(). */
static struct cr_img *img, *data;

/*
 * Reading a symlink touches its atime (readlinkat() has no O_NOATIME, which
 * the files and directories are opened with), and a dump -R, done or
 * failed, must leave the tree's files as they were: the copy of the mount
 * read here (open_tree) is made noatime, which reaches no other mount of
 * the filesystem. Where the kernel locks the atime flags (a mount a user
 * namespace inherited), each symlink's atime is put back after its read
 * instead (that changes its ctime, which nothing can set).
 */
static int noatime_copy(int root_fd)
{
	struct mount_attr a = { .attr_set = MOUNT_ATTR_NOATIME, .attr_clr = MOUNT_ATTR__ATIME };

	if (!mount_setattr(root_fd, "", AT_EMPTY_PATH, &a, sizeof(a)))
		return 1;
	pr_info("can't make the copy of the tmpfs noatime (%s): the symlinks' atimes are put back one by one\n",
		strerror(errno));
	return 0;
}

int tmpfs_dump_contents(int dfd, uint32_t origin, int root_fd, const char *prefix)
{
	struct walk w = { .origin = origin };
	int ret;

	if (!img && !(img = open_image_at(dfd, CR_FD_TMPFS, O_DUMP)))
		return -1;
	if (!data && !(data = open_image_at(dfd, CR_FD_TMPFS_DATA, O_DUMP)))
		return -1;
	w.img = img;
	w.data_fd = data->fd;
	w.keep_atime = !noatime_copy(root_fd);
	ret = dump_node(&w, root_fd, "", prefix);
	if (!ret)
		pr_info("tmpfs of origin %u: %llu bytes of data saved\n", origin, (unsigned long long)w.data_off);
	for (size_t i = 0; i < w.nr_paths; i++)
		free(w.paths[i]);
	free(w.paths);
	u64_map_free(&w.links);
	return ret;
}

int tmpfs_contents_done(void)
{
	int ret = 0;

	/* sealed (and a short write of the last entries seen) at their close */
	if (img && finish_image(img, 0))
		ret = -1;
	if (data && finish_image(data, 0))
		ret = -1;
	if (ret)
		pr_err("can't write the tmpfs images\n");
	img = data = NULL;
	return ret;
}

/* ---- restore ---- */

struct made {
	char *path;
	uint32_t mode;
	struct timespec times[2];
	uint32_t fsflags;
};

/* Directories of @path's prefix that no node made (above the directory the dump could see). */
static int make_parents(int root, const char *path)
{
	char *p = strdup(path), *s;

	if (!p)
		return -1;
	for (s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(root, p, 0755) && errno != EEXIST) {
			pr_perror("can't make the directory %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

/* A node's data from tmpfs.data, each CSUM_CHUNK checked against its checksum before it is written. */
static int copy_data(int data_fd, uint64_t *data_off, int fd, const TmpfsNode *n)
{
	static char buf[CSUM_CHUNK];

	for (size_t i = 0; i < n->n_chunks; i++) {
		const TmpfsChunk *c = n->chunks[i];
		uint64_t left = c->len, off = c->off;

		if (c->n_csum != (c->len + CSUM_CHUNK - 1) / CSUM_CHUNK) {
			pr_err("tmpfs.img: %s: %zu checksums for %lu bytes of data: damaged image\n", n->path,
			       c->n_csum, (unsigned long)c->len);
			return -1;
		}
		for (size_t k = 0; left; k++) {
			size_t want = left < sizeof(buf) ? left : sizeof(buf), got = 0;

			while (got < want) {
				ssize_t r = pread(data_fd, buf + got, want - got, *data_off + got);

				if (r <= 0) {
					pr_perror("can't fill %s (tmpfs.data short at offset %lu)", n->path,
						  (unsigned long)(*data_off + got));
					return -1;
				}
				got += r;
			}
			if (csum_buf(buf, want) != c->csum[k]) {
				pr_err("tmpfs.data: bytes %lu-%lu (of %s) are damaged (checksum mismatch)\n",
				       (unsigned long)*data_off, (unsigned long)(*data_off + want - 1), n->path);
				return -1;
			}
			if (pwrite(fd, buf, want, off) != (ssize_t)want) {
				pr_perror("can't fill %s", n->path);
				return -1;
			}
			left -= want;
			off += want;
			*data_off += want;
		}
	}
	return 0;
}

static int restore_xattrs(int root, const TmpfsNode *n)
{
	const char *path = n->path[0] ? n->path : ".";

	if (!n->n_xattrs)
		return 0;
	if (fchdir(root)) {
		pr_perror("can't enter the new tmpfs");
		return -1;
	}
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (lsetxattr(path, n->xattrs[i]->name, n->xattrs[i]->value.data, n->xattrs[i]->value.len, 0)) {
			pr_perror("can't set xattr %s of %s", n->xattrs[i]->name, n->path);
			return -1;
		}
	return 0;
}

static int make_node(int root, int data_fd, uint64_t *data_off, const TmpfsNode *n)
{
	const char *p = n->path[0] ? n->path : ".";
	int fd;

	if (n->link) {
		if (linkat(root, n->link, root, p, 0)) {
			pr_perror("can't link %s to %s", n->path, n->link);
			return -1;
		}
		return 0;
	}
	if (n->path[0] && make_parents(root, n->path))
		return -1;
	switch (n->mode & S_IFMT) {
	case S_IFDIR:
		if (n->path[0] && mkdirat(root, p, 0700)) {
			pr_perror("can't make the directory %s", n->path);
			return -1;
		}
		break;
	case S_IFREG:
		fd = openat(root, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, n->size) || copy_data(data_fd, data_off, fd, n)) {
			pr_perror("can't make the file %s", n->path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		break;
	case S_IFLNK:
		if (!n->target || symlinkat(n->target, root, p)) {
			pr_perror("can't make the symlink %s", n->path);
			return -1;
		}
		break;
	default:
		if (mknodat(root, p, n->mode & S_IFMT, n->has_rdev ? n->rdev : 0)) {
			pr_perror("can't make the node %s", n->path);
			return -1;
		}
	}
	if (restore_xattrs(root, n) || fchownat(root, p, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) ||
	    (!S_ISLNK(n->mode) && fchmodat(root, p, n->mode & 07777, 0))) {
		pr_perror("can't give %s its owner and mode", n->path);
		return -1;
	}
	return 0;
}

/* Times after everything (a new entry changes its directory's), children first; then inode flags. */
static int finish_nodes(int root, struct made *m, size_t nr)
{
	for (size_t i = nr; i-- > 0;) {
		const char *p = m[i].path[0] ? m[i].path : ".";

		if (utimensat(root, p, m[i].times, AT_SYMLINK_NOFOLLOW)) {
			pr_perror("can't set the times of %s", m[i].path);
			return -1;
		}
	}
	for (size_t i = nr; i-- > 0;) {
		int fd;

		if (!m[i].fsflags)
			continue;
		fd = openat(root, m[i].path[0] ? m[i].path : ".", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, FS_IOC_SETFLAGS, &m[i].fsflags)) {
			pr_perror("can't set the inode flags %#x of %s", m[i].fsflags, m[i].path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Restore reads the nodes in turn: the next filesystem's first node waits here. */
static TmpfsNode *pending;
static uint64_t data_off;

static int remember(struct made **m, size_t *nr, size_t *cap, const TmpfsNode *n)
{
	if (*nr == *cap) {
		struct made *x = realloc(*m, (*cap = *cap ? *cap * 2 : 64) * sizeof(*x));

		if (!x)
			return -1;
		*m = x;
	}
	(*m)[*nr] = (struct made){ .path = strdup(n->path), .mode = n->mode, .fsflags = n->has_fsflags ? n->fsflags : 0 };
	(*m)[*nr].times[0] = (struct timespec){ n->atime_sec, n->atime_nsec };
	(*m)[*nr].times[1] = (struct timespec){ n->mtime_sec, n->mtime_nsec };
	return (*m)[(*nr)++].path ? 0 : -1;
}

int tmpfs_restore_contents(int dfd, uint32_t origin, int root_fd)
{
	struct made *m = NULL;
	size_t nr = 0, cap = 0;
	int ret = -1, r = 1;
	void *msg;

	if (!img && !(img = open_image_at(dfd, CR_FD_TMPFS, O_RDONLY)))
		return -1;
	if (!data && !(data = open_image_at(dfd, CR_FD_TMPFS_DATA, O_RDONLY)))
		return -1;
	while (1) {
		TmpfsNode *n = pending;

		pending = NULL;
		if (!n) {
			r = pb_read_one(img, &msg);
			if (r <= 0)
				break;
			n = msg;
		}
		/* the filesystems' nodes come in their origins' order */
		if (n->origin > origin) {
			pending = n;
			r = 0;
			break;
		}
		if (n->origin < origin) {
			pr_err("tmpfs.img: a node of filesystem %u after those of %u\n", n->origin, origin);
			tmpfs_node__free_unpacked(n, NULL);
			goto out;
		}
		r = make_node(root_fd, data->fd, &data_off, n) || (!n->link && remember(&m, &nr, &cap, n));
		tmpfs_node__free_unpacked(n, NULL);
		if (r)
			goto out;
	}
	if (r == 0 && !nr)
		pr_err("tmpfs.img has no nodes of filesystem %u\n", origin);
	else if (r == 0)
		ret = finish_nodes(root_fd, m, nr);
out:
	for (size_t i = 0; i < nr; i++)
		free(m[i].path);
	free(m);
	return ret;
}

void tmpfs_restore_done(void)
{
	if (pending)
		tmpfs_node__free_unpacked(pending, NULL);
	pending = NULL;
	data_off = 0;
	if (img)
		close_image(img);
	if (data)
		close_image(data);
	img = data = NULL;
}
