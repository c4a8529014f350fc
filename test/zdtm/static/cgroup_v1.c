/*
 * cgroup_v1: a process and its child in v1 cgroups of their own (cpu,
 * memory, pids, cpuset, devices), a thread in other cgroups than its
 * process, properties on all of them and on an empty cgroup. The runner
 * removes every one of them between dump and restore, so criu makes them
 * again and sets their properties (--manage-cgroups soft, the default).
 * Checked after the restore: each thread's /proc/self/task/TID/cgroup is
 * what it was, every property reads what it did, and the child's memory
 * is charged to its own memory cgroup (it was moved there before its
 * memory came back).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define CHILD_MEM	(16 << 20)
#define MAX_PROPS	64

static const char *const hiers[] = { "cpu", "memory", "pids", "cpuset", "devices" };
#define NR_HIERS	(sizeof(hiers) / sizeof(hiers[0]))

static char dir_a[NR_HIERS][PATH_MAX], dir_b[NR_HIERS][PATH_MAX], dir_c[NR_HIERS][PATH_MAX],
	dir_t[NR_HIERS][PATH_MAX];

static struct prop {
	char dir[PATH_MAX];
	const char *file;
	char *value;
} props[MAX_PROPS];
static int nr_props;

static int idx(const char *h)
{
	for (size_t i = 0; i < NR_HIERS; i++)
		if (!strcmp(hiers[i], h))
			return i;
	test_bug("no hierarchy %s", h);
	return -1;
}

/* Remember what a property reads now. */
static void remember(const char *dir, const char *file)
{
	struct prop *p = &props[nr_props++];

	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	p->file = file;
	p->value = zdtm_cg_read(dir, file);
	if (!p->value)
		test_bug("can't read %s/%s", dir, file);
}

/* Set a property and remember what it reads back. */
static void set_prop(const char *dir, const char *file, const char *val)
{
	if (zdtm_cg_write(dir, file, val))
		test_bug("can't write %s to %s/%s", val, dir, file);
	remember(dir, file);
}

static void make_dirs(void)
{
	for (size_t i = 0; i < NR_HIERS; i++) {
		const char *base = zdtm_cg(hiers[i]);

		zdtm_cg_mkdir(base, "a", dir_a[i], PATH_MAX);
		zdtm_cg_mkdir(base, "b", dir_b[i], PATH_MAX);
		zdtm_cg_mkdir(base, "t", dir_t[i], PATH_MAX);
		/* a devices cgroup with children can't be made a whitelist: a first */
		if (!strcmp(hiers[i], "devices") && (zdtm_cg_write(dir_a[i], "devices.deny", "a") ||
						      zdtm_cg_write(dir_a[i], "devices.allow", "c 1:3 rwm") ||
						      zdtm_cg_write(dir_a[i], "devices.allow", "c 1:5 r")))
			test_bug("devices of %s", dir_a[i]);
		zdtm_cg_mkdir(dir_a[i], "c", dir_c[i], PATH_MAX);
	}
}

static void set_props(void)
{
	int m = idx("memory"), p = idx("pids"), c = idx("cpu"), s = idx("cpuset"), d = idx("devices");
	const char *two = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? "1" : "0";

	/* a cpuset takes nobody before it has cpus and memory nodes */
	for (char (*x)[PATH_MAX] = dir_a; x; x = x == dir_a ? dir_b : x == dir_b ? dir_c : x == dir_c ? dir_t : NULL) {
		set_prop(x[s], "cpuset.mems", "0");
		set_prop(x[s], "cpuset.cpus", x == dir_b ? two : "0");
	}
	set_prop(dir_c[s], "cpuset.memory_migrate", "1");
	set_prop(dir_a[s], "cgroup.clone_children", "1");

	set_prop(dir_a[m], "memory.limit_in_bytes", "268435456");
	set_prop(dir_a[m], "memory.soft_limit_in_bytes", "134217728");
	set_prop(dir_a[m], "memory.swappiness", "30");
	set_prop(dir_b[m], "memory.limit_in_bytes", "209715200");
	set_prop(dir_c[m], "memory.limit_in_bytes", "67108864");
	set_prop(dir_c[m], "memory.oom_control", "1");

	set_prop(dir_a[p], "pids.max", "50");
	set_prop(dir_b[p], "pids.max", "20");
	set_prop(dir_c[p], "pids.max", "5");
	set_prop(dir_t[p], "pids.max", "30");
	set_prop(dir_t[p], "notify_on_release", "1");

	set_prop(dir_a[c], "cpu.shares", "512");
	set_prop(dir_a[c], "cpu.cfs_period_us", "50000");
	set_prop(dir_a[c], "cpu.cfs_quota_us", "25000");
	set_prop(dir_b[c], "cpu.shares", "256");
	set_prop(dir_c[c], "cpu.shares", "100");
	set_prop(dir_t[c], "cpu.shares", "128");

	/* whitelists: all denied, then some devices allowed (/dev/null, the only one we open, among them) */
	remember(dir_a[d], "devices.list");
	if (zdtm_cg_write(dir_c[d], "devices.deny", "a") || zdtm_cg_write(dir_c[d], "devices.allow", "c 1:3 rw"))
		test_bug("devices of %s", dir_c[d]);
	remember(dir_c[d], "devices.list");
}

