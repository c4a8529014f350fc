/*
 * Reading and writing image files.
 *
 * Layout: two little-endian 32-bit magic words (common, then type), then
 * entries, each a little-endian 32-bit length followed by that many bytes
 * of a packed protobuf message. Raw images (page data) have no header and
 * no entries; callers read and write them through img->fd directly.
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

#include "image.h"
#include "log.h"

#define IMG_HDR_SIZE	(2 * sizeof(uint32_t))
#define IMG_LEN_SIZE	sizeof(uint32_t)

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

static bool img_is_raw(int type)
{
	return img_descs[type].pb == NULL;
}

/*
 * Read up to @len bytes, stopping early only at end of file.
 * Returns the number of bytes read, or -1 (logged) on a read error.
 */
static ssize_t read_full(struct cr_img *img, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(img->fd, (char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("%s: read failed at offset %llu", img->path,
				  (unsigned long long)(img->off + done));
			return -1;
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

#define IMG_BUF_SIZE	(64 << 10)

/* Read through img->buf: big reads instead of two small ones per entry. */
static ssize_t read_buffered(struct cr_img *img, void *dst, size_t len)
{
	size_t done = 0;

	if (!img->buf) {
		img->buf = malloc(IMG_BUF_SIZE);
		if (!img->buf)
			return read_full(img, dst, len);
	}
	while (done < len) {
		size_t have = img->buf_len - img->buf_pos, take;
		ssize_t n;

		if (!have) {
			/* a big entry goes straight to its place */
			if (len - done >= IMG_BUF_SIZE) {
				n = read_full(img, (char *)dst + done, len - done);
				return n < 0 ? -1 : (ssize_t)(done + n);
			}
			n = read_full(img, img->buf, IMG_BUF_SIZE);
			if (n < 0)
				return -1;
			img->buf_len = n;
			img->buf_pos = 0;
			if (!n)
				break;
			continue;
		}
		take = have < len - done ? have : len - done;
		memcpy((char *)dst + done, img->buf + img->buf_pos, take);
		img->buf_pos += take;
		done += take;
	}
	return done;
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
			return -1;
		}
		if (n == 0) {
			pr_err("%s: write returned 0 at offset %llu\n", img->path,
			       (unsigned long long)(img->off + done));
			return -1;
		}
		done += n;
	}
	return 0;
}

/* Fill img->path with "<dir of dfd>/<name>" for messages; best effort. */
static void set_img_path(struct cr_img *img, int dfd, const char *name)
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
	if (snprintf(img->path, sizeof(img->path), "%s/%s", dir, name) < (int)sizeof(img->path))
		return;
name_only:
	snprintf(img->path, sizeof(img->path), "%s", name);
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

/* Read the 8 header bytes into @hdr. Returns 0 or -1 (logged). */
static int read_header(struct cr_img *img, uint32_t hdr[2])
{
	unsigned char buf[IMG_HDR_SIZE];
	ssize_t n;

	n = read_full(img, buf, sizeof(buf));
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(buf)) {
		pr_err("%s: file too short to hold a header (%zd of %zu bytes)\n",
		       img->path, n, sizeof(buf));
		return -1;
	}
	hdr[0] = get_le32(buf);
	hdr[1] = get_le32(buf + sizeof(uint32_t));
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

/*
 * Inside a user namespace of the tree's the restore processes can't read
 * the images (their owner is not mapped there): they ask criu, which opens
 * them (serve_images()). Each request carries its own reply socket, so
 * that processes sharing the server socket never read each other's fds.
 */
enum { IMG_SRV_OPEN = 1, IMG_SRV_ACCESS, IMG_SRV_FILE };

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

static int img_srv_call(int op, const char *name, int flags)
{
	struct img_srv_req req = { .op = op, .flags = flags };
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
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
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &r[1], sizeof(int));
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

int img_openat(int dfd, const char *name, int flags)
{
	if (img_srv < 0 || (flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT))
		return openat(dfd, name, flags | O_CLOEXEC, 0600);
	return img_srv_call(IMG_SRV_OPEN, name, flags);
}

/* Only in a restore process with an image server: a file of the tree's, opened by criu; else -1 as it was. */
int img_open_file(const char *path, int flags)
{
	int err = errno, fd;

	if (img_srv < 0) {
		errno = err;
		return -1;
	}
	fd = img_srv_call(IMG_SRV_FILE, path, flags);
	if (fd >= 0)
		pr_info("%s: opened by criu (its owner is not mapped in the tree's user namespace)\n", path);
	return fd;
}

int img_accessat(int dfd, const char *name)
{
	if (img_srv < 0)
		return faccessat(dfd, name, F_OK, 0);
	return img_srv_call(IMG_SRV_ACCESS, name, 0);
}

/* criu's side: answer until the last holder of the other end is gone. */
void img_serve(int srv, int dfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	struct img_srv_req req;

	for (;;) {
		struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *ch;
		int reply, fd = -1, err = 0;
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
		req.name[sizeof(req.name) - 1] = '\0';
		if (req.op == IMG_SRV_FILE) {
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
		} else if (strchr(req.name, '/') || !strcmp(req.name, "..") || !strcmp(req.name, "."))
			/* image names only: nothing above or beside the images directory */
			err = EINVAL;
		else if (req.op == IMG_SRV_OPEN) {
			fd = openat(dfd, req.name, (req.flags & ~(O_CREAT | O_TRUNC | O_ACCMODE)) | O_RDONLY | O_CLOEXEC);
			/* the trust rules, as criu sees the owner (inside, it shows as unmapped) */
			if (fd >= 0 && image_trust_required && image_trusted(fd, req.name)) {
				close(fd);
				fd = -1;
				err = EPERM;
			}
		}
		else if (faccessat(dfd, req.name, F_OK, 0))
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
		close(reply);
	}
}

struct cr_img *open_image_at(int dfd, int type, int flags, ...)
{
	char name[PATH_MAX];
	struct cr_img *img;
	va_list args;
	int ret;

	if (type < 0 || type >= CR_FD_MAX) {
		pr_err("Unknown image type %d\n", type);
		return NULL;
	}
	if (flags != O_RDONLY && flags != O_DUMP) {
		pr_err("Bad flags 0x%x for %s image (O_RDONLY or O_DUMP only)\n",
		       flags, img_type_name(type));
		return NULL;
	}

	va_start(args, flags);
	ret = build_name(name, sizeof(name), type, args);
	va_end(args);
	if (ret)
		return NULL;

	img = alloc_img(type, flags);
	if (!img)
		return NULL;
	set_img_path(img, dfd, name);

	img->fd = img_openat(dfd, name, flags);
	if (img->fd < 0) {
		pr_perror("Can't open image %s", img->path);
		goto err;
	}
	if (flags == O_RDONLY && image_trust_required && image_trusted(img->fd, img->path))
		goto err;
	if (img_is_raw(type))
		return img;

	if (flags == O_DUMP)
		ret = write_header(img);
	else
		ret = check_header(img);
	if (ret)
		goto err;
	return img;
err:
	close_image(img);
	return NULL;
}

/*
 * Raw images (pages, shmem and SysV segment bytes) have no header: find
 * their type by name, from the "NAME-%u.img" of their description.
 */
static int raw_type_by_name(const char *path)
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

	img->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0) {
		pr_perror("Can't open image %s", path);
		goto err;
	}
	type = raw_type_by_name(path);
	if (type >= 0) {
		img->type = type;
		return img;
	}

	if (read_header(img, hdr))
		goto err;
	type = magic_to_type(hdr[0], hdr[1]);
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
	return img;
