// SPDX-License-Identifier: GPL-2.0-only
/*
 * A session with a pty as its controlling terminal: the test (session
 * leader) holds the master (40), the slave (41, opened without O_NOCTTY,
 * so it became the controlling terminal) and /dev/tty (42); its child C
 * leads a process group of its own, which is the terminal's foreground
 * group, and holds /dev/tty too (43).
 * After C/R: tcgetsid and tcgetpgrp of the terminal, tty_nr in
 * /proc/PID/stat of both, /dev/tty naming the pty in both, data written
 * through /dev/tty read on the master, and ^C written to the master (ISIG
 * on) sends SIGINT to C's group only.
 * A second pty (raw) has its master in C (44) and its slave in the test
 * (45): after C/R they are still connected, the test writes, C reads.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#include "zdtmtst.h"

#define M_FD	40
#define S_FD	41
#define T_FD	42
#define C_TFD	43
#define M2_FD	44
#define S2_FD	45

static volatile sig_atomic_t got_int;

static void on_int(int sig)
{
	got_int++;
}

static unsigned int encode(dev_t d)
{
	return (minor(d) & 0xff) | (major(d) << 8) | ((minor(d) & ~0xffu) << 12);
}

static int stat_tty_nr(pid_t pid, int *pgrp, int *sid)
{
	char path[64], buf[1024], *p;
	int tty_nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %d %d %d", pgrp, sid, &tty_nr) != 3)
		return -1;
	return tty_nr;
}

static int devtty_dev(int fd, dev_t *dev)
{
	unsigned int d;
	struct stat st;

	if (fstat(fd, &st) || st.st_rdev != makedev(5, 0) || ioctl(fd, TIOCGDEV, &d))
		return -1;
	*dev = makedev((d >> 8) & 0xfff, (d & 0xff) | ((d >> 12) & 0xfff00));
	return 0;
}

/* C: leads the foreground group; after SIGINT checks itself, exits 0 if all is right. */
static int child(pid_t leader, dev_t slave, int ready)
{
	sigset_t none;
	dev_t dev;
	int fd = open("/dev/tty", O_RDWR);

	if (fd < 0 || dup2(fd, C_TFD) != C_TFD)
		return 2;
	close(fd);
	close(ready);
	sigemptyset(&none);
	while (!got_int)
		sigsuspend(&none);
	if (getsid(0) != leader || getpgrp() != getpid())
		return 3;
	if (devtty_dev(C_TFD, &dev) || dev != slave)
		return 4;
	if (tcgetpgrp(C_TFD) != getpid())
		return 5;
	{
		char b[8] = {};

		if (poll(&(struct pollfd){ .fd = M2_FD, .events = POLLIN }, 1, 5000) != 1 || read(M2_FD, b, 8) != 4 ||
		    strcmp(b, "to C"))
			return 7;
	}
	return got_int == 1 ? 0 : 6;
}

int main(int argc, char **argv)
{
	int ready[2], m, s, status = 0, pgrp, sid, nr;
	struct sigaction sa = { .sa_handler = on_int };
	char name[64], buf[64] = {};
	struct stat st;
	size_t got = 0;
	pid_t me, c;
	dev_t dev;

	test_init(argc, argv);
	me = getpid();
	sigaction(SIGINT, &sa, NULL);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || dup2(m, M_FD) != M_FD)
		test_bug("posix_openpt");
	close(m);
	s = open(name, O_RDWR);		/* no O_NOCTTY: our controlling terminal now */
	if (s < 0 || dup2(s, S_FD) != S_FD)
		test_bug("open %s", name);
	close(s);
	if (tcgetsid(S_FD) != me)
		test_bug("the pty did not become our controlling terminal");
	s = open("/dev/tty", O_RDWR);
	if (s < 0 || dup2(s, T_FD) != T_FD)
		test_bug("open /dev/tty");
	close(s);
	if (fstat(S_FD, &st))
		test_bug("fstat");
	/* the second pty, raw */
	{
		struct termios t;

		m = posix_openpt(O_RDWR | O_NOCTTY);
		if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, buf, sizeof(buf)) || dup2(m, M2_FD) != M2_FD)
			test_bug("posix_openpt");
		close(m);
		s = open(buf, O_RDWR | O_NOCTTY | O_NONBLOCK);
		if (s < 0 || dup2(s, S2_FD) != S2_FD || tcgetattr(S2_FD, &t))
			test_bug("open %s", buf);
		close(s);
		cfmakeraw(&t);
		if (tcsetattr(S2_FD, TCSANOW, &t))
			test_bug("tcsetattr");
		memset(buf, 0, sizeof(buf));
	}

	if (pipe(ready))
		test_bug("pipe");
	c = zdtm_fork();
	if (c == 0) {
		close(ready[0]);
		close(S2_FD);
		if (setpgid(0, 0))
			_exit(1);
		_exit(child(me, st.st_rdev, ready[1]));
	}
	close(M2_FD);
	if (zdtm_wait_ready(ready))
		test_bug("the child did not get ready");
	setpgid(c, c);
	if (tcsetpgrp(S_FD, c))
		test_bug("tcsetpgrp");

	test_daemon();
	test_waitsig();

	if (tcgetsid(S_FD) != me)
		failv("tcgetsid: %d, want %d", tcgetsid(S_FD), me);
	if (tcgetpgrp(S_FD) != c)
		failv("tcgetpgrp: %d, want %d", tcgetpgrp(S_FD), c);
	nr = stat_tty_nr(me, &pgrp, &sid);
	if (nr < 0 || (unsigned int)nr != encode(st.st_rdev) || sid != me || pgrp != me)
		failv("our stat: tty_nr %x pgrp %d sid %d, want %x %d %d", nr, pgrp, sid, encode(st.st_rdev), me, me);
	nr = stat_tty_nr(c, &pgrp, &sid);
	if (nr < 0 || (unsigned int)nr != encode(st.st_rdev) || sid != me || pgrp != c)
		failv("child's stat: tty_nr %x pgrp %d sid %d, want %x %d %d", nr, pgrp, sid, encode(st.st_rdev), me, c);
	if (devtty_dev(T_FD, &dev) || dev != st.st_rdev)
		failv("fd 42 is not /dev/tty naming %s", name);
	/* through /dev/tty (ONLCR on), out of the master */
	fcntl(M_FD, F_SETFL, O_NONBLOCK);
	if (write(T_FD, "via tty\n", 8) != 8)
		fail("write /dev/tty");
	for (int i = 0; i < 200 && got < 9; i++) {
		ssize_t n = read(M_FD, buf + got, sizeof(buf) - 1 - got);

		if (n > 0)
			got += n;
		else
			usleep(10000);
	}
	if (got != 9 || strcmp(buf, "via tty\r\n"))
		failv("the master read \"%s\"", buf);
	if (write(S2_FD, "to C", 4) != 4)
		fail("write on the second pty");
	/* ^C on the terminal: SIGINT to the foreground group (C), not to us */
	if (write(M_FD, "\003", 1) != 1)
		fail("write ^C");
	for (int i = 0; i < 500; i++) {
		if (waitpid(c, &status, WNOHANG) == c)
			break;
		status = -1;
		usleep(10000);
	}
	if (status == -1) {
		failv("the foreground group got no SIGINT");
		kill(c, SIGKILL);
		waitpid(c, &status, 0);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		failv("child: status %#x", status);
	}
	if (got_int)
		failv("SIGINT reached the background group");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
