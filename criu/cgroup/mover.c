/*
 * The mover: a child of criu made before the tree, in criu's namespaces
 * and with its rights, that does every cgroup write once the tree's
 * processes exist. A restore process may be in a user namespace where it
 * can't write a cgroup file, or in a pid namespace where its pid means
 * something else: it sends its request with its credentials, and the
 * kernel gives the mover its pid as the mover sees it. The supervisor
 * names a thread the same way (credentials with the thread's id, which
 * its CAP_SYS_ADMIN allows).
 *
 * A request is one packet: struct cg_req, the sender's credentials and a
 * socket for the answer (an int: 0 or -1), so that processes sharing the
 * mover's socket never read each other's answers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "util.h"

struct cg_req {
	int32_t op;
	int32_t set;
	int32_t base;
};

static pid_t mover = -1;

static int serve_one(int sk)
{
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} c;
	struct cg_req req;
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct ucred *cred = NULL;
	int reply = -1, status = -1;
	ssize_t n;

	n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		if (ch->cmsg_level != SOL_SOCKET)
			continue;
		if (ch->cmsg_type == SCM_RIGHTS)
			memcpy(&reply, CMSG_DATA(ch), sizeof(int));
		else if (ch->cmsg_type == SCM_CREDENTIALS)
			cred = (struct ucred *)CMSG_DATA(ch);
	}
	if (n != sizeof(req) || reply < 0 || !cred) {
		pr_err("cgroup mover: a malformed request\n");
	} else {
		switch (req.op) {
		case CG_OP_MOVE_PROC:
		case CG_OP_MOVE_THREAD:
			status = cg_rst_move(cred->pid, req.set, req.base, req.op == CG_OP_MOVE_THREAD);
			break;
		case CG_OP_LATE:
			status = cg_rst_props(CG_PHASE_LATE);
			break;
		case CG_OP_FREEZER:
			status = cg_rst_props(CG_PHASE_FREEZER);
			break;
		default:
			pr_err("cgroup mover: unknown request %d\n", req.op);
		}
	}
	if (reply >= 0) {
		if (write(reply, &status, sizeof(status)) != sizeof(status))
			pr_perror("cgroup mover: can't answer");
		close(reply);
	}
	return 0;
}

int cg_mover_start(void)
{
	int sk[2], one = 1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't make the cgroup mover's socket");
		return -1;
	}
	/* set before anyone sends: credentials are attached as a packet is sent */
	if (setsockopt(sk[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		pr_perror("SO_PASSCRED");
		goto err;
	}
	mover = fork();
	if (mover < 0) {
		pr_perror("can't fork the cgroup mover");
		goto err;
	}
	if (mover == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "criu-cgmover");
		close(sk[0]);
		while (serve_one(sk[1]) == 0)
			;
		_exit(0);
	}
	close(sk[1]);
	return sk[0];
err:
	close(sk[0]);
	close(sk[1]);
	return -1;
}

int cg_mover_request(int sk, int op, int set, int base, pid_t who)
{
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} c;
	struct cg_req req = { .op = op, .set = set, .base = base };
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct ucred cred = { .pid = who, .uid = getuid(), .gid = getgid() };
	struct cmsghdr *ch;
	int rp[2], status = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rp)) {
		pr_perror("can't make a socket for the cgroup mover's answer");
		return -1;
	}
	memset(&c, 0, sizeof(c));
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &rp[1], sizeof(int));
	ch = CMSG_NXTHDR(&mh, ch);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_CREDENTIALS;
	ch->cmsg_len = CMSG_LEN(sizeof(cred));
	memcpy(CMSG_DATA(ch), &cred, sizeof(cred));
	while (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		pr_perror("can't ask the cgroup mover (request %d for %d)", op, who);
		goto out;
	}
	close(rp[1]);
	rp[1] = -1;
	while (read(rp[0], &status, sizeof(status)) < 0)
		if (errno != EINTR) {
			pr_perror("no answer from the cgroup mover");
			status = -1;
			break;
		}
out:
	close(rp[0]);
	if (rp[1] >= 0)
		close(rp[1]);
	return status;
}

void cg_mover_stop(void)
{
	if (mover <= 0)
		return;
	kill_child(mover, "the cgroup mover");
	mover = -1;
}
