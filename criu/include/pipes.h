#ifndef CR_PIPES_H
#define CR_PIPES_H

#include <sys/stat.h>
#include <sys/types.h>

#include "files.h"
#include "proc_parse.h"

/* Fill @d for pipe end @fd of @pid, including the queued data on the read end. */
int dump_pipe(pid_t pid, int fd, const struct stat *st, const struct proc_fdinfo *fi, struct file_desc *d);
/* Copy what is queued in pipe @rd (of capacity @size) without consuming it. */
int peek_pipe(int rd, int size, uint8_t **data, size_t *len);
/* Every pipe must have both ends in the dump (for now). */
int check_pipes(pid_t pid, struct file_table *ft);

/* Restore: an fd for this pipe end, creating the pipe on first use. */
int open_pipe_end(struct rst_files *rf, FileEntry *fe);
/* Pipe ends waiting to be placed are kept at or above @scratch. */
void pipes_restore_init(int scratch);
void pipes_restore_forget(void);
/* Move @fd up among the scratch fds (closing the original); returns the new fd or -1. */
int restore_lift_fd(int fd);
/* Close the pipe ends the restore kept around. */
void pipes_restore_fini(void);

#endif
