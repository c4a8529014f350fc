// SPDX-License-Identifier: GPL-2.0-only
/*
 * NUMA memory policies, per thread (`numactl --interleave=all PROG`, a
 * worker pinned to its node): the leader interleaves over node 0, a thread
 * binds to node 0 with MPOL_F_STATIC_NODES, another keeps the default
 * (and must not come back with the leader's, it is cloned from it at
 * restore). After C/R get_mempolicy() gives each its own again.
 */
#include <linux/mempolicy.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static volatile int step;

static int get(int *mode, unsigned long *mask)
{
	unsigned long m[16] = {};

	if (syscall(SYS_get_mempolicy, mode, m, 1024, NULL, 0))
		return -1;
	*mask = m[0];
	return 0;
}

static void *thread(void *arg)
{
	long want = (long)arg;
	unsigned long node0 = 1, mask = 0;
	int mode = -1;

	if (want && syscall(SYS_set_mempolicy, want, &node0, 64))
		return (void *)1;
	__atomic_add_fetch(&step, 1, __ATOMIC_SEQ_CST);
	while (step < 10)
		usleep(1000);
	if (get(&mode, &mask))
		return (void *)2;
	if (mode != want || (want && mask != 1))
		return (void *)(3 + (long)mode * 16);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long node0 = 1, mask = 0;
	pthread_t th[2];
	void *ret;
	int mode = -1;

	test_init(argc, argv);
	if (pthread_create(&th[0], NULL, thread, (void *)(long)(MPOL_BIND | MPOL_F_STATIC_NODES)) ||
	    pthread_create(&th[1], NULL, thread, (void *)(long)MPOL_DEFAULT))
		test_bug("pthread_create");
	while (step < 2)
		usleep(1000);
	if (syscall(SYS_set_mempolicy, MPOL_INTERLEAVE, &node0, 64))
		test_bug("set_mempolicy");

	test_daemon();
	test_waitsig();

	if (get(&mode, &mask) || mode != MPOL_INTERLEAVE || mask != 1)
		failv("the leader's policy is %d, nodes %lx", mode, mask);
	step = 10;
	for (int i = 0; i < 2; i++)
		if (pthread_join(th[i], &ret) || ret)
			failv("thread %d: %ld", i, (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
