/*
 * Kinds of fd other than plain files and pipes (eventfd, signalfd, timerfd,
 * ttys, sockets ...): each is a file of its own with a dump and an open
 * function, found by the link name /proc shows for it, sockets by their
 * family.
 */
#ifndef CR_FDKINDS_H
#define CR_FDKINDS_H

#include <sys/types.h>

#include "files.h"
#include "files.pb-c.h"
#include "proc_parse.h"

struct rst_files;
struct fd_rst;
struct file_table;

struct fd_kind {
	const char *link;	/* readlink of /proc/PID/fd/N (its start, with prefix) */
	int prefix;
	/* Instead of link: is the fd with this link and stat one of ours? */
	int (*match)(const char *link, const struct stat *st);
	/* A socket kind: the families (1 << AF_x) it dumps; found by family, not by link. */
	uint64_t sk_families;
	FileType type;
	/*
	 * Fill @fe from the fdinfo text; allocate the sub-message. 0 or -1.
	 * @ft is the dump's file table, with what the kinds keep for the
	 * tree-wide checks.
	 */
	int (*dump)(struct file_table *ft, pid_t pid, int fd, const char *fdinfo, const struct proc_fdinfo *fi,
		    FileEntry *fe);
	/*
	 * A new fd as the entry describes it, or -1. Other descriptions made
	 * with it go to fd_rst_place(); other files it needs come from
	 * fd_rst_get().
	 */
	int (*open)(struct fd_rst *c, FileEntry *fe);
	/* At the end of a task's fd restore (every fd placed, transit still there). 0 or -1. */
	int (*restore_fini)(struct fd_rst *c);
	/* Once per tree after files.img is read: index what open() looks up. 0 or -1. */
	int (*prepare)(struct rst_files *rf);
	/* Files with one nonzero key must be made in one task (connected sockets). */
	uint64_t (*link_key)(const FileEntry *fe);
	/*
	 * The ids of other files making this one needs (files in flight on a
	 * socket): up to @max in @ids; their number (ask again with more room
	 * if it is above @max).
	 */
	size_t (*refs)(const FileEntry *fe, uint32_t *ids, size_t max);
	/* Dump, every task's fds collected: what needs the whole tree (other fds). 0 or -1. */
	int (*check_tree)(struct file_table *ft, struct file_desc *d);
	/* Free what dump allocated. */
	void (*free)(FileEntry *fe);
	/* Opened after every other fd of the task (it refers to them). */
	int late;
	/*
	 * A late kind may be made in a process not holding it (for others to
	 * inherit) only if this says the entry does not refer to the maker's
	 * fds by number.
	 */
	int (*numbered)(const FileEntry *fe);
	/* Is this entry opened by the restorer (it refers to processes that exist only then)? */
	int (*in_restorer)(const FileEntry *fe);
};

const struct fd_kind *fd_kind_by_link(const char *link, const struct stat *st);
/* The kind of a socket of @family, or NULL. */
const struct fd_kind *fd_kind_by_family(int family);
/* The kind for fd @fd of @pid, whose /proc link is @link; NULL if none. A socket's family is asked. */
const struct fd_kind *fd_kind_of(pid_t pid, int fd, const char *link, const struct stat *st);
/* "inet", "netlink", ... for messages. */
const char *sk_family_name(int family);
const struct fd_kind *fd_kind_by_type(FileType type);

extern const struct fd_kind eventfd_kind, signalfd_kind, timerfd_kind, epoll_kind, memfd_kind, fifo_kind,
	pidfd_kind, tty_kind, unixsk_kind, inetsk_kind, packetsk_kind, netlinksk_kind, nsfs_kind;
extern const struct fd_kind inotify_kind, fanotify_kind, tun_kind, mqueue_kind;

struct stat;
/* /dev/net/tun (criu/net/tun.c) */
int is_tun_dev(const struct stat *st);
/* Restore, once the tasks have their fds: a tun device made persistent for the restore is not any more. */
int tun_restore_persist(pid_t pid, int fd, const FileEntry *fe);

/* For .numbered: the kind never refers to fds by number. */
int fd_kind_never_numbered(const FileEntry *fe);

/* Every kind's restore_fini. 0 or -1. */
int fd_kinds_restore_fini(struct fd_rst *c);
/* Every kind's prepare. 0 or -1. */
int fd_kinds_prepare(struct rst_files *rf);

/*
 * The kind an anon-inode link names, for messages: "anon_inode:[io_uring]"
 * gives "io_uring", "anon_inode:bpf-map" "bpf-map"; NULL if not anon_inode:.
 */
const char *anon_kind_name(const char *link, char *buf, size_t size);

/* "key: value" from fdinfo text; the value's start, or NULL. */
const char *fdinfo_field(const char *fdinfo, const char *key);

#endif
