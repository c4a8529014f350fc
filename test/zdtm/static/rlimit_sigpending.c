// SPDX-License-Identifier: GPL-2.0-only
/*
 * More signals pending than RLIMIT_SIGPENDING allows: the task queued
 * them, then lowered the limit (hard and soft). They are queued again
 * against the limit on restore: all of them come back, in order with
 * their payloads, the process-wide ones and a thread's own, and the limit
 * is the task's again after.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NR_SIGS	5

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready, go, result = -1;
static sigset_t set;

static void *thread_fn(void *arg)
{
	struct timespec ts = {};
	siginfo_t si;

	pthread_mutex_lock(&lock);
	ready = 1;
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	/* the thread's own comes first: a thread's queue is looked at before the process' */
	if (sigtimedwait(&set, &si, &ts) != SIGRTMIN + 1 || (si.si_code != SI_TKILL && si.si_code != SI_USER)) {
		fail("the thread's signal is lost (code %d)", si.si_code);
		return NULL;
	}
	result = 0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 1, 1 }, got;
	struct timespec ts = {};
	pthread_t t;
	siginfo_t si;
	int i;

	test_init(argc, argv);

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, thread_fn, NULL)) {
		fail("pthread_create");
		return 1;
	}
	pthread_mutex_lock(&lock);
	while (!ready)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < NR_SIGS; i++) {
		union sigval v = { .sival_int = 100 + i };

		if (sigqueue(getpid(), SIGRTMIN + 1, v)) {
			fail("sigqueue");
			return 1;
		}
	}
	if (pthread_kill(t, SIGRTMIN + 1) || setrlimit(RLIMIT_SIGPENDING, &rl)) {
		fail("pthread_kill or setrlimit");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (getrlimit(RLIMIT_SIGPENDING, &got) || got.rlim_cur != 1 || got.rlim_max != 1) {
		fail("RLIMIT_SIGPENDING is %lu/%lu, not 1/1", (unsigned long)got.rlim_cur, (unsigned long)got.rlim_max);
		return 1;
	}
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(t, NULL);
	if (result)
		return 1;
	for (i = 0; i < NR_SIGS; i++)
		if (sigtimedwait(&set, &si, &ts) != SIGRTMIN + 1 || si.si_value.sival_int != 100 + i) {
			fail("process-wide signal %d: lost or out of order", i);
			return 1;
		}
	if (sigtimedwait(&set, &si, &ts) >= 0) {
		fail("one signal too many");
		return 1;
	}
	pass();
	return 0;
}
