// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restartable sequences.  glibc registers an rseq area for the thread
 * at startup (the test registers its own if glibc did not).  After C/R
 * the kernel must still know the area: registering it again fails with
 * EBUSY, and the kernel refreshes the CPU number in it when a signal is
 * delivered.
 */
#include <sys/rseq.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static __thread struct rseq own_rseq __attribute__((aligned(32)));

static struct rseq *area;
static unsigned int area_len;

static void on_usr1(int sig)
{
}

static int reregister(void)
{
	return syscall(SYS_rseq, area, area_len, 0, RSEQ_SIG);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {};
	long ncpus;
	bool own;

	test_init(argc, argv);

	own = __rseq_size == 0;
	if (own) {
		area = &own_rseq;
		area_len = sizeof(own_rseq);
		own_rseq.cpu_id = RSEQ_CPU_ID_UNINITIALIZED;
		if (reregister())
			test_bug("rseq registration");
	} else {
		area = (void *)((char *)__builtin_thread_pointer() +
				__rseq_offset);
		area_len = __rseq_size < 32 ? 32 : __rseq_size;
	}
	test_msg("rseq area %p, %u bytes, %s", area, area_len,
		 own ? "registered by the test" : "registered by glibc");

	if (reregister() != -1 || errno != EBUSY)
		test_bug("rseq area is not registered");

	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	ncpus = sysconf(_SC_NPROCESSORS_CONF);

	test_daemon();
	test_waitsig();

	errno = 0;
	if (reregister() != -1 || errno != EBUSY)
		fail("the rseq area is not registered after restore");

	/* The kernel rewrites cpu_id_start on signal delivery. */
	area->cpu_id_start = 0xdead;
	raise(SIGUSR1);
	if (area->cpu_id_start == 0xdead || area->cpu_id_start >= ncpus)
		failv("kernel does not update the rseq area (cpu_id_start %u)",
		      area->cpu_id_start);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
