// SPDX-License-Identifier: GPL-2.0-only
/*
 * Seccomp filters installed with SECCOMP_FILTER_FLAG_TSYNC: the main
 * thread of a process with three worker threads installs two filters for
 * all of them (getcwd fails with EACCES, uname with EPERM) and one worker
 * adds one of its own (getppid fails with ENOENT there). After C/R the
 * filters hold in every thread, the worker's only in the worker, and the
 * threads still share the filters they were given together: a third
 * filter installed with TSYNC (chdir fails with EROFS) succeeds at once
 * (it fails naming a thread whose filters are not the caller's, which a
 * program retrying it would wait on forever) and holds in every thread.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "zdtmtst.h"

#define NR_W	3

static long install(int nr, int err, unsigned int flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* errno of each guarded syscall in the calling thread, as a bit set: getcwd 1, uname 2, getppid 4, chdir 8 */
static int blocked(void)
{
	char buf[64];
	struct utsname u;
	int r = 0;

	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0 && errno == EACCES)
		r |= 1;
	if (uname(&u) && errno == EPERM)
		r |= 2;
	if (syscall(SYS_getppid) < 0 && errno == ENOENT)
		r |= 4;
	if (chdir(".") && errno == EROFS)
		r |= 8;
	return r;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int round_no, done_round[NR_W], result[NR_W], ready;

static void *worker(void *arg)
{
	int me = (int)(long)arg, seen = 0;

	pthread_mutex_lock(&mu);
	ready++;
	pthread_cond_broadcast(&cv);
	for (;;) {
		while (round_no == seen)
			pthread_cond_wait(&cv, &mu);
		seen = round_no;
		if (seen < 0)
			break;
		if (seen == 1 && me == 0)
			result[me] = install(__NR_getppid, ENOENT, 0) ? -1 : 0;
		else if (seen == 3 && me == 0)
			result[me] = install(__NR_chdir, EROFS, SECCOMP_FILTER_FLAG_TSYNC);
		else
			result[me] = blocked();
		done_round[me] = seen;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Run one round in every worker; results in result[]. */
static void run_round(void)
{
	pthread_mutex_lock(&mu);
	round_no++;
	pthread_cond_broadcast(&cv);
	for (int i = 0; i < NR_W; i++)
		while (done_round[i] != round_no)
			pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv)
{
	pthread_t th[NR_W];
	long ret;

	test_init(argc, argv);
	for (long i = 0; i < NR_W; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			test_bug("pthread_create");
	pthread_mutex_lock(&mu);
	while (ready < NR_W)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    install(__NR_getcwd, EACCES, SECCOMP_FILTER_FLAG_TSYNC) ||
	    install(__NR_uname, EPERM, SECCOMP_FILTER_FLAG_TSYNC) ||
	    install(__NR_getpgid, ENOENT, SECCOMP_FILTER_FLAG_TSYNC) ||
	    install(__NR_getpgid, EEXIST, SECCOMP_FILTER_FLAG_TSYNC))
		test_bug("installing the filters");
	if (getpgid(0) != -1 || errno != EEXIST)
		test_bug("getpgid: %s", strerror(errno));
	run_round();		/* round 1: worker 0 adds its own */
	if (result[0])
		test_bug("the worker's filter");

	test_daemon();
	test_waitsig();

	run_round();
	for (int i = 0; i < NR_W; i++)
		if (result[i] != (i == 0 ? 7 : 3))
			failv("worker %d: filters %#x, want %#x", i, result[i], i == 0 ? 7 : 3);
	if (blocked() != 3)
		failv("main thread: filters %#x, want 3", blocked());
	if (getpgid(0) != -1 || errno != EEXIST)
		failv("getpgid fails with %s, want EEXIST of the newer filter", strerror(errno));
	run_round();		/* round 3: worker 0 installs one with TSYNC */
	ret = result[0];
	if (ret)
		failv("a new filter with TSYNC: %ld (%s)", ret, ret > 0 ? "the filters of that thread differ" : "error");
	else {
		run_round();
		for (int i = 0; i < NR_W; i++)
			if (result[i] != 15)
				failv("worker %d: filters %#x after TSYNC, want 0xf", i, result[i]);
		if (blocked() != 15)
			failv("main thread: filters %#x after TSYNC, want 0xf", blocked());
	}
	pthread_mutex_lock(&mu);
	round_no = -1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < NR_W; i++)
		pthread_join(th[i], NULL);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
