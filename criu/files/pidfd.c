/*
 * pidfd: which process it refers to. It is opened again by the restorer,
 * when every process of the tree exists (a parent's pidfd of its child
 * would otherwise come before the child).
 *
 * A pidfd of a process that was reaped (fdinfo says Pid: -1) keeps how it
 * ended (PIDFD_INFO_EXIT, Linux 6.15+): poll says POLLIN|POLLHUP, waitid
 * finds no child, PIDFD_GET_INFO gives the exit status. At restore such a
 * pidfd is taken of a helper that ends the same way and is reaped at once,
 * before the fds are placed; its pid is one the tree does not use.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdkinds.h"
#include "log.h"
#include "namespaces.h"
#include "util.h"

/* struct pidfd_info as of Linux 6.15 (72 bytes), for PIDFD_INFO_EXIT. */
struct pidfd_info_compat {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
	uint32_t coredump_mask;
	uint32_t spare;
};

#define PIDFD_IOC_GET_INFO	_IOWR(0xFF, 11, struct pidfd_info_compat)
#define PIDFD_INFO_EXIT_BIT	0x8
#define PIDFD_FLAG_THREAD	O_EXCL		/* PIDFD_THREAD */
/* pid numbers tried for a helper, from pid_max down, before giving up */
#define HELPER_PID_TRIES	1000
#define PID_MAX_DEFAULT		32768		/* kernel.pid_max when it can't be read */

/* How the reaped process of pidfd @fd of @pid ended, as wait() reports it. */
static int dead_exit_code(pid_t pid, int fd, int32_t *code)
{
	struct pidfd_info_compat info = { .mask = PIDFD_INFO_EXIT_BIT };
	int dup = task_fd(pid, fd), ret;

	if (dup < 0)
		return -1;
	ret = ioctl(dup, PIDFD_IOC_GET_INFO, &info);
	close(dup);
	if (ret || !(info.mask & PIDFD_INFO_EXIT_BIT)) {
		pr_err("can't dump task %d: fd %d is a pidfd of a process that was reaped, and this kernel does not "
		       "tell how it ended (PIDFD_INFO_EXIT, Linux 6.15)%s%s\n", pid, fd, ret ? ": " : "",
		       ret ? strerror(errno) : "");
		return -1;
	}
	*code = info.exit_code;
	return 0;
}

static int dump_pidfd(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		      FileEntry *fe)
{
	const char *p = fdinfo_field(info, "Pid");
	PidfdEntry *e;
	int32_t code = 0;

	(void)ft;
	if (!p) {
		pr_err("can't dump task %d: fd %d is a pidfd without a Pid line in fdinfo\n", pid, fd);
		return -1;
	}
	if (atoi(p) <= 0) {
		if (fi->flags & PIDFD_FLAG_THREAD) {
			pr_err("can't dump task %d: fd %d is a pidfd of a thread that is gone; not supported\n", pid,
			       fd);
			return -1;
		}
		if (dead_exit_code(pid, fd, &code))
			return -1;
	}
	if (atoi(p) > 0 && !ns_dump_pid_seen(pid, atoi(p))) {
		/* restore opens it with pidfd_open() in the holder's pid namespace */
		pr_err("can't dump task %d: fd %d is a pidfd of %d, which is not in its pid namespace nor below it "
		       "(passed in from outside it); not supported\n", pid, fd, atoi(p));
		return -1;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	pidfd_entry__init(e);
	e->pid = atoi(p) > 0 ? atoi(p) : 0;
	e->flags = fi->flags & (O_NONBLOCK | PIDFD_FLAG_THREAD);
	if (atoi(p) <= 0) {
		e->has_dead = e->dead = true;
		e->has_exit_code = true;
		e->exit_code = code;
	}
	fe->pidfd = e;
	return 0;
}

static int is_dead(const FileEntry *fe)
{
	return fe->pidfd && fe->pidfd->has_dead && fe->pidfd->dead;
}

static int pid_max(void)
{
	long long v;

	if (read_num_file("/proc/sys/kernel/pid_max", &v) || v <= 0 || v > INT_MAX)
		return PID_MAX_DEFAULT;
	return v;
}

/* The helper: it only ends, the way the process did. */
static void __attribute__((noreturn)) helper_end(int status)
{
	if (WIFSIGNALED(status)) {
		struct rlimit none = { 0, 0 };
		sigset_t all;

		/* the status says whether a core was dumped; none is written here */
		setrlimit(RLIMIT_CORE, &none);
		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

/* A pidfd of a helper that ended with @status and was reaped. */
static int dead_pidfd(struct rst_files *rf, int32_t status)
{
	int max = pid_max(), pidfd = -1, got;
	struct clone_args ca;
	pid_t pid = -1, want;

	for (int i = 0; i < HELPER_PID_TRIES && pid < 0; i++) {
		/* a pid the tree does not use, so that no task of it finds its pid taken */
		want = max - 1 - i;
		if (want < 2 || hmap_get(&rf->tree_pids, want))
			continue;
		memset(&ca, 0, sizeof(ca));
		/* not traced along: criu's tracer need not hear of it */
		ca.flags = CLONE_PIDFD | CLONE_UNTRACED;
		ca.pidfd = (uintptr_t)&pidfd;
		ca.exit_signal = SIGCHLD;
		ca.set_tid = (uintptr_t)&want;
		ca.set_tid_size = 1;
		pid = syscall(__NR_clone3, &ca, sizeof(ca));
		if (pid < 0 && errno != EEXIST) {
			pr_perror("can't start a helper for a pidfd of a process that ended");
			return -1;
		}
	}
	if (pid < 0) {
		pr_err("can't find a free pid for a helper below %d\n", max);
		return -1;
	}
	if (pid == 0)
		helper_end(status);
	while ((got = waitpid(pid, NULL, 0)) < 0 && errno == EINTR)
		;
	if (got != pid) {
		pr_perror("can't reap the helper %d", pid);
		close(pidfd);
		return -1;
	}
	return pidfd;
}

static int open_pidfd(struct fd_rst *c, FileEntry *fe)
{
	int fd;

	if (!is_dead(fe)) {
		pr_err("file %u: a pidfd is opened by the restorer, not here\n", fe->id);
		return -1;
	}
	fd = dead_pidfd(c->rf, fe->pidfd->has_exit_code ? fe->pidfd->exit_code : 0);
	if (fd >= 0 && (fe->pidfd->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK)) {
		pr_perror("can't make a pidfd non-blocking");
		close(fd);
		return -1;
	}
	return fd;
}

/* Live processes' pidfds are opened once they all exist. */
static int in_restorer(const FileEntry *fe)
{
	return !is_dead(fe);
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
	.in_restorer = in_restorer,
};
