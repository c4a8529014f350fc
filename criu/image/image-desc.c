/*
 * Table of image kinds: file name, type magic and the protobuf messages
 * each image holds. Indexed by enum cr_img_type.
 */
#include <stddef.h>

#include "image.h"

#include "inventory.pb-c.h"
#include "stats.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "files.pb-c.h"
#include "file-lock.pb-c.h"
#include "ext-file.pb-c.h"
#include "ipc.pb-c.h"
#include "mnt.pb-c.h"
#include "ns.pb-c.h"
#include "net.pb-c.h"
#include "cgroup.pb-c.h"
#include "track.pb-c.h"
#include "netns.pb-c.h"

/* Second header word of each image; the stats one is fixed by podman. */
#define INVENTORY_MAGIC	0x5e3a7c21u
#define STATS_MAGIC	0x57093306u
#define PSTREE_MAGIC	0x4c1b9e53u
#define CORE_MAGIC	0x6a2f0d47u
#define MM_MAGIC	0x53d81a6cu
#define PAGEMAP_MAGIC	0x47a2e915u
#define FILES_MAGIC	0x5b94c230u
#define FDINFO_MAGIC	0x62e07b8du
#define FS_MAGIC	0x4fd35a12u
#define SHMEM_MAGIC	0x5d3c81e7u
#define FILE_LOCKS_MAGIC	0x4a6f1b2du
#define EXT_FILES_MAGIC	0x6c2e9a13u
#define IPC_NS_MAGIC	0x4e8b2f61u
#define MNTNS_MAGIC	0x5a17c3e9u
#define TMPFS_MAGIC	0x43b6e05du
#define NS_MAGIC	0x59d1c4a7u
#define NET_LOCK_MAGIC	0x58c10a93u
#define CGROUP_MAGIC	0x59c3a815u
#define TRACK_MAGIC	0x5a17d3e9u
#define NETNS_MAGIC	0x4b7e2d59u

const struct img_desc img_descs[CR_FD_MAX] = {
	[CR_FD_INVENTORY] = {
		.name_fmt	= "inventory.img",
		.magic		= INVENTORY_MAGIC,
		.pb		= &inventory_entry__descriptor,
	},
	[CR_FD_STATS_DUMP] = {
		.name_fmt	= "stats-dump",
		.magic		= STATS_MAGIC,
		.pb		= &stats_entry__descriptor,
	},
	[CR_FD_STATS_RESTORE] = {
		.name_fmt	= "stats-restore",
		.magic		= STATS_MAGIC,
		.pb		= &stats_entry__descriptor,
	},
	[CR_FD_PSTREE] = {
		.name_fmt	= "pstree.img",
		.magic		= PSTREE_MAGIC,
		.pb		= &pstree_entry__descriptor,
	},
	[CR_FD_CORE] = {
		.name_fmt	= "core-%d.img",
		.magic		= CORE_MAGIC,
		.pb		= &core_entry__descriptor,
	},
	[CR_FD_MM] = {
		.name_fmt	= "mm-%d.img",
		.magic		= MM_MAGIC,
		.pb		= &mm_entry__descriptor,
	},
	[CR_FD_PAGEMAP] = {
		.name_fmt	= "pagemap-%d.img",
		.magic		= PAGEMAP_MAGIC,
		.head		= &pagemap_head__descriptor,
		.pb		= &pagemap_entry__descriptor,
	},
	[CR_FD_FILES] = {
		.name_fmt	= "files.img",
		.magic		= FILES_MAGIC,
		.pb		= &file_entry__descriptor,
	},
	[CR_FD_FDINFO] = {
		.name_fmt	= "fdinfo-%d.img",
		.magic		= FDINFO_MAGIC,
		.pb		= &fdinfo_entry__descriptor,
	},
	[CR_FD_FS] = {
		.name_fmt	= "fs-%d.img",
		.magic		= FS_MAGIC,
		.pb		= &fs_entry__descriptor,
	},
	[CR_FD_PAGES] = {
		.name_fmt	= "pages-%u.img",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_PAGES_1] = {
		.name_fmt	= "pages-%u.1.img",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_SHMEM] = {
		.name_fmt	= "shmem.img",
		.magic		= SHMEM_MAGIC,
		.pb		= &shmem_entry__descriptor,
	},
	[CR_FD_SHMEM_PAGES] = {
		.name_fmt	= "shmem-%u.img",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_FILE_LOCKS] = {
		.name_fmt	= "file-locks.img",
		.magic		= FILE_LOCKS_MAGIC,
		.pb		= &file_lock_entry__descriptor,
	},
	[CR_FD_EXT_FILES] = {
		.name_fmt	= "ext-files.img",
		.magic		= EXT_FILES_MAGIC,
		.pb		= &ext_file_entry__descriptor,
	},
	[CR_FD_IPC_NS] = {
		.name_fmt	= "ipc-ns.img",
		.magic		= IPC_NS_MAGIC,
		.pb		= &ipc_ns_entry__descriptor,
	},
	[CR_FD_SYSVSHM_PAGES] = {
		.name_fmt	= "sysvshm-%u.img",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_GHOST] = {
		.name_fmt	= "ghost-%u.img",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_MNTNS] = {
		.name_fmt	= "mntns.img",
		.magic		= MNTNS_MAGIC,
		.pb		= &mnt_ns_entry__descriptor,
	},
	[CR_FD_TMPFS] = {
		.name_fmt	= "tmpfs.img",
		.magic		= TMPFS_MAGIC,
		.pb		= &tmpfs_node__descriptor,
	},
	[CR_FD_TMPFS_DATA] = {
		.name_fmt	= "tmpfs.data",
		.magic		= 0,	/* raw: no header */
		.pb		= NULL,
	},
	[CR_FD_NS] = {
		.name_fmt	= "ns.img",
		.magic		= NS_MAGIC,
		.pb		= &ns_entry__descriptor,
	},
	[CR_FD_NET_LOCK] = {
		.name_fmt	= "net-lock.img",
		.magic		= NET_LOCK_MAGIC,
		.pb		= &net_lock_entry__descriptor,
	},
	[CR_FD_CGROUP] = {
		.name_fmt	= "cgroup.img",
		.magic		= CGROUP_MAGIC,
		.pb		= &cgroup_entry__descriptor,
	},
	[CR_FD_TRACK] = {
		.name_fmt	= "track.img",
		.magic		= TRACK_MAGIC,
		.pb		= &track_entry__descriptor,
	},
	[CR_FD_NETNS] = {
		.name_fmt	= "netns.img",
		.magic		= NETNS_MAGIC,
		.pb		= &netns_entry__descriptor,
	},
};

