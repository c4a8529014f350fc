/*
 * cgroup_freeze: the tree is stopped with --freeze-cgroup F (v1 freezer,
 * or cgroup2 with --v2). The task and a child that forks all the time
 * (each grandchild exits at once) are in F/run; another child is in
 * F/sub, which is frozen by itself. criu freezes F, seizes every task,
 * thaws F and F/sub to let its interrupts reach them, and puts the states
 * back. Checked after the restore (or -R): F/sub is still frozen and its
 * child does not run; F runs (the forker's count goes on); once the test
 * thaws F/sub its child runs on, with its memory intact.
 *
 * With --stopped a child in F/run is in a group stop (SIGSTOP): a v1
 * freezer held it frozen while criu seized it, and the seize waited for
 * a move to the traced stop that it can't make frozen (criu hung). It
 * must be stopped after the restore, and run on at SIGCONT.
 *
 * With --outsider a process that is not in the tree (a grandchild that
 * went to the runner) also runs in F/run: the dump must be refused by
 * name, and everything, the outsider too, left running (or frozen) as it
 * was.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static bool v2, outsider, stopped;
static char base[PATH_MAX], run[PATH_MAX], sub[PATH_MAX];
static volatile uint64_t *counters;	/* [0] the forker's, [1] the frozen child's, [2] the outsider's, [4] the stopped one's */

static int frozen(const char *dir)
{
	char *v = zdtm_cg_read(dir, v2 ? "cgroup.events" : "freezer.state");
	int r;

	if (!v)
		return -1;
	r = v2 ? strstr(v, "frozen 1") != NULL : !strcmp(v, "FROZEN");
	free(v);
	return r;
}

static void set_frozen(const char *dir, bool on)
{
	if (zdtm_cg_write(dir, v2 ? "cgroup.freeze" : "freezer.state", v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED")))
		test_bug("can't %s %s", on ? "freeze" : "thaw", dir);
	for (int i = 0; i < 500 && frozen(dir) != on; i++)
		usleep(10000);
	if (frozen(dir) != on)
		test_bug("%s did not become %s", dir, on ? "frozen" : "thawed");
}

static void forker(void)
{
	signal(SIGTERM, SIG_DFL);
	while (1) {
		pid_t p = fork();

		if (p == 0)
			_exit(7);
		if (p > 0)
			waitpid(p, NULL, 0);
		counters[0]++;
	}
}

static int sleeper(void)
{
	char *mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return 2;
	zdtm_fill(mem, 1 << 20, 5);
	signal(SIGTERM, SIG_DFL);
	while (1) {
		if (zdtm_check(mem, 1 << 20, 5) != (size_t)-1)
			return 1;
		counters[1]++;
		usleep(1000);
	}
}

/* Does counter @i move within a while? */
static bool moves(int i)
{
	uint64_t c = counters[i];

	for (int k = 0; k < 50; k++) {
		usleep(10000);
		if (counters[i] != c)
			return true;
	}
	return false;
}

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] ? p[2] : '?';
}

int main(int argc, char **argv)
{
	pid_t fk, sl, st = 0;
	int status, bad = 0;
	uint64_t frozen_count;

	test_init(argc, argv);
	for (int i = 1; i < test_argc; i++)
		if (!strcmp(test_argv[i], "--v2"))
			v2 = true;
		else if (!strcmp(test_argv[i], "--outsider"))
			outsider = true;
		else if (!strcmp(test_argv[i], "--stopped"))
			stopped = true;
		else
			test_bug("bad argument %s", test_argv[i]);
	snprintf(base, sizeof(base), "%s", zdtm_cg(v2 ? "v2" : "freezer"));
	zdtm_cg_mkdir(base, "run", run, sizeof(run));
	zdtm_cg_mkdir(base, "sub", sub, sizeof(sub));
	counters = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counters == MAP_FAILED)
		test_bug("mmap");
	if (zdtm_cg_enter(run, 0, false))
		test_bug("into %s", run);

	fk = zdtm_fork();
	if (fk == 0)
		forker();
	sl = zdtm_fork();
	if (sl == 0) {
		if (zdtm_cg_enter(sub, 0, false))
			test_bug("into %s", sub);
		exit(sleeper());
	}
	if (outsider && zdtm_fork() == 0) {
		/* its parent exits: it goes to the runner (a subreaper), out of our tree */
		if (fork() == 0) {
			counters[3] = getpid();
			signal(SIGTERM, SIG_DFL);
			while (1) {
				counters[2]++;
				usleep(1000);
			}
		}
		_exit(0);
	}
	if (stopped) {
		st = zdtm_fork();
		if (st == 0) {
			signal(SIGTERM, SIG_DFL);
			while (1) {
				counters[4]++;
				usleep(1000);
			}
		}
	}
	while (!counters[1] || !counters[0] || (outsider && !counters[2]) || (stopped && !counters[4]))
		usleep(1000);
	if (stopped) {
		kill(st, SIGSTOP);
		while (state_of(st) != 'T')
			usleep(1000);
	}
	set_frozen(sub, true);
	if (moves(1))
		test_bug("the child of the frozen %s runs", sub);
	frozen_count = counters[1];

	test_daemon();
	test_waitsig();

	/* not even a moment between the dump (or restore) and the freezer's state again */
	if (counters[1] != frozen_count) {
		failv("the child of the frozen %s ran: its count went from %lu to %lu", sub,
		      (unsigned long)frozen_count, (unsigned long)counters[1]);
		bad = 1;
	}
	if (frozen(sub) != 1) {
		failv("%s is not frozen any more", sub);
		bad = 1;
	} else if (moves(1)) {
		failv("the child of the frozen %s runs", sub);
		bad = 1;
	}
	if (frozen(base) != 0 || frozen(run) != 0) {
		failv("%s or %s is frozen", base, run);
		bad = 1;
	}
	if (!moves(0)) {
		failv("the forker does not fork");
		bad = 1;
	}
	if (outsider) {
		if (!moves(2)) {
			failv("the outsider %lu does not run", (unsigned long)counters[3]);
			bad = 1;
		}
		kill(counters[3], SIGKILL);
	}
	if (stopped) {
		if (state_of(st) != 'T' || moves(4)) {
			failv("the stopped child is %c, not stopped", state_of(st));
			bad = 1;
		}
		kill(st, SIGCONT);
		if (!moves(4)) {
			failv("the stopped child does not run on at SIGCONT");
			bad = 1;
		}
		kill(st, SIGKILL);
		waitpid(st, &status, 0);
	}
	set_frozen(sub, false);
	if (!moves(1)) {
		failv("the child of %s does not run once thawed", sub);
		bad = 1;
	}
	kill(fk, SIGKILL);
	waitpid(fk, &status, 0);
	kill(sl, SIGTERM);
	if (waitpid(sl, &status, 0) != sl || !WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
		failv("the frozen child ended with %#x (its memory changed?)", status);
		bad = 1;
	}
	if (bad)
		return 1;
	pass();
	return 0;
}
