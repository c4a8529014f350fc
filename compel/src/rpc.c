/* Tool side of the control channel. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compel/fdmsg.h"
#include "compel/rpc.h"
#include "internal.h"
#include "log.h"

#define RPC_TIMEOUT_MS	(120 * 1000)

/*
 * The parasite may crash instead of answering: poll the socket in short
 * steps and look at the task in between, so a dead or stopped task is
 * reported instead of waited on forever.
 */
int compel_wait_sock(struct parasite_ctl *ctl, int fd)
{
	return compel_wait_sock_how(ctl, fd, 1);
}

/*
 * Strict seccomp: the daemon runs under PTRACE_SYSCALL and each of its
 * syscalls stops (compel_strict_step()). Serve its stops until @fd is
 * readable; the daemon is left running to its next stop, reported at the
 * next wait. Stops come microseconds apart: look often at first, then
 * back off (a long syscall, a daemon blocked).
 */
static int strict_wait(struct parasite_ctl *ctl, int fd, int interruptible)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int waited = 0, idle = 0;

	while (waited < RPC_TIMEOUT_MS) {
		int status, ret, ms = idle < 200 ? 0 : idle < 400 ? 1 : 20;

		ret = poll(&p, 1, ms);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR) {
			cpr_perror("poll on the control socket of %d", ctl->pid);
			return -1;
		}
		if (interruptible && compel_interrupted()) {
			cpr_err("interrupted while waiting for the parasite in %d\n", ctl->pid);
			return -1;
		}
		waited += ms;
		ret = waitpid(ctl->pid, &status, __WALL | WNOHANG);
		if (ret < 0 && errno != EINTR) {
			cpr_perror("waitpid(%d)", ctl->pid);
			ctl->running = 0;
			return -1;
		}
		if (ret != ctl->pid) {
			idle++;
			continue;
		}
		idle = 0;
		if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			ret = compel_strict_step(ctl);
			if (ret < 0)
				return -1;
			if (ret > 0) {
				cpr_err("parasite in %d gave up and put the task back\n", ctl->pid);
				return -1;
			}
			continue;
		}
		if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP) {
			/* a group-stop trap: the task is ours, let it go on */
			if (ptrace(PTRACE_SYSCALL, ctl->pid, NULL, NULL)) {
				cpr_perror("PTRACE_SYSCALL of %d", ctl->pid);
				return -1;
			}
			continue;
		}
		if (WIFSTOPPED(status))
			cpr_err("parasite in %d stopped with signal %d\n", ctl->pid, WSTOPSIG(status));
		else
			cpr_err("task %d died running the parasite (status 0x%x)\n", ctl->pid, status);
		ctl->running = 0;
		return -1;
	}
	cpr_err("parasite in %d did not answer in %d s\n", ctl->pid, RPC_TIMEOUT_MS / 1000);
	return -1;
}

int compel_wait_sock_how(struct parasite_ctl *ctl, int fd, int interruptible)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int waited = 0;

	if (ctl->strict_seccomp && ctl->running)
		return strict_wait(ctl, fd, interruptible);

	while (waited < RPC_TIMEOUT_MS) {
		int status, ret;

		ret = poll(&p, 1, 100);
		if (ret > 0)
			return 0;
		if (interruptible && compel_interrupted()) {
			cpr_err("interrupted while waiting for the parasite in %d\n", ctl->pid);
			return -1;
		}
		if (ret < 0 && errno != EINTR) {
			cpr_perror("poll on the control socket of %d", ctl->pid);
			return -1;
		}
		waited += 100;
		ret = waitpid(ctl->pid, &status, __WALL | WNOHANG);
		if (ret == ctl->pid) {
			if (WIFSTOPPED(status)) {
				cpr_err("parasite in %d stopped with signal %d\n", ctl->pid, WSTOPSIG(status));
				ctl->running = 0;
			} else {
				cpr_err("task %d died running the parasite (status 0x%x)\n", ctl->pid, status);
				ctl->running = 0;
			}
			return -1;
		}
	}
	cpr_err("parasite in %d did not answer in %d s\n", ctl->pid, RPC_TIMEOUT_MS / 1000);
	return -1;
}

