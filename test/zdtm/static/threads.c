// SPDX-License-Identifier: GPL-2.0-only
/*
 * Threads, each with state of its own: a TLS value, a name, a signal
 * mask, a sigaltstack, and a different way of sleeping (futex via a
 * condition variable, nanosleep, a blocking read, sigwaitinfo). After C/R
 * every thread has its own tid, name, mask, altstack and TLS back, and all
 * wake up and answer. The count comes from the desc (default 8).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "zdtmtst.h"

#define MAX_T	1024

static __thread long tls_value;
static int nr = 8;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static volatile int stop;
static int ready, done_ok, pfd[2];

struct th {
	pthread_t t;
	int idx;
	pid_t tid;
	char *altstack;
	int ok;
};

static struct th ths[MAX_T];

static int check_self(struct th *me)
{
	char name[32], want[32];
	sigset_t cur;
	stack_t ss;

	snprintf(want, sizeof(want), "zdtm-t%d", me->idx);
	prctl(PR_GET_NAME, name);
	if (strcmp(name, want)) {
		test_msg("thread %d: name %s, want %s\n", me->idx, name, want);
		return 0;
	}
	if (syscall(SYS_gettid) != me->tid || tls_value != 1000 + me->idx) {
		test_msg("thread %d: tid %ld/%d tls %ld\n", me->idx, syscall(SYS_gettid), me->tid, tls_value);
		return 0;
	}
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	if (!sigismember(&cur, SIGRTMIN + (me->idx % 8)) || sigismember(&cur, SIGRTMIN + ((me->idx + 1) % 8))) {
		test_msg("thread %d: wrong signal mask\n", me->idx);
		return 0;
	}
	if (sigaltstack(NULL, &ss) || ss.ss_sp != me->altstack || ss.ss_size != 16384) {
		test_msg("thread %d: altstack %p/%zu, want %p\n", me->idx, ss.ss_sp, ss.ss_size, me->altstack);
		return 0;
	}
	return 1;
}

static void *worker(void *arg)
{
	struct th *me = arg;
	char name[32];
	sigset_t set;
	stack_t ss;

	tls_value = 1000 + me->idx;
	me->tid = syscall(SYS_gettid);
	snprintf(name, sizeof(name), "zdtm-t%d", me->idx);
	prctl(PR_SET_NAME, name);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + (me->idx % 8));
	sigaddset(&set, SIGTERM);	/* SIGTERM is for the main thread */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	me->altstack = malloc(16384);
	ss.ss_sp = me->altstack;
	ss.ss_size = 16384;
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);

	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);

	switch (me->idx % 3) {
	case 0:		/* futex */
		pthread_mutex_lock(&lock);
		while (!stop)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		break;
	case 1:		/* nanosleep */
		while (!stop) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		break;
	case 2: {	/* blocking read: one byte per such thread comes at the end */
		char c;

		if (read(pfd[0], &c, 1) != 1)
			test_msg("thread %d: read failed\n", me->idx);
		break;
	}
	}
	me->ok = check_self(me);
	return NULL;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	if (getenv("ZDTM_THREADS"))
		nr = atoi(getenv("ZDTM_THREADS"));
	if (nr < 1 || nr > MAX_T || pipe(pfd))
		test_bug("setup");
	for (int i = 0; i < nr; i++) {
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 * 1024);
		ths[i].idx = i;
		if (pthread_create(&ths[i].t, &a, worker, &ths[i]))
			test_bug("pthread_create %d", i);
	}
	pthread_mutex_lock(&lock);
	while (ready < nr)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	test_daemon();
	test_waitsig();

	pthread_mutex_lock(&lock);
	stop = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nr; i++)
		if (i % 3 == 2 && write(pfd[1], "x", 1) != 1)
			fail("waking a reader");
	for (int i = 0; i < nr; i++) {
		pthread_join(ths[i].t, NULL);
		done_ok += ths[i].ok;
	}
	if (done_ok != nr)
		failv("%d of %d threads lost their state", nr - done_ok, nr);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
