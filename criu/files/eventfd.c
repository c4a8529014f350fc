/* eventfd: the counter, semaphore mode and flags, from fdinfo. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "fdkinds.h"
#include "log.h"

static int dump_eventfd(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	const char *cnt = fdinfo_field(info, "eventfd-count"), *sem = fdinfo_field(info, "eventfd-semaphore");
	EventfdEntry *e = malloc(sizeof(*e));

	if (!e || !cnt) {
		free(e);
		pr_err("can't read the eventfd fd %d of %d\n", fd, pid);
		return -1;
	}
	eventfd_entry__init(e);
	e->count = strtoull(cnt, NULL, 16);
	e->flags = fi->flags & O_NONBLOCK;
	e->has_semaphore = sem != NULL;
	e->semaphore = sem && atoi(sem);
	fe->efd = e;
	return 0;
}

static int open_eventfd(struct fd_rst *c, FileEntry *fe)
{
	EventfdEntry *e = fe->efd;
	int fd;

	if (!e || e->count > 0xfffffffffffffffeULL) {
		pr_err("file %u: a bad eventfd record\n", fe->id);
		return -1;
	}
	/* the initial value is an unsigned int: add the rest with a write */
	fd = eventfd(0, EFD_CLOEXEC | (e->semaphore ? EFD_SEMAPHORE : 0) | (e->flags & O_NONBLOCK ? EFD_NONBLOCK : 0));
	if (fd < 0) {
		pr_perror("eventfd");
		return -1;
	}
	if (e->count && eventfd_write(fd, e->count)) {
		pr_perror("can't give an eventfd its count %llu", (unsigned long long)e->count);
		return -1;
	}
	return fd;
}

static void free_eventfd(FileEntry *fe)
{
	free(fe->efd);
	fe->efd = NULL;
}

const struct fd_kind eventfd_kind = {
	.link = "anon_inode:[eventfd]",
	.type = FILE_TYPE__FT_EVENTFD,
	.dump = dump_eventfd,
	.open = open_eventfd,
	.free = free_eventfd,
};
