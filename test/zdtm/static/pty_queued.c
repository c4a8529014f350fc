// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bytes queued inside ptys survive, exactly, and the termios with them:
 *  A (76/77): output the slave wrote (OPOST|ONLCR: "\n" went out as
 *     "\r\n") for a blocking master, and input queued for the slave in
 *     non-canonical mode, written while no processing was on, with bytes
 *     the termios now in force would change (CR under ICRNL, ^C under ISIG,
 *     ^S under IXON, 0xff under ISTRIP, ECHO on).
 *  B (78/79): a master in packet mode (and IXON on) with output queued:
 *     each read is a TIOCPKT_DATA byte, then the data.
 *  C (80): output queued by a slave that was closed since, the pty locked
 *     again: the master reads the bytes, then EIO.
 * pty_queued_leave (--leave-running) and pty_queued_fail (a dump failing
 * after the queues were looked at) check that the live ptys keep them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

#define A_M	76
#define A_S	77
#define B_M	78
#define B_S	79
#define C_M	80
#define FAIL_M	95

#define A_OUT_W	"out\nput\001\377"
#define A_OUT	"out\r\nput\001\377"
#define A_IN	"in\r\003\023\377Ab\n"
#define B_OUT	"packet\ndata"
#define C_OUT	"left by a closed slave"

static int open_pty(int mfd, int sfd, int mflags)
{
	char name[64];
	int m, s = -1;

	m = posix_openpt(O_RDWR | O_NOCTTY | mflags);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || dup2(m, mfd) != mfd)
		test_bug("posix_openpt");
	close(m);
	if (sfd < 0)
		return 0;
	s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s < 0 || dup2(s, sfd) != sfd)
		test_bug("open %s", name);
	close(s);
	return 0;
}

static void set_termios(int fd, tcflag_t iflag, tcflag_t oflag, tcflag_t lflag)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		test_bug("tcgetattr");
	t.c_iflag = iflag;
	t.c_oflag = oflag;
	t.c_lflag = lflag;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t))
		test_bug("tcsetattr");
}

static void put(int fd, const char *data, size_t len)
{
	if (write(fd, data, len) != (ssize_t)len)
		test_bug("write");
}

/* The pty processes input asynchronously, with the termios it finds: wait for it. */
static void wait_queued(int fd, int len)
{
	for (int i = 0, n = 0; i < 2000; i++) {
		if (ioctl(fd, FIONREAD, &n))
			test_bug("FIONREAD");
		if (n == len)
			return;
		usleep(1000);
	}
	test_bug("the input doesn't get queued");
}

static void get_termios(int fd, struct termios *t)
{
	memset(t, 0, sizeof(*t));
	if (tcgetattr(fd, t))
		test_bug("tcgetattr");
}

/* @fd must read exactly @len bytes of @want, then nothing more (or EIO if @eio). */
static void expect(const char *what, int fd, const char *want, size_t len, int eio)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256] = {};
	size_t got = 0;
	ssize_t n;

	while (got < len && poll(&p, 1, 2000) == 1) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			break;
		got += n;
	}
	if (got != len || memcmp(buf, want, len)) {
		failv("%s: read %zu bytes, wanted %zu", what, got, len);
		for (size_t i = 0; i < got; i++)
			test_msg("%s: byte %zu: 0x%02x (want 0x%02x)\n", what, i, (unsigned char)buf[i],
				 i < len ? (unsigned char)want[i] : 0);
		return;
	}
	p.revents = 0;
	if (poll(&p, 1, 100) < 0)
		failv("%s: poll", what);
	if (eio) {
		errno = 0;
		n = read(fd, buf, sizeof(buf));
		if (n != -1 || errno != EIO)
			failv("%s: after the data read %zd (errno %d), not EIO", what, n, errno);
	} else if (p.revents & POLLIN) {
		failv("%s: more to read than the queued bytes", what);
	}
}

static void check_termios(const char *what, int fd, const struct termios *want)
{
	struct termios t;

	memset(&t, 0, sizeof(t));
	if (tcgetattr(fd, &t) || memcmp(&t, want, sizeof(t)))
		failv("%s: termios changed (iflag %o/%o oflag %o/%o lflag %o/%o)", what, t.c_iflag,
		      want->c_iflag, t.c_oflag, want->c_oflag, t.c_lflag, want->c_lflag);
}

int main(int argc, char **argv)
{
	struct termios ta, tb;
	int one = 1, lck = 0;
	char name[64];
	int s;

	test_init(argc, argv);

	/* A: input written with everything off, then the processing that would change it on */
	open_pty(A_M, A_S, 0);
	set_termios(A_S, 0, 0, 0);
	put(A_M, A_IN, sizeof(A_IN) - 1);
	wait_queued(A_S, sizeof(A_IN) - 1);
	set_termios(A_S, ICRNL | ISTRIP | IXON | IUCLC, OPOST | ONLCR, ISIG | ECHO | ECHONL | IEXTEN);
	put(A_S, A_OUT_W, sizeof(A_OUT_W) - 1);
	get_termios(A_S, &ta);

	/* B */
	open_pty(B_M, B_S, O_NONBLOCK);
	set_termios(B_S, IXON, 0, 0);
	if (ioctl(B_M, TIOCPKT, &one))
		test_bug("TIOCPKT");
	put(B_S, B_OUT, sizeof(B_OUT) - 1);
	get_termios(B_S, &tb);

	/* C */
	open_pty(C_M, -1, O_NONBLOCK);
	if (ptsname_r(C_M, name, sizeof(name)))
		test_bug("ptsname");
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0)
		test_bug("open %s", name);
	set_termios(s, 0, 0, 0);
	put(s, C_OUT, sizeof(C_OUT) - 1);
	close(s);
	if (ioctl(C_M, TIOCSPTLCK, &one))
		test_bug("TIOCSPTLCK");

#ifdef PTYQ_FAIL
	/* a pty whose slave was never opened: refused, after the others' queues were looked at */
	open_pty(FAIL_M, -1, 0);
#endif

	test_daemon();
	test_waitsig();

	check_termios("A", A_S, &ta);
	check_termios("B", B_S, &tb);
	expect("A master", A_M, A_OUT, sizeof(A_OUT) - 1, 0);
	expect("A slave", A_S, A_IN, sizeof(A_IN) - 1, 0);
	expect("B master", B_M, "\0" B_OUT, sizeof(B_OUT), 0);
	expect("C master", C_M, C_OUT, sizeof(C_OUT) - 1, 1);
	if (ioctl(C_M, TIOCGPTLCK, &lck) || lck != 1)
		failv("C: not locked any more (%d)", lck);
	check_termios("A after reading", A_S, &ta);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
