// SPDX-License-Identifier: GPL-2.0-only
/*
 * I/O priorities: the process is best-effort level 6, a second thread
 * idle class. After C/R each reads its own back with ioprio_get().
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define IOPRIO_WHO_PROCESS	1
#define IOPRIO_CLASS_BE		2
#define IOPRIO_CLASS_IDLE	3
#define IOPRIO(c, l)		(((c) << 13) | (l))

static volatile int step;

static int get(void)
{
	return syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

static void *thread(void *arg)
{
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO(IOPRIO_CLASS_IDLE, 0)))
		return (void *)1;
	step = 1;
	while (step != 2)
		usleep(1000);
	return get() == IOPRIO(IOPRIO_CLASS_IDLE, 0) ? NULL : (void *)(long)get();
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;

	test_init(argc, argv);
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO(IOPRIO_CLASS_BE, 6)))
		test_bug("ioprio_set");
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (get() != IOPRIO(IOPRIO_CLASS_BE, 6))
		failv("ioprio is %#x", get());
	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("thread's ioprio is %#lx", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
