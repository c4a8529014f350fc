/*
 * An fd the restorer opens, once every process and thread of the tree
 * exists: a pidfd, or a /proc/PID/... file of one of them; or the SIGIO
 * owner of an fd, when it is another task (it may not exist before); or
 * an epoll target that is such a late fd (a pidfd an event loop watches).
 * Shared by the restore (which fills them) and the restorer blob.
 */
#ifndef CR_LATE_FD_H
#define CR_LATE_FD_H

#include <stdint.h>

enum {
	LATE_PIDFD,		/* pidfd_open(pid, flags) */
	LATE_PATH,		/* open(path, flags), then lseek to pos */
	LATE_FOWN,		/* F_SETOWN_EX(fd, {flags, pid}); pos: the signal, bit 32: O_ASYNC */
	LATE_EPOLL,		/* epoll fd adds the late fd numbered pid: EPOLL_CTL_ADD {flags, pos} */
};

#define LATE_PATH_MAX	96
/* How many a process may have (restore_args.pidfds) */
#define MAX_LATE_FDS	64

struct late_fd {
	int32_t fd;
	uint32_t fd_flags;	/* FD_CLOEXEC */
	int32_t pid;
	uint32_t flags;		/* open flags, or pidfd_open() flags */
	uint32_t kind;
	uint32_t pad;
	uint64_t pos;
	char path[LATE_PATH_MAX];
};

#endif
