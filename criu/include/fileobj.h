/*
 * File objects: inodes with no name to open them by at restore (unlinked
 * files, memfds). One file entry carries the contents (the "holder");
 * other fds and mappings of the same inode are reg entries with same_as
 * naming it. At restore the root makes each object once, before any task
 * forks, so that every task reopens the same inode.
 */
#ifndef CR_FILEOBJ_H
#define CR_FILEOBJ_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "files.h"
#include "mm.pb-c.h"
#include "proc_parse.h"

/* Dump: the holder of the inode @st is, or 0. */
uint32_t fileobj_find(struct file_table *ft, const struct stat *st);
/* Dump: @d, counted in the table, may be a holder: fileobj_find() finds it from now on. 0 or -1. */
int fileobj_note(struct file_table *ft, struct file_desc *d);
/*
 * Dump: an unlinked file, removed directory or device node @path (inode
 * @st), which task @pid reaches at @proc (/proc/PID/fd/N or
 * map_files/...): into @d as a removed directory or node, a copy (up to
 * --ghost-limit bytes of data; the bytes are saved by
 * fileobj_dump_ghosts()) or a link-remap name (--link-remap). @what names
 * it in messages ("fd 5"). 0 or -1.
 */
int fileobj_dump_unlinked(struct file_table *ft, pid_t pid, const char *what, const char *proc, const char *path,
			  const struct stat *st, struct file_desc *d);
/* Dump, the tree still frozen: the contents of the unlinked files into ghost-ID.img, holes kept. 0 or -1. */
int fileobj_dump_ghosts(int dfd, struct file_table *ft);
/* Dump: the end of it; the link-remap names made go again unless @ok. */
void fileobj_dump_fini(struct file_table *ft, int ok);
/*
 * Dump: a mapping of an unlinked file or of a memfd, to be opened with
 * @flags: *id names the view of it. 0 or -1 (with a message naming the area).
 */
int fileobj_add_vma(struct file_table *ft, pid_t pid, const struct proc_vma *p, int flags, uint32_t *id);
/* Dump: if file *id is such a view, make *id the same view opened with @flags. 1 if so, 0 if not, -1. */
int fileobj_view_flags(struct file_table *ft, uint32_t *id, int flags);

/* Restore: does @fe carry an object's contents? */
int fileobj_is_holder(const FileEntry *fe);
/* Restore, planning: a slot for every object (rst_files.obj_slot, nr_objs). 0 or -1. */
int fileobj_plan(struct rst_files *rf);
/* Restore (in the root, before forking): make every object, at rst_files.obj_base + its slot. */
int fileobj_make_all(int dfd, struct rst_files *rf);
/* Restore: the fd of the object made for file @id (in every restoring process), or -1. */
int fileobj_fd(struct rst_files *rf, uint32_t id);
/* Restore: has view @id an object of its own (a name of its own of its holder)? */
int fileobj_has_own(struct rst_files *rf, uint32_t id);
/* fifo.c: the keeper of an unlinked FIFO (a dup of @same, another keeper of it, if >= 0). */
int fifo_make_unlinked(FileEntry *fe, int same);
/* Restore: a new open of the object made for file @id, with open flags @flags. */
int fileobj_reopen(struct rst_files *rf, uint32_t id, int flags);
/*
 * Restore: enter a removed cwd: the object of a removed directory an fd
 * holds too (inode @ino of @dev, 0 if unknown), else one made, entered and
 * removed. 0 or -1.
 */
int fileobj_chdir_removed(struct rst_files *rf, const char *path, uint32_t mode, uint32_t uid, uint32_t gid,
			  uint64_t dev, uint64_t ino);
/* A dup of the object of file @id itself (its very open file description), or -1. */
int fileobj_dup(struct rst_files *rf, uint32_t id);
/* The fd to map file @id from when it is a view of a memfd (the memfd's own file), or -1: open it as usual. */
int fileobj_map_fd(struct rst_files *rf, uint32_t id);
/* Restore: the tree runs; the link-remap names go. */
void fileobj_restore_done(struct rst_files *rf);

/*
 * Dump: file @id for the executable @exe of @pid, unlinked (" (deleted)"),
 * as a view of the object its text mapping made (fileobj_add_vma()); -1
 * (said) if no area maps it any more.
 */
int fileobj_add_exe(struct file_table *ft, pid_t pid, const char *exe, const struct stat *st, uint32_t *id);

/* memfd.c */
int memfd_dump_fd(int dup, const char *link, uint32_t flags, uint64_t pos, FileEntry *fe);
int memfd_make(struct rst_files *rf, FileEntry *fe);
/*
 * Restore: task @pid maps @v. A memfd sealed with F_SEAL_FUTURE_WRITE that
 * a task maps shared and writable gets that seal (and F_SEAL_SEAL) only
 * once every area is mapped: memfd_seal_late(), through that area.
 */
int memfd_note_vma(struct rst_files *rf, pid_t pid, const VmaEntry *v);
int memfd_seal_late(struct rst_files *rf);

/* A dup of the O_TMPFILE file made for @fe, -1 on error, -2 if it isn't one. */
int fileobj_dup_tmpfile(struct rst_files *rf, const FileEntry *fe);

#endif
