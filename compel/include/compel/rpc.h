/* The control channel between the tool and a parasite daemon. */
#ifndef COMPEL_RPC_H
#define COMPEL_RPC_H

#include <stdint.h>
#include <sys/un.h>

#define COMPEL_ARGS_MAGIC	0x434f4d50u

/* Commands below COMPEL_CMD_USER belong to compel. */
enum {
	COMPEL_CMD_FINI		= 1,	/* the handler cleans up, replies; the daemon then waits to be stopped */
	COMPEL_CMD_USER		= 16,
};

/* One message each way: a command, then its reply with the same cmd. */
struct compel_ctl_msg {
	uint32_t cmd;
	int32_t ret;		/* handler's return value */
	int32_t err;		/* errno-like code when ret < 0 */
};

/* Start of the area shared by the tool and the blob; user args follow. */
struct compel_args {
	uint32_t magic;
	int32_t addr_len;
	struct sockaddr_un addr;	/* tool's listening socket (abstract) */
	uint64_t user_off;		/* offset of the user args from this struct */
	uint64_t user_size;
	uint64_t frame;			/* the task's rt_sigframe: rt_sigreturn to it puts the task back */
	int32_t no_close;		/* strict seccomp: no syscall but rt_sigreturn once the tool is gone */
	int32_t sock_fd;		/* out: the daemon's end of the channel in the task, -1 if none */
	int32_t healed;			/* out: the daemon lost the tool and put the task back itself */
	int32_t wait_tool;		/* seccomp filter: the tool's pidfd comes first on the channel */
	int32_t pidfd;			/* out: that pidfd in the task, -1 if none */
} __attribute__((aligned(64)));

static inline void *compel_user_args(struct compel_args *a)
{
	return (char *)a + a->user_off;
}

#endif
