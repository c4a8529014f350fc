// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: input queued for a pty slave (written to the master, not
 * read yet) can't be read without taking it away, so the dump must fail
 * naming the fd (77) and the pts index, and leave everything as it was:
 * afterwards the slave still reads exactly the queued bytes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include "zdtmtst.h"

#define M_FD	76
#define S_FD	77
#define DATA	"queued\001bytes"

int main(int argc, char **argv)
{
	struct termios t;
	char name[64], buf[64] = {};
	int m, s;
	ssize_t n;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || dup2(m, M_FD) != M_FD)
		test_bug("posix_openpt");
	s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s < 0 || dup2(s, S_FD) != S_FD)
		test_bug("open %s", name);
	close(m);
	close(s);
	if (tcgetattr(S_FD, &t))
		test_bug("tcgetattr");
	cfmakeraw(&t);
	if (tcsetattr(S_FD, TCSANOW, &t) || write(M_FD, DATA, sizeof(DATA) - 1) != sizeof(DATA) - 1)
		test_bug("setup");

	test_daemon();
	test_waitsig();

	n = read(S_FD, buf, sizeof(buf));
	if (n != sizeof(DATA) - 1 || memcmp(buf, DATA, n))
		failv("the slave read %zd bytes: \"%s\"", n, buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
