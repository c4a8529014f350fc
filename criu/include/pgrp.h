/* Process groups whose leader is gone: rebuilt at restore with a helper. */
#ifndef CR_PGRP_H
#define CR_PGRP_H

#include <sys/types.h>

/*
 * Join process group @pgid of our session; if nobody is in it yet, make
 * it first with a short-lived helper that has pid @pgid. 0 or -1.
 */
int join_leaderless_group(pid_t pgid);

#endif
