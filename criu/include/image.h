#ifndef CR_IMAGE_H
#define CR_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <fcntl.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Image files: two 32-bit little-endian magic words (a common one, then one
 * naming the image type), then entries, each a 32-bit little-endian length
 * followed by that many bytes of one protobuf message. Raw pages files have
 * no header: they are page data only, described by the pagemap image.
 */
#define IMG_COMMON_MAGIC	0x54564319u
#define IMG_SERVICE_MAGIC	0x55105940u	/* stats files, as podman expects */
#define IMG_FORMAT_VERSION	2	/* 2: trees, threads, shmem, more fd kinds */
#define IMG_MAX_ENTRY_SIZE	(64u << 20)

enum cr_img_type {
	CR_FD_INVENTORY,
	CR_FD_STATS_DUMP,
	CR_FD_STATS_RESTORE,
	CR_FD_PSTREE,
	CR_FD_CORE,	/* core-PID.img */
	CR_FD_MM,	/* mm-PID.img */
	CR_FD_PAGEMAP,	/* pagemap-PID.img: pagemap_head, then pagemap_entry's */
	CR_FD_FILES,
	CR_FD_FDINFO,	/* fdinfo-PID.img */
	CR_FD_FS,	/* fs-PID.img */
	CR_FD_PAGES,	/* pages-ID.img, raw */
	CR_FD_SHMEM,	/* shmem.img: shared anonymous memory objects */
	CR_FD_SHMEM_PAGES,	/* shmem-ID.img: raw, sparse, the object's bytes at their offsets */
	CR_FD_FILE_LOCKS,	/* file-locks.img: locks the tree holds, with --file-locks */
	CR_FD_EXT_FILES,	/* ext-files.img: files outside the tree (--external) */
	CR_FD_IPC_NS,		/* ipc-ns.img: the SysV IPC objects of the tree's IPC namespace */
	CR_FD_SYSVSHM_PAGES,	/* sysvshm-SHMID.img: raw, sparse, a SysV segment's bytes */
	CR_FD_NS,		/* ns.img: the tree's namespaces (criu/ns/) */
	CR_FD_NET_LOCK,		/* net-lock.img: the network lock left for the restore */
	CR_FD_CGROUP,		/* cgroup.img: the tree's cgroups (criu/cgroup/) */
	CR_FD_NETNS,		/* netns.img: the contents of the tree's network namespace (criu/ns/net*.c) */
	CR_FD_MAX
};

struct img_desc {
	const char *name_fmt;			/* file name, with %d/%u for an id when per-task */
	uint32_t magic;				/* type magic (second word) */
	const ProtobufCMessageDescriptor *head;	/* first entry's type, if different; NULL otherwise */
	const ProtobufCMessageDescriptor *pb;	/* entries' type; NULL for raw images */
};

extern const struct img_desc img_descs[CR_FD_MAX];

/* Short upper-case name of an image type ("CORE", "PAGEMAP", ...). */
const char *img_type_name(int type);
/* First header word of @type: IMG_SERVICE_MAGIC for stats, IMG_COMMON_MAGIC otherwise. */
uint32_t img_common_magic(int type);

struct cr_img {
	int fd;
	int type;
	int flags;			/* O_RDONLY or O_DUMP */
	unsigned long nr_read;		/* entries read so far, to pick head/pb */
	char path[PATH_MAX];		/* for messages */
	uint64_t off;			/* file offset of the next entry, for messages */
	char *buf;			/* read-ahead of pb images; opt-in write buffer (img_buffer_writes) */
	size_t buf_len, buf_pos;	/* bytes in buf, and the next to read */
};

#define O_DUMP	(O_WRONLY | O_CREAT | O_TRUNC)

/*
 * Entries written to @img from now on collect in a buffer, written out when
 * it fills and by img_flush(), which must be called (and checked) before
 * the image is closed: for images of many small entries (pagemaps). 0 or -1.
 */
int img_buffer_writes(struct cr_img *img);
int img_flush(struct cr_img *img);

/*
 * Open image @type in directory @dfd. For per-task images pass the id
 * (pid or pages id) as the vararg. Reading checks both magic words;
 * writing writes them. Returns NULL and logs a message naming the file.
 */
struct cr_img *open_image_at(int dfd, int type, int flags, ...);
/* Open an image by path, detecting its type from the magic words (for show). */
struct cr_img *open_image_path(const char *path);
void close_image(struct cr_img *img);
bool image_exists(int dfd, int type, ...);
/*
 * Opening images by name (read-only: through criu's image server when
 * img_use_server() gave one, in a restore process inside a user namespace).
 */
int img_openat(int dfd, const char *name, int flags);
int img_accessat(int dfd, const char *name);
void img_use_server(int fd);
int img_served(void);
int img_open_file(const char *path, int flags);
void img_serve(int srv, int dfd);

/* Returns 0 or -1. */
int pb_write_one(struct cr_img *img, const void *msg);
/*
 * Reads the next entry into *pmsg (free with pb_free). Returns 1 when an
 * entry was read, 0 at a clean end of file, -1 on a truncated or corrupt
 * entry (with a message naming the file, offset and what is wrong).
 */
int pb_read_one(struct cr_img *img, void **pmsg);
/* Like pb_read_one but end of file is an error too. Returns 0 or -1. */
int pb_read_one_required(struct cr_img *img, void **pmsg);
void pb_free(struct cr_img *img, void *msg);

/* Descriptor for the next entry of this image (head for the first one). */
const ProtobufCMessageDescriptor *img_next_desc(struct cr_img *img);
/* Print every entry of the image at @path as JSON to @out. Returns 0 or -1. */
#include <stdio.h>
int show_image(const char *path, FILE *out);

/*
 * trust.c: restore reads only images no one but root and the caller can
 * have written (Documentation/security.md). 0, or -1 with the reason.
 */
extern int image_trust_required;	/* set by restore: open_image_at() checks every image it reads */
int image_trusted(int fd, const char *path);
int images_dir_trusted(const char *dir);

#endif
