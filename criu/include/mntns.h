/*
 * The mount namespace of the tree (criu/mount/): its mount tree at dump,
 * rebuilt inside a new mount namespace at restore.
 */
#ifndef CR_MNTNS_H
#define CR_MNTNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "files.h"
#include "files.pb-c.h"

/* ---- options (mnt-opts.c) ---- */

/* --external mnt[KEY]:VAL, -M/--ext-mount-map KEY:VAL or auto: 0, or -1 with a message. */
int mnt_opt_external(const char *arg);
int mnt_opt_ext_map(const char *arg);
/* --enable-fs NAME[,NAME...] */
int mnt_opt_enable_fs(const char *arg);
void mnt_opt_free(void);

/* ---- dump ---- */

/* A mount namespace nested below the tree's: a task in it, its inode, its parent's (0: the tree's). */
struct mntns_nested {
	pid_t pid;
	uint64_t id, parent;
};

/*
 * After the tree is frozen, for a tree whose mount namespace is not
 * criu's (the namespace framework checked every task is in @pid's or in
 * one of @nested): read the mount trees and refuse what can't be made
 * again, naming the mount.
 */
int mntns_dump_prepare(pid_t pid, const struct mntns_nested *nested, size_t nr_nested);
/* The task whose files, memory and fs are dumped next: paths are its namespace's (mntns_path()). */
void mntns_dump_task(pid_t pid);
/* Is @pid in a mount namespace nested below the tree's? */
bool mntns_dump_nested(pid_t pid);
/* Is the tree in a mount namespace of its own? Then its root, whose /proc/PID shows it. */
bool mntns_dumping(void);
pid_t mntns_dump_pid(void);
/*
 * Is the filesystem of device @dev (st_dev) made anew at restore (a
 * filesystem of the tree's mount namespace: new inodes, no handle of the
 * dump finds its files)? Known once mntns_dump_prepare() ran.
 */
bool mntns_dump_dev_fresh(uint64_t dev);
/* Write mntns.img and the contents of its tmpfs mounts. */
int mntns_dump(int dfd);
void mntns_dump_fini(void);
/*
 * A path as a task of the tree sees it (in its namespace, from its root),
 * for criu to use: the path itself, or the same place reached through the
 * namespace's root (or, in a dump agent working in a copy of criu's
 * namespace, through the tree's root task). Returns @buf or @path.
 */
const char *mntns_path(const char *path, char *buf, size_t size);
/*
 * A file at @path (as /proc shows it) on the mount fdinfo calls @mnt_id:
 * when the path does not lead to it (an overmounted mount), the entry
 * gets the mount to open it through at restore.
 */
int mntns_file_mount(pid_t pid, int fd, int mnt_id, const char *path, const struct stat *st, RegFileEntry *r);
/*
 * @pid holds @fd of description @d, which another task of the tree has
 * too: if they are in different mount namespaces, @d must be made the
 * same way in either (no path, or a path naming the same file): 0, or -1
 * with a message.
 */
int mntns_check_holder(pid_t pid, int fd, const struct file_desc *d);
/* Is @fe a kind of file restore makes without a path (any task may make it for another)? */
bool mntns_pathless(const FileEntry *fe);
/*
 * The task's cwd or root (@link: /proc/PID/cwd) must be where @path leads
 * in its namespace, since it is entered by that path: 0, or -1 with a message.
 */
int mntns_check_reach(pid_t pid, const char *what, const char *link, const char *path);

/* ---- restore ---- */

/* In criu, before forking: read mntns.img if there is one; 0, or -1. */
int mntns_read(int dfd);
/*
 * In criu, before cloning the tree's root, for a tree with a user namespace
 * of its own: clones of the directories its mounts show of criu's mounts,
 * kept at @base and up for the root; 0, or -1. _done() closes what is left.
 */
int mntns_preclone(int base);
void mntns_preclone_done(void);
/* Does the tree come back in a mount namespace of its own (mntns.img)? */
bool mntns_restoring(void);
/*
 * In the tree's root, once it is in its new mount namespace (and in the
 * tree's other namespaces: proc, sysfs, mqueue and cgroup mounts are made
 * for them), before it opens any file or forks: build the mount tree and
 * pivot into it. The images directory is the one mntns_read() had. 0, or -1.
 */
int mntns_restore(void);
/*
 * After files.img is read: the mounts files are opened through, and the
 * ptys bound elsewhere: their fds get service slots from @base (the top
 * of the fd layout) up. mntns_nr_fds() of them.
 */
int mntns_plan_fds(struct rst_files *rf, int base);
int mntns_nr_fds(void);
/* In the root, after it moved its service fds: the kept fds go to their slots. */
int mntns_place_fds(int base);
/*
 * In a restoring task, before it opens any file: if its mount namespace
 * @id (pstree ns_ids.mnt) is one nested below the tree's that this
 * process is not in yet, make it again (unshare, its tree, pivot). 0 or -1.
 */
int mntns_enter_nested(uint64_t id);
/* The device of a filesystem made anew that was @dump_dev at dump; else @dump_dev. */
uint64_t mntns_dev(uint64_t dump_dev);
/* The id of the restored mount that was mount @dump_id at dump (as fdinfo shows ids), or -1. */
int mntns_mnt_id(int dump_id);
/* Open @r->path through its mount (r->mnt_id set). */
int mntns_open_hidden(const RegFileEntry *r, int flags);
/* Are files of this device (st_dev at dump) on a filesystem made anew (new inodes)? */
bool mntns_dev_remade(uint64_t dev);
/* A pty master criu had to make while building mounts (a bind of /dev/pts/N): its fd or -1. */
int mntns_take_pty(const char *slave_path, unsigned int index);
/*
 * In criu, once the tree runs: a path of the restored mount namespace
 * (reached through the root's /proc/PID/root, @root its pid as criu sees
 * it), or @path itself when the tree is in criu's.
 */
void mntns_restored(pid_t root);
const char *mntns_rst_path(const char *path, char *buf, size_t size);
void mntns_restore_fini(void);

#endif
