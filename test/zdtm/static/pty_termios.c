// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unix98 ptys held by the test itself, both ends:
 *   A: master at 60, slave at 61 (dup'ed at 62, one description) and a
 *      second open of the slave at 63 (O_NONBLOCK, its own description);
 *      raw mode, VMIN 3, VTIME 7, VINTR ^E, a custom speed (BOTHER 12345 in,
 *      54321 out), window 37x111 (5x9 pixels).
 *   B: master at 64 (O_NONBLOCK) in packet mode, slave at 65 exclusive,
 *      default (canonical) termios, window 24x80.
 *   C: master at 66 locked again after the slave (67) was opened.
 * After C/R: the same /dev/pts/N, termios2, window sizes, packet, lock and
 * exclusive states, flags, shared and separate descriptions, the owner and
 * mode of /dev/pts/N, and data flows both ways through A and B.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <asm/termbits.h>

#include "zdtmtst.h"

#define A_M	60
#define A_S	61
#define A_DUP	62
#define A_S2	63
#define B_M	64
#define B_S	65
#define C_M	66
#define C_S	67

struct pty_state {
	struct termios2 t;
	struct winsize ws;
	int pkt, lck, excl_m, excl_s;
	unsigned int ptn;
	struct stat slave;
};

static int open_pty(int mfd, int sfd, int mflags, int sflags)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | mflags), s, zero = 0;
	unsigned int n;
	char path[64];

	if (m < 0 || ioctl(m, TIOCSPTLCK, &zero) || ioctl(m, TIOCGPTN, &n))
		return -1;
	snprintf(path, sizeof(path), "/dev/pts/%u", n);
	s = open(path, O_RDWR | O_NOCTTY | sflags);
	if (s < 0 || dup2(m, mfd) != mfd || dup2(s, sfd) != sfd)
		return -1;
	close(m);
	close(s);
	return 0;
}

static int get_state(int m, int s, struct pty_state *st)
{
	char path[64];

	memset(st, 0, sizeof(*st));
	if (ioctl(m, TCGETS2, &st->t) || ioctl(m, TIOCGWINSZ, &st->ws) || ioctl(m, TIOCGPKT, &st->pkt) ||
	    ioctl(m, TIOCGPTLCK, &st->lck) || ioctl(m, TIOCGEXCL, &st->excl_m) || ioctl(s, TIOCGEXCL, &st->excl_s) ||
	    ioctl(m, TIOCGPTN, &st->ptn))
		return -1;
	snprintf(path, sizeof(path), "/dev/pts/%u", st->ptn);
	return stat(path, &st->slave);
}

static void cmp_state(const char *name, const struct pty_state *a, const struct pty_state *b)
{
	if (a->ptn != b->ptn)
		failv("%s: pts %u, was %u", name, b->ptn, a->ptn);
	if (a->t.c_iflag != b->t.c_iflag || a->t.c_oflag != b->t.c_oflag || a->t.c_cflag != b->t.c_cflag ||
	    a->t.c_lflag != b->t.c_lflag || a->t.c_line != b->t.c_line || memcmp(a->t.c_cc, b->t.c_cc, sizeof(a->t.c_cc)))
		failv("%s: termios %x %x %x %x, was %x %x %x %x (or c_cc)", name, b->t.c_iflag, b->t.c_oflag,
		      b->t.c_cflag, b->t.c_lflag, a->t.c_iflag, a->t.c_oflag, a->t.c_cflag, a->t.c_lflag);
	if (a->t.c_ispeed != b->t.c_ispeed || a->t.c_ospeed != b->t.c_ospeed)
		failv("%s: speeds %u/%u, were %u/%u", name, b->t.c_ispeed, b->t.c_ospeed, a->t.c_ispeed, a->t.c_ospeed);
	if (memcmp(&a->ws, &b->ws, sizeof(a->ws)))
		failv("%s: window %ux%u (%ux%u), was %ux%u (%ux%u)", name, b->ws.ws_row, b->ws.ws_col, b->ws.ws_xpixel,
		      b->ws.ws_ypixel, a->ws.ws_row, a->ws.ws_col, a->ws.ws_xpixel, a->ws.ws_ypixel);
	if (a->pkt != b->pkt || a->lck != b->lck || a->excl_m != b->excl_m || a->excl_s != b->excl_s)
		failv("%s: packet %d lock %d excl %d/%d, were %d %d %d/%d", name, b->pkt, b->lck, b->excl_m, b->excl_s,
		      a->pkt, a->lck, a->excl_m, a->excl_s);
	if (a->slave.st_rdev != b->slave.st_rdev || a->slave.st_uid != b->slave.st_uid ||
	    a->slave.st_gid != b->slave.st_gid || a->slave.st_mode != b->slave.st_mode)
		failv("%s: slave %x %u:%u %o, was %x %u:%u %o", name, (unsigned)b->slave.st_rdev, b->slave.st_uid,
		      b->slave.st_gid, b->slave.st_mode, (unsigned)a->slave.st_rdev, a->slave.st_uid, a->slave.st_gid,
		      a->slave.st_mode);
}

