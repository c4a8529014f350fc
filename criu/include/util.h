#ifndef CR_UTIL_H
#define CR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define CR_VERSION	"4.0"

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t now_us(void);

/* readlink(2) into buf (NUL-terminated); returns length or -1. */
ssize_t read_link(const char *path, char *buf, size_t size);
/* Write all of buf; 0 or -1. */
int write_all(int fd, const void *buf, size_t len);
/* Move fd to the number @to (closing what was there); returns @to or -1. */
int move_fd(int fd, int to);
/* Is the caller privileged enough to checkpoint and restore? 0 or -1 with a message. */
int check_privileges(void);
/* Does criu have CAP_SYS_RESOURCE (to raise a hard rlimit)? 1 or 0. */
int has_cap_sys_resource(void);
/* A duplicate of fd @fd of task @pid (pidfd_getfd), or -1. */
int task_fd(pid_t pid, int fd);
/* Write pid to path (for --pidfile); 0 or -1. */
int write_pidfile(const char *path, pid_t pid);

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
