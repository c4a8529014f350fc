// SPDX-License-Identifier: GPL-2.0-only
/*
 * AIO contexts (io_setup): one whose ring has wrapped around, with reads
 * completed and not reaped yet (three, one of them an error), and an idle
 * one. After C/R the contexts have the ids they had (the rings' addresses),
 * io_getevents gives the unreaped events as they were (data, obj, res), the
 * buffers hold what the reads read, and both contexts take new requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

/* the ring's header, at the context's address */
struct ring {
	uint32_t id, nr, head, tail, magic, compat, incompat, header_length;
	struct io_event ev[];
};

static long io_setup(unsigned n, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, n, ctx);
}

static long io_submit(aio_context_t ctx, long n, struct iocb **iocbs)
{
	return syscall(SYS_io_submit, ctx, n, iocbs);
}

static long io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev)
{
	struct timespec ts = { 5, 0 };

	return syscall(SYS_io_getevents, ctx, min, max, ev, &ts);
}

static char bufs[4][64];
static struct iocb cbs[4];

static void prep(struct iocb *cb, int fd, char *buf, size_t len, long long off, uint64_t data)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = IOCB_CMD_PREAD;
	cb->aio_fildes = fd;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_data = data;
}

/* one request through @ctx, reaped: the ring moves by one */
static int one_cycle(aio_context_t ctx, int fd)
{
	struct iocb cb, *p = &cb;
	struct io_event ev;
	char b[8];

	prep(&cb, fd, b, sizeof(b), 0, 7);
	if (io_submit(ctx, 1, &p) != 1 || io_getevents(ctx, 1, 1, &ev) != 1 || ev.data != 7 || ev.res != 8)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const char text[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char path[] = "/tmp/zdtm_aio.XXXXXX";
	aio_context_t busy = 0, idle = 0, busy0, idle0;
	struct iocb *p[4];
	struct io_event ev[4];
	struct ring *r;
	uint32_t head0, tail0;
	int fd, i;

	test_init(argc, argv);
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, sizeof(text)) != sizeof(text))
		test_bug("temp file");
	unlink(path);
	if (io_setup(128, &busy) || io_setup(8, &idle))
		test_bug("io_setup");
	r = (struct ring *)busy;
	/* around the ring once and some: head and tail far from 0, the unreaped events across the wrap */
	while (r->tail != r->nr - 2 || r->head != r->nr - 2)
		if (one_cycle(busy, fd))
			test_bug("an AIO read");
	for (i = 0; i < 3; i++) {
		prep(&cbs[i], fd, bufs[i], 10, i * 10, 100 + i);
		p[i] = &cbs[i];
	}
	prep(&cbs[2], fd, bufs[2], 10, 1 << 20, 102);	/* past the end: res 0 */
	if (io_submit(busy, 3, p) != 3)
		test_bug("io_submit");
	/* completed, not reaped */
	for (i = 0; i < 200 && ((r->tail - r->head + r->nr) % r->nr) != 3; i++)
		usleep(10000);
	if (((r->tail - r->head + r->nr) % r->nr) != 3)
		test_bug("the reads did not complete");
	busy0 = busy;
	idle0 = idle;
	head0 = r->head;
	tail0 = r->tail;
	test_msg("ring %p: nr %u head %u tail %u\n", (void *)r, r->nr, head0, tail0);

	test_daemon();
	test_waitsig();

	if (busy != busy0 || idle != idle0)
		failv("the context ids changed");
	if (r->head != head0 || r->tail != tail0)
		failv("the ring is at head %u tail %u, was %u %u", r->head, r->tail, head0, tail0);
	if (io_getevents(busy, 3, 4, ev) != 3)
		failv("io_getevents: %m");
	for (i = 0; i < 3; i++) {
		if (ev[i].data != (uint64_t)(100 + i) || ev[i].obj != (uintptr_t)&cbs[i] ||
		    ev[i].res != (i == 2 ? 0 : 10))
			failv("event %d: data %llu obj %llx res %lld", i, (unsigned long long)ev[i].data,
			      (unsigned long long)ev[i].obj, (long long)ev[i].res);
		if (i < 2 && memcmp(bufs[i], text + i * 10, 10))
			failv("buffer %d holds %.10s", i, bufs[i]);
	}
	/* new requests, around the ring again */
	for (i = 0; i < (int)r->nr + 5; i++)
		if (one_cycle(busy, fd)) {
			failv("a read after the restore (cycle %d): %m", i);
			break;
		}
	if (one_cycle(idle, fd))
		failv("a read on the idle context after the restore: %m");
	if (syscall(SYS_io_destroy, busy) || syscall(SYS_io_destroy, idle))
		failv("io_destroy: %m");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
