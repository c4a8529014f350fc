// SPDX-License-Identifier: GPL-2.0-only
/*
 * Half-closed TCP connections, both ends in the tree:
 *  1. A shut its side after sending 3000 bytes: A is in FIN_WAIT2, B in
 *     CLOSE_WAIT with the bytes and the FIN unread; B goes on sending.
 *  2. B's receive buffer is full and A, with bytes still unsent, shut its
 *     side: A is in FIN_WAIT1 with its FIN queued behind the data, B is
 *     ESTABLISHED.
 * After restore the states are the same (TCP_INFO), B reads A's bytes
 * then EOF, what B sends reaches A, and once B shuts its side A reads EOF
 * too.
 */
#include <sys/socket.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static const char *sname(int s)
{
	static const char *const n[] = { "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
					 "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING" };

	return s >= 0 && s < 12 ? n[s] : "?";
}

static void check_state(int sk, int want, const char *what)
{
	struct tcp_info ti;

	if (zdtm_tcp_info(sk, &ti))
		fail("TCP_INFO of %s", what);
	else if (ti.tcpi_state != want)
		failv("%s is in %s, was in %s", what, sname(ti.tcpi_state), sname(want));
}

int main(int argc, char **argv)
{
	uint64_t seed = zdtm_random(), a1 = 0, b1 = 0, a2 = 0, r = 0, small = 4096;
	int A1, B1, A2, B2;
	size_t n;

	test_init(argc, argv);
	if (zdtm_tcp_pair(AF_INET, 0, &A1, &B1))
		test_bug("pair 1");
	if (zdtm_stream_write(A1, 3000, seed, &a1))
		test_bug("write");
	shutdown(A1, SHUT_WR);

	/* a small receive buffer, set before the connection so that the window stays small */
	{
		int lsk = zdtm_tcp_listener(AF_INET6, 0, 1);

		if (lsk < 0 || setsockopt(lsk, SOL_SOCKET, SO_RCVBUF, &small, sizeof(int)))
			test_bug("listener");
		A2 = zdtm_tcp_connect(lsk, AF_INET6, 0);
		B2 = A2 < 0 ? -1 : accept(lsk, NULL, NULL);
		close(lsk);
		if (B2 < 0)
			test_bug("pair 2");
	}
	n = zdtm_stream_fill_nb(A2, 1 << 20, seed + 2, &a2);
	usleep(100000);
	n += zdtm_stream_fill_nb(A2, 1 << 20, seed + 2, &a2);
	shutdown(A2, SHUT_WR);
	usleep(100000);
	check_state(A1, TCP_FIN_WAIT2, "A1");
	check_state(B1, TCP_CLOSE_WAIT, "B1");
	check_state(A2, TCP_FIN_WAIT1, "A2");
	check_state(B2, TCP_ESTABLISHED, "B2");
	if (test_failures)
		test_bug("the states to dump are not there");
	test_msg("%zu bytes queued on connection 2\n", n);

	test_daemon();
	test_waitsig();

	check_state(A1, TCP_FIN_WAIT2, "A1");
	check_state(B1, TCP_CLOSE_WAIT, "B1");
	check_state(A2, TCP_FIN_WAIT1, "A2");
	check_state(B2, TCP_ESTABLISHED, "B2");

	if (zdtm_stream_read(B1, (size_t)-1, seed, &r, 5000) != 3000)
		failv("B1 read %llu bytes before EOF", (unsigned long long)r);
	test_msg("B1 read\n");
	if (zdtm_stream_write(B1, 20000, seed + 1, &b1))
		fail("B1 write");
	shutdown(B1, SHUT_WR);
	test_msg("B1 wrote\n");
	r = 0;
	if (zdtm_stream_read(A1, (size_t)-1, seed + 1, &r, 5000) != 20000)
		failv("A1 read %llu bytes before EOF", (unsigned long long)r);
	test_msg("A1 read\n");
	r = 0;
	if (zdtm_stream_read(B2, (size_t)-1, seed + 2, &r, 10000) != (int64_t)a2)
		failv("B2 read %llu bytes before EOF, %llu were sent", (unsigned long long)r, (unsigned long long)a2);
	shutdown(B2, SHUT_WR);
	r = 0;
	if (zdtm_stream_read(A2, (size_t)-1, seed + 3, &r, 5000) != 0)
		failv("A2 read %llu bytes, not EOF", (unsigned long long)r);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
