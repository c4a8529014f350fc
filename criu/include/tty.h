/* Unix98 ptys inside the tree (criu/files/tty.c). */
#ifndef CR_TTY_H
#define CR_TTY_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "files.h"

/* Is fd @fd of @pid (stat @st) a pty master, slave, or /dev/tty naming a pty? */
int tty_is_pty(pid_t pid, int fd, const struct stat *st);

/* What the tree-wide check needs to know of each process. */
struct tty_proc {
	pid_t pid, sid, pgid;
	int tty_nr;		/* /proc/PID/stat */
	pid_t tpgid;		/* its terminal's foreground group (stat) */
	int zombie;
};

/*
 * After every fd is collected: both ends of each pty in the dump (a slave
 * of an outside master becomes the caller's terminal with --shell-job),
 * sessions and foreground groups led from inside; the bytes queued in each
 * pty are taken into its master's image (and put back at once).
 */
int tty_check_tree(struct file_table *ft, const struct tty_proc *p, int nr);
/* What the dump kept about ptys in @ft. */
void tty_dump_free(struct file_table *ft);

/* Restore, before a task's fds: give a session leader its terminal, a foreground group's leader its foreground. */
int tty_restore_session(struct fd_rst *c);

/*
 * --orphan-pts-master: a pty whose master was outside the tree is made
 * by the task holding its slave, which sends the master to criu over a
 * socket (a service fd); criu hands it to the swrk client in the
 * orphan-pts-master notification. Prepare: 0 (also when there is no such
 * pty) or -1, refused by name.
 */
int tty_orphan_prepare(struct rst_files *rf);
int tty_orphan_task_sk(void);
void tty_orphan_set_task_sk(int fd);
int tty_orphan_notify(void);
void tty_orphan_fini(void);

/* Planning: the masters a task needs for that without holding them. */
void tty_session_uses(struct rst_files *rf, pid_t pid, pid_t sid, pid_t pgid, uint8_t *uses, uint32_t nr_ids);
/* Two files of one pty: made by one task, like the ends of a pipe. */
/* /dev/tty files are made inside their session only: clear @need of a task in session @sid. */
void tty_limit_needs(struct rst_files *rf, pid_t sid, uint8_t *need, uint32_t nr_ids);

#endif
