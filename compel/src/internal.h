#ifndef COMPEL_INTERNAL_H
#define COMPEL_INTERNAL_H

#include <errno.h>
#include <sys/ptrace.h>

#include "compel/compel.h"

/*
 * ptrace() as compel makes it: a request that fails is made once more.
 * Ours fail only when the task is gone or not in a stop, and then fail
 * again; but a task in the middle of being put back must not be left half
 * way for one call that failed once (fault injection makes any call fail
 * once, criu/include/fault.h, and finds every such place).
 */
#define cptrace(req, pid, addr, data)						\
	({									\
		long __r = ptrace(req, pid, addr, data);			\
		if (__r == -1)							\
			__r = ptrace(req, pid, addr, data);			\
		__r;								\
	})

struct parasite_ctl {
	pid_t pid;
	struct compel_thread_state orig;

	unsigned long sys_ip;		/* a "syscall" insn of the task's own (vDSO), for syscalls with no blob */
	unsigned long sys_ret_ip;	/* its "syscall; ret", and */
	unsigned long sigret_ip;	/* its rt_sigreturn restorer: both or none */
	unsigned long frame;		/* the task's rt_sigframe that puts it back (see frame.c) */
	int armed;			/* registers or mask are not the task's own: a heal path runs */
	int strict_seccomp;		/* SECCOMP_MODE_STRICT: the parasite may not close its socket alone */
	int seccomp_filter;		/* SECCOMP_MODE_FILTER: the daemon waits for our end before healing */
	long restart_code;		/* -ERESTART* of the syscall it was stopped in, 0 if none (frame.c) */
	uint64_t caught;		/* signals with a handler (SigCgt) */
	uint64_t sa_restart;		/* caught signals found with SA_RESTART */
	int blob_heals;			/* the frame returns into the blob's heal code, which settles it */
	int frame_eintr;		/* the frame returns -EINTR: settled */
	int query_sig;			/* a pending signal whose SA_RESTART settles the frame */
	int querying;			/* reading that */
	int settle_failed;		/* a look at the pending signals failed (reported): no more */

	const struct compel_blob *blob;
	unsigned long remote_map;	/* shared area in the task */
	void *local_map;		/* same area in the tool */
	size_t map_size;
	void *args;			/* struct compel_args in local_map */

	int listen_sock;
	int sock;
	int running;			/* daemon started and not yet stopped */
	int stopping;			/* being stopped: a strict daemon's syscall stops are interrupted again */
	int *fds_before;		/* the task's fds before the daemon ran, ascending, -1 at the end */
	int borrowed;			/* remote_map belongs to another ctl: never unmap it */
};

/* Wait for the control socket to be readable, watching the task meanwhile. */
int compel_wait_sock(struct parasite_ctl *ctl, int fd);
/* The same, not cut short by compel_interrupted() (for the cure). */
int compel_wait_sock_how(struct parasite_ctl *ctl, int fd, int interruptible);

/* A strict-seccomp daemon's syscall stop, just reported: serve it (infect.c). */
int compel_strict_step(struct parasite_ctl *ctl);

/* compel_wait_stop(), not cut short by compel_interrupted(): for stops that come within moments. */
pid_t compel_wait_stop_nointr(pid_t pid, int *status);

/* frame.c: write the frame rt_sigreturn needs to put @ctl's thread back as saved. */
int compel_write_frame(struct parasite_ctl *ctl, unsigned long pretcode);

#endif
