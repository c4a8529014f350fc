// SPDX-License-Identifier: GPL-2.0-only
/*
 * A process in 6000 supplementary groups (more than fit in a fixed
 * array of 4096), and a thread with 5000 others of its own (set with the
 * raw syscall, which changes the caller only). After C/R both have
 * exactly their groups, in order. Root only: setgroups needs CAP_SETGID.
 */
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define NP	6000
#define NT	5000

static gid_t want_p[NP], want_t[NT];
static volatile int thread_ok = -1, go;

static int same_groups(const gid_t *want, int n)
{
	gid_t *got = calloc(n + 1, sizeof(*got));
	int m = got ? getgroups(n + 1, got) : -1, ok = m == n;

	for (int i = 0; ok && i < n; i++)
		ok = got[i] == want[i];
	free(got);
	return ok;
}

static void *thread_main(void *arg)
{
	if (syscall(SYS_setgroups, NT, want_t)) {
		thread_ok = -2;
		return NULL;
	}
	thread_ok = 0;
	while (!go)
		usleep(10000);
	thread_ok = same_groups(want_t, NT);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	test_init(argc, argv);
	for (int i = 0; i < NP; i++)
		want_p[i] = 100000 + i;
	for (int i = 0; i < NT; i++)
		want_t[i] = 200000 + 2 * i;
	if (setgroups(NP, want_p))
		test_bug("setgroups");
	if (pthread_create(&t, NULL, thread_main, NULL))
		test_bug("pthread_create");
	while (thread_ok == -1)
		usleep(1000);
	if (thread_ok)
		test_bug("the thread's setgroups");

	test_daemon();
	test_waitsig();

	if (!same_groups(want_p, NP))
		failv("the process lost its groups");
	go = 1;
	pthread_join(t, NULL);
	if (thread_ok != 1)
		failv("the thread lost its groups");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
