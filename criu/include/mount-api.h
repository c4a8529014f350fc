/*
 * The mount API of today's kernels (statmount/listmount 6.8, unique mount
 * ids, openat2): newer than Debian's 6.1 UAPI headers, so defined here.
 * glibc 2.36 wraps fsopen, fsconfig, fsmount, open_tree, move_mount and
 * mount_setattr (<sys/mount.h>).
 */
#ifndef CR_MOUNT_API_H
#define CR_MOUNT_API_H

#include <stdint.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_statmount
#define SYS_statmount	457
#endif
#ifndef SYS_listmount
#define SYS_listmount	458
#endif
#ifndef SYS_openat2
#define SYS_openat2	437
#endif

/* Both calls take this request (VER1, 32 bytes, since 6.11). */
struct cr_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
	uint64_t mnt_ns_id;
};

#define CR_MNT_ID_REQ_SIZE_VER1	32
#define CR_LSMT_ROOT		0xffffffffffffffffULL

/* statmount()'s reply: a fixed 512-byte part, then the strings it points into. */
struct cr_statmount {
	uint32_t size;
	uint32_t mnt_opts;
	uint64_t mask;
	uint32_t sb_dev_major;
	uint32_t sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;
	uint64_t mnt_id;
	uint64_t mnt_parent_id;
	uint32_t mnt_id_old;
	uint32_t mnt_parent_id_old;
	uint64_t mnt_attr;
	uint64_t mnt_propagation;
	uint64_t mnt_peer_group;
	uint64_t mnt_master;
	uint64_t propagate_from;
	uint32_t mnt_root;
	uint32_t mnt_point;
	uint64_t mnt_ns_id;
	uint32_t fs_subtype;
	uint32_t sb_source;
	uint32_t opt_num;
	uint32_t opt_array;
	uint32_t opt_sec_num;
	uint32_t opt_sec_array;
	uint64_t supported_mask;
	uint32_t mnt_uidmap_num;
	uint32_t mnt_uidmap;
	uint32_t mnt_gidmap_num;
	uint32_t mnt_gidmap;
	uint64_t spare2[43];
	char str[];
};

_Static_assert(sizeof(struct cr_statmount) == 512, "struct statmount is 512 bytes");

#define CR_STATMOUNT_SB_BASIC		0x00000001U
#define CR_STATMOUNT_MNT_BASIC		0x00000002U
#define CR_STATMOUNT_PROPAGATE_FROM	0x00000004U
#define CR_STATMOUNT_MNT_ROOT		0x00000008U
#define CR_STATMOUNT_MNT_POINT		0x00000010U
#define CR_STATMOUNT_FS_TYPE		0x00000020U
#define CR_STATMOUNT_MNT_NS_ID		0x00000040U
#define CR_STATMOUNT_MNT_OPTS		0x00000080U
#define CR_STATMOUNT_FS_SUBTYPE		0x00000100U
#define CR_STATMOUNT_SB_SOURCE		0x00000200U
#define CR_STATMOUNT_OPT_ARRAY		0x00000400U
#define CR_STATMOUNT_OPT_SEC_ARRAY	0x00000800U
#define CR_STATMOUNT_MNT_UIDMAP		0x00002000U
#define CR_STATMOUNT_MNT_GIDMAP		0x00004000U

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID		0x8008b705
#endif

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE	0x00004000U
#endif

#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW	0x00200000
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP	0x00100000
#endif

#ifndef MOVE_MOUNT_SET_GROUP
#define MOVE_MOUNT_SET_GROUP	0x00000100
#endif

/* openat2(): resolve a path without leaving a mount or following links. */
struct cr_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV		0x01
#define RESOLVE_NO_MAGICLINKS	0x02
#define RESOLVE_NO_SYMLINKS	0x04
#define RESOLVE_BENEATH		0x08
#define RESOLVE_IN_ROOT		0x10
#endif

static inline long cr_statmount(struct cr_mnt_id_req *req, struct cr_statmount *buf, size_t size)
{
	return syscall(SYS_statmount, req, buf, size, 0);
}

static inline long cr_listmount(struct cr_mnt_id_req *req, uint64_t *ids, size_t nr)
{
	return syscall(SYS_listmount, req, ids, nr, 0);
}

static inline int cr_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct cr_open_how how = { .flags = flags, .resolve = resolve };

	return syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

#endif
