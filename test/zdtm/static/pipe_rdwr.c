// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pipes opened read-write (through /proc/self/fd, as bash's
 * exec {fd}<> <(:) does for a semaphore or a queue of its own):
 *  A: a pipe only a read-write description holds, bytes queued in it,
 *     non-blocking;
 *  B: a pipe with a read-write description and a write end here, its
 *     read end in a child, bytes queued.
 * After C/R each description is read-write and non-blocking as it was,
 * A gives back its bytes and takes new ones, B's child reads the queued
 * bytes and then those written through either description here.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static int reopen_rw(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDWR | flags);
}

int main(int argc, char **argv)
{
	int a[2], b[2], ra, rb, kq[2], status;
	char buf[32] = {};
	struct stat st;
	pid_t kid;

	test_init(argc, argv);
	if (pipe(a) || pipe(b) || pipe(kq))
		test_bug("pipe");
	ra = reopen_rw(a[0], O_NONBLOCK);
	rb = reopen_rw(b[1], 0);
	if (ra < 0 || rb < 0)
		test_bug("reopen");
	if (write(ra, "queued-a", 8) != 8 || write(b[1], "queued-b", 8) != 8)
		test_bug("write");
	close(a[0]);
	close(a[1]);
	kid = zdtm_fork();
	if (kid == 0) {
		char got[64] = {};
		size_t n = 0;

		close(ra);
		close(rb);
		close(b[1]);
		close(kq[0]);
		while (n < 20) {
			ssize_t r = read(b[0], got + n, 20 - n);

			if (r <= 0)
				_exit(2);
			n += r;
		}
		_exit(memcmp(got, "queued-bvia-rwvia-wr", 20) || write(kq[1], "done", 4) != 4 ? 3 : 0);
	}
	close(b[0]);
	close(kq[1]);

	test_daemon();
	test_waitsig();

	if ((fcntl(ra, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != (O_RDWR | O_NONBLOCK) || (fcntl(rb, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) != O_RDWR)
		failv("flags %#x and %#x", fcntl(ra, F_GETFL), fcntl(rb, F_GETFL));
	if (fstat(ra, &st) || !S_ISFIFO(st.st_mode))
		failv("not a pipe");
	if (read(ra, buf, sizeof(buf)) != 8 || memcmp(buf, "queued-a", 8))
		failv("A: the queued bytes are gone");
	if (read(ra, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		failv("A: more than was queued, or it blocks");
	if (write(ra, "again", 5) != 5 || read(ra, buf, sizeof(buf)) != 5 || memcmp(buf, "again", 5))
		failv("A: does not take new bytes");
	if (write(rb, "via-rw", 6) != 6 || write(b[1], "via-wr", 6) != 6)
		fail("B: write");
	if (read(kq[0], buf, 4) != 4)
		fail("B: the child's answer");
	if (zdtm_reap(kid, &status))
		failv("B: child status %#x (3: it read other bytes)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
