#ifndef CR_FILE_LOCK_H
#define CR_FILE_LOCK_H

#include <stdint.h>
#include <sys/types.h>

struct restore_args;

/* Dump, with --file-locks: the locks listed in fdinfo of fd @fd of @pid (file @file_id). */
int file_locks_collect(pid_t pid, int fd, uint32_t file_id, const char *link);
/* Refuse when a process is blocked waiting for a lock the tree holds. */
int file_locks_check_waiters(void);
/* file-locks.img; then forget them. */
int file_locks_dump(int dfd);
void file_locks_free(void);

/* Restore, in process @pid once its fds are in place: its locks, for the restorer. */
int file_locks_prepare(int dfd, pid_t pid, struct restore_args *a);
/* Restore, before anything is made: file-locks.img (if any) reads whole, each lock of a process of the tree. */
int file_locks_read_check(int dfd, int (*is_task)(pid_t pid, void *arg), void *arg);

#endif
