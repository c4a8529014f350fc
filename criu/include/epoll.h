#ifndef CR_EPOLL_H
#define CR_EPOLL_H

#include <sys/types.h>

struct file_table;
struct rst_files;
struct fd_rst;

/*
 * Dump: for every epoll target, a process of the tree (@pids, live ones
 * in tree order) holding that very file at the target's fd number; refused
 * if there is none.
 */
int epoll_check_targets(struct file_table *ft, const pid_t *pids, int nr);
/*
 * Restore, once every fd of the task is in place: add the targets recorded
 * for it to their epolls (its own fds of them, or the transit slots).
 */
int epoll_add_targets(struct fd_rst *c);

#endif
