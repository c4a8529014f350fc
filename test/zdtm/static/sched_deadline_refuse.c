// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a thread under SCHED_DEADLINE (1 ms every 10 ms). Its
 * runtime, deadline and period are not saved and the restore could not
 * set them with the rest (it failed, the task lost): the dump must refuse,
 * naming the thread. After SIGTERM it still runs under SCHED_DEADLINE.
 */
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define SCHED_DEADLINE_	6

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

int main(int argc, char **argv)
{
	struct attr a = { .size = sizeof(a), .policy = SCHED_DEADLINE_, .runtime = 1000000,
			  .deadline = 10000000, .period = 10000000 };

	test_init(argc, argv);
	if (syscall(SYS_sched_setattr, 0, &a, 0))
		test_bug("sched_setattr(SCHED_DEADLINE)");

	test_daemon();
	test_waitsig();

	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) || a.policy != SCHED_DEADLINE_ || a.runtime != 1000000)
		failv("policy %u, runtime %llu", a.policy, (unsigned long long)a.runtime);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
