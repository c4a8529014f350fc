/* What the files of criu/mount/ share. */
#ifndef CR_MOUNT_MNT_H
#define CR_MOUNT_MNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mnt.pb-c.h"

/* ---- filesystem kinds (fs-kinds.c) ---- */

struct fs_kind {
	const char *name;
	/* tmpfs: the contents are saved and made again */
	/* @root_fd shows directory @prefix of the filesystem ("" for its root) */
	int (*dump_contents)(int dfd, uint32_t origin, int root_fd, const char *prefix);
	/* @root_fd is the root of the new filesystem */
	int (*restore_contents)(int dfd, uint32_t origin, int root_fd);
	/* options statmount leaves out but the filesystem needs (@ctx: fsopen's) */
	int (*more_options)(int ctx, char *const *opts, size_t nr);
};

/*
 * A filesystem type that can be made anew at restore from its options
 * (built in, or named with --enable-fs), or NULL.
 */
const struct fs_kind *fs_kind_fresh(const char *fstype);
bool mnt_fs_enabled(const char *fstype);

/* tmpfs.c */
int tmpfs_dump_contents(int dfd, uint32_t origin, int root_fd, const char *prefix);
int tmpfs_restore_contents(int dfd, uint32_t origin, int root_fd);
/* After the last filesystem: the images are closed (dump, restore). */
int tmpfs_contents_done(void);
void tmpfs_restore_done(void);

/* ---- options (mnt-opts.c) ---- */

/* Dump: the image key of the mount at @mountpoint (--external mnt[MP]:KEY), or NULL. */
const char *mnt_ext_key(const char *mountpoint);
/* Restore: the host path of image key @key, or NULL. */
const char *mnt_ext_path(const char *key);
bool mnt_ext_auto(void);
bool mnt_ext_sharing(void);
bool mnt_ext_masters(void);
/* Dump: warn once about keys that named no mount (runc passes every device path). */
void mnt_ext_report_unused(void);

/* ---- helpers (mnt-util.c) ---- */

/* "a/b" of "/x/a/b" below "/x"; "" when equal; NULL when @path is not below @dir. */
const char *path_below(const char *path, const char *dir);
/* Is @path @dir or below it? */
bool path_within(const char *path, const char *dir);
/* A string for a relative path: "" becomes "." */
static inline const char *rel_or_dot(const char *rel)
{
	return rel[0] ? rel : ".";
}
/* A map from 64-bit keys to pointers (open addressing); values with equal keys chain themselves. */
struct u64_map {
	uint64_t *keys;
	void **vals;
	size_t cap, nr;
};
int u64_map_put(struct u64_map *m, uint64_t key, void *val);
void *u64_map_get(const struct u64_map *m, uint64_t key);
void u64_map_free(struct u64_map *m);

/* Run @fn in a child that joined mount namespace @nsfd; its status (0 ok). @sk: a socket to the caller. */
int mnt_helper(int nsfd, int (*fn)(void *arg, int sk), void *arg, int *recv_fd);
int send_fd(int sk, int fd);
int recv_fd(int sk);

#endif
