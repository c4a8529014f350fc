#ifndef CR_IMAGE_H
#define CR_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <fcntl.h>
#include <protobuf-c/protobuf-c.h>

struct csum_stream;

/*
 * Image files: two 32-bit little-endian magic words (a common one, then one
 * naming the image type), then entries, each a 32-bit little-endian length,
 * that many bytes of one protobuf message and a 32-bit check of both, then
 * a trailer (struct below) with the number of entries, the dump's id, a
 * hash of the file's name and a 64-bit checksum of every byte before it
 * (csum.h). An image without its trailer is not complete; one written
 * under another name or by another dump is not this one. Raw images
 * (pages, shmem and SysV segment bytes) have no header: their checksums
 * are in the images that describe them.
 */
#define IMG_COMMON_MAGIC	0x5a8f3c27u
#define IMG_COMMON_MAGIC_V2	0x54564319u	/* before checksums (version 2 and older) */
#define IMG_SERVICE_MAGIC	0x55105940u	/* stats files, as podman expects */
#define IMG_FORMAT_VERSION	3	/* 2: trees, threads, shmem, more fd kinds; 3: checksums */
#define IMG_MAX_ENTRY_SIZE	(64u << 20)
#define IMG_MAX_FILE_SIZE	(2ull << 30)	/* a protobuf image is read whole: refuse a bigger one */
#define IMG_TRAILER_MARK	0xffffffffu
/*
 * The trailer, little endian: u32 IMG_TRAILER_MARK (where a length word
 * would be), u32 number of entries, u64 dump id, u64 XXH3 of the file's
 * base name, u64 XXH3 of every byte of the file before this last word.
 */
#define IMG_TRAILER_SIZE	32u

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
	CR_FD_GHOST,		/* ghost-ID.img: raw, sparse, the bytes of unlinked file ID of files.img */
	CR_FD_MNTNS,		/* mntns.img: the mount tree of the tree's mount namespace */
	CR_FD_TMPFS,		/* tmpfs.img: the nodes of the tmpfs mounts made again, one filesystem after another */
	CR_FD_TMPFS_DATA,	/* tmpfs.data: raw, the bytes of their regular files in node order */
	CR_FD_NS,		/* ns.img: the tree's namespaces (criu/ns/) */
	CR_FD_NET_LOCK,		/* net-lock.img: the network lock left for the restore */
	CR_FD_CGROUP,		/* cgroup.img: the tree's cgroups (criu/cgroup/) */
	CR_FD_TRACK,		/* track.img: where the dirty tracking of the tree lives (track.c) */
	CR_FD_NETNS,		/* netns.img: the contents of the tree's network namespace (criu/ns/net*.c) */
	CR_FD_PAGES_1,		/* pages-ID.1.img, raw: the second pages file (pagemap_head.nr_files 2) */
	CR_FD_MAX
};

struct img_desc {
	const char *name_fmt;			/* file name, with %d/%u for an id when per-task */
	uint32_t magic;				/* type magic (second word) */
	const ProtobufCMessageDescriptor *head;	/* first entry's type, if different; NULL otherwise */
	const ProtobufCMessageDescriptor *pb;	/* entries' type; NULL for raw images */
};

extern const struct img_desc img_descs[CR_FD_MAX];

/* The name of pages file @file (0 or 1) of the pages @id ("pages-7.img", "pages-7.1.img"). */
void pages_file_name(char *buf, size_t len, uint32_t id, int file);
/* Short upper-case name of an image type ("CORE", "PAGEMAP", ...). */
const char *img_type_name(int type);
/* First header word of @type: IMG_SERVICE_MAGIC for stats, IMG_COMMON_MAGIC otherwise. */
uint32_t img_common_magic(int type);

struct cr_img {
	int fd;
	int type;
	int flags;			/* O_RDONLY or O_DUMP */
	unsigned long nr_read;		/* entries read (or written) so far, to pick head/pb */
	char path[PATH_MAX];		/* for messages */
	uint64_t off;			/* file offset of the next entry, for messages */
	unsigned char *buf;		/* reading: the whole file, checked at open */
	size_t end;			/* reading: offset of the trailer */
	uint64_t dump_id;		/* reading: the trailer's */
	struct csum_stream *hash;	/* writing: of every byte written */
	bool failed;			/* writing: a write failed, never seal it */
	unsigned char *wbuf;		/* writing: opt-in buffer (img_buffer_writes) */
	size_t wbuf_len;
};

#define O_DUMP	(O_WRONLY | O_CREAT | O_TRUNC)

/*
 * Entries written to @img from now on collect in a buffer, written out when
 * it fills, by img_flush() and by finish_image(): for images of many small
 * entries (pagemaps). 0 or -1.
 */
int img_buffer_writes(struct cr_img *img);
int img_flush(struct cr_img *img);

/*
 * Open image @type in directory @dfd. For per-task images pass the id
 * (pid or pages id) as the vararg. Only a regular file is opened (never a
 * FIFO, device, directory or symbolic link). Reading reads a protobuf
 * image whole and checks it (magic words, every entry's check, the
 * trailer); writing writes the magic words. Returns NULL and logs a
 * message naming the file (and the offset of any damage).
 */
struct cr_img *open_image_at(int dfd, int type, int flags, ...);
/*
 * Read image @type of another dump's images dir @dfd (a parent in a chain
 * of --prev-images-dir): its trailer must carry @id, that dir's own dump
 * id (its inventory's, chain_dump_id()), not the id of the dump being
 * written or read. @id 0 takes any (only to read such an inventory).
 */
struct cr_img *open_image_of(int dfd, uint64_t id, int type, ...);
/* Open an image by path, detecting its type from the magic words (for show). */
struct cr_img *open_image_path(const char *path);
/*
 * A written image is complete only once finished: with @ret 0 this seals a
 * protobuf image (the trailer) and closes it, returning 0 or -1; with @ret
 * non-zero it drops the image unsealed (readers will call it truncated)
 * and returns @ret. Frees @img either way.
 */
int finish_image(struct cr_img *img, int ret);
/* Close without sealing (reading, or giving up on a write). */
void close_image(struct cr_img *img);
/* 1 if there is a file (of any kind) where the image belongs, 0 if not, -1 if that can't be told (logged). */
int image_exists(int dfd, int type, ...);
/*
 * The id of the dump images are written for, and that images read must
 * have (0: any, until the inventory is read). A dump picks one at random.
 */
void img_set_dump_id(uint64_t id);
uint64_t img_get_dump_id(void);
/* Type of a raw image (pages-N.img, ...) from its file name, or -1. */
int raw_type_by_name(const char *path);
/*
 * openat() of an image file @name in @dfd (@flags: O_RDONLY or O_DUMP),
 * refusing anything but a regular file without blocking on a FIFO or
 * following a symlink. Returns the fd or -1 (logged, naming @name).
 */
int open_image_file(int dfd, const char *name, int flags);
/*
 * In a restore process inside a user namespace of the tree's, images are
 * read through criu's image server once img_use_server() gave one
 * (open_image_file() and open_image_at() use it for reading).
 */
int img_accessat(int dfd, const char *name);
void img_use_server(int fd);
int img_served(void);
int img_open_file(const char *path, int flags);
/* @rel below @dirfd as an O_PATH fd, looked up by criu (its image server): -1 with errno if none. */
int img_lookup_at(int dirfd, const char *rel);
/*
 * Pages criu gathered from a chain (its memfd's /proc path), through its
 * image server; the server gives out only the fds allowed before it was
 * forked.
 */
int img_open_gathered(const char *name);
int img_serve_allow_fd(int fd);
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
