// SPDX-License-Identifier: GPL-2.0-only
/*
 * An fd reading the kernel log (/dev/kmsg, as dmesg -w or a syslog
 * daemon holds one): its place in the log is no offset, and the kernel
 * takes none but the first record, the next and the last cleared, so a
 * restored reader would read the log again from its start. The dump
 * must refuse, naming the fd; the test goes on reading where it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "zdtmtst.h"

#define KMSG_FD	40

/* the sequence number of the next record, -1 if none yet, -2 on error (EPIPE: overwritten) */
static long long next_seq(void)
{
	char buf[8192];
	ssize_t n = read(KMSG_FD, buf, sizeof(buf) - 1);
	long long seq;

	if (n < 0)
		return errno == EAGAIN ? -1 : -2;
	buf[n] = 0;
	if (sscanf(buf, "%*d,%lld", &seq) != 1)
		return -2;
	return seq;
}

int main(int argc, char **argv)
{
	long long mark, seq;
	int fd, w;

	test_init(argc, argv);
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	w = open("/dev/kmsg", O_WRONLY);
	if (fd < 0 || w < 0 || zdtm_fd_at(fd, KMSG_FD) < 0)
		test_bug("open /dev/kmsg");
	/* a record of ours past the end: the reader's place is just after it */
	if (lseek(KMSG_FD, 0, SEEK_END) < 0 || write(w, "zdtm: kmsg_read_refuse\n", 23) != 23)
		test_bug("lseek, write");
	close(w);
	mark = next_seq();
	if (mark < 0)
		test_bug("our record: %lld", mark);

	test_daemon();
	test_waitsig();

	seq = next_seq();
	if (seq == -2 || (seq >= 0 && seq <= mark))
		failv("the reader is not after record %lld any more (next: %lld)", mark, seq);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
