/*
 * Reading and writing image files.
 *
 * Layout: two little-endian 32-bit magic words (common, then type), then
 * entries, each a little-endian 32-bit length, that many bytes of a packed
 * protobuf message and a 32-bit check (the low half of the XXH3 of the
 * length word and the message), then the trailer (image.h): the number of
 * entries, the dump's id, the hash of the file's name, and the XXH3 of
 * every byte before it. Raw images
 * (page data) have no header and no entries; callers read and write them
 * through img->fd directly, and their checksums live in other images.
 *
 * A protobuf image is read whole and checked when it is opened, so that
 * damage anywhere in it (a changed byte, entries cut off at the end) is
 * refused before anything is built from it, with the offset named.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"
#include "fault.h"
#include "image.h"
#include "log.h"
#include "mount-api.h"

#define IMG_HDR_SIZE	(2 * sizeof(uint32_t))
#define IMG_LEN_SIZE	sizeof(uint32_t)
#define IMG_CHECK_SIZE	sizeof(uint32_t)

static uint64_t dump_id;

void img_set_dump_id(uint64_t id)
{
	dump_id = id;
}

uint64_t img_get_dump_id(void)
{
	return dump_id;
}

static uint64_t name_hash(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return csum_buf(base, strlen(base));
}

static uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* The check word of an entry: over its length word and its message. */
static uint32_t entry_check(const unsigned char *ent, uint32_t len)
{
	return (uint32_t)csum_buf(ent, IMG_LEN_SIZE + len);
}

static bool img_is_raw(int type)
{
	return img_descs[type].pb == NULL;
}

static int write_full(struct cr_img *img, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(img->fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("%s: write failed at offset %llu", img->path,
				  (unsigned long long)(img->off + done));
			img->failed = true;
			return -1;
		}
		if (n == 0) {
			pr_err("%s: write returned 0 at offset %llu\n", img->path,
			       (unsigned long long)(img->off + done));
			img->failed = true;
			return -1;
		}
		done += n;
	}
	if (img->hash)
		csum_stream_update(img->hash, buf, len);
	return 0;
}

/* "<dir of dfd>/<name>" into @buf, for messages; best effort. */
static void name_in_dir(int dfd, const char *name, char *buf, size_t size)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (dfd == AT_FDCWD || name[0] == '/')
		goto name_only;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		goto name_only;
	dir[n] = '\0';
	if (snprintf(buf, size, "%s/%s", dir, name) < (int)size)
		return;
name_only:
	snprintf(buf, size, "%s", name);
}

static void set_img_path(struct cr_img *img, int dfd, const char *name)
{
	name_in_dir(dfd, name, img->path, sizeof(img->path));
}

static int build_name(char *buf, size_t size, int type, va_list args)
{
	int n;

	/* A format without a conversion consumes no argument. */
	n = vsnprintf(buf, size, img_descs[type].name_fmt, args);
	if (n < 0 || (size_t)n >= size) {
		pr_err("Image name for %s too long\n", img_type_name(type));
		return -1;
	}
	return 0;
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	}
	return "not a regular file";
}

/*
 * Inside a user namespace of the tree's the restore processes can't read
 * the images (their owner is not mapped there): they ask criu, which opens
 * them (serve_images()). Each request carries its own reply socket, so
 * that processes sharing the server socket never read each other's fds.
 */
enum { IMG_SRV_OPEN = 1, IMG_SRV_ACCESS, IMG_SRV_FILE, IMG_SRV_GATHERED, IMG_SRV_LOOKUP };

struct img_srv_req {
	int op;
	int flags;
	char name[PATH_MAX];
};

static int img_srv = -1;

void img_use_server(int fd)
{
	img_srv = fd;
}

int img_served(void)
{
	return img_srv >= 0;
}

