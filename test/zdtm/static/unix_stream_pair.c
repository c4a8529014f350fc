// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stream socketpair with data queued both ways (70000 bytes one way in
 * several writes, 5 bytes the other way), one end non-blocking. After C/R
 * the bytes come out in order on each side, nothing more is queued, and
 * the pair still talks both ways.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define BIG	70000

static unsigned char big[BIG], buf[BIG + 100];

static void drain(int fd, const void *want, size_t len, const char *what)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n <= 0) {
			failv("%s: %zu of %zu bytes came back", what, got, len);
			return;
		}
		got += n;
	}
	if (got != len || memcmp(buf, want, len))
		failv("%s: other bytes came back (%zu)", what, got);
	errno = 0;
	if (recv(fd, buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		failv("%s: more was queued", what);
}

int main(int argc, char **argv)
{
	int sk[2];

	test_init(argc, argv);
	for (int i = 0; i < BIG; i++)
		big[i] = i * 31 + 7;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk))
		test_bug("socketpair");
	if (write(sk[0], big, 1000) != 1000 || write(sk[0], big + 1000, BIG - 1000) != BIG - 1000 ||
	    write(sk[1], "hello", 5) != 5)
		test_bug("write");
	fcntl(sk[1], F_SETFL, O_NONBLOCK);

	test_daemon();
	test_waitsig();

	if (!(fcntl(sk[1], F_GETFL) & O_NONBLOCK) || (fcntl(sk[0], F_GETFL) & O_NONBLOCK))
		failv("file flags changed");
	drain(sk[1], big, BIG, "sk[0] -> sk[1]");
	drain(sk[0], "hello", 5, "sk[1] -> sk[0]");
	if (write(sk[1], "ping", 4) != 4)
		fail("write after restore");
	drain(sk[0], "ping", 4, "after restore");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
