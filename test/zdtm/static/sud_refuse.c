// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a thread with syscall user dispatch on (Wine's way to
 * catch Windows syscalls), its selector blocking every syscall made
 * outside libc's code. It is not restored: the dump must refuse, naming
 * the thread, before injecting anything (a syscall of ours there would
 * raise SIGSYS and cost the task its SIGSYS handler). After SIGTERM the
 * thread's raw syscall still lands in its handler.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH	59
#define PR_SYS_DISPATCH_ON		1
#endif

static volatile char selector;		/* 0 allow, 1 block */
static volatile int nr_sigsys, step;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	nr_sigsys++;
	selector = 0;
}

static void on_usr1(int sig)
{
}

/* libc's code: syscalls from there are always let through */
static int libc_text(unsigned long *start, unsigned long *len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[512];
	int ret = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " r-xp ") && strstr(line, "/libc") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			*start = s;
			*len = e - s;
			ret = 0;
			break;
		}
	if (f)
		fclose(f);
	return ret;
}

static void *thread(void *arg)
{
	unsigned long start, len;
	long ret;

	if (libc_text(&start, &len) ||
	    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, start, len, &selector))
		return (void *)1;
	selector = 1;
	step = 1;
	while (step != 2)
		pause();
	/* getpid from our own code: blocked, a SIGSYS to the handler, which allows again */
	asm volatile("syscall" : "=a"(ret) : "a"(39) : "rcx", "r11", "memory");
	return nr_sigsys == 1 ? NULL : (void *)2;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	pthread_t th;
	void *ret;

	test_init(argc, argv);
	if (sigaction(SIGSYS, &sa, NULL))
		test_bug("sigaction");
	signal(SIGUSR1, on_usr1);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);

	test_daemon();
	test_waitsig();

	step = 2;
	pthread_kill(th, SIGUSR1);
	if (pthread_join(th, &ret) || ret)
		failv("the thread: %ld (SIGSYS taken %d times)", (long)ret, nr_sigsys);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
