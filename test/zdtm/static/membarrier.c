// SPDX-License-Identifier: GPL-2.0-only
/*
 * membarrier registrations: private expedited, private expedited with
 * sync-core, private expedited rseq and global expedited are registered
 * (by a second thread, for the whole process). After C/R the process has
 * the same registrations (MEMBARRIER_CMD_GET_REGISTRATIONS, Linux 6.3+)
 * and the private expedited commands work without registering again
 * (they fail with EPERM in a process that did not register).
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS	(1 << 9)
#endif

static long mb(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static const int regs[] = {
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
	MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
};

static void *reg_thread(void *arg)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (mb(regs[i]))
			return (void *)1;
	return NULL;
}

int main(int argc, char **argv)
{
	long before, after;
	pthread_t t;
	void *ret;

	test_init(argc, argv);
	if (pthread_create(&t, NULL, reg_thread, NULL) || pthread_join(t, &ret) || ret)
		test_bug("registering");
	before = mb(MEMBARRIER_CMD_GET_REGISTRATIONS);
	if (before <= 0)
		test_bug("MEMBARRIER_CMD_GET_REGISTRATIONS: %ld", before);

	test_daemon();
	test_waitsig();

	after = mb(MEMBARRIER_CMD_GET_REGISTRATIONS);
	if (after != before)
		failv("registrations %#lx, were %#lx", after, before);
	if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		fail("MEMBARRIER_CMD_PRIVATE_EXPEDITED");
	if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE))
		fail("MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE");
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0))
		fail("MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