static int check_props(void)
{
	int bad = 0;

	for (int i = 0; i < nr_props; i++) {
		char *v = zdtm_cg_read(props[i].dir, props[i].file);

		if (!v || strcmp(v, props[i].value)) {
			failv("%s/%s reads '%s', it was '%s'", props[i].dir, props[i].file, v ? v : "(unreadable)",
			      props[i].value);
			bad = 1;
		}
		free(v);
	}
	return bad;
}

/* The whole /proc/self/task/TID/cgroup of a thread. */
static char *cgroups_of(pid_t tid)
{
	char path[64], *buf;

	snprintf(path, sizeof(path), "/proc/self/task/%d/cgroup", tid);
	if (zdtm_read_file(path, &buf) < 0)
		return NULL;
	return buf;
}

static pid_t thread_tid;
static int thread_ready[2];

static void *thread_main(void *arg)
{
	thread_tid = syscall(SYS_gettid);
	for (size_t i = 0; i < NR_HIERS; i++)
		if ((!strcmp(hiers[i], "cpu") || !strcmp(hiers[i], "pids") || !strcmp(hiers[i], "cpuset")) &&
		    zdtm_cg_enter(dir_t[i], 0, true))
			test_bug("thread into %s", dir_t[i]);
	close(thread_ready[1]);
	while (1)
		pause();
	return NULL;
}

static int child(void)
{
	char *mem = mmap(NULL, CHILD_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *before,
	     *after;
	int bad = 0;

	for (size_t i = 0; i < NR_HIERS; i++)
		if (zdtm_cg_enter(dir_b[i], 0, false))
			test_bug("child into %s", dir_b[i]);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, CHILD_MEM, 17);
	before = cgroups_of(getpid());
	if (zdtm_wait_usr1())
		return 2;
	after = cgroups_of(getpid());
	if (!before || !after || strcmp(before, after)) {
		failv("the child's cgroups were\n%s\nand are\n%s", before, after);
		bad = 1;
	}
	if (zdtm_check(mem, CHILD_MEM, 17) != (size_t)-1) {
		failv("the child's memory changed");
		bad = 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	char *pbefore, *pafter, *tbefore, *tafter, *usage;
	int m, status, bad = 0;
	pthread_t th;
	pid_t kid;
	void *mem;

	test_init(argc, argv);
	make_dirs();
	set_props();
	for (size_t i = 0; i < NR_HIERS; i++)
		if (zdtm_cg_enter(dir_a[i], 0, false))
			test_bug("into %s", dir_a[i]);
	mem = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(mem, 8 << 20, 3);

	zdtm_block_usr1(true);
	kid = zdtm_fork();
	if (kid == 0)
		exit(child());
	if (pipe(thread_ready) || pthread_create(&th, NULL, thread_main, NULL))
		test_bug("thread");
	close(thread_ready[1]);
	{
		char c;

		if (read(thread_ready[0], &c, 1) != 0)
			test_bug("thread start");
		close(thread_ready[0]);
	}
	/* the child is in its cgroup with its memory charged there */
	m = idx("memory");
	for (int i = 0; i < 200; i++) {
		usage = zdtm_cg_read(dir_b[m], "memory.usage_in_bytes");
		if (usage && atoll(usage) >= CHILD_MEM)
			break;
		free(usage);
		usage = NULL;
		usleep(10000);
	}
	if (!usage)
		test_bug("the child's memory is not charged to %s", dir_b[m]);
	free(usage);
	pbefore = cgroups_of(getpid());
	tbefore = cgroups_of(thread_tid);
	if (!pbefore || !tbefore || !strcmp(pbefore, tbefore))
		test_bug("the thread is not in cgroups of its own");

	test_daemon();
	test_waitsig();

	pafter = cgroups_of(getpid());
	tafter = cgroups_of(thread_tid);
	if (!pafter || strcmp(pbefore, pafter)) {
		failv("the process's cgroups were\n%s\nand are\n%s", pbefore, pafter);
		bad = 1;
	}
	if (!tafter || strcmp(tbefore, tafter)) {
		failv("the thread's cgroups were\n%s\nand are\n%s", tbefore, tafter);
		bad = 1;
	}
	usage = zdtm_cg_read(dir_b[m], "memory.usage_in_bytes");
	if (!usage || atoll(usage) < CHILD_MEM) {
		failv("the child's memory cgroup %s is charged %s bytes, less than its %d", dir_b[m],
		      usage ? usage : "?", CHILD_MEM);
		bad = 1;
	}
	free(usage);
	bad |= check_props();
	if (zdtm_check(mem, 8 << 20, 3) != (size_t)-1) {
		failv("memory changed");
		bad = 1;
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
