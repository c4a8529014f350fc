#ifndef CR_FILES_H
#define CR_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "files.pb-c.h"

/* One open file description (or a file a mapping or the exe needs). */
struct file_desc {
	uint32_t id;
	FileEntry fe;
	RegFileEntry reg;
	PipeEntry pipe;
	FownEntry fown;
	pid_t owner_pid;	/* a task holding it, and at which fd (-1 for mapping/exe files) */
	int owner_fd;
	struct stat st;
};

/* Every open file description of the dump, shared by all its tasks. */
struct file_table {
	struct file_desc *d;
	size_t nr, cap;
};

/* One task's fds. */
struct fd_list {
	FdinfoEntry *fds;
	size_t nr;
	int max_fd;
};

/* Dump side */
/* A zeroed entry at the end of the table; the caller fills it and counts it (ft->nr++). */
struct file_desc *file_desc_new(struct file_table *ft);
int collect_fds(pid_t pid, struct file_table *ft, struct fd_list *fl);
/* Every pipe must have both ends in the dump (for now). */
int check_pipes_all(struct file_table *ft);
int dump_fdinfo(int dfd, pid_t pid, struct fd_list *fl);
void fd_list_free(struct fd_list *fl);
/* A file opened by path for a mapping or the exe (open flags as given). */
int file_table_add_path(struct file_table *ft, const char *path, int flags, const struct stat *st, uint32_t *id);
int dump_files(int dfd, struct file_table *ft);
int dump_fs(int dfd, pid_t pid);
void file_table_free(struct file_table *ft);

/* Restore side: everything from files.img, looked up by id. */
struct rst_files {
	FileEntry **fe;
	size_t nr;
};

int read_files(int dfd, struct rst_files *rf);
void free_files(struct rst_files *rf);
FileEntry *find_file(struct rst_files *rf, uint32_t id);
/* Two descriptions that must be made together (pipe ends, files of one pty, connected sockets). */
int files_linked(const FileEntry *a, const FileEntry *b);
/* Open the file @id (flags from the image unless @flags >= 0); returns fd or -1. */
int open_file(struct rst_files *rf, uint32_t id, int flags);
/* --evasive-devices: character device @r opened by its number, not its path (evasive.c). */
int evasive_open(const RegFileEntry *r, int flags);
void evasive_fini(void);
/*
 * Open file descriptions passed from a task to its descendants: file id N
 * sits at fd base + N. need[N] says whether our descendants use it.
 */
struct rst_transit {
	int base;
	uint32_t nr_ids;
	const uint8_t *need;
	const uint8_t *keep;	/* ids the task itself needs later, not as an fd (a mapped packet ring) */
};

/*
 * Put every fd of @pid back at its number, taking shared descriptions from
 * @tr, then fill @tr for the children. shell_tty is the caller's terminal
 * fd or -1.
 */
/* An fd the restorer opens (a pidfd): where, and of which process. */
struct late_fd {
	int32_t fd;
	uint32_t fd_flags;
	int32_t pid;
	uint32_t flags;
};

/* Was file @id passed down to us at tr->base + id? 1, 0, or -1 when that can't be told (logged). */
int in_transit(const struct rst_transit *tr, uint32_t id);
int restore_fds(int dfd, pid_t pid, struct rst_files *rf, int shell_tty, int *max_fd,
		const struct rst_transit *tr, struct late_fd *late, int *nr_late, int max_late);
/* The fd numbers in fdinfo-PID.img, and the file ids they use, for planning. */
int read_fd_ids(int dfd, pid_t pid, int *max_fd, uint8_t *uses, uint32_t nr_ids);
int restore_fs(int dfd, pid_t pid);
int check_fs(int dfd, pid_t pid);
/* The fd number of @pid's first fd of file @id (fdinfo-PID.img): -1 if none, -2 on errors. */
int fd_of_file(int dfd, pid_t pid, uint32_t id);
/* Highest fd number the task had, from fdinfo-PID.img. */
int image_max_fd(int dfd, pid_t pid);

/* Restore: file owners (F_SETOWN) are set with this euid (a user namespace's tasks'), -1: as we are. */
void restore_fown_as(uid_t euid);

#endif
