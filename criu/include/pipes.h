#ifndef CR_PIPES_H
#define CR_PIPES_H

#include <sys/stat.h>
#include <sys/types.h>

#include "files.h"
#include "proc_parse.h"

/* Fill @d for pipe end @fd of @pid, including the queued data on the read end. */
int dump_pipe(pid_t pid, int fd, const struct stat *st, const struct proc_fdinfo *fi, struct file_desc *d);
/*
 * Copy what is queued in pipe @rd (of capacity @size) without consuming
 * it. Data written in packets (O_DIRECT) gets their sizes in @packets
 * (malloc'ed, *nr_packets of them); with @packets NULL it is refused.
 */
int peek_pipe(int rd, int size, uint8_t **data, size_t *len, uint32_t **packets, size_t *nr_packets);
/* A pipe end whose other end is not in the dump: fine if nobody has it, refused if someone outside has. */
int check_pipes(struct file_table *ft);

/* Restore: index the pipes of files.img by inode (rst_files.pipes, pipe_next). 0 or -1. */
int pipes_index(struct rst_files *rf);
/* Restore: an fd for this pipe end, making the pipe on first use. */
int open_pipe_end(struct fd_rst *c, FileEntry *fe);

#endif
