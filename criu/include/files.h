#ifndef CR_FILES_H
#define CR_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "files.pb-c.h"
#include "hmap.h"

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
	uint64_t pos;		/* the owner's fd's position and flags, when it has one: fds of one */
	uint32_t flags;		/* description always agree on them (find_shared) */
	uint32_t next_path;	/* the next entry with the same path key (file_table_add_path), or 0 */
	char *ghost_src;	/* an unlinked file: where its contents are read (/proc/PID/fd/N), until written */
};

/* The descriptions fds hold of one inode at one position and flags, in the order kcmp puts files in. */
struct inode_descs {
	uint32_t *idx;		/* indices in file_table.d */
	uint32_t nr, cap;
};

/*
 * Every open file description of the dump, shared by all its tasks. File
 * N is d[N - 1]; the maps make every lookup while collecting O(1) (or a
 * binary search among the descriptions of one inode).
 */
struct file_table {
	struct file_desc *d;
	size_t nr, cap;
	struct hmap inodes;		/* inode, position and flags key -> index in ifds */
	struct inode_descs *ifds;
	size_t nr_ifds;
	struct {
		uint64_t key;		/* 0: none */
		size_t pos, nr;
	} hint;				/* where the last description find_shared() didn't find goes */
	struct hmap holders;		/* inode key -> id of the file object holding it (fileobj.c) */
	struct hmap paths;		/* path and flags key -> id of a file opened for mappings */
	struct hmap views;		/* holder and flags key -> id of a view of it (fileobj.c) */
	struct hmap fifos;		/* FIFO inodes whose queued bytes are saved (fifo.c) */
	char **remaps;			/* --link-remap names this dump made: gone again if it fails (fileobj.c) */
	size_t nr_remaps;
	dev_t proc_dev;			/* procfs's, once looked up */
	int proc_dev_known;
	dev_t pipe_dev;			/* pipefs's, once looked up (fd_link_of_stat()) */
	int pipe_dev_known;
	dev_t mq_dev;			/* the last anonymous device asked whether it is mqueue's (ipc/mqueue.c) */
	int mq_dev_is, mq_dev_known;
	int *inflight;			/* our fds of files in flight on sockets, owners of their descriptions */
	size_t nr_inflight;
	struct tty_dump *ttys;		/* tty.c */
	struct usk_dump *usks;		/* sk-unix.c */
	struct shmem_dump *shmem;	/* shared anonymous memory objects (shmem.c) */
};

/* The key of an inode in the maps. */
uint64_t inode_key(dev_t dev, ino_t ino);
/* File @id of the table, NULL if none. */
struct file_desc *file_desc_by_id(struct file_table *ft, uint32_t id);

/* One task's fds. */
struct fd_list {
	FdinfoEntry *fds;
	size_t nr;
	int max_fd;
	int nr_late;		/* pidfds and /proc files: the restorer opens them */
};

/* Dump side */
/* A zeroed entry at the end of the table; the caller fills it and counts it (ft->nr++). */
struct file_desc *file_desc_new(struct file_table *ft);
/* The fds of @pid, whose fd table is @fdsize big (0: not known). */
int collect_fds(pid_t pid, int fdsize, struct file_table *ft, struct fd_list *fl);
/*
 * A file in flight on a unix socket (SCM_RIGHTS), at fd @fd of ours: its
 * description in @ft (one a task holds too, or one of its own), *id its
 * file id. 1: @fd is now its owner's and stays open until the table is
 * freed; 0: the caller closes @fd; -1: error.
 */
int files_dump_inflight(struct file_table *ft, int fd, uint32_t *id);
/* Every task's fds collected: pipes and what each fd kind checks against the whole tree. */
int files_check_tree(struct file_table *ft);
int dump_fdinfo(int dfd, pid_t pid, struct fd_list *fl);
void fd_list_free(struct fd_list *fl);
/* A file opened by path for a mapping or the exe (open flags as given). */
int file_table_add_path(struct file_table *ft, const char *path, int flags, const struct stat *st, uint32_t *id);
int dump_files(int dfd, struct file_table *ft);
int dump_fs(int dfd, pid_t pid);
void file_table_free(struct file_table *ft);

/*
 * Restore side: everything from files.img, looked up by id (by_id[N] is
 * file N or NULL), with what the fd kinds index once for the whole tree.
 */
struct rst_files {
	FileEntry **fe;
	size_t nr;
	FileEntry **by_id;
	uint32_t nr_ids;		/* ids are below it */
	struct hmap pipes;		/* pipes.c: pipe inode -> id of its first description */
	uint32_t *pipe_next;		/* pipes.c: id -> id of the next description of its pipe, 0 */
	struct hmap pty_masters;	/* tty.c: pty index -> id of its master */
	struct hmap usk_groups;		/* sk-unix.c: group -> id of its first socket */
	uint32_t *usk_next;		/* sk-unix.c: id -> id of the next socket of its group, 0 */
	struct hmap tree_pids;		/* every pid and tid of the tree (its /proc files open late) */
	int obj_base;			/* fileobj.c: the object of file N at obj_base + obj_slot[N] */
	int *obj_slot;			/* -1 for files that are no object (or alias of one) */
	uint32_t nr_objs;
	int scratch_base;		/* temporaries of a restoring task go at or above this fd */
	struct hmap obj_aliases;	/* fileobj.c: holder id -> first view opened by another name */
	uint32_t *obj_next;		/* fileobj.c: id -> the next such view of its holder, 0 */
	struct memfd_late *memfd_late;	/* memfd.c: seals added once the tree's memory is mapped */
	size_t nr_memfd_late;
};

