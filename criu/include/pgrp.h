/* Process groups led by no ancestor: rebuilt at restore with a helper if the leader is gone, else joined late. */
#ifndef CR_PGRP_H
#define CR_PGRP_H

#include <sys/types.h>

/*
 * Join process group @pgid of our session; if nobody is in it yet, make
 * it first with a short-lived helper that has pid @pgid. 0 or -1.
 */
int join_leaderless_group(pid_t pgid);
/*
 * Join process group @pgid of our session, which another task being
 * restored (its leader) makes: wait until it has. 0 or -1.
 */
int join_group_when_made(pid_t pgid);

#endif
