// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a unix stream socket with an out-of-band byte (MSG_OOB)
 * not read yet. A peek of the queue reads it in line and no send puts one
 * back at its place, so the dump is refused, naming it. Afterwards the
 * receiver still finds the byte with MSG_OOB and the rest of the data
 * without it.
 */
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char buf[16] = {}, oob = 0;
	int sk[2];

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk))
		test_bug("socketpair");
	if (send(sk[0], "abc", 3, 0) != 3 || send(sk[0], "X", 1, MSG_OOB) != 1 || send(sk[0], "def", 3, 0) != 3)
		test_bug("send");

	test_daemon();
	test_waitsig();

	if (recv(sk[1], &oob, 1, MSG_OOB | MSG_DONTWAIT) != 1 || oob != 'X')
		failv("the out-of-band byte is %c", oob);
	if (recv(sk[1], buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "abc", 3))
		failv("before the mark: \"%s\"", buf);
	memset(buf, 0, sizeof(buf));
	if (recv(sk[1], buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "def", 3))
		failv("after the mark: \"%s\"", buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
