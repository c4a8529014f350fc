// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an established TCP connection (both ends in the test, at
 * fds 70 and 71, data queued each way) dumped without --tcp-established is
 * refused, naming the fd and the connection's addresses; the connection
 * is untouched: the queued data and new data arrive whole both ways.
 */
#include "zdtmnet.h"
#include "zdtmtst.h"

int main(int argc, char **argv)
{
	uint64_t seed, a_off = 0, b_off = 0, ra = 0, rb = 0;
	int a, b;

	test_init(argc, argv);
	seed = zdtm_random();
	if (zdtm_tcp_pair(AF_INET, 0, &a, &b) || dup2(a, 70) != 70 || dup2(b, 71) != 71)
		test_bug("pair");
	close(a);
	close(b);
	if (zdtm_stream_write(70, 5000, seed, &a_off) || zdtm_stream_write(71, 7000, seed + 1, &b_off))
		test_bug("write");

	test_daemon();
	test_waitsig();

	if (zdtm_stream_write(70, 3000, seed, &a_off) || zdtm_stream_write(71, 3000, seed + 1, &b_off))
		fail("write");
	shutdown(70, SHUT_WR);
	shutdown(71, SHUT_WR);
	if (zdtm_stream_read(71, (size_t)-1, seed, &ra, 5000) != 8000 ||
	    zdtm_stream_read(70, (size_t)-1, seed + 1, &rb, 5000) != 10000)
		failv("got %llu and %llu bytes", (unsigned long long)ra, (unsigned long long)rb);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
