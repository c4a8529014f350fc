// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unix sockets whose peer went away, and SCM_CREDENTIALS:
 *  - fd 40: a stream socket whose peer sent "bye" and closed: after
 *    restore it reads "bye", then EOF; a write fails with EPIPE;
 *  - fd 41: a stream socket whose peer closed with data of ours unread:
 *    a read gives ECONNRESET;
 *  - fd 42: a seqpacket socket whose peer sent "sp" and closed: "sp" as a
 *    record, then EOF;
 *  - fd 43: a dgram socket connected to an abstract-named socket that was
 *    closed: getpeername still names it, the next send fails with
 *    ECONNREFUSED, the one after with ENOTCONN;
 *  - fd 44/45, a stream pair with SO_PASSCRED on 45: a message from a child
 *    that exited since ("kid"), and one of ours ("me"), each with its
 *    sender's credentials; one queued before SO_PASSCRED was on, by a
 *    sender without it, has none (pid 0);
 *  - fd 46: a seqpacket socket whose peer closed with data of ours unread:
 *    a read gives ECONNRESET;
 *  - fd 47/48, a seqpacket pair with SO_PASSCRED on 48: records from a
 *    child that exited since and from us, with their senders' credentials.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define PEER_NAME	"zdtm-peer-gone"

/* One message of @len bytes from @sk with its credentials (pid 0 if none). */
static int recv_cred(int sk, char *buf, size_t len, struct ucred *cred)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(sk, &mh, MSG_DONTWAIT);

	memset(cred, 0, sizeof(*cred));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_type == SCM_CREDENTIALS)
			memcpy(cred, CMSG_DATA(c), sizeof(*cred));
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX }, got;
	socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(PEER_NAME), glen = sizeof(got);
	int sv[2], r, one = 1, status;
	struct ucred cred;
	char buf[16];
	pid_t kid, kid2;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || zdtm_fd_at(sv[0], 40) < 0 || write(sv[1], "bye", 3) != 3 ||
	    close(sv[1]))
		test_bug("stream 1");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || zdtm_fd_at(sv[0], 41) < 0 || write(41, "x", 1) != 1 ||
	    close(sv[1]))
		test_bug("stream 2");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) || zdtm_fd_at(sv[0], 42) < 0 || write(sv[1], "sp", 2) != 2 ||
	    close(sv[1]))
		test_bug("seqpacket");
	strcpy(a.sun_path + 1, PEER_NAME);
	r = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (r < 0 || bind(r, (struct sockaddr *)&a, alen) || zdtm_fd_at(socket(AF_UNIX, SOCK_DGRAM, 0), 43) < 0 ||
	    connect(43, (struct sockaddr *)&a, alen) || close(r))
		test_bug("dgram");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || zdtm_fd_at(sv[0], 44) < 0 || zdtm_fd_at(sv[1], 45) < 0 ||
	    write(44, "no", 2) != 2 || setsockopt(45, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		test_bug("credentials pair");
	kid = zdtm_fork();
	if (kid == 0)
		_exit(write(44, "kid", 3) == 3 ? 0 : 1);
	if (waitpid(kid, &status, 0) != kid || status || write(44, "me", 2) != 2)
		test_bug("the child's message");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) || zdtm_fd_at(sv[0], 46) < 0 || write(46, "x", 1) != 1 ||
	    close(sv[1]))
		test_bug("seqpacket reset");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) || zdtm_fd_at(sv[0], 47) < 0 || zdtm_fd_at(sv[1], 48) < 0 ||
	    setsockopt(48, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		test_bug("seqpacket credentials pair");
	kid2 = zdtm_fork();
	if (kid2 == 0)
		_exit(write(47, "kid2", 4) == 4 ? 0 : 1);
	if (waitpid(kid2, &status, 0) != kid2 || status || write(47, "me2", 3) != 3)
		test_bug("the child's record");

	test_daemon();
	test_waitsig();

	if (read(40, buf, sizeof(buf)) != 3 || memcmp(buf, "bye", 3) || read(40, buf, sizeof(buf)) != 0)
		fail("fd 40: not \"bye\", then EOF");
	errno = 0;
	if (write(40, "y", 1) != -1 || errno != EPIPE)
		fail("fd 40: a write did not fail with EPIPE");
	errno = 0;
	if (read(41, buf, sizeof(buf)) != -1 || errno != ECONNRESET)
		fail("fd 41: a read did not fail with ECONNRESET");
	if (read(42, buf, sizeof(buf)) != 2 || memcmp(buf, "sp", 2) || read(42, buf, sizeof(buf)) != 0)
		fail("fd 42: not \"sp\", then EOF");
	if (getpeername(43, (struct sockaddr *)&got, &glen) || glen != alen || memcmp(&got, &a, alen))
		fail("fd 43: getpeername does not name the peer that went");
	errno = 0;
	if (send(43, "z", 1, 0) != -1 || errno != ECONNREFUSED)
		fail("fd 43: the first send did not fail with ECONNREFUSED");
	errno = 0;
	if (send(43, "z", 1, 0) != -1 || errno != ENOTCONN)
		fail("fd 43: the second send did not fail with ENOTCONN");
	if (recv_cred(45, buf, 2, &cred) != 2 || memcmp(buf, "no", 2) || cred.pid)
		failv("fd 45: \"no\" came with pid %d", cred.pid);
	if (recv_cred(45, buf, 3, &cred) != 3 || memcmp(buf, "kid", 3) || cred.pid != kid || cred.uid != getuid() ||
	    cred.gid != getgid())
		failv("fd 45: \"kid\" came with pid %d uid %d gid %d, want %d %d %d", cred.pid, cred.uid, cred.gid, kid,
		      getuid(), getgid());
	if (recv_cred(45, buf, 2, &cred) != 2 || memcmp(buf, "me", 2) || cred.pid != getpid())
		failv("fd 45: \"me\" came with pid %d, want %d", cred.pid, getpid());
	errno = 0;
	if (read(46, buf, sizeof(buf)) != -1 || errno != ECONNRESET)
		fail("fd 46: a read did not fail with ECONNRESET");
	if (recv_cred(48, buf, sizeof(buf), &cred) != 4 || memcmp(buf, "kid2", 4) || cred.pid != kid2 ||
	    cred.uid != getuid())
		failv("fd 48: \"kid2\" came with pid %d uid %d, want %d %d", cred.pid, cred.uid, kid2, getuid());
	if (recv_cred(48, buf, sizeof(buf), &cred) != 3 || memcmp(buf, "me2", 3) || cred.pid != getpid())
		failv("fd 48: \"me2\" came with pid %d, want %d", cred.pid, getpid());
	if (test_failures)
		return 1;
	pass();
	return 0;
}