/* @xfd: a second fd for the request (IMG_SRV_LOOKUP's directory), or -1 */
static int img_srv_call(int op, const char *name, int flags, int xfd)
{
	struct img_srv_req req = { .op = op, .flags = flags };
	char cbuf[CMSG_SPACE(2 * sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;
	int r[2], err = 0, fd = -1;

	if (strlen(name) >= sizeof(req.name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(req.name, name);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r))
		return -1;
	mh.msg_controllen = CMSG_SPACE((xfd >= 0 ? 2 : 1) * sizeof(int));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN((xfd >= 0 ? 2 : 1) * sizeof(int));
	memcpy(CMSG_DATA(ch), &r[1], sizeof(int));
	if (xfd >= 0)
		memcpy(CMSG_DATA(ch) + sizeof(int), &xfd, sizeof(int));
	if (sendmsg(img_srv, &mh, 0) != sizeof(req)) {
		err = errno;
		goto out;
	}
	close(r[1]);
	r[1] = -1;
	iov.iov_base = &err;
	iov.iov_len = sizeof(err);
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(r[0], &mh, MSG_CMSG_CLOEXEC) != sizeof(err)) {
		err = err ? err : EIO;
		goto out;
	}
	ch = CMSG_FIRSTHDR(&mh);
	if (!err && op != IMG_SRV_ACCESS) {
		if (!ch || ch->cmsg_type != SCM_RIGHTS)
			err = EIO;
		else
			memcpy(&fd, CMSG_DATA(ch), sizeof(int));
	}
out:
	close(r[0]);
	if (r[1] >= 0)
		close(r[1]);
	if (err) {
		errno = err;
		return -1;
	}
	return op == IMG_SRV_ACCESS ? 0 : fd;
}

/*
 * Where an image belongs there must be a regular file: look before
 * opening (a FIFO would block open(), a device may act on it), open
 * without following a symlink or blocking, and look again at what was
 * opened, in case it was swapped in between.
 */
static int open_file(int dfd, const char *name, int flags, const char *path)
{
	struct stat st;
	int fd;

	if (img_srv >= 0 && flags == O_RDONLY) {
		/* criu opened it, with the checks below and its trust rules */
		fd = img_srv_call(IMG_SRV_OPEN, name, O_RDONLY, -1);
		if (fd < 0)
			pr_perror("Can't open image %s (through criu)", path);
		return fd;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode)) {
			pr_err("image %s is %s, not a regular file\n", path, file_kind(st.st_mode));
			errno = EINVAL;
			return -1;
		}
	} else if (errno != ENOENT || flags == O_RDONLY) {
		pr_perror("Can't open image %s", path);
		return -1;
	}

	fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		if (err == ELOOP)
			pr_err("image %s is a symbolic link, not a regular file\n", path);
		else
			pr_perror("Can't open image %s", path);
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		pr_err("image %s is %s, not a regular file\n", path, file_kind(st.st_mode));
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* restore reads only what no one but root and the caller can have written */
	if (flags == O_RDONLY && image_trust_required && image_trusted(fd, path)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	/* O_NONBLOCK means nothing for a regular file; drop it all the same */
	if (fcntl(fd, F_SETFL, flags & O_ACCMODE)) {
		pr_perror("Can't set the flags of image %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int open_image_file(int dfd, const char *name, int flags)
{
	char path[PATH_MAX];

	name_in_dir(dfd, name, path, sizeof(path));
	return open_file(dfd, name, flags, path);
}

/* Type whose header is (@common, @magic), or -1. Stats maps to the dump one. */
static int magic_to_type(uint32_t common, uint32_t magic)
{
	int type;

	for (type = 0; type < CR_FD_MAX; type++) {
		if (img_is_raw(type))
			continue;
		if (img_common_magic(type) == common && img_descs[type].magic == magic)
			return type;
	}
	return -1;
}

/*
 * Read the whole of img->fd into img->buf (img->end = its size). Images
 * are read whole so that they are checked before any entry is used.
 */
static int load_file(struct cr_img *img)
{
	size_t size = 0, cap;
	struct stat st;

	if (fstat(img->fd, &st)) {
		pr_perror("%s: can't stat", img->path);
		return -1;
	}
	if ((uint64_t)st.st_size > IMG_MAX_FILE_SIZE) {
		pr_err("%s: %llu bytes, more than an image may hold (%llu)\n", img->path,
		       (unsigned long long)st.st_size, (unsigned long long)IMG_MAX_FILE_SIZE);
		return -1;
	}
	cap = st.st_size + 1;	/* one more: to see the end of file in one read */
	img->buf = malloc(cap);
	if (!img->buf) {
		pr_err("%s: can't allocate %zu bytes to read it\n", img->path, cap);
		return -1;
	}
	while (1) {
		ssize_t n;

		if (size == cap) {
			unsigned char *b;

			/* the file grew while we read it */
			if (cap > IMG_MAX_FILE_SIZE) {
				pr_err("%s: grows past %llu bytes as it is read\n", img->path,
				       (unsigned long long)IMG_MAX_FILE_SIZE);
				return -1;
			}
			b = realloc(img->buf, cap * 2);
			if (!b) {
				pr_err("%s: can't allocate %zu bytes to read it\n", img->path, cap * 2);
				return -1;
			}
			img->buf = b;
			cap *= 2;
		}
		n = read(img->fd, img->buf + size, cap - size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("%s: read failed at offset %zu", img->path, size);
			return -1;
		}
		if (n == 0)
			break;
		size += n;
	}
	img->end = size;
	return 0;
}

/* The two magic words, from the loaded file. Returns 0 or -1 (logged). */
static int read_header(struct cr_img *img, uint32_t hdr[2])
{
	if (img->end < IMG_HDR_SIZE) {
		pr_err("%s: file too short to hold a header (%zu of %zu bytes)\n",
		       img->path, img->end, IMG_HDR_SIZE);
		return -1;
	}
	hdr[0] = get_le32(img->buf);
	hdr[1] = get_le32(img->buf + sizeof(uint32_t));
	img->off = IMG_HDR_SIZE;
	return 0;
}

static int check_header(struct cr_img *img)
{
	uint32_t want_common = img_common_magic(img->type);
	uint32_t want = img_descs[img->type].magic;
	const char *tname = img_type_name(img->type);
	uint32_t hdr[2];
	int other;

	if (read_header(img, hdr))
		return -1;

	if (hdr[0] == IMG_COMMON_MAGIC_V2 && want_common == IMG_COMMON_MAGIC) {
		pr_err("%s: an image of format version 2 or older, without checksums; "
		       "this criu reads version %d only\n", img->path, IMG_FORMAT_VERSION);
		return -1;
	}
	if (hdr[0] != want_common) {
		pr_err("%s: wrong magic 0x%08x (expected 0x%08x for %s image)\n",
		       img->path, hdr[0], want_common, tname);
		return -1;
	}
	if (hdr[1] == want)
		return 0;

	other = magic_to_type(hdr[0], hdr[1]);
	if (other >= 0)
		pr_err("%s: wrong magic 0x%08x (expected 0x%08x for %s image; this is a %s image)\n",
		       img->path, hdr[1], want, tname, img_type_name(other));
	else
		pr_err("%s: wrong magic 0x%08x (expected 0x%08x for %s image)\n",
		       img->path, hdr[1], want, tname);
	return -1;
}

/*
 * What is at @off, where the trailer was found: it must close the file and
 * match. With @name (not for show, where a file may have been copied under
 * another name), it must have been written under that name, and by the
 * dump being read.
 */
static int check_trailer(struct cr_img *img, size_t off, unsigned long nr, const char *name, uint64_t want_id)
{
	const unsigned char *t = img->buf + off;
	uint32_t count;

	if (img->end - off < IMG_TRAILER_SIZE) {
		pr_err("%s: trailer at offset %zu cut short (%zu of %u bytes): truncated image\n",
		       img->path, off, img->end - off, IMG_TRAILER_SIZE);
		return -1;
	}
	if (img->end - off > IMG_TRAILER_SIZE) {
		pr_err("%s: %zu stray bytes after the trailer at offset %zu\n", img->path,
		       img->end - off - IMG_TRAILER_SIZE, off);
		return -1;
	}
	count = get_le32(t + 4);
	if (count != nr) {
		pr_err("%s: the trailer at offset %zu counts %u entries, the file holds %lu: damaged image\n",
		       img->path, off, count, nr);
		return -1;
	}
	if (csum_buf(img->buf, off + IMG_TRAILER_SIZE - 8) != get_le64(t + 24)) {
		pr_err("%s: checksum of bytes 0-%u does not match the trailer's: damaged image\n",
		       img->path, (unsigned int)(off + IMG_TRAILER_SIZE - 9));
		return -1;
	}
	img->dump_id = get_le64(t + 8);
	if (!name)
		return 0;
	if (get_le64(t + 16) != name_hash(name)) {
		pr_err("%s: written as another image file, not as %s (files swapped or renamed?)\n", img->path,
		       name);
		return -1;
	}
	if (want_id && img->dump_id != want_id) {
		pr_err("%s: written by another dump (id %016llx, not %016llx as inventory.img)\n", img->path,
		       (unsigned long long)img->dump_id, (unsigned long long)want_id);
		return -1;
	}
	return 0;
}

/*
 * Walk the entries of the loaded file: every length must fit, every check
 * word match, and the trailer close the file. Sets img->end to the
 * trailer's offset.
 */
static int check_entries(struct cr_img *img, const char *name, uint64_t want_id)
{
	size_t off = IMG_HDR_SIZE;
	unsigned long nr = 0;

	while (1) {
		size_t left = img->end - off;
		uint32_t len;

		if (left < IMG_LEN_SIZE) {
			if (left)
				pr_err("%s: entry #%lu at offset %zu: truncated length word (%zu of %zu bytes)\n",
				       img->path, nr, off, left, IMG_LEN_SIZE);
			else
				pr_err("%s: ends at offset %zu, after entry #%lu, without a trailer: "
				       "truncated image (or a dump that did not finish)\n", img->path, off, nr);
			return -1;
		}
		len = get_le32(img->buf + off);
		if (len == IMG_TRAILER_MARK) {
			if (check_trailer(img, off, nr, name, want_id))
				return -1;
			img->end = off;
			return 0;
		}
		if (len > IMG_MAX_ENTRY_SIZE) {
			pr_err("%s: entry #%lu at offset %zu: length %u exceeds the %u byte limit\n",
			       img->path, nr, off, len, IMG_MAX_ENTRY_SIZE);
			return -1;
		}
		if (left - IMG_LEN_SIZE < (size_t)len + IMG_CHECK_SIZE) {
			pr_err("%s: entry #%lu at offset %zu: length %u runs past the end of the file "
			       "(%zu bytes left): truncated or damaged image\n",
			       img->path, nr, off, len, left - IMG_LEN_SIZE);
			return -1;
		}
		if (get_le32(img->buf + off + IMG_LEN_SIZE + len) != entry_check(img->buf + off, len)) {
			pr_err("%s: entry #%lu at offset %zu (%u bytes): checksum mismatch: damaged image\n",
			       img->path, nr, off, len);
			return -1;
		}
		off += IMG_LEN_SIZE + len + IMG_CHECK_SIZE;
		nr++;
	}
}

static int write_header(struct cr_img *img)
{
	unsigned char buf[IMG_HDR_SIZE];

	put_le32(buf, img_common_magic(img->type));
	put_le32(buf + sizeof(uint32_t), img_descs[img->type].magic);
	img->off = 0;
	if (write_full(img, buf, sizeof(buf)))
		return -1;
	img->off = IMG_HDR_SIZE;
	return 0;
}

static struct cr_img *alloc_img(int type, int flags)
{
	struct cr_img *img = calloc(1, sizeof(*img));

	if (!img) {
		pr_err("Can't allocate image descriptor\n");
		return NULL;
	}
	img->fd = -1;
	img->type = type;
	img->flags = flags;
	return img;
}

/* Open img->path's file @name in @dfd; protobuf images are written with a header or read and checked. */
static int open_img_fd(struct cr_img *img, int dfd, const char *name, uint64_t want_id)
{
	img->fd = open_file(dfd, name, img->flags, img->path);
	if (img->fd < 0)
		return -1;
	if (img_is_raw(img->type))
		return 0;

	if (img->flags == O_DUMP) {
		img->hash = csum_stream_new();
		if (!img->hash) {
			pr_err("%s: can't allocate its checksum state\n", img->path);
			return -1;
		}
		return write_header(img);
	}
	if (load_file(img) || check_header(img) || check_entries(img, name, want_id))
		return -1;
	img->off = IMG_HDR_SIZE;
	return 0;
}

/* Only in a restore process with an image server: a file of the tree's, opened by criu; else -1 as it was. */
int img_open_file(const char *path, int flags)
{
	int err = errno, fd;

	if (img_srv < 0) {
		errno = err;
		return -1;
	}
	fd = img_srv_call(IMG_SRV_FILE, path, flags, -1);
	if (fd >= 0)
		pr_info("%s: opened by criu (its owner is not mapped in the tree's user namespace)\n", path);
	return fd;
}

/* fds of criu's the image server may hand out (chain_gather()'s memfds), by their /proc path */
static int *allowed_fds;
static size_t nr_allowed_fds;

int img_serve_allow_fd(int fd)
{
	int *n = realloc(allowed_fds, (nr_allowed_fds + 1) * sizeof(*n));

	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	allowed_fds = n;
	allowed_fds[nr_allowed_fds++] = fd;
	return 0;
}

/* In the server, criu's child: a new description of criu's fd (read-only), if it is one allowed. */
static int serve_allowed_fd(const char *name)
{
	char path[64];
	int pid, fd;

	if (sscanf(name, "/proc/%d/fd/%d", &pid, &fd) != 2 || pid != getppid()) {
		errno = EINVAL;
		return -1;
	}
	/* the server is in criu's mount namespace: /proc is criu's */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < nr_allowed_fds; i++)
		if (allowed_fds[i] == fd)
			return open(path, O_RDONLY | O_CLOEXEC);
	errno = EPERM;
	return -1;
}

int img_open_gathered(const char *name)
{
	return img_srv < 0 ? (errno = EINVAL, -1) : img_srv_call(IMG_SRV_GATHERED, name, O_RDONLY, -1);
}

int img_accessat(int dfd, const char *name)
{
	if (img_srv < 0)
		return faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
	return img_srv_call(IMG_SRV_ACCESS, name, 0, -1);
}

/*
 * @rel below @dirfd (a mount of the tree's being built) as an O_PATH fd,
 * looked up by criu: the user namespace's root may not search a directory
 * on the way that belongs to an id it does not map (debugfs's root, mode
 * 0700, with tracefs mounted on it). Only O_PATH, never across a mount or
 * through a symlink: the same walk the restore would make.
 */
int img_lookup_at(int dirfd, const char *rel)
{
	if (img_srv < 0) {
		errno = EACCES;
		return -1;
	}
	return img_srv_call(IMG_SRV_LOOKUP, rel, 0, dirfd);
}

/* criu's side: answer until the last holder of the other end is gone. */
void img_serve(int srv, int dfd)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))] __attribute__((aligned(8)));
	struct img_srv_req req;

	for (;;) {
		struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *ch;
		int reply, fd = -1, err = 0, xfd = -1;
		ssize_t n = recvmsg(srv, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return;
		}
		ch = CMSG_FIRSTHDR(&mh);
		if (n != sizeof(req) || !ch || ch->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&reply, CMSG_DATA(ch), sizeof(int));
		if (ch->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(&xfd, CMSG_DATA(ch) + sizeof(int), sizeof(int));
		req.name[sizeof(req.name) - 1] = '\0';
		if (req.op == IMG_SRV_LOOKUP) {
			fd = xfd < 0 ? (errno = EINVAL, -1) :
			     cr_openat2(xfd, req.name, O_PATH | O_NOFOLLOW | O_CLOEXEC,
					RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
			if (fd < 0)
				err = errno;
		} else if (req.op == IMG_SRV_FILE) {
			/* a file of the tree's, where the asking process sees it (its root) */
			struct ucred cr;
			socklen_t cl = sizeof(cr);
			char path[PATH_MAX + 64];

			if (getsockopt(reply, SOL_SOCKET, SO_PEERCRED, &cr, &cl) || req.name[0] != '/') {
				err = EINVAL;
			} else {
				snprintf(path, sizeof(path), "/proc/%d/root%s", cr.pid, req.name);
				fd = open(path, (req.flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY);
				if (fd < 0)
					err = errno;
			}
		} else if (req.op == IMG_SRV_GATHERED) {
			/* pages criu gathered from a chain of images dirs (pagechain.c) */
			fd = serve_allowed_fd(req.name);
			if (fd < 0)
				err = errno;
		} else if (strchr(req.name, '/') || !strcmp(req.name, "..") || !strcmp(req.name, "."))
			/* image names only: nothing above or beside the images directory */
			err = EINVAL;
		else if (req.op == IMG_SRV_OPEN)
			/* the checks and trust rules, as criu sees the owner (inside, it shows as unmapped) */
			fd = open_image_file(dfd, req.name, O_RDONLY);
		else if (faccessat(dfd, req.name, F_OK, AT_SYMLINK_NOFOLLOW))
			err = errno;
		if (req.op != IMG_SRV_ACCESS && fd < 0 && !err)
			err = errno;
		iov.iov_base = &err;
		iov.iov_len = sizeof(err);
		mh.msg_controllen = 0;
		if (fd >= 0) {
			mh.msg_controllen = sizeof(cbuf);
			ch = CMSG_FIRSTHDR(&mh);
			ch->cmsg_level = SOL_SOCKET;
			ch->cmsg_type = SCM_RIGHTS;
			ch->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(ch), &fd, sizeof(int));
		} else {
			mh.msg_control = NULL;
		}
		if (sendmsg(reply, &mh, 0) < 0)
			pr_perror("can't answer an image request");
		if (fd >= 0)
			close(fd);
		if (xfd >= 0)
			close(xfd);
		close(reply);
	}
}

static struct cr_img *open_image_va(int dfd, uint64_t want_id, int type, int flags, va_list args)
{
	char name[PATH_MAX];
	struct cr_img *img;

	if (type < 0 || type >= CR_FD_MAX) {
		pr_err("Unknown image type %d\n", type);
		return NULL;
	}
	if (flags != O_RDONLY && flags != O_DUMP) {
		pr_err("Bad flags 0x%x for %s image (O_RDONLY or O_DUMP only)\n",
		       flags, img_type_name(type));
		return NULL;
	}
	if (build_name(name, sizeof(name), type, args))
		return NULL;

	img = alloc_img(type, flags);
	if (!img)
		return NULL;
	set_img_path(img, dfd, name);
	if (open_img_fd(img, dfd, name, want_id)) {
		close_image(img);
		return NULL;
	}
	return img;
}

struct cr_img *open_image_at(int dfd, int type, int flags, ...)
{
	struct cr_img *img;
	va_list args;

	va_start(args, flags);
	img = open_image_va(dfd, dump_id, type, flags, args);
	va_end(args);
	return img;
}

struct cr_img *open_image_of(int dfd, uint64_t id, int type, ...)
{
	struct cr_img *img;
	va_list args;

	va_start(args, type);
	img = open_image_va(dfd, id, type, O_RDONLY, args);
	va_end(args);
	return img;
}

int raw_type_by_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (int t = 0; t < CR_FD_MAX; t++) {
		const char *fmt = img_descs[t].name_fmt;
		const char *conv = fmt ? strstr(fmt, "%u") : NULL;
		size_t plen = conv ? (size_t)(conv - fmt) : 0;
		char *end;

		if (!img_descs[t].magic && fmt && !conv && !strcmp(base, fmt))
			return t;	/* one raw file per dump */
		if (img_descs[t].magic || !conv || strncmp(base, fmt, plen))
			continue;
		if (base[plen] < '0' || base[plen] > '9')
			continue;
		strtoul(base + plen, &end, 10);
		if (!strcmp(end, conv + 2))
			return t;
	}
	return -1;
}

