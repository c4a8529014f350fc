// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a TCP connection with urgent (out-of-band) data not read
 * yet: the receive queue can be read only up to the urgent mark and there
 * is no way to set a mark again, so the dump is refused, naming urgent
 * data. Afterwards the receiver still finds the urgent byte (MSG_OOB), at
 * the mark after "abc", and then the rest of the data.
 */
#include <string.h>
#include <sys/ioctl.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char buf[16] = {}, oob = 0;
	int a, b, mark = 0;

	test_init(argc, argv);
	if (zdtm_tcp_pair(AF_INET, 0, &a, &b))
		test_bug("pair");
	if (send(a, "abc", 3, 0) != 3 || send(a, "X", 1, MSG_OOB) != 1 || send(a, "def", 3, 0) != 3)
		test_bug("send");
	usleep(50000);

	test_daemon();
	test_waitsig();

	if (recv(b, buf, sizeof(buf), 0) != 3 || memcmp(buf, "abc", 3))
		failv("before the mark: \"%s\"", buf);
	if (ioctl(b, SIOCATMARK, &mark) || !mark)
		failv("not at the urgent mark");
	if (recv(b, &oob, 1, MSG_OOB) != 1 || oob != 'X')
		failv("the urgent byte is %c", oob);
	memset(buf, 0, sizeof(buf));
	if (recv(b, buf, sizeof(buf), 0) != 3 || memcmp(buf, "def", 3))
		failv("after the mark: \"%s\"", buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
