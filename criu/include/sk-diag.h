/*
 * Unix socket state from netlink sock_diag (UNIX_DIAG), read once per dump
 * through libnl and looked up by inode.
 */
#ifndef CR_SK_DIAG_H
#define CR_SK_DIAG_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

struct unix_diag_info {
	uint32_t ino, type, state;
	uint32_t peer;			/* 0: none */
	uint32_t namelen;		/* 0: unbound; name[0] == 0: abstract */
	char name[108];
	int has_vfs;			/* bound to a path: the file's inode and device */
	uint32_t vfs_ino, vfs_dev;
	uint32_t *icons;		/* a listener's clients not accepted yet */
	uint32_t nr_icons;
	uint32_t rqlen, wqlen;		/* a listener: pending connections and backlog */
	uint32_t shutdown;		/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2 */
};

struct unix_diag_table {
	struct unix_diag_info *s;	/* sorted by inode */
	size_t nr, cap;
	int failed;			/* an answer could not be parsed */
};

/* Fill @u from one SOCK_DIAG_BY_FAMILY answer; 0, or -1 if it is malformed. */
int unix_diag_parse(struct nlmsghdr *h, struct unix_diag_info *u);
/* Ask the kernel about every unix socket of our network namespace. */
int unix_diag_collect(struct unix_diag_table *t);
struct unix_diag_info *unix_diag_find(struct unix_diag_table *t, uint32_t ino);
void unix_diag_free(struct unix_diag_table *t);

#endif