struct cr_img *open_image_path(const char *path)
{
	struct cr_img *img;
	uint32_t hdr[2];
	int type;

	img = alloc_img(CR_FD_PAGES, O_RDONLY);
	if (!img)
		return NULL;
	snprintf(img->path, sizeof(img->path), "%s", path);

	img->fd = open_file(AT_FDCWD, path, O_RDONLY, path);
	if (img->fd < 0)
		goto err;
	type = raw_type_by_name(path);
	if (type >= 0) {
		img->type = type;
		return img;
	}

	if (load_file(img) || read_header(img, hdr))
		goto err;
	type = magic_to_type(hdr[0], hdr[1]);
	if (type < 0 && hdr[0] == IMG_COMMON_MAGIC_V2) {
		pr_err("%s: an image of format version 2 or older, without checksums; "
		       "this criu reads version %d only\n", path, IMG_FORMAT_VERSION);
		goto err;
	}
	if (type < 0) {
		pr_err("%s: unknown magic 0x%08x 0x%08x, not an image file\n",
		       path, hdr[0], hdr[1]);
		goto err;
	}
	/* Both stats files share one magic pair; tell them apart by name. */
	if (type == CR_FD_STATS_DUMP) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		if (!strcmp(base, img_descs[CR_FD_STATS_RESTORE].name_fmt))
			type = CR_FD_STATS_RESTORE;
	}
	img->type = type;
	if (check_entries(img, NULL, 0))
		goto err;
	img->off = IMG_HDR_SIZE;
	return img;
