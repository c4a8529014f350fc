// SPDX-License-Identifier: GPL-2.0-only
/*
 * A signal a thread has blocked, sent to it with pthread_kill() (tgkill:
 * si_code SI_TKILL), and one sent with tgkill() by another thread, stay
 * pending on that thread across C/R: still on it, not on the process,
 * with their sender's pid and uid, delivered once each. Only the target
 * itself may queue such a siginfo (si_code SI_USER or SI_TKILL) again.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready, go, result = -1;
static pid_t tid;

static int check_one(const sigset_t *set, int want)
{
	siginfo_t si;
	struct timespec ts = {};

	if (sigtimedwait(set, &si, &ts) != want) {
		fail("signal %d is not pending on the thread", want);
		return -1;
	}
	/* tgkill() gives SI_TKILL, glibc's pthread_kill() here SI_USER */
	if ((si.si_code != SI_TKILL && si.si_code != SI_USER) || si.si_pid != getpid() || si.si_uid != getuid()) {
		fail("signal %d: code %d pid %d uid %d", want, si.si_code, si.si_pid, si.si_uid);
		return -1;
	}
	return 0;
}

static void *thread_fn(void *arg)
{
	sigset_t set, pend, shared;
	siginfo_t si;
	struct timespec ts = {};

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 3);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&lock);
	tid = syscall(SYS_gettid);
	ready = 1;
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	/* sigpending() gives the thread's and the process' sets together */
	sigpending(&pend);
	if (!sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGRTMIN + 3)) {
		fail("the thread's signals are not pending");
		return NULL;
	}
	if (check_one(&set, SIGUSR1) || check_one(&set, SIGRTMIN + 3))
		return NULL;
	if (sigtimedwait(&set, &si, &ts) >= 0) {
		fail("signal %d delivered twice", si.si_signo);
		return NULL;
	}
	sigpending(&shared);
	if (sigismember(&shared, SIGUSR1) || sigismember(&shared, SIGRTMIN + 3)) {
		fail("a signal is pending on the process too");
		return NULL;
	}
	result = 0;
	return NULL;
}

int main(int argc, char **argv)
{
	sigset_t set;
	pthread_t t;

	test_init(argc, argv);

	/* the main thread blocks them too: only the thread may take them */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, thread_fn, NULL)) {
		fail("pthread_create");
		return 1;
	}
	pthread_mutex_lock(&lock);
	while (!ready)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	if (pthread_kill(t, SIGUSR1) || syscall(SYS_tgkill, getpid(), tid, SIGRTMIN + 3)) {
		fail("pthread_kill");
		return 1;
	}

	test_daemon();
	test_waitsig();

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(t, NULL);
	if (result)
		return 1;
	pass();
	return 0;
}
