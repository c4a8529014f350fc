// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: whole lines queued for a pty slave in canonical mode
 * (written to the master, not read yet) can't be fed back with their
 * boundaries exactly, so the dump must fail naming the master (fd 76) and
 * the pts index, and leave everything as it was: afterwards the slave
 * still reads exactly the queued lines, one per read.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

#define M_FD	76
#define S_FD	77
#define LINE1	"queued\001line\n"
#define LINE2	"and another\n"

static void expect_line(const char *want)
{
	struct pollfd p = { .fd = S_FD, .events = POLLIN };
	char buf[64] = {};
	ssize_t n = -1;

	if (poll(&p, 1, 2000) == 1)
		n = read(S_FD, buf, sizeof(buf) - 1);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		failv("the slave read %zd bytes: \"%s\", wanted \"%s\"", n, buf, want);
}

int main(int argc, char **argv)
{
	struct termios t;
	char name[64];
	int m, s, n = 0;

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
	t.c_lflag |= ICANON;
	t.c_lflag &= ~ECHO;
	if (tcsetattr(S_FD, TCSANOW, &t) || write(M_FD, LINE1 LINE2, strlen(LINE1 LINE2)) != strlen(LINE1 LINE2))
		test_bug("setup");
	for (int i = 0; i < 2000 && n != strlen(LINE1 LINE2); i++) {
		usleep(1000);
		if (ioctl(S_FD, FIONREAD, &n))
			test_bug("FIONREAD");
	}

	test_daemon();
	test_waitsig();

	expect_line(LINE1);
	expect_line(LINE2);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