err:
	close_image(img);
	return NULL;
}

#define IMG_WBUF_SIZE	(64 << 10)

int img_buffer_writes(struct cr_img *img)
{
	if (img->flags != O_DUMP || img->wbuf)
		return img->wbuf ? 0 : -1;
	img->wbuf = malloc(IMG_WBUF_SIZE);
	img->wbuf_len = 0;
	if (!img->wbuf) {
		pr_err("%s: no memory for a write buffer\n", img->path);
		return -1;
	}
	return 0;
}

int img_flush(struct cr_img *img)
{
	int ret;

	if (img->flags != O_DUMP || !img->wbuf || !img->wbuf_len)
		return 0;
	ret = write_full(img, img->wbuf, img->wbuf_len);
	img->wbuf_len = 0;
	return ret;
}

/* Append to the write buffer, writing it out when full. 0 or -1. */
static int write_buffered(struct cr_img *img, const void *src, size_t len)
{
	if (len >= IMG_WBUF_SIZE)
		return img_flush(img) ?: write_full(img, src, len);
	if (img->wbuf_len + len > IMG_WBUF_SIZE && img_flush(img))
		return -1;
	memcpy(img->wbuf + img->wbuf_len, src, len);
	img->wbuf_len += len;
	return 0;
}

void close_image(struct cr_img *img)
{
	if (!img)
		return;
	if (img->fd >= 0 && close(img->fd))
		pr_perror("%s: close failed", img->path);
	csum_stream_free(img->hash);
	free(img->buf);
	free(img->wbuf);	/* what it holds is dropped with the unsealed image */
	free(img);
}

