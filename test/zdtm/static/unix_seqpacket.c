// SPDX-License-Identifier: GPL-2.0-only
/*
 * A seqpacket socketpair with records of different sizes queued both
 * ways. After C/R each record comes back whole (MSG_TRUNC shows a short
 * read), in order, and the type is still SOCK_SEQPACKET.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

static const size_t sizes[] = { 10, 3000, 1, 500 };

int main(int argc, char **argv)
{
	unsigned char msg[3000], buf[4000];
	int sk[2], type;
	socklen_t len = sizeof(type);

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sk))
		test_bug("socketpair");
	for (int i = 0; i < 4; i++) {
		memset(msg, 'a' + i, sizes[i]);
		if (send(sk[0], msg, sizes[i], 0) != (ssize_t)sizes[i])
			test_bug("send");
	}
	if (send(sk[1], "back", 4, 0) != 4)
		test_bug("send back");

	test_daemon();
	test_waitsig();

	if (getsockopt(sk[0], SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET)
		failv("type %d", type);
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(sk[1], buf, sizeof(buf), MSG_DONTWAIT);

		memset(msg, 'a' + i, sizes[i]);
		if (n != (ssize_t)sizes[i] || memcmp(buf, msg, n))
			failv("record %d: %zd bytes, want %zu", i, n, sizes[i]);
	}
	errno = 0;
	if (recv(sk[1], buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		failv("more records queued");
	if (recv(sk[0], buf, 2, MSG_DONTWAIT | MSG_TRUNC) != 4 || memcmp(buf, "ba", 2))
		failv("the record back is not whole");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
