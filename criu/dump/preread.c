/*
 * The tree's memory areas read before it is frozen.
 *
 * /proc/PID/smaps is the only place that shows an area's VmFlags, and
 * the kernel walks every page of every area for the sizes it prints
 * with them: 10-30 ms per GiB, which a read while frozen adds to the
 * downtime. So it is read before the freeze, and taken while frozen
 * only if nothing can have changed it since:
 *
 * - Before the read, every thread of the process gets a perf counter of
 *   the raw_syscalls:sys_exit tracepoint, filtered to count every
 *   syscall but a few that never touch an address space (waiting,
 *   sleeping, read and write, clocks, signal masks). A flag or layout
 *   can only change through a syscall of a task sharing the mm (madvise,
 *   mlock, mprotect, mseal, prctl, a userfaultfd's ioctl or last close,
 *   exec, ...), and a syscall that had already begun when the counter
 *   was made is counted when it returns, which comes before its thread
 *   stops for us (also when our interrupt cuts it short).
 * - While frozen: the same process (start time), the same threads, every
 *   counter still at 0 (also those of the processes sharing its memory,
 *   vm_from), and /proc/PID/maps (cheap: no page walk) shows exactly the
 *   areas read (a stack grown by a fault, or something outside the tree
 *   acting on its memory, shows there).
 *
 * Anything else (no counters for us, a thread born or gone, a syscall
 * counted) and smaps is read while frozen, as before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump.h"

/* Beyond these, the rest are read while frozen (each thread holds an fd of ours meanwhile). */
#define PREREAD_MAX_PROCS	64
#define PREREAD_MAX_THREADS	256
/* Below this much resident memory in the tree (64 MiB), smaps is read while frozen: it costs less. */
#define PREREAD_MIN_PAGES	((64UL << 20) / PAGE_SIZE)

/*
 * Syscalls (x86_64 numbers) that leave every address space as it is;
 * all others count. None of these numbers is an i386 syscall that
 * changes one either (a 64-bit task may use int 0x80, whose numbers
 * the tracepoint reports): read, write, poll, rt_sigprocmask, pread64,
 * pwrite64, select, sched_yield, pause, nanosleep, getpid, wait4,
 * gettimeofday, rt_sigtimedwait, rt_sigsuspend, gettid, futex,
 * clock_gettime, clock_nanosleep, epoll_wait, pselect6, ppoll,
 * epoll_pwait.
 */
static const int harmless[] = { 0, 1, 7, 14, 17, 18, 23, 24, 34, 35, 39, 61, 96,
				128, 130, 186, 202, 228, 230, 232, 270, 271, 281 };

#define SYS_EXIT_ID	"/sys/kernel/tracing/events/raw_syscalls/sys_exit/id"

/*
 * No tracefs mounted (a machine booted without systemd's mounts): a
 * child of ours mounts one in a mount namespace of its own, reads the id
 * there and says it through a pipe; nothing is mounted for anyone else.
 */
static long sys_exit_id_private(void)
{
	long long id = -1;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) || read_num_file(SYS_EXIT_ID, &id))
			id = -1;
		_exit(write(p[1], &id, sizeof(id)) == sizeof(id) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &id, sizeof(id)) != sizeof(id))
		id = -1;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return id;
}

static long sys_exit_id(void)
{
	static const char *paths[] = { SYS_EXIT_ID, "/sys/kernel/debug/tracing/events/raw_syscalls/sys_exit/id" };
	long long id;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (!read_num_file(paths[i], &id) && id > 0)
			return id;
	id = sys_exit_id_private();
	return id > 0 ? id : -1;
}

static int open_counter(long id, pid_t tid, const char *filter)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.config = id,
	};
	int fd = syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The threads of @pid, sorted, into @tids (at most @max). The count, or -1. */
static int list_threads(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int nr = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				/* the areas are read while frozen, as without the early read */
				pr_pwarn("can't list %s", path);
				nr = -1;
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (nr == max) {
			nr = -1;
			break;
		}
		tids[nr++] = atoi(de->d_name);
	}
	closedir(d);
	if (nr > 0)
		qsort(tids, nr, sizeof(*tids), cmp_pid);
	return nr;
}

static void drop_proc(struct preread_proc *p)
{
	for (int i = 0; i < p->nr_th; i++)
		if (p->cfd[i] >= 0)
			close(p->cfd[i]);
	p->nr_th = 0;
	free_maps(p->pvmas, p->nr_pvmas);
	free(p->smaps);
	p->pvmas = NULL;
	p->smaps = NULL;
	p->nr_pvmas = 0;
}

