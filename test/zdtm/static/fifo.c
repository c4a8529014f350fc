// SPDX-License-Identifier: GPL-2.0-only
/*
 * A FIFO opened by path three ways (read-only non-blocking, write-only,
 * read-write) with 300 bytes queued in it. After C/R the three fds are the
 * same FIFO again, the bytes come out of the read end once, in order, and
 * what is written to one end comes out of another.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096], data[300], buf[400];
	int rd, wr, rw;
	ssize_t n;

	test_init(argc, argv);
	test_path(path, sizeof(path), "zdtm.fifo");
	unlink(path);
	if (mkfifo(path, 0600))
		test_bug("mkfifo");
	rd = open(path, O_RDONLY | O_NONBLOCK);
	wr = open(path, O_WRONLY);
	rw = open(path, O_RDWR);
	if (rd < 0 || wr < 0 || rw < 0)
		test_bug("open");
	for (int i = 0; i < 300; i++)
		data[i] = i * 7;
	if (write(wr, data, 300) != 300)
		test_bug("write");

	test_daemon();
	test_waitsig();

	n = read(rd, buf, sizeof(buf));
	if (n != 300 || memcmp(buf, data, 300))
		failv("read %zd bytes back, want the 300 queued ones", n);
	errno = 0;
	if (read(rd, buf, 1) != -1 || errno != EAGAIN)
		failv("more came out of the FIFO than was queued");
	if (write(rw, "xyz", 3) != 3 || read(rd, buf, 3) != 3 || memcmp(buf, "xyz", 3))
		failv("the read-write end and the read end are not one FIFO");
	if (!(fcntl(rd, F_GETFL) & O_NONBLOCK) || (fcntl(wr, F_GETFL) & O_ACCMODE) != O_WRONLY)
		failv("flags changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
