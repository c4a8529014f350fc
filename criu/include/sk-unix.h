#ifndef CR_SK_UNIX_H
#define CR_SK_UNIX_H

#include "files.h"

/*
 * After every task's fds are collected: refuse peers outside the tree
 * (unless --ext-unix-sk allows it) and number the groups of connected sockets.
 */
int check_unix_sockets(struct file_table *ft);
/* What the dump kept about unix sockets in @ft. */
void usk_dump_free(struct file_table *ft);

#endif