/* Counters on every thread of @pid, then its smaps. 0, or -1 when it is left to the freeze. */
static int read_one(struct preread *pr, pid_t pid, long id, const char *filter)
{
	struct preread_proc *p = &pr->p[pr->nr];
	struct proc_pid_stat st;
	int room = PREREAD_MAX_THREADS - pr->nr_th;

	memset(p, 0, sizeof(*p));
	if (parse_pid_stat(pid, &st) || st.state == 'Z')
		return -1;
	p->pid = pid;
	p->start_time = st.start_time;
	p->tids = pr->tids + pr->nr_th;
	p->cfd = pr->cfd + pr->nr_th;
	p->nr_th = list_threads(pid, p->tids, room);
	if (p->nr_th <= 0) {
		p->nr_th = 0;
		return -1;
	}
	for (int i = 0; i < p->nr_th; i++)
		p->cfd[i] = -1;
	for (int i = 0; i < p->nr_th; i++) {
		p->cfd[i] = open_counter(id, p->tids[i], filter);
		if (p->cfd[i] < 0) {
			if (!pr->said++)
				pr_debug("no syscall counter on thread %d (%s): areas read while frozen\n", p->tids[i],
					 strerror(errno));
			goto drop;
		}
	}
	/* after the counters: what changes from here on is counted */
	if (parse_smaps(pid, &p->pvmas, &p->nr_pvmas, &p->smaps))
		goto drop;
	pr->nr_th += p->nr_th;
	pr->nr++;
	return 0;
drop:
	drop_proc(p);
	return -1;
}

/* The children of every thread of @pid, appended to @pids (up to @max). */
static int add_children(pid_t pid, const pid_t *tids, int nr_th, pid_t *pids, int nr, int max)
{
	char name[64];

	for (int i = 0; i < nr_th && nr < max; i++) {
		char *buf, *tok, *save = NULL;

		snprintf(name, sizeof(name), "task/%d/children", tids[i]);
		buf = read_proc_file(pid, name, NULL);
		if (!buf)
			continue;
		for (tok = strtok_r(buf, " \n", &save); tok && nr < max; tok = strtok_r(NULL, " \n", &save))
			pids[nr++] = atoi(tok);
		free(buf);
	}
	return nr;
}

/* Resident memory of @pid in pages (statm), 0 if it can't be told. */
static unsigned long resident(pid_t pid)
{
	unsigned long size, res = 0;
	char *buf = read_proc_file(pid, "statm", NULL);

	if (buf && sscanf(buf, "%lu %lu", &size, &res) != 2)
		res = 0;
	free(buf);
	return res;
}

/* The root and its descendants (up to PREREAD_MAX_PROCS) into @pids; their resident pages summed. */
static int list_tree(pid_t root, pid_t *pids, unsigned long *pages)
{
	pid_t tids[PREREAD_MAX_THREADS];
	int nr = 1;

	pids[0] = root;
	*pages = 0;
	for (int i = 0; i < nr; i++) {
		int n = list_threads(pids[i], tids, PREREAD_MAX_THREADS);

		*pages += resident(pids[i]);
		if (n > 0)
			nr = add_children(pids[i], tids, n, pids, nr, PREREAD_MAX_PROCS);
	}
	return nr;
}

