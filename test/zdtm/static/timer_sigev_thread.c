// SPDX-License-Identifier: GPL-2.0-only
/*
 * What glibc does for a SIGEV_THREAD timer: a helper thread blocks every
 * signal, also 32 (which glibc keeps out of the program's masks), and a
 * timer sends 32 to it (SIGEV_THREAD_ID) every millisecond; it takes them
 * with sigtimedwait. Done here with raw syscalls, without the threads
 * glibc would start for each tick. The timer's signal arriving while
 * the task is being restored must not kill it, and the ticks go on.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define SIG_TIMER	32

static volatile long count;
static volatile pid_t helper_tid;

static void *helper(void *arg)
{
	uint64_t all = ~0ULL, want = 1ULL << (SIG_TIMER - 1);
	siginfo_t si;

	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, 8);
	helper_tid = syscall(SYS_gettid);
	for (;;)
		if (syscall(SYS_rt_sigtimedwait, &want, &si, NULL, 8) == SIG_TIMER)
			count++;
	return NULL;
}

int main(int argc, char **argv)
{
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
	struct sigevent sev;
	long before, timer;
	pthread_t t;
	int i;

	test_init(argc, argv);

	if (pthread_create(&t, NULL, helper, NULL)) {
		fail("pthread_create");
		return 1;
	}
	while (!helper_tid)
		usleep(1000);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIG_TIMER;
	sev._sigev_un._tid = helper_tid;
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &timer) ||
	    syscall(SYS_timer_settime, timer, 0, &its, NULL)) {
		fail("timer_create");
		return 1;
	}
	while (count < 3)
		usleep(1000);

	test_daemon();
	test_waitsig();

	before = count;
	for (i = 0; i < 2000 && count < before + 3; i++)
		usleep(1000);
	if (count < before + 3) {
		fail("the timer stopped: %ld ticks, then %ld", before, count);
		return 1;
	}
	pass();
	return 0;
}