err:
	close_image(img);
	return NULL;
}

int img_buffer_writes(struct cr_img *img)
{
	if (img->flags != O_DUMP || img->buf)
		return img->buf ? 0 : -1;
	img->buf = malloc(IMG_BUF_SIZE);
	img->buf_len = 0;
	if (!img->buf) {
		pr_err("%s: no memory for a write buffer\n", img->path);
		return -1;
	}
	return 0;
}

int img_flush(struct cr_img *img)
{
	int ret;

	if (img->flags != O_DUMP || !img->buf || !img->buf_len)
		return 0;
	ret = write_full(img, img->buf, img->buf_len);
	img->buf_len = 0;
	return ret;
}

/* Append to the write buffer, writing it out when full. 0 or -1. */
static int write_buffered(struct cr_img *img, const void *src, size_t len)
{
	if (len >= IMG_BUF_SIZE)
		return img_flush(img) ?: write_full(img, src, len);
	if (img->buf_len + len > IMG_BUF_SIZE && img_flush(img))
		return -1;
	memcpy(img->buf + img->buf_len, src, len);
	img->buf_len += len;
	return 0;
}

void close_image(struct cr_img *img)
{
	if (!img)
		return;
	if (img->flags == O_DUMP && img->buf && img->buf_len) {
		/* a caller that buffered writes flushes and checks first; this is a last resort */
		pr_err("%s: closed with %zu bytes not flushed\n", img->path, img->buf_len);
		img_flush(img);
	}
	free(img->buf);
	if (img->fd >= 0 && close(img->fd))
		pr_perror("%s: close failed", img->path);
	free(img);
}

