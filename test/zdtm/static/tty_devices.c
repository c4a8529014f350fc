// SPDX-License-Identifier: GPL-2.0-only
/*
 * Terminals of the machine opened by path (root only): a virtual console
 * (/dev/tty2) at fd 40, read-write and non-blocking, /dev/console at fd 41
 * write-only, the first serial line (/dev/ttyS0) at fd 42 read-only, when
 * the machine has them. They outlive the tree: after restore each fd is
 * the same device again (rdev, flags), still a terminal with the termios
 * it had, and none became our controlling terminal.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>

#include "zdtmtst.h"

static const struct {
	const char *path;
	int flags;
} ttys[] = {
	{ "/dev/tty2", O_RDWR | O_NONBLOCK },
	{ "/dev/console", O_WRONLY },
	{ "/dev/ttyS0", O_RDONLY | O_NONBLOCK },
};
#define NR	(sizeof(ttys) / sizeof(ttys[0]))

int main(int argc, char **argv)
{
	struct termios t[NR];
	struct stat st[NR];
	int open_[NR] = { 0 }, flags[NR];

	test_init(argc, argv);
	for (size_t i = 0; i < NR; i++) {
		if (zdtm_fd_at(open(ttys[i].path, ttys[i].flags | O_NOCTTY), 40 + i) < 0)
			continue;	/* this machine has none */
		if (fstat(40 + i, &st[i]) || tcgetattr(40 + i, &t[i]))
			test_bug("%s", ttys[i].path);
		flags[i] = fcntl(40 + i, F_GETFL);
		open_[i] = 1;
	}

	test_daemon();
	test_waitsig();

	for (size_t i = 0; i < NR; i++) {
		struct termios now;
		struct stat s;

		if (!open_[i])
			continue;
		if (fstat(40 + i, &s) || !S_ISCHR(s.st_mode) || s.st_rdev != st[i].st_rdev)
			fail("fd %zu is not %s any more", 40 + i, ttys[i].path);
		if (fcntl(40 + i, F_GETFL) != flags[i])
			failv("fd %zu: flags %o, were %o", 40 + i, fcntl(40 + i, F_GETFL), flags[i]);
		if (tcgetattr(40 + i, &now) || now.c_lflag != t[i].c_lflag || now.c_cflag != t[i].c_cflag)
			fail("fd %zu: not the terminal it was", 40 + i);
	}
	if (open("/dev/tty", O_RDONLY) >= 0 || errno != ENXIO)
		fail("we have a controlling terminal");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