static compel_fault_fn fault_fn;

void compel_set_fault(compel_fault_fn fn)
{
	fault_fn = fn;
}

int compel_rpc_call(struct parasite_ctl *ctl, unsigned int cmd)
{
	struct compel_ctl_msg m = { .cmd = cmd };

	if (fault_fn && fault_fn("parasite command %u in %d", cmd, ctl->pid)) {
		errno = EIO;
		return -1;
	}

	/* a parasite gone must not end us with SIGPIPE */
	if (send(ctl->sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		cpr_perror("sending command %u to the parasite in %d", cmd, ctl->pid);
		return -1;
	}
	return 0;
}

int compel_rpc_sync(struct parasite_ctl *ctl, unsigned int cmd)
{
	struct compel_ctl_msg m;

	if (compel_wait_sock(ctl, ctl->sock))
		return -1;
	if (read(ctl->sock, &m, sizeof(m)) != sizeof(m)) {
		cpr_perror("reading the reply to %u from the parasite in %d", cmd, ctl->pid);
		return -1;
	}
	if (m.cmd != cmd) {
		cpr_err("parasite in %d answered %u to command %u\n", ctl->pid, m.cmd, cmd);
		return -1;
	}
	if (m.ret < 0) {
		errno = m.err;
		return -1;
	}
	return m.ret;
}

int compel_rpc_call_sync(struct parasite_ctl *ctl, unsigned int cmd)
{
	if (compel_rpc_call(ctl, cmd))
		return -1;
	return compel_rpc_sync(ctl, cmd);
}

int compel_send_fds(struct parasite_ctl *ctl, const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * COMPEL_MAX_FDS)] __attribute__((aligned(8)));
	struct msghdr mh;
	struct iovec iov;
	char dummy = 0;

	if (compel_fds_msg(&mh, &iov, cbuf, nr, &dummy)) {
		cpr_err("can't pass %d fds at once\n", nr);
		return -1;
	}
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * nr);
	if (sendmsg(ctl->sock, &mh, MSG_NOSIGNAL) < 0) {
		cpr_perror("passing fds to the parasite in %d", ctl->pid);
		/*
		 * The parasite waits for these fds: it would take the next
		 * message (the cure's FINI) for them and the cure would wait
		 * for an answer that never comes. The channel is out of step:
		 * close it, and the cure stops the daemon without it.
		 */
		close(ctl->sock);
		ctl->sock = -1;
		return -1;
	}
	return 0;
}

int compel_recv_fds(struct parasite_ctl *ctl, int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * COMPEL_MAX_FDS)] __attribute__((aligned(8)));
	struct cmsghdr *ch;
	struct msghdr mh;
	struct iovec iov;
	char dummy;

	if (compel_fds_msg(&mh, &iov, cbuf, nr, &dummy)) {
		cpr_err("can't take %d fds at once\n", nr);
		return -1;
	}
	if (compel_wait_sock(ctl, ctl->sock))
		return -1;
	if (recvmsg(ctl->sock, &mh, MSG_CMSG_CLOEXEC) < 0) {
		cpr_perror("receiving fds from the parasite in %d", ctl->pid);
		return -1;
	}
	ch = CMSG_FIRSTHDR(&mh);
	if (!ch || ch->cmsg_type != SCM_RIGHTS || ch->cmsg_len != CMSG_LEN(sizeof(int) * nr)) {
		cpr_err("parasite in %d sent a malformed fd message\n", ctl->pid);
		return -1;
	}
	memcpy(fds, CMSG_DATA(ch), sizeof(int) * nr);
	return 0;
}
