// SPDX-License-Identifier: GPL-2.0-only
/*
 * Many queued real-time signals: 300 SIGRTMIN+4 with values 0..299 (and
 * 20 of SIGRTMIN+1 for a thread) are queued and blocked. After C/R every
 * one is still queued, each is taken once, in order, with its value and
 * sender pid.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define N	300
#define NT	20

static pid_t th_tid;
static volatile int th_go;

static int drain(int sig, int n)
{
	struct timespec zero = { 0 };
	siginfo_t si;
	sigset_t s;
	int i;

	sigemptyset(&s);
	sigaddset(&s, sig);
	for (i = 0; i < n; i++) {
		if (sigtimedwait(&s, &si, &zero) != sig)
			return i + 1;
		if (si.si_value.sival_int != i || si.si_pid != getpid() || si.si_code != SI_QUEUE)
			return 1000 + i;
	}
	if (sigtimedwait(&s, &si, &zero) != -1)
		return 5000;
	return 0;
}

static void *thread(void *arg)
{
	th_tid = syscall(SYS_gettid);
	while (!th_go)
		usleep(1000);
	return (void *)(long)drain(SIGRTMIN + 1, NT);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	pthread_t th;
	sigset_t s;
	void *ret;
	int i, r;

	test_init(argc, argv);
	if (getrlimit(RLIMIT_SIGPENDING, &rl) || rl.rlim_cur < N + NT + 10)
		test_bug("RLIMIT_SIGPENDING too low");
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 4);
	sigaddset(&s, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!th_tid)
		usleep(1000);
	for (i = 0; i < N; i++)
		if (sigqueue(getpid(), SIGRTMIN + 4, (union sigval){ .sival_int = i }))
			test_bug("sigqueue %d", i);
	for (i = 0; i < NT; i++) {
		siginfo_t si = { .si_signo = SIGRTMIN + 1, .si_code = SI_QUEUE, .si_pid = getpid(),
				 .si_uid = getuid() };

		si.si_value.sival_int = i;
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), th_tid, SIGRTMIN + 1, &si))
			test_bug("rt_tgsigqueueinfo");
	}

	test_daemon();
	test_waitsig();

	if ((r = drain(SIGRTMIN + 4, N)))
		failv("process-wide queue: error %d", r);
	th_go = 1;
	if (pthread_join(th, &ret) || ret)
		failv("thread queue: error %ld", (long)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
