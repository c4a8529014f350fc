// SPDX-License-Identifier: GPL-2.0-only
/*
 * Robust futex lists. Each thread's robust list head (glibc registers one
 * per thread) is where it was. A worker holds a robust mutex in memory
 * shared with a child process; after C/R the worker exits without
 * unlocking it: the kernel must walk the restored list and mark the lock
 * owner-dead, so both the main thread and the child get EOWNERDEAD.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

struct shared {
	pthread_mutex_t m;
};

static struct shared *sh;
static void *worker_head;
static volatile int worker_go;

static void *get_head(pid_t tid)
{
	void *head = NULL;
	size_t len = 0;

	if (syscall(SYS_get_robust_list, tid, &head, &len))
		return (void *)-1;
	return head;
}

static void *worker(void *arg)
{
	if (pthread_mutex_lock(&sh->m))
		return (void *)1;
	worker_head = get_head(0);
	while (!worker_go)
		usleep(1000);
	if (get_head(0) != worker_head)
		return (void *)2;
	return NULL;	/* exits holding the lock */
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t a;
	void *main_head, *ret;
	pthread_t th;
	pid_t child;
	int st, r;

	test_init(argc, argv);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		test_bug("mmap");
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (pthread_mutex_init(&sh->m, &a))
		test_bug("mutex init");
	main_head = get_head(0);
	if (pthread_create(&th, NULL, worker, NULL))
		test_bug("pthread_create");
	while (!worker_head)
		usleep(1000);
	zdtm_block_usr1(true);
	child = zdtm_fork();
	if (!child) {
		if (zdtm_wait_usr1())
			_exit(2);
		r = pthread_mutex_lock(&sh->m);
		if (r == EOWNERDEAD) {
			pthread_mutex_consistent(&sh->m);
			pthread_mutex_unlock(&sh->m);
			_exit(0);
		}
		_exit(r == 0 ? 3 : 4);
	}

	test_daemon();
	test_waitsig();

	if (get_head(0) != main_head)
		failv("main thread's robust list %p, was %p", get_head(0), main_head);
	worker_go = 1;
	if (pthread_join(th, &ret) || ret)
		failv("worker: %ld", (long)ret);
	/* the child takes the lock first, marks it consistent and drops it */
	if ((r = zdtm_wake_and_reap(child, &st)) != 0)
		failv("child got no EOWNERDEAD (exit %d)", r);
	r = pthread_mutex_trylock(&sh->m);
	if (r)
		failv("mutex after the child fixed it: %d", r);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
