/*
 * Kinds of fd other than plain files and pipes (eventfd, signalfd, timerfd,
 * ttys, sockets ...): each is a file of its own with a dump and an open
 * function, found by the link name /proc shows for it, sockets by their
 * family.
 */
#ifndef CR_FDKINDS_H
#define CR_FDKINDS_H

#include <sys/types.h>

#include "files.pb-c.h"
#include "proc_parse.h"

struct rst_files;

struct fd_kind {
	const char *link;	/* readlink of /proc/PID/fd/N (its start, with prefix) */
	int prefix;
	/* A socket kind: the families (1 << AF_x) it dumps; found by family, not by link. */
	uint64_t sk_families;
	FileType type;
	/* Fill @fe from the fdinfo text; allocate the sub-message. 0 or -1. */
	int (*dump)(pid_t pid, int fd, const char *fdinfo, const struct proc_fdinfo *fi, FileEntry *fe);
	/* A new fd as the entry describes it, or -1. */
	int (*open)(FileEntry *fe);
	/* Instead of open, for kinds that need the other files (connected sockets). */
	int (*open_rf)(struct rst_files *rf, FileEntry *fe);
	/* At the end of a task's fd restore: drop what was made for others. */
	void (*restore_fini)(void);
	/* Files with one nonzero key must be made in one task (connected sockets). */
	uint64_t (*link_key)(const FileEntry *fe);
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
	/* Opened by the restorer (it refers to processes that exist only then). */
	int in_restorer;
};

const struct fd_kind *fd_kind_by_link(const char *link);
/* The kind of a socket of @family, or NULL. */
const struct fd_kind *fd_kind_by_family(int family);
/* The kind for fd @fd of @pid, whose /proc link is @link; NULL if none. A socket's family is asked. */
const struct fd_kind *fd_kind_of(pid_t pid, int fd, const char *link);
/* "inet", "netlink", ... for messages. */
const char *sk_family_name(int family);
const struct fd_kind *fd_kind_by_type(FileType type);

extern const struct fd_kind eventfd_kind, signalfd_kind, timerfd_kind, epoll_kind, memfd_kind, fifo_kind,
	pidfd_kind, tty_kind, unixsk_kind, inetsk_kind, packetsk_kind, netlinksk_kind;
extern const struct fd_kind inotify_kind, fanotify_kind, tun_kind;

struct stat;
/* /dev/net/tun (criu/net/tun.c) */
int is_tun_dev(const struct stat *st);
/* Restore, once the tasks have their fds: a tun device made persistent for the restore is not any more. */
int tun_restore_persist(pid_t pid, int fd, const FileEntry *fe);

/* For .numbered: the kind never refers to fds by number. */
int fd_kind_never_numbered(const FileEntry *fe);

/* Every kind's restore_fini. */
void fd_kinds_restore_fini(void);

/*
 * The kind an anon-inode link names, for messages: "anon_inode:[io_uring]"
 * gives "io_uring", "anon_inode:bpf-map" "bpf-map"; NULL if not anon_inode:.
 */
const char *anon_kind_name(const char *link, char *buf, size_t size);

/* "key: value" from fdinfo text; the value's start, or NULL. */
const char *fdinfo_field(const char *fdinfo, const char *key);

#endif
