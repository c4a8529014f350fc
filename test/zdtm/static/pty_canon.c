// SPDX-License-Identifier: GPL-2.0-only
/*
 * A pty (master fd 76, slave fd 77) in canonical mode with input queued
 * for the slave: whole lines ended by a newline (one with a ^A in it), by
 * EOF (^D, which the queue does not keep), by EOF alone (an empty read), by
 * the EOL character (set to '#'), and after them a line typed in part with
 * an erase in it ("parx" + DEL: "par"); and output the slave wrote for the
 * master, in both directions at once. After restore the master reads the
 * output, the slave reads exactly the queued lines, one per read, and the
 * line typed in part is completed by what the master types next; ^D, '#'
 * and DEL are still special.
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
#define TYPED	"queued\001line\n" "eof\004" "\004" "eol#" "parx\177"
#define OUTPUT	"out one\nout two\n"

static void expect_line(const char *want, size_t len)
{
	struct pollfd p = { .fd = S_FD, .events = POLLIN };
	char buf[64] = {};
	ssize_t n = -1;

	if (poll(&p, 1, 2000) == 1)
		n = read(S_FD, buf, sizeof(buf) - 1);
	if (n != (ssize_t)len || memcmp(buf, want, len))
		failv("the slave read %zd bytes: \"%s\", wanted \"%s\"", n, buf, want);
}

int main(int argc, char **argv)
{
	char name[64], buf[64] = {};
	struct termios t;
	int m, s, n = 0;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || zdtm_fd_at(m, M_FD) < 0)
		test_bug("posix_openpt");
	s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (zdtm_fd_at(s, S_FD) < 0 || tcgetattr(S_FD, &t))
		test_bug("open %s", name);
	t.c_lflag |= ICANON;
	t.c_lflag &= ~ECHO;
	t.c_oflag &= ~OPOST;
	t.c_cc[VEOL] = '#';
	t.c_cc[VERASE] = 0177;
	if (tcsetattr(S_FD, TCSANOW, &t) || write(M_FD, TYPED, strlen(TYPED)) != strlen(TYPED) ||
	    write(S_FD, OUTPUT, strlen(OUTPUT)) != strlen(OUTPUT))
		test_bug("setup");
	/* the whole lines' bytes: "queued^Aline\n" 12, "eof" 3, "eol#" 4 */
	for (int i = 0; i < 2000 && n != 12 + 3 + 4; i++) {
		usleep(1000);
		if (ioctl(S_FD, FIONREAD, &n))
			test_bug("FIONREAD");
	}
	for (int i = 0; i < 2000 && (ioctl(M_FD, FIONREAD, &n) || n != strlen(OUTPUT)); i++)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (read(M_FD, buf, sizeof(buf) - 1) != (ssize_t)strlen(OUTPUT) || strcmp(buf, OUTPUT))
		failv("the master read \"%s\", wanted \"%s\"", buf, OUTPUT);
	expect_line("queued\001line\n", 12);
	expect_line("eof", 3);
	expect_line("", 0);
	expect_line("eol#", 4);
	if (write(M_FD, "t\177tial\n", 7) != 7)
		fail("typing on");
	expect_line("partial\n", 8);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
