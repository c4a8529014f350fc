/*
 * The fd layout of a restoring process: the task's own fds from 0 up,
 * then criu's service fds (log, images dir, pages, ...) above them, at the
 * same numbers in every process of the tree.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rst.h"
#include "namespaces.h"

int svc_fd(struct child_fds *cf, int fd, int slot)
{
	int to = cf->base + slot;

	if (fd < 0)
		return -1;
	if (move_fd(fd, to) < 0) {
		pr_perror("can't move fd %d to %d", fd, to);
		return -1;
	}
	return to;
}

int raise_nofile(int max_fd, int need)
{
	unsigned long most;
	long lim = raise_nofile_limit(&most);

	if (lim < 0)
		return -1;
	if (need > lim) {
		pr_err("the tree has fds up to %d and the restore needs fd numbers up to %d above them, but may only "
		       "open up to %ld (RLIMIT_NOFILE; fs.nr_open is %lu, raising the hard limit needs "
		       "CAP_SYS_RESOURCE)\n", max_fd, need, lim, most);
		return -1;
	}
	return 0;
}

/*
 * The root: wait for the go, lift criu's own fds (log, image dir, tty,
 * --inherit-fd) into the service slots, close everything else and make
 * what the whole tree inherits. The tty slot's fd, or -1.
 */
static int root_fd_space(struct rst_tree *tr, struct child_fds *cf)
{
	int tty, keep_to;
	char go;

	close(tr->sync_pipe[1]);
	if (read(tr->sync_pipe[0], &go, 1) != 1)
		_exit(1);
	close(tr->sync_pipe[0]);
	/* our namespaces, before anything is opened (--inherit-fd fds are still where criu had them) */
	if (ns_restore_root())
		return -2;
	/* Our own fds go up out of the way, everything else of ours goes. */
	keep_to = inherit_fd_lift(cf->base + SVC_INHERIT);
	if (keep_to < 0)
		return -2;
	tty = opts.shell_job ? open_shell_tty() : -1;
	/* the restorer's errors reach criu's stderr from a slot of their own: fd 2 will be the task's */
	if (log_to_file())
		svc_fd(cf, fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0), SVC_ERR);
	log_set_fd(svc_fd(cf, fcntl(log_get_fd(), F_DUPFD_CLOEXEC, 0), SVC_LOG));
	proc_set_dir(svc_fd(cf, fcntl(proc_dir(), F_DUPFD_CLOEXEC, 0), SVC_PROC));
	/* in a user namespace of the tree's the images come through criu's image server */
	if (ns_image_server_fd() >= 0) {
		tr->dfd = svc_fd(cf, fcntl(ns_image_server_fd(), F_DUPFD_CLOEXEC, 0), SVC_DIR);
		img_use_server(tr->dfd);
	} else {
		tr->dfd = svc_fd(cf, tr->dfd, SVC_DIR);
	}
	if (tty >= 0)
		tty = svc_fd(cf, tty, SVC_TTY);
	if (cgroup_restore_sk() >= 0)
		cgroup_restore_set_sk(svc_fd(cf, cgroup_restore_sk(), SVC_CGROUP));
	if (tty_orphan_task_sk() >= 0)
		tty_orphan_set_task_sk(svc_fd(cf, tty_orphan_task_sk(), SVC_ORPHAN_PTS));
	if (tr->core_fd >= 0)
		tr->core_fd = svc_fd(cf, tr->core_fd, SVC_CORES);
	if (lazy_restore_sk() >= 0)
		lazy_restore_set_fds(svc_fd(cf, lazy_restore_sk(), SVC_LAZY),
				     lazy_uffd_dev() >= 0 ? svc_fd(cf, lazy_uffd_dev(), SVC_UFFD) : -1);
	/* the shared memory objects criu made before cloning us stay (restore.c), so do the kept mounts */
	if (tr->dfd < 0 || proc_dir() < 0 || mntns_place_fds(tr->mnt_base) ||
	    syscall(SYS_close_range, 0, cf->base - 1, 0) ||
	    syscall(SYS_close_range, cf->base + SVC_TTY + 1, cf->base + SVC_EXE, 0) ||
	    (cgroup_restore_sk() < 0 && syscall(SYS_close_range, cf->base + SVC_CGROUP, cf->base + SVC_CGROUP, 0)) ||
	    (tty_orphan_task_sk() < 0 &&
	     syscall(SYS_close_range, cf->base + SVC_ORPHAN_PTS, cf->base + SVC_ORPHAN_PTS, 0)) ||
	    (tr->core_fd < 0 && syscall(SYS_close_range, cf->base + SVC_CORES, cf->base + SVC_CORES, 0)) ||
	    (lazy_restore_sk() < 0 && syscall(SYS_close_range, cf->base + SVC_LAZY, cf->base + SVC_LAZY, 0)) ||
	    (lazy_uffd_dev() < 0 && syscall(SYS_close_range, cf->base + SVC_UFFD, cf->base + SVC_UFFD, 0)) ||
	    syscall(SYS_close_range, keep_to, tr->shmem_base - 1, 0) ||
	    syscall(SYS_close_range, tr->shmem_base + tr->nr_shmem + 1, tr->mnt_base - 1, 0) ||
	    syscall(SYS_close_range, tr->mnt_base + mntns_nr_fds(), ~0U, 0)) {
		pr_perror("can't set up service fds");
		return -2;
	}
	/* file objects, for the whole tree to inherit (criu made the shared memory objects before cloning us) */
	if (fileobj_make_all(tr->dfd, &tr->files))
		return -2;
	/* SysV objects of the new ipc namespace, before the children inherit it (a joined one has its own) */
	if (!ns_restore_joined(NS_IPC) && ipc_sysv_restore(tr->dfd))
		return -2;
	return tty;
}

/* The fd table a task starts its restore with: the tty slot's fd, -1 if none, or -2 on error. */
int task_fd_space(struct rst_ctx *rc, struct child_fds *cf)
{
	struct rst_tree *tr = rc->tree;
	int tty = tr->svc_base + SVC_TTY;

	if (rc == &tr->t[0])
		return root_fd_space(tr, cf);
	/* a shared table is the parent's, restored already */
	if (rc->files_child)
		return tty;
	/*
	 * The parent's fds and its own slots (a sharer's) are not ours; the
	 * mounts' are (files opened through them, nested mount namespaces).
	 */
	if (syscall(SYS_close_range, 0, cf->base - 1, 0) ||
	    (tr->mnt_base > tr->own_base && syscall(SYS_close_range, tr->own_base, tr->mnt_base - 1, 0)) ||
	    syscall(SYS_close_range, tr->mnt_base + mntns_nr_fds(), ~0U, 0)) {
		pr_perror("can't drop the parent's fds");
		return -2;
	}
	return fcntl(tty, F_GETFD) < 0 ? -1 : tty;
}