static const char *const img_type_names[CR_FD_MAX] = {
	[CR_FD_INVENTORY]	= "INVENTORY",
	[CR_FD_STATS_DUMP]	= "STATS",
	[CR_FD_STATS_RESTORE]	= "STATS",
	[CR_FD_PSTREE]		= "PSTREE",
	[CR_FD_CORE]		= "CORE",
	[CR_FD_MM]		= "MM",
	[CR_FD_PAGEMAP]		= "PAGEMAP",
	[CR_FD_FILES]		= "FILES",
	[CR_FD_FDINFO]		= "FDINFO",
	[CR_FD_FS]		= "FS",
	[CR_FD_PAGES]		= "PAGES",
	[CR_FD_SHMEM]		= "SHMEM",
	[CR_FD_SHMEM_PAGES]	= "SHMEM_PAGES",
	[CR_FD_FILE_LOCKS]	= "FILE_LOCKS",
	[CR_FD_EXT_FILES]	= "EXT_FILES",
	[CR_FD_IPC_NS]		= "IPC_NS",
	[CR_FD_SYSVSHM_PAGES]	= "SYSVSHM_PAGES",
	[CR_FD_GHOST]		= "GHOST",
	[CR_FD_MNTNS]		= "MNTNS",
	[CR_FD_TMPFS]		= "TMPFS",
	[CR_FD_TMPFS_DATA]	= "TMPFS_DATA",
	[CR_FD_NS]		= "NS",
	[CR_FD_NET_LOCK]	= "NET_LOCK",
	[CR_FD_CGROUP]		= "CGROUP",
	[CR_FD_TRACK]		= "TRACK",
	[CR_FD_NETNS]		= "NETNS",
	[CR_FD_PAGES_1]		= "PAGES",
};

void pages_file_name(char *buf, size_t len, uint32_t id, int file)
{
	snprintf(buf, len, img_descs[file ? CR_FD_PAGES_1 : CR_FD_PAGES].name_fmt, id);
}

const char *img_type_name(int type)
{
	if (type < 0 || type >= CR_FD_MAX)
		return "UNKNOWN";
	return img_type_names[type];
}

/* First header word: stats files use the service magic, the rest the common one. */
uint32_t img_common_magic(int type)
{
	if (type == CR_FD_STATS_DUMP || type == CR_FD_STATS_RESTORE)
		return IMG_SERVICE_MAGIC;
	return IMG_COMMON_MAGIC;
}
