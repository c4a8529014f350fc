// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a UDP socket (fd 90) connected to a port nobody has sent
 * a datagram there, so an ICMP "port unreachable" left ECONNREFUSED
 * pending on it. Reading a socket's pending error takes it away and
 * nothing sets one again: the dump is refused, naming the fd and the
 * pending error. Afterwards the error is still there for the test.
 */
#include "zdtmnet.h"
#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int sk, tmp, err = 0;
	socklen_t len;
	char b;

	test_init(argc, argv);
	/* a port that was free a moment ago */
	tmp = socket(AF_INET, SOCK_DGRAM, 0);
	len = zdtm_loopback(AF_INET, 0, 0, &ss);
	if (tmp < 0 || bind(tmp, (struct sockaddr *)&ss, len))
		test_bug("bind");
	len = zdtm_loopback(AF_INET, 0, zdtm_port(tmp), &ss);
	close(tmp);
	sk = socket(AF_INET, SOCK_DGRAM, 0);
	if (sk < 0 || dup2(sk, 90) != 90 || connect(90, (struct sockaddr *)&ss, len) || send(90, "x", 1, 0) != 1)
		test_bug("send");
	close(sk);
	usleep(50000);

	test_daemon();
	test_waitsig();

	if (recv(90, &b, 1, MSG_DONTWAIT) != -1)
		failv("no error pending");
	err = errno;
	if (err != ECONNREFUSED)
		failv("the pending error was %d, not ECONNREFUSED", err);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
