// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: output queued for a pty master (fd 76) while the slave's
 * output is stopped (tcflow TCOOFF) could not be written back, so the dump
 * must refuse before reading it, and leave everything as it was: the
 * master still reads the bytes, the slave's output is still stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

#define M_FD	76
#define S_FD	77
#define DATA	"written before the stop"

int main(int argc, char **argv)
{
	struct pollfd p = { .fd = M_FD, .events = POLLIN };
	char name[64], buf[64] = {};
	struct termios t;
	int m, s;
	ssize_t n = -1;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
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
	if (tcsetattr(S_FD, TCSANOW, &t) || write(S_FD, DATA, strlen(DATA)) != strlen(DATA) ||
	    tcflow(S_FD, TCOOFF))
		test_bug("setup");

	test_daemon();
	test_waitsig();

	if (poll(&p, 1, 2000) == 1)
		n = read(M_FD, buf, sizeof(buf));
	if (n != (ssize_t)strlen(DATA) || memcmp(buf, DATA, n))
		failv("the master read %zd bytes: \"%s\"", n, buf);
	errno = 0;
	if (write(S_FD, "x", 1) != -1 || errno != EAGAIN)
		failv("the slave's output is not stopped any more (errno %d)", errno);
	if (tcflow(S_FD, TCOON) || write(S_FD, "y", 1) != 1)
		failv("the slave's output doesn't start again");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