bool image_exists(int dfd, int type, ...)
{
	char name[PATH_MAX];
	struct stat st;
	va_list args;
	int ret;

	if (type < 0 || type >= CR_FD_MAX) {
		pr_err("Unknown image type %d\n", type);
		return false;
	}

	va_start(args, type);
	ret = build_name(name, sizeof(name), type, args);
	va_end(args);
	if (ret)
		return false;

	if (img_srv >= 0) {
		(void)st;
		if (!img_accessat(dfd, name))
			return true;
	} else if (fstatat(dfd, name, &st, 0) == 0)
		return true;
	if (errno != ENOENT)
		pr_perror("Can't stat image %s", name);
	return false;
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
	size_t size, packed;
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

	buf = malloc(IMG_LEN_SIZE + size);
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
	if (img->buf ? write_buffered(img, buf, IMG_LEN_SIZE + size) : write_full(img, buf, IMG_LEN_SIZE + size))
		goto out;

	img->off += IMG_LEN_SIZE + size;
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
	if (img_is_raw(img->type)) {
		pr_err("%s: raw image, it has no protobuf entries\n", img->path);
		return -1;
	}
	return 0;
}

/* Read the length word. Returns 1 and sets *plen, 0 at clean EOF, -1 on error. */
static int read_entry_len(struct cr_img *img, uint32_t *plen)
{
	unsigned char buf[IMG_LEN_SIZE];
	ssize_t n;

	n = read_buffered(img, buf, sizeof(buf));
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof(buf)) {
		pr_err("%s: entry #%lu at offset %llu: truncated length word (%zd of %zu bytes)\n",
		       img->path, img->nr_read, (unsigned long long)img->off, n, sizeof(buf));
		return -1;
	}
	*plen = get_le32(buf);
	if (*plen > IMG_MAX_ENTRY_SIZE) {
		pr_err("%s: entry #%lu at offset %llu: length %u exceeds the %u byte limit\n",
		       img->path, img->nr_read, (unsigned long long)img->off, *plen,
		       IMG_MAX_ENTRY_SIZE);
		return -1;
	}
	return 1;
}

int pb_read_one(struct cr_img *img, void **pmsg)
{
	const ProtobufCMessageDescriptor *desc;
	unsigned char *buf = NULL;
	ProtobufCMessage *m;
	uint32_t len;
	ssize_t n;
	int ret;

	*pmsg = NULL;
	if (!img) {
		pr_err("pb_read_one: NULL image\n");
		return -1;
	}
	if (check_readable(img))
		return -1;
	desc = img_next_desc(img);

	ret = read_entry_len(img, &len);
	if (ret <= 0)
		return ret;

	ret = -1;
	buf = malloc(len ? len : 1);
	if (!buf) {
		pr_err("%s: can't allocate %u bytes for entry at offset %llu\n",
		       img->path, len, (unsigned long long)img->off);
		return -1;
	}
	n = read_buffered(img, buf, len);
	if (n < 0)
		goto out;
	if ((size_t)n < len) {
		pr_err("%s: entry #%lu at offset %llu: truncated %s, length %u but only %zd bytes left\n",
		       img->path, img->nr_read, (unsigned long long)img->off, desc->name, len, n);
		goto out;
	}

	m = protobuf_c_message_unpack(desc, NULL, len, buf);
	if (!m) {
		pr_err("%s: entry #%lu at offset %llu: can't decode %u bytes as %s "
		       "(corrupt data or a required field missing)\n",
		       img->path, img->nr_read, (unsigned long long)img->off, len, desc->name);
		goto out;
	}

	img->off += IMG_LEN_SIZE + len;
	img->nr_read++;
	*pmsg = m;
	ret = 1;
out:
	free(buf);
	return ret;
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