static int write_trailer(struct cr_img *img)
{
	unsigned char t[IMG_TRAILER_SIZE];

	put_le32(t, IMG_TRAILER_MARK);
	put_le32(t + 4, img->nr_read);
	put_le64(t + 8, dump_id);
	put_le64(t + 16, name_hash(img->path));
	csum_stream_update(img->hash, t, IMG_TRAILER_SIZE - 8);
	put_le64(t + 24, csum_stream_digest(img->hash));
	/* what is written from here on is not part of the checksum */
	csum_stream_free(img->hash);
	img->hash = NULL;
	return write_full(img, t, sizeof(t));
}

int finish_image(struct cr_img *img, int ret)
{
	if (!img)
		return ret ? ret : -1;
	if (!ret && img->failed)
		ret = -1;
	if (ret || img->flags != O_DUMP) {
		close_image(img);
		return ret;
	}
	if (img_flush(img) || (!img_is_raw(img->type) && write_trailer(img)))
		ret = -1;
	if (close(img->fd)) {
		pr_perror("%s: close failed", img->path);
		ret = -1;
	}
	img->fd = -1;
	close_image(img);
	return ret;
}

int image_exists(int dfd, int type, ...)
{
	char name[PATH_MAX];
	struct stat st;
	va_list args;
	int ret;

	if (type < 0 || type >= CR_FD_MAX) {
		pr_err("Unknown image type %d\n", type);
		return -1;
	}

	va_start(args, type);
	ret = build_name(name, sizeof(name), type, args);
	va_end(args);
	if (ret)
		return -1;

	if (img_srv >= 0) {
		(void)st;
		if (!img_accessat(dfd, name))
			return 1;
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* anything there counts: opening it tells what is wrong with it */
		return 1;
	}
	if (errno == ENOENT)
		return 0;
	pr_perror("Can't stat image %s", name);
	return -1;
}