int read_files(int dfd, struct rst_files *rf);
void free_files(struct rst_files *rf);
FileEntry *find_file(struct rst_files *rf, uint32_t id);
/*
 * Union-find over the files of the tree: descriptions that must be made
 * together (the two ends of a pipe, the files of one pty, connected
 * sockets, the files in flight on a socket) get one representative.
 * @parent (nr_ids entries) is filled; files_root() follows it.
 */
int files_link(struct rst_files *rf, uint32_t *parent);
uint32_t files_root(uint32_t *parent, uint32_t id);
/* Open the file @id (flags from the image unless @flags >= 0); returns fd or -1. */
int open_file(struct rst_files *rf, uint32_t id, int flags);
/* --evasive-devices: character device @r opened by its number, not its path (evasive.c). */
int evasive_open(struct rst_files *rf, const RegFileEntry *r, int flags);
void evasive_fini(void);
/*
 * Open file descriptions passed from a task to its descendants: file id N
 * sits at fd base + slot[N] (slot[N] is -1 for files never passed on, the
 * same numbering in every task). need[N] says whether our descendants use it.
 */
struct rst_transit {
	int base;
	uint32_t nr_ids;
	const int *slot;
	const uint8_t *need;
	const uint8_t *keep;	/* ids the task itself needs later, not as an fd (a mapped packet ring) */
};

#include "late-fd.h"

/*
 * Restore: the fds of one task being put back. Descriptions made as a
 * by-product of another (the other end of a pipe, the other sockets of a
 * group) go straight to the lowest fd number the task has them at, or to
 * their transit slot, or are closed: nothing waits beside the task's own
 * fds, so criu's fds don't grow with the task's.
 */
struct fd_rst {
	struct rst_files *rf;
	const struct rst_transit *tr;
	pid_t pid;
	int shell_tty;
	int *opened;		/* id -> the task's fd of it once placed, -1 */
	int *lowest;		/* id -> the lowest fd number the task has it at, -1 */
	int scratch;		/* temporaries are lifted to this fd number or above */
	struct hmap kept;	/* id -> fd made here for the task's own use, held by no fd: closed at the end */
	struct hmap made;	/* kind-specific: pipe inodes, unix socket groups... made in this task */
	uint32_t *ptys;		/* tty.c: ids of the pty masters made here */
	size_t nr_ptys;
	struct late_fd *late;	/* what the restorer does once all tasks exist (NULL: no restorer) */
	int *nr_late, max_late;
	int usk_bufs[2];	/* sk-unix.c: SO_SNDBUF, SO_RCVBUF of a new unix socket here; 0: not asked yet */
};

/* Restore: an fd of description @id in this task (placed, in transit, or made now), or -1. */
int fd_rst_get(struct fd_rst *c, uint32_t id);
/* Restore: the fd the task already has description @id at (placed or in transit), or -1. */
int fd_rst_have(struct fd_rst *c, uint32_t id);
/* Restore: @fd is a new description of @id made as a by-product: put where it belongs (or closed). */
int fd_rst_place(struct fd_rst *c, uint32_t id, int fd);
/*
 * Restore: the same, but with no place here @fd is kept (-2) until the task's fds are all placed: a
 * by-product the task holds only in flight on a unix socket is sent from it later.
 */
int fd_rst_place_or_keep(struct fd_rst *c, uint32_t id, int fd);
/* Restore, planning: how many temporaries may be alive at once (the largest socket group, and some). */
int fd_rst_scratch_room(struct rst_files *rf);
/* Restore: @fd up among the temporaries, out of the way of the fd numbers still to place (closing @fd). */
int fd_rst_lift(struct fd_rst *c, int fd);
/* Restore: @fd, new for description @id, kept if already at the number it goes to, else lifted. */
int fd_rst_lift_for(struct fd_rst *c, int fd, uint32_t id);

/*
 * Put every fd of @pid (@list, from read_fdinfo()) back at its number, taking shared descriptions from
 * @tr, then fill @tr for the children. @shell_tty is the caller's terminal
 * fd or -1; temporaries go at @scratch or above. The fds the restorer opens
 * go to @late.
 */
int restore_fds(FdinfoEntry **list, size_t nr, pid_t pid, struct rst_files *rf, int shell_tty,
		const struct rst_transit *tr, int scratch, struct late_fd *late, int *nr_late, int max_late);
/* For a process sharing its parent's fd table: only its session's terminal. */
int restore_tty_session(struct rst_files *rf, pid_t pid, const struct rst_transit *tr, int scratch);
/* The entries of fdinfo-PID.img (in increasing fd order, else refused); *nr of them. */
FdinfoEntry **read_fdinfo(int dfd, pid_t pid, size_t *nr);
void free_fdinfo(FdinfoEntry **list, size_t nr);
int restore_fs(int dfd, pid_t pid, struct rst_files *rf);

/* Was file @id passed down to us in its transit slot? 1, 0, or -1 when that can't be told (logged). */
int in_transit(const struct rst_transit *tr, uint32_t id);
/* Before anything is made: fs-PID.img reads and holds absolute paths. */
int check_fs(int dfd, pid_t pid);

/* Restore: file owners (F_SETOWN) are set with this euid (a user namespace's tasks'), -1: as we are. */
void restore_fown_as(uid_t euid);

#endif
