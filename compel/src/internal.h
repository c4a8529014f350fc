#ifndef COMPEL_INTERNAL_H
#define COMPEL_INTERNAL_H

#include "compel/compel.h"

struct parasite_ctl {
	pid_t pid;
	struct compel_thread_state orig;

	unsigned long code_addr;	/* where injected syscalls run when no blob is mapped */
	unsigned long code_orig;	/* the 8 bytes that were there */

	const struct compel_blob *blob;
	unsigned long remote_map;	/* shared area in the task */
	void *local_map;		/* same area in the tool */
	size_t map_size;
	void *args;			/* struct compel_args in local_map */

	int listen_sock;
	int sock;
	int running;			/* daemon started and not yet finished */
	int borrowed;			/* remote_map belongs to another ctl: never unmap it */
};

/* Wait for the control socket to be readable, watching the task meanwhile. */
int compel_wait_sock(struct parasite_ctl *ctl, int fd);

#endif
