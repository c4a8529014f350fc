// SPDX-License-Identifier: GPL-2.0-only
/*
 * ARCH_SET_CPUID 0: the cpuid instruction raises SIGSEGV in this thread
 * (a sandbox or an emulator, as rr does). Dumping it must not run cpuid
 * in the task, and after C/R ARCH_GET_CPUID still says 0 and cpuid still
 * faults; a second thread that allows it (the flag is per thread) still
 * may run it. Without CPUID faulting on the CPU it passes empty.
 */
#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static sigjmp_buf jb;
static volatile int step;

static void on_segv(int sig)
{
	siglongjmp(jb, 1);
}

static long get_cpuid(void)
{
	return syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
}

/* 1 if cpuid faults here */
static int faults(void)
{
	unsigned int a = 0, b, c = 0, d;

	if (sigsetjmp(jb, 1))
		return 1;
	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return 0;
}

static void *thread(void *arg)
{
	step = 1;
	while (step != 2)
		usleep(1000);
	if (get_cpuid() != 1)
		return (void *)1;
	return faults() ? (void *)2 : NULL;
}

int main(int argc, char **argv)
{
	int supported = 1;
	pthread_t th;
	void *ret;

	test_init(argc, argv);
	signal(SIGSEGV, on_segv);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0)) {
		if (errno != ENODEV)
			test_bug("ARCH_SET_CPUID");
		test_msg("no CPUID faulting on this CPU: nothing to check\n");
		supported = 0;
	} else if (!faults()) {
		test_bug("cpuid does not fault");
	}

	test_daemon();
	test_waitsig();

	if (supported && get_cpuid() != 0)
		failv("ARCH_GET_CPUID is %ld", get_cpuid());
	if (supported && !faults())
		failv("cpuid does not fault any more");
	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("the thread: %ld", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
