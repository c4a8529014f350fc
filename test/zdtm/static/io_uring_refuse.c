// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an io_uring instance (8 SQ entries) at fd 81. Its rings
 * and requests live in the kernel: the dump must refuse, naming the pid,
 * "io_uring" and fd 81. After SIGTERM the ring is still the same one
 * (fdinfo shows SqMask 0x7: 8 SQ entries) and a NOP submitted through it completes.
 */
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define RING_FD	81

/* SqMask from fdinfo, or -1. */
static int sq_mask(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/fdinfo/81", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SqMask: %i", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* One NOP through the rings, its completion checked by user_data. */
static int nop(const struct io_uring_params *p)
{
	size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(unsigned int);
	size_t cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned int *tail, *head, *array;
	char *sq, *cq;
	int ret = -1;

	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, RING_FD, IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, RING_FD, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p->sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE, MAP_SHARED, RING_FD,
		    IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -1;
	tail = (unsigned int *)(sq + p->sq_off.tail);
	array = (unsigned int *)(sq + p->sq_off.array);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_NOP;
	sqes[0].user_data = 0x5eed;
	array[*tail & (p->sq_entries - 1)] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, RING_FD, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) != 1)
		return -1;
	head = (unsigned int *)(cq + p->cq_off.head);
	cqe = (struct io_uring_cqe *)(cq + p->cq_off.cqes) + (*head & (p->cq_entries - 1));
	if (*(unsigned int *)(cq + p->cq_off.tail) != *head && cqe->user_data == 0x5eed && cqe->res == 0)
		ret = 0;
	return ret;
}

int main(int argc, char **argv)
{
	struct io_uring_params p;
	int fd;

	test_init(argc, argv);
	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 8, &p);
	if (fd < 0 || dup2(fd, RING_FD) != RING_FD)
		test_bug("io_uring_setup");
	close(fd);

	test_daemon();
	test_waitsig();

	if (sq_mask() != 7)
		failv("fd %d shows SqMask %#x, want 0x7", RING_FD, sq_mask());
	if (nop(&p))
		failv("a NOP through the ring did not complete");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
