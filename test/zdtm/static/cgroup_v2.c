/*
 * cgroup_v2: cgroup2 (a private mount of the runner's), with threads in
 * threaded cgroups: the process in "dom" (a threaded domain), two of its
 * threads in threaded cgroups dom/t1 and dom/t2; a child whose own main
 * thread is in the threaded dom2/tm (so its process is in dom2); an
 * empty cgroup; cgroup.max.depth and cgroup.max.descendants. Everything
 * is removed between dump and restore; after the restore every thread is
 * in its cgroup again, the types are threaded / domain threaded, and the
 * limits are back.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static char base[PATH_MAX], dom[PATH_MAX], t1[PATH_MAX], t2[PATH_MAX], dom2[PATH_MAX], tm[PATH_MAX],
	empty[PATH_MAX];
static pid_t tids[2];
static int ready[2];

static struct {
	const char *dir, *file, *want;
} checks[] = {
	{ base, "cgroup.max.depth", "3" },
	{ dom, "cgroup.max.descendants", "4" },
	{ empty, "cgroup.max.descendants", "0" },
	{ dom, "cgroup.type", "domain threaded" },
	{ t1, "cgroup.type", "threaded" },
	{ t2, "cgroup.type", "threaded" },
	{ dom2, "cgroup.type", "domain threaded" },
	{ tm, "cgroup.type", "threaded" },
	{ empty, "cgroup.type", "domain" },
};

static void *thread_main(void *arg)
{
	long i = (long)arg;

	tids[i] = syscall(SYS_gettid);
	if (zdtm_cg_enter(i ? t2 : t1, 0, true))
		test_bug("thread %ld into its cgroup", i);
	if (write(ready[1], "t", 1) != 1)
		test_bug("ready");
	while (1)
		pause();
	return NULL;
}

static char *cg_line(pid_t tid)
{
	static char buf[4][PATH_MAX];
	static int n;
	char *out = buf[n++ % 4];

	if (zdtm_cg_of(tid, "", out, PATH_MAX))
		return NULL;
	return out;
}

static int child(void)
{
	char before[PATH_MAX], *after;

	if (zdtm_cg_enter(dom2, 0, false) || zdtm_cg_enter(tm, 0, true))
		test_bug("child into its cgroups");
	snprintf(before, sizeof(before), "%s", cg_line(getpid()));
	if (zdtm_wait_usr1())
		return 2;
	after = cg_line(getpid());
	if (!after || strcmp(before, after)) {
		failv("the child's main thread was in %s, is in %s", before, after ? after : "?");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char before[3][PATH_MAX], *after;
	pthread_t th[2];
	int status, bad = 0;
	pid_t kid;
	char c;

	test_init(argc, argv);
	snprintf(base, sizeof(base), "%s", zdtm_cg("v2"));
	zdtm_cg_mkdir(base, "dom", dom, sizeof(dom));
	zdtm_cg_mkdir(dom, "t1", t1, sizeof(t1));
	zdtm_cg_mkdir(dom, "t2", t2, sizeof(t2));
	zdtm_cg_mkdir(base, "dom2", dom2, sizeof(dom2));
	zdtm_cg_mkdir(dom2, "tm", tm, sizeof(tm));
	zdtm_cg_mkdir(base, "empty", empty, sizeof(empty));
	if (zdtm_cg_write(t1, "cgroup.type", "threaded") || zdtm_cg_write(t2, "cgroup.type", "threaded") ||
	    zdtm_cg_write(tm, "cgroup.type", "threaded"))
		test_bug("threaded cgroups");
	if (zdtm_cg_write(base, "cgroup.max.depth", "3") || zdtm_cg_write(dom, "cgroup.max.descendants", "4") ||
	    zdtm_cg_write(empty, "cgroup.max.descendants", "0"))
		test_bug("limits");
	if (zdtm_cg_enter(dom, 0, false))
		test_bug("into %s", dom);

	zdtm_block_usr1(true);
	kid = zdtm_fork();
	if (kid == 0)
		exit(child());
	if (pipe(ready))
		test_bug("pipe");
	for (long i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)i))
			test_bug("thread");
	for (int i = 0; i < 2; i++)
		if (read(ready[0], &c, 1) != 1)
			test_bug("thread start");
	close(ready[0]);
	close(ready[1]);
	snprintf(before[0], PATH_MAX, "%s", cg_line(getpid()));
	snprintf(before[1], PATH_MAX, "%s", cg_line(tids[0]));
	snprintf(before[2], PATH_MAX, "%s", cg_line(tids[1]));
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		char *v = zdtm_cg_read(checks[i].dir, checks[i].file);

		if (!v || strcmp(v, checks[i].want))
			test_bug("%s/%s reads %s before the dump", checks[i].dir, checks[i].file, v ? v : "?");
		free(v);
	}

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 3; i++) {
		after = cg_line(i ? tids[i - 1] : getpid());
		if (!after || strcmp(after, before[i])) {
			failv("thread %d was in %s, is in %s", i ? tids[i - 1] : getpid(), before[i],
			      after ? after : "?");
			bad = 1;
		}
	}
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		char *v = zdtm_cg_read(checks[i].dir, checks[i].file);

		if (!v || strcmp(v, checks[i].want)) {
			failv("%s/%s reads %s, not %s", checks[i].dir, checks[i].file, v ? v : "nothing",
			      checks[i].want);
			bad = 1;
		}
		free(v);
	}
	if (zdtm_wake_and_reap(kid, &status)) {
		failv("the child failed (%d)", status);
		bad = 1;
	}
	if (bad)
		return 1;
	pass();
	return 0;
}
