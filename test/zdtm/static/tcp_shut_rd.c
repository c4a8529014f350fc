// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP connections shut for reading by the task (shutdown(SHUT_RD) sends
 * nothing: only the socket knows):
 *  - an IPv4 connection whose server got "abc" and then shut its receive
 *    side: still ESTABLISHED;
 *  - an IPv6 connection whose client shut both sides (SHUT_RDWR): its FIN
 *    was acknowledged, it is in FIN_WAIT2 with its receive side shut.
 * After restore each is in the same state, poll() says POLLIN|POLLRDHUP at
 * once, the server reads "abc" then EOF without waiting and can still
 * send, and the client reads EOF at once.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static void check_state(int sk, int state, const char *name)
{
	struct tcp_info ti;

	if (zdtm_tcp_info(sk, &ti) || ti.tcpi_state != state)
		failv("%s: state %u, was %d", name, ti.tcpi_state, state);
}

static void check_rdhup(int sk, const char *name)
{
	struct pollfd p = { .fd = sk, .events = POLLIN | POLLRDHUP };

	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLIN | POLLRDHUP)) != (POLLIN | POLLRDHUP))
		failv("%s: poll says %#x, not POLLIN|POLLRDHUP at once", name, p.revents);
}

int main(int argc, char **argv)
{
	int c1, s1, c2, s2;
	char buf[16];
	ssize_t n;

	test_init(argc, argv);
	if (zdtm_tcp_pair(AF_INET, 0, &c1, &s1) || zdtm_tcp_pair(AF_INET6, 0, &c2, &s2))
		test_bug("pairs");
	if (write(c1, "abc", 3) != 3)
		test_bug("write");
	usleep(50000);
	if (shutdown(s1, SHUT_RD) || shutdown(c2, SHUT_RDWR))
		test_bug("shutdown");
	usleep(50000);
	check_state(s1, TCP_ESTABLISHED, "server 1");
	check_state(c2, TCP_FIN_WAIT2, "client 2");
	check_rdhup(s1, "server 1");
	check_rdhup(c2, "client 2");
	if (test_failures)
		test_bug("not the states to test");

	test_daemon();
	test_waitsig();

	check_state(s1, TCP_ESTABLISHED, "server 1");
	check_state(c2, TCP_FIN_WAIT2, "client 2");
	check_state(s2, TCP_CLOSE_WAIT, "server 2");
	check_rdhup(s1, "server 1");
	check_rdhup(c2, "client 2");
	n = recv(s1, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 3 || memcmp(buf, "abc", 3))
		failv("server 1: read %zd bytes, not \"abc\"", n);
	n = recv(s1, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 0)
		failv("server 1: read gives %zd (%s), not EOF", n, n < 0 ? strerror(errno) : "data");
	if (write(s1, "xy", 2) != 2 || read(c1, buf, sizeof(buf)) != 2 || memcmp(buf, "xy", 2))
		fail("server 1 can't send any more");
	n = recv(c2, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 0)
		failv("client 2: read gives %zd (%s), not EOF", n, n < 0 ? strerror(errno) : "data");
	n = recv(s2, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 0)
		failv("server 2: read gives %zd (%s), not EOF", n, n < 0 ? strerror(errno) : "data");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