const ProtobufCMessageDescriptor *img_next_desc(struct cr_img *img)
{
	const struct img_desc *d = &img_descs[img->type];

	if (img->nr_read == 0 && d->head)
		return d->head;
	return d->pb;
}

/* Name of a top-level required field left NULL, to explain a failed check. */
static const char *unset_required_field(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	unsigned int i;

	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void *member = (const char *)m + f->offset;

		if (f->label != PROTOBUF_C_LABEL_REQUIRED)
			continue;
		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (*(void *const *)member == NULL)
			return f->name;
	}
	return NULL;
}

static int check_writable(struct cr_img *img, const ProtobufCMessage *m,
			  const ProtobufCMessageDescriptor **pdesc)
{
	const ProtobufCMessageDescriptor *desc;
	const char *field;

	if (img->flags != O_DUMP) {
		pr_err("%s: image is not open for writing\n", img->path);
		return -1;
	}
	desc = img_next_desc(img);
	if (!desc) {
		pr_err("%s: raw image, can't write protobuf entries\n", img->path);
		return -1;
	}
	if (m->descriptor != desc) {
		pr_err("%s: can't write a %s as entry #%lu, expected %s\n", img->path,
		       m->descriptor->name, img->nr_read, desc->name);
		return -1;
	}
	if (!protobuf_c_message_check(m)) {
		field = unset_required_field(m);
		if (field)
			pr_err("%s: %s entry #%lu: required field %s is not set\n",
			       img->path, desc->name, img->nr_read, field);
		else
			pr_err("%s: %s entry #%lu: a required field of a sub-message is not set\n",
			       img->path, desc->name, img->nr_read);
		return -1;
	}
	*pdesc = desc;
	return 0;
}

