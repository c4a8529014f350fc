// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an area bound to node 0 with mbind() (libnuma's
 * numa_alloc_onnode()), in a task whose own policy interleaves. Per-area
 * policies are not restored: the dump must refuse, naming the area, and
 * not take the task's policy for one of an area. After SIGTERM the area
 * still has its policy.
 */
#include <linux/mempolicy.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define SIZE	(1 << 20)

int main(int argc, char **argv)
{
	unsigned long node0 = 1, mask[16] = {};
	int mode = -1;
	char *p;

	test_init(argc, argv);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		test_bug("mmap");
	if (syscall(SYS_mbind, p, SIZE, MPOL_BIND, &node0, 64, 0) ||
	    syscall(SYS_set_mempolicy, MPOL_INTERLEAVE, &node0, 64))
		test_bug("mbind, set_mempolicy");
	memset(p, 1, SIZE);
	test_msg("bound area at %p\n", p);

	test_daemon();
	test_waitsig();

	if (syscall(SYS_get_mempolicy, &mode, mask, 1024, p, MPOL_F_ADDR) || mode != MPOL_BIND || mask[0] != 1)
		failv("the area's policy is %d, nodes %lx", mode, mask[0]);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
