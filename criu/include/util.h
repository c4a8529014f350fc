#ifndef CR_UTIL_H
#define CR_UTIL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define CR_VERSION	"4.0"

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t now_us(void);

/*
 * qsort() of an array that may be empty and never allocated: qsort(NULL, 0)
 * is undefined behaviour (UBSan stops the fuzzer on it).
 */
static inline void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* readlink(2) into buf (NUL-terminated); returns length or -1. */
ssize_t read_link(const char *path, char *buf, size_t size);
/* Close each of the @n fds that is open (>= 0). */
void close_fds(const int *fds, int n);
/* Write all of buf; 0 or -1. */
int write_all(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);
/*
 * Wait (a second at most) for @pid, just let go in its group stop, to show
 * 'T' again: it runs a moment in the kernel ('R') on its way back.
 */
void wait_group_stopped(pid_t pid);
/*
 * The same, where once a byte has come (or @begun) the rest may not stall
 * for over @stall_ms (-1: no limit): -1 with ETIMEDOUT then.
 */
int read_full_stall(int fd, void *buf, size_t len, int stall_ms, bool begun);
/* Remove @name under @dfd and the files in it (a live round's images: no subdirs), as far as it goes. */
void remove_flat_dir(int dfd, const char *name);
/*
 * Reading text files of /proc and /sys without mistaking a failure for
 * the end: a read error, or text that does not fit, is reported (naming
 * @what) and returns -1, never a shorter text.
 *   read_line(): fgets() of one whole line: 1, 0 at the end, or -1.
 *   read_text_fd(): all of @fd up to EOF into @buf, NUL-terminated: its length, or -1.
 *   read_text_file(): the same for @path (opened here; a missing file is
 *   reported too, errno ENOENT).
 */
int read_line(FILE *f, char *buf, int size, const char *what);
/*
 * The same, but a line longer than @buf comes back cut to its head (the
 * rest is skipped): for files whose long lines are of no interest to the
 * caller (/proc/PID/status has a Groups: line of any length).
 */
int read_line_head(FILE *f, char *buf, int size, const char *what);
ssize_t read_text_fd(int fd, char *buf, size_t size, const char *what);
ssize_t read_text_file(const char *path, char *buf, size_t size);
/*
 * The number a one-line /proc or /sys file holds (pid_max, nr_open...):
 * 0, or -1 with a warning (none for a missing file), for callers that
 * have a fallback; a failed read is said, not taken for the file's value.
 */
int read_num_file(const char *path, long long *v);
/*
 * One message of @len bytes (at least 1) on a SOCK_SEQPACKET socket, with
 * @nr fds (0-64) passed along (SCM_RIGHTS). 0 or -1 (errno set).
 */
int send_fds(int sk, const void *buf, size_t len, const int *fds, int nr);
/*
 * Its counterpart: the message's length (0 at EOF) or -1; up to @max fds
 * that came with it land in @fds (close-on-exec), their number in *@nr.
 */
ssize_t recv_fds(int sk, void *buf, size_t len, int *fds, int max, int *nr);
#define SEND_FDS_MAX	64
/* Move fd to the number @to (closing what was there); returns @to or -1. */
int move_fd(int fd, int to);
/* Is the caller privileged enough to checkpoint and restore? 0 or -1 with a message. */
int check_privileges(void);
/* Does criu have CAP_SYS_RESOURCE (to raise a hard rlimit)? 1 or 0. */
int has_cap_sys_resource(void);
/* A duplicate of fd @fd of task @pid (pidfd_getfd), or -1. The task's pidfd is kept for the next call. */
int task_fd(pid_t pid, int fd);
/*
 * A copy of fd @fd of @pid kept until task_fd_release() (not to be closed
 * by the caller), or -1: meanwhile task_fd() of that fd is a dup of it,
 * cheaper than another pidfd_getfd().
 */
int task_fd_hold(pid_t pid, int fd);
/* The copy held of fd @fd of @pid, or -1 if that is not the one held. */
int task_fd_held(pid_t pid, int fd);
void task_fd_release(void);
/* Close the pidfd task_fd() keeps (and the held copy). */
void task_fd_forget(void);
/*
 * Raise RLIMIT_NOFILE as far as we may: the hard limit up to fs.nr_open
 * with CAP_SYS_RESOURCE, the soft one up to the hard one. The soft limit
 * reached, or -1; *nr_open (if not NULL) gets fs.nr_open.
 */
long raise_nofile_limit(unsigned long *nr_open);
/*
 * A file's atime and mtime, saved before criu changes something in or
 * about it (a name made and removed in a directory, bytes written back
 * into a FIFO or pty) and put back after: dump and restore leave file
 * times as they found them.
 */
struct file_times {
	int valid;
	struct timespec ts[2];	/* atime, mtime: as utimensat() takes them */
};

int times_save(const char *path, struct file_times *t);
void times_put_back(const char *path, const struct file_times *t);
/* The directory @path is in, into @buf; 0, or -1 if it has none. */
int parent_dir(const char *path, char *buf, size_t size);

/* --pidfile's @path as criu sees it (a relative one is in the work dir), in @full if need be; NULL if too long. */
const char *pidfile_path(const char *path, char *full, size_t size);
/* Write pid to path (for --pidfile); 0 or -1. */
int write_pidfile(const char *path, pid_t pid);
/*
 * SIGKILL our child @pid (@what it is, for the message) and reap it. A
 * kill that fails three times is said and not waited on: the wait would
 * hang criu (our helpers die with us: PR_SET_PDEATHSIG).
 */
void kill_child(pid_t pid, const char *what);
/* @cb for each child of every thread of @pid (a running tree's: best effort), until it returns nonzero. */
pid_t fork_finisher(int own_group, const char *name);
void name_undoer(const char *name);
void proc_children(pid_t pid, int (*cb)(pid_t child, void *arg), void *arg);
/* Remove what write_pidfile() wrote (a restore that failed after it). */
void unlink_pidfile(const char *path);
/*
 * A restore notes the pidfile as it finds it; failed, it removes one made
 * since, whoever of its processes wrote it (the supervisor in a pid
 * namespace of the tree's may have died after writing it).
 */
void pidfile_note(const char *path);
void pidfile_drop_new(const char *path);

/*
 * SIGINT, SIGTERM and SIGHUP to criu: noted by a handler, acted on at the
 * next check, which fails the step so that the normal rollback runs.
 */
void interrupt_setup(void);
/* Stop noting them (restore children: the signal's default action is right there). */
void interrupt_reset(void);
/* The signal that came, or 0. */
int interrupted(void);
/* -1 with a message (once) if a signal came, else 0. */
int check_interrupted(void);

/*
 * /proc, as criu found it: the restore runs in the tree's own mount
 * namespace, which may have no /proc, or a read-only /proc/sys. Paths
 * are relative to /proc ("self/fd/3", "sys/kernel/shm_next_id").
 */
int proc_dir(void);
void proc_set_dir(int fd);
int proc_open(int flags, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