int pb_write_one(struct cr_img *img, const void *msg)
{
	const ProtobufCMessageDescriptor *desc;
	const ProtobufCMessage *m = msg;
	unsigned char *buf;
	size_t size, packed, total;
	int ret = -1;

	if (!img || !m) {
		pr_err("pb_write_one: %s\n", img ? "NULL message" : "NULL image");
		return -1;
	}
	if (check_writable(img, m, &desc))
		return -1;

	size = protobuf_c_message_get_packed_size(m);
	if (size > IMG_MAX_ENTRY_SIZE) {
		pr_err("%s: %s entry #%lu is %zu bytes, more than the %u limit\n",
		       img->path, desc->name, img->nr_read, size, IMG_MAX_ENTRY_SIZE);
		return -1;
	}

	total = IMG_LEN_SIZE + size + IMG_CHECK_SIZE;
	buf = malloc(total);
	if (!buf) {
		pr_err("%s: can't allocate %zu bytes for an entry\n", img->path, size);
		return -1;
	}
	put_le32(buf, size);
	packed = protobuf_c_message_pack(m, buf + IMG_LEN_SIZE);
	if (packed != size) {
		pr_err("%s: packed %zu bytes of %s, expected %zu\n", img->path,
		       packed, desc->name, size);
		goto out;
	}
	put_le32(buf + IMG_LEN_SIZE + size, entry_check(buf, size));
	if (img->wbuf ? write_buffered(img, buf, total) : write_full(img, buf, total))
		goto out;

	img->off += total;
	img->nr_read++;
	ret = 0;
out:
	free(buf);
	return ret;
}

