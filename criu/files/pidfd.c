/*
 * pidfd: which process it refers to. It is opened again by the restorer,
 * when every process of the tree exists (a parent's pidfd of its child
 * would otherwise come before the child).
 */
#include <fcntl.h>
#include <stdlib.h>

#include "fdkinds.h"
#include "log.h"

static int dump_pidfd(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	const char *p = fdinfo_field(info, "Pid");
	PidfdEntry *e;

	if (!p || atoi(p) <= 0) {
		pr_err("can't dump task %d: fd %d is a pidfd of a process that is gone; not supported\n", pid, fd);
		return -1;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	pidfd_entry__init(e);
	e->pid = atoi(p);
	e->flags = fi->flags & O_NONBLOCK;
	fe->pidfd = e;
	return 0;
}

static int open_pidfd(struct fd_rst *c, FileEntry *fe)
{
	pr_err("file %u: a pidfd is opened by the restorer, not here\n", fe->id);
	return -1;
}

static void free_pidfd(FileEntry *fe)
{
	free(fe->pidfd);
	fe->pidfd = NULL;
}

const struct fd_kind pidfd_kind = {
	.link = "anon_inode:[pidfd]",
	.type = FILE_TYPE__FT_PIDFD,
	.dump = dump_pidfd,
	.open = open_pidfd,
	.free = free_pidfd,
	.in_restorer = 1,
};
