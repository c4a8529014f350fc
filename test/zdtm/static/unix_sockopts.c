// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket options and file state of a unix stream pair: SO_SNDBUF,
 * SO_RCVBUF, SO_PASSCRED, SO_PEEK_OFF (with a peek already done, so the
 * offset is not 0), SO_RCVLOWAT, the options of every family (SO_PASSPIDFD,
 * SO_PASSSEC, SO_TIMESTAMP, SO_PRIORITY, receive and send timeouts),
 * O_NONBLOCK, FD_CLOEXEC and the owner for SIGIO. After C/R
 * getsockopt/fcntl give the same values and the next MSG_PEEK continues
 * at the saved offset.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#define NR_OPTS		9

static const int opts[] = { SO_SNDBUF, SO_RCVBUF, SO_PASSCRED, SO_PEEK_OFF, SO_RCVLOWAT,
			    SO_PASSPIDFD, SO_PASSSEC, SO_TIMESTAMP, SO_PRIORITY };
static const char *names[] = { "SO_SNDBUF", "SO_RCVBUF", "SO_PASSCRED", "SO_PEEK_OFF", "SO_RCVLOWAT",
			       "SO_PASSPIDFD", "SO_PASSSEC", "SO_TIMESTAMP", "SO_PRIORITY" };

static void get_all(int fd, int *v)
{
	for (int i = 0; i < NR_OPTS; i++) {
		socklen_t len = sizeof(v[i]);

		if (getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len))
			v[i] = -12345;
	}
}

int main(int argc, char **argv)
{
	int sk[2], before[NR_OPTS], after[NR_OPTS], v, peek_off = 0;
	struct timeval rcvtimeo = { 3, 250000 }, sndtimeo = { 0, 700000 }, tv_before[2], tv;
	socklen_t len;
	char buf[8] = {};

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk))
		test_bug("socketpair");
	v = 40000;
	if (setsockopt(sk[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)))
		test_bug("SO_SNDBUF");
	v = 50000;
	if (setsockopt(sk[0], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)))
		test_bug("SO_RCVBUF");
	v = 1;
	if (setsockopt(sk[0], SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)))
		test_bug("SO_PASSCRED");
	v = 3;
	if (setsockopt(sk[0], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)))
		test_bug("SO_RCVLOWAT");
	if (setsockopt(sk[0], SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off)))
		test_bug("SO_PEEK_OFF");
	v = 1;
	if (setsockopt(sk[0], SOL_SOCKET, SO_PASSPIDFD, &v, sizeof(v)) ||
	    setsockopt(sk[0], SOL_SOCKET, SO_PASSSEC, &v, sizeof(v)) ||
	    setsockopt(sk[0], SOL_SOCKET, SO_TIMESTAMP, &v, sizeof(v)))
		test_bug("SO_PASSPIDFD, SO_PASSSEC, SO_TIMESTAMP");
	v = 5;
	if (setsockopt(sk[0], SOL_SOCKET, SO_PRIORITY, &v, sizeof(v)))
		test_bug("SO_PRIORITY");
	if (setsockopt(sk[0], SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo)) ||
	    setsockopt(sk[0], SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)))
		test_bug("timeouts");
	if (write(sk[1], "abcdefgh", 8) != 8 || recv(sk[0], buf, 3, MSG_PEEK) != 3)
		test_bug("peek");
	if (fcntl(sk[0], F_SETFL, O_NONBLOCK) || fcntl(sk[0], F_SETFD, FD_CLOEXEC) || fcntl(sk[0], F_SETOWN, getpid()))
		test_bug("fcntl");
	get_all(sk[0], before);
	/* as the kernel keeps them: in jiffies */
	len = sizeof(tv);
	if (getsockopt(sk[0], SOL_SOCKET, SO_RCVTIMEO, &tv_before[0], &len) ||
	    getsockopt(sk[0], SOL_SOCKET, SO_SNDTIMEO, &tv_before[1], &len))
		test_bug("reading the timeouts");
	if (before[3] != 3)
		test_bug("peek offset %d", before[3]);

	test_daemon();
	test_waitsig();

	get_all(sk[0], after);
	for (int i = 0; i < NR_OPTS; i++)
		if (after[i] != before[i])
			failv("%s is %d, it was %d", names[i], after[i], before[i]);
	len = sizeof(tv);
	if (getsockopt(sk[0], SOL_SOCKET, SO_RCVTIMEO, &tv, &len) || !tv.tv_sec ||
	    tv.tv_sec != tv_before[0].tv_sec || tv.tv_usec != tv_before[0].tv_usec)
		failv("SO_RCVTIMEO is %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
	len = sizeof(tv);
	if (getsockopt(sk[0], SOL_SOCKET, SO_SNDTIMEO, &tv, &len) || !tv.tv_usec ||
	    tv.tv_sec != tv_before[1].tv_sec || tv.tv_usec != tv_before[1].tv_usec)
		failv("SO_SNDTIMEO is %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
	if (!(fcntl(sk[0], F_GETFL) & O_NONBLOCK) || !(fcntl(sk[0], F_GETFD) & FD_CLOEXEC))
		fail("file flags changed");
	if (fcntl(sk[0], F_GETOWN) != getpid())
		failv("owner %d, want %d", fcntl(sk[0], F_GETOWN), getpid());
	memset(buf, 0, sizeof(buf));
	if (recv(sk[0], buf, 2, MSG_PEEK) != 2 || memcmp(buf, "de", 2))
		failv("the next peek gives \"%s\", want \"de\"", buf);
	if (recv(sk[0], buf, 8, 0) != 8 || memcmp(buf, "abcdefgh", 8))
		fail("the data is not all there");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