/* Write @msg to @w, read it whole from @r (with a timeout). */
static int pass_data(int w, int r, const char *msg, const char *want)
{
	char buf[64] = {};
	size_t got = 0, len = strlen(want);

	if (write(w, msg, strlen(msg)) != (ssize_t)strlen(msg))
		return -1;
	for (int i = 0; i < 200 && got < len; i++) {
		ssize_t n = read(r, buf + got, sizeof(buf) - 1 - got);

		if (n > 0)
			got += n;
		else if (n < 0 && errno != EAGAIN)
			return -1;
		else
			usleep(10000);
	}
	if (got != len || memcmp(buf, want, len)) {
		failv("read \"%s\", want \"%s\"", buf, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pty_state a0, b0, c0, a1, b1, c1;
	struct termios2 t;
	struct winsize ws = { 37, 111, 5, 9 };
	int one = 1, fl;
	char pa[64], pa2[64];

	test_init(argc, argv);

	if (open_pty(A_M, A_S, 0, 0) || dup2(A_S, A_DUP) != A_DUP || open_pty(B_M, B_S, O_NONBLOCK, 0) ||
	    open_pty(C_M, C_S, 0, 0))
		test_bug("can't open the ptys");
	if (ioctl(A_M, TIOCGPTN, &a0.ptn))
		test_bug("TIOCGPTN");
	snprintf(pa, sizeof(pa), "/dev/pts/%u", a0.ptn);
	fl = open(pa, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (fl < 0 || dup2(fl, A_S2) != A_S2)
		test_bug("second open of the slave");
	close(fl);
	/* A: raw, odd c_cc, a speed no Bxxx constant has, a window */
	if (ioctl(A_S, TCGETS2, &t))
		test_bug("TCGETS2");
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag &= ~OPOST;
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB | CBAUD | (CBAUD << IBSHIFT));
	t.c_cflag |= CS8 | BOTHER | (BOTHER << IBSHIFT);
	t.c_ispeed = 12345;
	t.c_ospeed = 54321;
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 7;
	t.c_cc[VINTR] = 5;
	if (ioctl(A_S, TCSETS2, &t) || ioctl(A_M, TIOCSWINSZ, &ws))
		test_bug("TCSETS2/TIOCSWINSZ");
	/* B: packet mode, exclusive slave */
	ws = (struct winsize){ 24, 80, 0, 0 };
	if (ioctl(B_M, TIOCPKT, &one) || ioctl(B_S, TIOCEXCL) || ioctl(B_M, TIOCSWINSZ, &ws))
		test_bug("TIOCPKT/TIOCEXCL");
	/* C: locked again with its slave open */
	if (ioctl(C_M, TIOCSPTLCK, &one))
		test_bug("TIOCSPTLCK");
	if (get_state(A_M, A_S, &a0) || get_state(B_M, B_S, &b0) || get_state(C_M, C_S, &c0))
		test_bug("reading the states");
	if (a0.t.c_ispeed != 12345 || a0.t.c_ospeed != 54321 || !b0.pkt || !b0.excl_s || !c0.lck)
		test_bug("the kernel didn't take the settings (%u %u %d %d %d)", a0.t.c_ispeed, a0.t.c_ospeed, b0.pkt,
			 b0.excl_s, c0.lck);

	test_daemon();
	test_waitsig();

	if (get_state(A_M, A_S, &a1) || get_state(B_M, B_S, &b1) || get_state(C_M, C_S, &c1)) {
		fail("reading the states after restore");
		return 1;
	}
	cmp_state("A", &a0, &a1);
	cmp_state("B", &b0, &b1);
	cmp_state("C", &c0, &c1);
	if (ttyname_r(A_S2, pa2, sizeof(pa2)) || strcmp(pa, pa2))
		failv("the second slave fd is %s, want %s", pa2, pa);
	if (!(fcntl(A_S2, F_GETFL) & O_NONBLOCK) || (fcntl(A_S, F_GETFL) & O_NONBLOCK))
		failv("slave flags %x and %x", fcntl(A_S, F_GETFL), fcntl(A_S2, F_GETFL));
	if (!(fcntl(B_M, F_GETFL) & O_NONBLOCK))
		failv("B's master lost O_NONBLOCK");
	/* one description for 61 and 62, another for 63 */
	fl = fcntl(A_S, F_GETFL);
	fcntl(A_S, F_SETFL, fl | O_NONBLOCK);
	if (!(fcntl(A_DUP, F_GETFL) & O_NONBLOCK))
		failv("fds 61 and 62 are no longer one description");
	fcntl(A_S, F_SETFL, fl);
	fcntl(A_S2, F_SETFL, fcntl(A_S2, F_GETFL) & ~O_NONBLOCK);
	if (fcntl(A_S2, F_GETFL) & O_NONBLOCK || fcntl(A_S, F_GETFL) & O_NONBLOCK)
		failv("fds 61 and 63 are one description");
	fcntl(A_S2, F_SETFL, fcntl(A_S2, F_GETFL) | O_NONBLOCK);
	/* raw: bytes pass unchanged both ways */
	fcntl(A_M, F_SETFL, O_NONBLOCK);
	if (pass_data(A_M, A_S2, "ping\r\n\x03", "ping\r\n\x03") || pass_data(A_DUP, A_M, "pong\n", "pong\n"))
		fail("data through pty A");
	/* B: canonical with echo; packet mode puts a 0 (TIOCPKT_DATA) first */
	{
		char buf[16] = {};
		ssize_t n;

		if (write(B_M, "hi\n", 3) != 3)
			fail("write B");
		usleep(100000);
		n = read(B_M, buf, sizeof(buf));
		if (n != 5 || memcmp(buf, "\0hi\r\n", 5))
			failv("echo on B's master: %zd bytes", n);
		memset(buf, 0, sizeof(buf));
		if (read(B_S, buf, sizeof(buf)) != 3 || strcmp(buf, "hi\n"))
			failv("B's slave read \"%s\"", buf);
	}
	/* C: still locked, so the slave can't be opened again */
	snprintf(pa, sizeof(pa), "/dev/pts/%u", c1.ptn);
	if (open(pa, O_RDWR | O_NOCTTY) >= 0 || errno != EIO)
		fail("opening the locked slave of C");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
