/* signalfd: the signal mask and flags, from fdinfo. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdkinds.h"
#include "log.h"

static int dump_signalfd(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	const char *mask = fdinfo_field(info, "sigmask");
	SignalfdEntry *e = malloc(sizeof(*e));

	if (!e || !mask) {
		free(e);
		pr_err("can't read the signalfd fd %d of %d\n", fd, pid);
		return -1;
	}
	signalfd_entry__init(e);
	e->sigmask = strtoull(mask, NULL, 16);
	e->flags = fi->flags & O_NONBLOCK;
	fe->sfd = e;
	return 0;
}

static int open_signalfd(struct fd_rst *c, FileEntry *fe)
{
	SignalfdEntry *e = fe->sfd;
	uint64_t mask;
	int fd;

	if (!e) {
		pr_err("file %u: a bad signalfd record\n", fe->id);
		return -1;
	}
	mask = e->sigmask;
	/* the raw syscall takes the kernel's 8-byte mask */
	fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
		     SFD_CLOEXEC | (e->flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
	if (fd < 0)
		pr_perror("signalfd");
	return fd;
}

static void free_signalfd(FileEntry *fe)
{
	free(fe->sfd);
	fe->sfd = NULL;
}

const struct fd_kind signalfd_kind = {
	.link = "anon_inode:[signalfd]",
	.type = FILE_TYPE__FT_SIGNALFD,
	.dump = dump_signalfd,
	.open = open_signalfd,
	.free = free_signalfd,
};
