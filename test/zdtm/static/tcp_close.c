// SPDX-License-Identifier: GPL-2.0-only
/*
 * --tcp-close: established connections (both ends in the test, IPv4 and
 * IPv6, data queued) are dumped without repair mode and come back closed:
 * each end reads EOF and a write fails with EPIPE. A listener of the tree
 * works as before.
 */
#include <signal.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

int main(int argc, char **argv)
{
	int a[2], b[2], lsk, c, s;
	uint64_t off = 0;
	char x;

	test_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (zdtm_tcp_pair(AF_INET, 0, &a[0], &b[0]) || zdtm_tcp_pair(AF_INET6, 0, &a[1], &b[1]))
		test_bug("pairs");
	if (zdtm_stream_write(a[0], 1000, 1, &off) || zdtm_stream_write(b[1], 1000, 1, &off))
		test_bug("write");
	lsk = zdtm_tcp_listener(AF_INET, 0, 3);
	if (lsk < 0)
		test_bug("listener");

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		int sk[2] = { a[i], b[i] };

		for (int j = 0; j < 2; j++) {
			if (read(sk[j], &x, 1) != 0)
				fail("connection %d end %d: read does not say EOF", i, j);
			errno = 0;
			if (write(sk[j], "x", 1) != -1 || errno != EPIPE)
				fail("connection %d end %d: write does not fail with EPIPE", i, j);
		}
	}
	c = zdtm_tcp_connect(lsk, AF_INET, 0);
	s = c < 0 ? -1 : accept(lsk, NULL, NULL);
	if (s < 0 || write(c, "y", 1) != 1 || read(s, &x, 1) != 1 || x != 'y')
		fail("the listener");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
