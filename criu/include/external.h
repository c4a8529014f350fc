#ifndef CR_EXTERNAL_H
#define CR_EXTERNAL_H

#include <stdint.h>
#include <sys/stat.h>

#include "files.h"
#include "ext-file.pb-c.h"

/* --inherit-fd fds live in service slots 8..18 of the restore processes */
#define MAX_INHERIT_FD	11

/* Command line: 0, or -1 with a message. */
int external_add(const char *arg);
int inherit_fd_add(const char *arg);

/* Dump: the --external an fd matches (NULL: none); record it; ext-files.img. */
const char *external_match(const char *link, const struct stat *st, int mnt_id);
int external_note(uint32_t id, const char *link, const char *what);
int external_dump(int dfd);
/* The external file (a terminal) with rdev @rdev becomes session @sid's terminal, @pgrp its foreground: 0 or -1 (none). */
int external_set_ctty(struct file_table *ft, dev_t rdev, pid_t sid, pid_t pgrp);
/* At restore: the i-th external file of ext-files.img, NULL past the last. */
const ExtFileEntry *external_file(size_t i);
void external_free(void);

/* Restore: every external file must have its --inherit-fd (parent, before forking). */
int inherit_fd_prepare(int dfd, struct rst_files *rf);
extern bool inherit_fd_unused;	/* lazy-pages: images read, no file restored */
/* In the root: move the inherited fds to base.., returns the first slot after them. */
int inherit_fd_lift(int base);
/* criu's fd that --inherit-fd gives for @key, or -1 (not a dup: the caller dups it). */
int inherit_fd_lookup(const char *key);
/* A new fd for @fe from an --inherit-fd, -2 if none names it, -1 on error. */
int inherit_fd_open(FileEntry *fe);

#endif