void preread_tree(struct preread *pr, pid_t root)
{
	pid_t pids[PREREAD_MAX_PROCS];
	unsigned long pages;
	char filter[640];
	int nr, len = 0;
	long id;

	memset(pr, 0, sizeof(*pr));
	/*
	 * Worth it only for a lot of memory: the counters cost a dump 40-50 ms
	 * of wall clock (the tracepoint registered, and unregistered after an
	 * RCU grace period), smaps read while frozen ~1 ms per 64 MiB.
	 */
	nr = list_tree(root, pids, &pages);
	if (pages < PREREAD_MIN_PAGES) {
		pr_debug("%d processes, %lu KiB resident: their areas are read while frozen\n", nr,
			 pages * (PAGE_SIZE / 1024));
		return;
	}
	id = sys_exit_id();
	if (id < 0) {
		pr_debug("no raw_syscalls:sys_exit tracepoint: areas read while frozen\n");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(harmless); i++)
		len += snprintf(filter + len, sizeof(filter) - len, "id != %d && ", harmless[i]);
	/*
	 * restart_syscall (219) cut short to be restarted again: a sleep
	 * restarted after a stop (by a debugger, an earlier dump -R) that our
	 * freeze interrupts. 219 is madvise for int 0x80, which never
	 * returns -ERESTART_RESTARTBLOCK.
	 */
	snprintf(filter + len, sizeof(filter) - len, "(id != 219 || ret != -%d)", ERESTART_RESTARTBLOCK);
	pr->p = calloc(PREREAD_MAX_PROCS, sizeof(*pr->p));
	pr->tids = calloc(PREREAD_MAX_THREADS, sizeof(*pr->tids));
	pr->cfd = calloc(PREREAD_MAX_THREADS, sizeof(*pr->cfd));
	if (!pr->p || !pr->tids || !pr->cfd) {
		preread_free(pr);
		return;
	}
	/* a process born after the listing is read while frozen */
	for (int i = 0; i < nr; i++)
		read_one(pr, pids[i], id, filter);
	pr_debug("memory areas of %d processes (%lu KiB resident) read before freezing\n", pr->nr,
		 pages * (PAGE_SIZE / 1024));
}

static struct preread_proc *find_proc(struct preread *pr, pid_t pid)
{
	for (int i = 0; i < pr->nr; i++)
		if (pr->p[i].pid == pid && pr->p[i].nr_th)
			return &pr->p[i];
	return NULL;
}

/* Whether @dc is the process read, with the same threads, none of which made a syscall that counts. */
static bool proc_quiet(struct preread_proc *p, struct dump_ctx *dc)
{
	pid_t tids[PREREAD_MAX_THREADS];

	if (dc->zombie || dc->stat.start_time != p->start_time || dc->nr_th != p->nr_th)
		return false;
	for (int i = 0; i < dc->nr_th; i++)
		tids[i] = dc->th[i].tid;
	qsort(tids, dc->nr_th, sizeof(*tids), cmp_pid);
	for (int i = 0; i < p->nr_th; i++) {
		uint64_t n;

		if (tids[i] != p->tids[i])
			return false;
		if (read(p->cfd[i], &n, sizeof(n)) != sizeof(n)) {
			pr_perror("can't read the syscall counter of thread %d", p->tids[i]);
			return false;
		}
		if (n) {
			pr_debug("task %d: thread %d made %llu syscalls that may change its areas before the "
				 "freeze: they are read again\n", dc->pid, p->tids[i], (unsigned long long)n);
			return false;
		}
	}
	return true;
}

static void close_counters_behind(struct preread *pr);

void preread_verify(struct preread *pr, struct dump_tree *t)
{
	for (int i = 0; i < pr->nr; i++) {
		struct preread_proc *p = &pr->p[i];
		struct dump_ctx *dc = tree_find(t, p->pid);

		p->quiet = dc && proc_quiet(p, dc);
	}
	/* a process and the child sharing its memory (vm_from) are quiet together or not at all */
	for (int i = 0; i < t->nr; i++) {
		struct preread_proc *c, *par;

		if (!t->p[i].vm_from)
			continue;
		c = find_proc(pr, t->p[i].pid);
		par = find_proc(pr, t->p[i].vm_from);
		if (!c || !par || !c->quiet || !par->quiet) {
			if (c)
				c->quiet = false;
			if (par)
				par->quiet = false;
		}
	}
	close_counters_behind(pr);
}

static bool same_area(const struct proc_vma *a, const struct proc_vma *b)
{
	if (a->start != b->start || a->end != b->end || a->pgoff != b->pgoff || a->prot != b->prot ||
	    a->shared != b->shared || a->dev_maj != b->dev_maj || a->dev_min != b->dev_min || a->ino != b->ino ||
	    a->deleted != b->deleted)
		return false;
	if (!a->name || !b->name)
		return a->name == b->name;
	return !strcmp(a->name, b->name);
}

/* Whether /proc/PID/maps, now, lists exactly the areas read before the freeze. */
static bool maps_unchanged(pid_t pid, struct preread_proc *p)
{
	struct proc_vma *now;
	bool same;
	int nr;

	if (parse_maps(pid, &now, &nr))
		return false;
	same = nr == p->nr_pvmas;
	for (int i = 0; same && i < nr; i++)
		same = same_area(&now[i], &p->pvmas[i]);
	free_maps(now, nr);
	return same;
}

