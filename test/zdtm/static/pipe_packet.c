// SPDX-License-Identifier: GPL-2.0-only
/*
 * A "packet" pipe (O_DIRECT): every write() is one packet and a read()
 * returns at most one. Three packets of 1, 700 and 3000 bytes are
 * queued. After C/R each read() with a big buffer returns exactly one of
 * them, in order, with its bytes, and the write end (the only one where
 * the kernel keeps the flag) is still O_DIRECT. A second packet pipe
 * holds one packet of 500 bytes: a read of 100 still takes it whole (the
 * rest is dropped), as a packet's read does.
 */
#include <fcntl.h>
#include <string.h>

#include "zdtmtst.h"

static const size_t sizes[] = { 1, 700, 3000 };

int main(int argc, char **argv)
{
	char buf[8192];
	int p[2], q[2], i;
	ssize_t n;

	test_init(argc, argv);
	if (pipe2(p, O_DIRECT | O_NONBLOCK))
		test_bug("pipe2");
	for (i = 0; i < 3; i++) {
		memset(buf, 'a' + i, sizes[i]);
		if (write(p[1], buf, sizes[i]) != (ssize_t)sizes[i])
			test_bug("write");
	}

	if (pipe2(q, O_DIRECT | O_NONBLOCK))
		test_bug("pipe2");
	memset(buf, 'q', 500);
	if (write(q[1], buf, 500) != 500)
		test_bug("write");

	test_daemon();
	test_waitsig();

	if (!(fcntl(p[1], F_GETFL) & O_DIRECT))
		failv("the write end lost O_DIRECT");
	for (i = 0; i < 3; i++) {
		size_t j;

		n = read(p[0], buf, sizeof(buf));
		if (n != (ssize_t)sizes[i]) {
			failv("packet %d: %zd bytes, want %zu", i, n, sizes[i]);
			break;
		}
		for (j = 0; j < sizes[i]; j++)
			if (buf[j] != 'a' + i)
				break;
		if (j != sizes[i])
			failv("packet %d: byte %zu is %c", i, j, buf[j]);
	}
	if (read(p[0], buf, sizeof(buf)) != -1 || errno != EAGAIN)
		failv("more data in the pipe");
	if (read(q[0], buf, 100) != 100 || buf[99] != 'q')
		failv("the lone packet");
	if (read(q[0], buf, sizeof(buf)) != -1 || errno != EAGAIN)
		failv("the lone packet's rest was not dropped: it was not a packet any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