static int check_readable(struct cr_img *img)
{
	if (img->flags != O_RDONLY) {
		pr_err("%s: image is not open for reading\n", img->path);
		return -1;
	}
	if (img_is_raw(img->type) || !img->buf) {
		pr_err("%s: raw image, it has no protobuf entries\n", img->path);
		return -1;
	}
	return 0;
}

int pb_read_one(struct cr_img *img, void **pmsg)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m;
	uint32_t len;

	*pmsg = NULL;
	if (!img) {
		pr_err("pb_read_one: NULL image\n");
		return -1;
	}
	if (check_readable(img))
		return -1;
	desc = img_next_desc(img);

	/* check_entries() made sure every entry up to img->end fits */
	if (img->off >= img->end)
		return 0;
	len = get_le32(img->buf + img->off);
	if (fault_hit("reading entry #%lu of %s", img->nr_read, img->path))
		return -1;

	m = protobuf_c_message_unpack(desc, NULL, len, img->buf + img->off + IMG_LEN_SIZE);
	if (!m) {
		pr_err("%s: entry #%lu at offset %llu: can't decode %u bytes as %s "
		       "(corrupt data or a required field missing)\n",
		       img->path, img->nr_read, (unsigned long long)img->off, len, desc->name);
		return -1;
	}

	img->off += IMG_LEN_SIZE + len + IMG_CHECK_SIZE;
	img->nr_read++;
	*pmsg = m;
	return 1;
}

int pb_read_one_required(struct cr_img *img, void **pmsg)
{
	const ProtobufCMessageDescriptor *desc;
	int ret;

	ret = pb_read_one(img, pmsg);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		desc = img_next_desc(img);
		pr_err("%s: unexpected end of file at offset %llu, expected a %s entry\n",
		       img->path, (unsigned long long)img->off, desc->name);
		return -1;
	}
	return 0;
}

void pb_free(struct cr_img *img, void *msg)
{
	if (!msg)
		return;
	protobuf_c_message_free_unpacked(msg, NULL);
}