int preread_take(struct preread *pr, struct dump_ctx *dc)
{
	struct preread_proc *p = find_proc(pr, dc->pid);

	if (!p || !p->quiet)
		return 0;
	if (!maps_unchanged(dc->pid, p)) {
		pr_debug("task %d: its maps changed since they were read before the freeze: read again\n", dc->pid);
		return 0;
	}
	dc->pvmas = p->pvmas;
	dc->nr_pvmas = p->nr_pvmas;
	dc->smaps = p->smaps;
	p->pvmas = NULL;
	p->nr_pvmas = 0;
	p->smaps = NULL;
	p->quiet = false;
	return 1;
}

struct closer {
	int *fds;		/* sorted, ended by -1 */
	int own;		/* the thread has a table of its own with only these in it */
	pthread_barrier_t b;
};

/* Every fd of our table but the @fds (sorted, ended by -1) closed. */
static void close_all_but(const int *fds)
{
	unsigned int from = 0;

	for (int i = 0; fds[i] >= 0; i++) {
		if ((unsigned int)fds[i] > from)
			syscall(SYS_close_range, from, fds[i] - 1, 0);
		from = fds[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/*
 * A table of fds of its own, holding only the counters: a SIGKILL of criu
 * ends the table of the tracing thread at once, and the network lock's
 * keeper sees its channel close before the tree is let go (net.c). Shared
 * with us, it would stay open until the last close here ends, tens of ms
 * after the tree runs again with a connection perhaps in repair mode.
 */
static void *close_counters(void *arg)
{
	struct closer *c = arg;

	c->own = !unshare(CLONE_FILES);
	if (c->own)
		close_all_but(c->fds);
	pthread_barrier_wait(&c->b);
	/* our copies are the last once criu has closed its own */
	pthread_barrier_wait(&c->b);
	for (int i = 0; c->fds[i] >= 0; i++)
		close(c->fds[i]);
	pthread_barrier_destroy(&c->b);
	free(c->fds);
	free(c);
	return NULL;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Once the quiet verdicts are taken (preread_verify()) the counters have
 * done their job. Closing the last one unregisters the tracepoint, which
 * waits for RCU grace periods (40 ms and more here, a tenth of a 1 GiB
 * dump): a thread of ours does it while the dump goes on, so neither the
 * frozen tree nor the dump's caller waits for it. No thread (out of
 * memory): they are closed at the end as before.
 */
static void close_counters_behind(struct preread *pr)
{
	struct closer *c;
	int nr = 0;

	for (int i = 0; i < pr->nr; i++)
		nr += pr->p[i].nr_th;
	if (!nr || pr->closing)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->fds = malloc((nr + 1) * sizeof(*c->fds));
	if (!c->fds || pthread_barrier_init(&c->b, NULL, 2)) {
		free(c->fds);
		free(c);
		return;
	}
	nr = 0;
	for (int i = 0; i < pr->nr; i++)
		for (int j = 0; j < pr->p[i].nr_th; j++)
			if (pr->p[i].cfd[j] >= 0)
				c->fds[nr++] = pr->p[i].cfd[j];
	qsort(c->fds, nr, sizeof(*c->fds), cmp_int);
	c->fds[nr] = -1;
	errno = pthread_create(&pr->closer, NULL, close_counters, c);
	if (errno) {
		pr_warn("can't start a thread to close the syscall counters (%m): closed at the end\n");
		pthread_barrier_destroy(&c->b);
		free(c->fds);
		free(c);
		return;
	}
	pthread_barrier_wait(&c->b);
	if (!c->own)
		pr_debug("the counters' closer shares our fds (no unshare)\n");
	pr->closing = true;
	for (int i = 0; i < pr->nr; i++)
		for (int j = 0; j < pr->p[i].nr_th; j++) {
			/* not the last copies: cheap */
			if (c->own && pr->p[i].cfd[j] >= 0)
				close(pr->p[i].cfd[j]);
			pr->p[i].cfd[j] = -1;
		}
	pthread_barrier_wait(&c->b);
}

void preread_free(struct preread *pr)
{
	if (pr->closing)
		pthread_join(pr->closer, NULL);
	for (int i = 0; i < pr->nr; i++)
		drop_proc(&pr->p[i]);
	free(pr->p);
	free(pr->tids);
	free(pr->cfd);
	memset(pr, 0, sizeof(*pr));
}
