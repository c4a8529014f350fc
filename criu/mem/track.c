/*
 * Dirty-page tracking between dumps (track.h, Documentation/incremental.md).
 *
 * A userfaultfd belongs to the mm of the process that made it, so ours is
 * made by the task itself (a syscall injected while it is seized); every
 * ioctl on it acts on that mm whoever makes it, so criu registers the
 * areas and the tracker only holds it. Correctness never rests on the
 * tracker: a page counts as unchanged only if its area is still
 * registered for asynchronous write-protect (PM_SCAN_CHECK_WPASYNC), its
 * page table entry still has the protection (not PAGE_IS_WRITTEN), it is
 * present, and the parent images hold it. The kernel clears the
 * protection on every way a page can change under it (a write, a fault
 * after MADV_DONTNEED, mremap and fork without our events, the last fd
 * closing), so losing the tracker only makes the next dump a full one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "compel/compel.h"
#include "crtools.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "namespaces.h"
#include "pagemap_scan.h"
#include "proc_parse.h"
#include "pagechain.h"
#include "track.h"
#include "track.pb-c.h"
#include "util.h"

#define TRACKER_COMM	"criu-track"
#define UFFD_FEATURES	(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif

static int pidfd_getfd(int pidfd, int fd)
{
	return syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Keep service fds out of 0-2: the tracker gives those to /dev/null. */
static int high_fd(int fd)
{
	int n;

	if (fd < 0 || fd > 2)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return n;
}

static int is_uffd(int fd)
{
	char path[64], link[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return read_link(path, link, sizeof(link)) > 0 && !strcmp(link, "anon_inode:[userfaultfd]");
}

int track_area_async(pid_t pid, uint64_t start, uint64_t end)
{
	struct page_region r;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (unsigned long)&r,
		.vec_len = 1,
		.max_pages = 1,		/* the check is per area, at the start of the walk: no need to walk it all */
		.category_anyof_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	ret = ioctl(fd, PAGEMAP_SCAN, &arg);
	close(fd);
	if (ret >= 0)
		return 1;
	if (errno == EPERM)
		return 0;
	pr_perror("PAGEMAP_SCAN of %d at %lx", pid, (unsigned long)start);
	return -1;
}

/* The tracker the parent images name, if it is still there and at their round. */
int track_open(struct track_state *ts, int prev_dfd)
{
	struct cr_img *img;
	TrackEntry *te = NULL;
	uint64_t gen = 0, prev_id;

	memset(ts, 0, sizeof(*ts));
	ts->prev_dfd = prev_dfd;
	ts->tracker_pidfd = ts->state_fd = -1;
	if (prev_dfd < 0)
		return 0;
	if (!image_exists(prev_dfd, CR_FD_TRACK)) {
		pr_info("memory tracking: the previous images have no track.img (not taken with --track-mem): "
			"a full dump\n");
		return 0;
	}
	/* the previous images are another dump's: read with their own dump id */
	img = chain_dump_id(prev_dfd, &prev_id) ? NULL : open_image_of(prev_dfd, prev_id, CR_FD_TRACK);
	if (!img || pb_read_one_required(img, (void **)&te)) {
		close_image(img);
		pr_warn("memory tracking: the previous images' track.img can't be read: a full dump\n");
		return 0;
	}
	close_image(img);
	ts->entry = te;
	/* in criu's pid namespace, not the tree's: criu outside a dump agent finds it */
	ts->tracker_pidfd = ns_dump_tracker_pidfd(te->tracker_pid, te->tracker_start);
	if (ts->tracker_pidfd < 0 && errno == ESRCH) {
		pr_warn("memory tracking was lost: its tracker (pid %d) is gone: a full dump\n", te->tracker_pid);
		return 0;
	}
	if (ts->tracker_pidfd >= 0)
		ts->state_fd = high_fd(pidfd_getfd(ts->tracker_pidfd, te->state_fd));
	if (ts->tracker_pidfd < 0 || ts->state_fd < 0) {
		pr_pwarn("memory tracking was lost: can't reach its tracker (pid %d): a full dump", te->tracker_pid);
		return 0;
	}
	/* the tracker is ours to use for its userfaultfds whatever its round */
	ts->tracker_pid = te->tracker_pid;
	if (pread(ts->state_fd, &gen, sizeof(gen), 0) != sizeof(gen) || gen != te->generation) {
		pr_warn("memory tracking: the pages were write-protected again after the previous images were "
			"taken (a later or a failed dump): a full dump\n");
		return 0;
	}
	ts->valid = true;
	ts->generation = gen;
	pr_info("memory tracking: tracker %d, round %lx: only pages written since the previous dump are dumped\n",
		ts->tracker_pid, (unsigned long)gen);
	return 0;
}

static int uffd_api(int fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURES };

	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_perror("UFFDIO_API (asynchronous write-protect)");
		return -1;
	}
	return 0;
}

/* A userfaultfd of @pid's mm, made by the task itself and taken here. */
static int make_uffd(struct parasite_ctl *ctl, pid_t pid)
{
	long rfd = -1, ret;
	int fd;

	if (compel_syscall(ctl, __NR_userfaultfd, &rfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0, 0, 0, 0) ||
	    rfd < 0) {
		errno = rfd < 0 ? -rfd : errno;
		pr_perror("can't make a userfaultfd in %d for memory tracking", pid);
		return -1;
	}
	fd = high_fd(task_fd(pid, rfd));
	if (compel_syscall(ctl, __NR_close, &ret, rfd, 0, 0, 0, 0, 0) || ret) {
		pr_err("can't close the userfaultfd %ld made in %d\n", rfd, pid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd >= 0 && uffd_api(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int can_track(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK;
}

/*
 * Register [start, end) and clear whatever write-protect bits its page
 * table entries still carry. The kernel can leave them behind: an mremap
 * next to a registered area merges the two and drops the registration of
 * the whole (no EVENT_REMAP), but not the bits of the part that stayed,
 * whose pages then get written without losing them. PAGEMAP_SCAN would
 * take such a page as protected and never protect it again (it protects
 * only what it reports written), so a write after this round would go
 * unseen. Cleared here, every present page counts as written once and is
 * protected by this round's scan.
 */
static int uffd_register(int uffd, uint64_t start, uint64_t end)
{
	struct uffdio_register r = { .range = { .start = start, .len = end - start }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = { .start = start, .len = end - start }, .mode = 0 };

	if (ioctl(uffd, UFFDIO_REGISTER, &r))
		return -1;
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		int err = errno;
		struct uffdio_range ur = { .start = start, .len = end - start };

		ioctl(uffd, UFFDIO_UNREGISTER, &ur);
		errno = err;
		return -1;
	}
	return 0;
}

/* Register the private anonymous areas not registered yet, in runs of neighbours. */
static void register_areas(int uffd, pid_t pid, struct mm_dump *md)
{
	for (size_t i = 0; i < md->nr_vmas;) {
		size_t j = i;

		if (md->wp[i] || !can_track(&md->vmas[i])) {
			i++;
			continue;
		}
		while (j + 1 < md->nr_vmas && !md->wp[j + 1] && can_track(&md->vmas[j + 1]) &&
		       md->vmas[j + 1].start == md->vmas[j].end)
			j++;
		if (uffd_register(uffd, md->vmas[i].start, md->vmas[j].end) == 0) {
			for (size_t k = i; k <= j; k++)
				md->wp[k] = MD_WP_NEW;
		} else {
			/* one by one: only the one that can't be is left out */
			for (size_t k = i; k <= j; k++) {
				if (uffd_register(uffd, md->vmas[k].start, md->vmas[k].end) == 0)
					md->wp[k] = MD_WP_NEW;
				else
					pr_info("memory tracking: area %lx-%lx of %d can't be registered (%s): dumped "
						"whole every time\n", (unsigned long)md->vmas[k].start,
						(unsigned long)md->vmas[k].end, pid, strerror(errno));
			}
		}
		i = j + 1;
	}
}

int track_task(struct track_state *ts, struct parasite_ctl *ctl, pid_t pid, uint64_t start_time,
	       struct mm_dump *md, bool make, bool reg, struct track_task **out)
{
	TrackEntry *te = ts->entry;
	struct track_task *tt, *n;

	n = realloc(ts->tasks, (ts->nr_tasks + 1) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	ts->tasks = n;
	tt = &ts->tasks[ts->nr_tasks++];
	memset(tt, 0, sizeof(*tt));
	tt->pid = pid;
	tt->start_time = start_time;
	tt->uffd = -1;
	page_list_init(&tt->cover);
	*out = tt;

	for (size_t i = 0; te && ts->tracker_pid && i < te->n_tasks; i++) {
		if (te->tasks[i]->pid != pid)
			continue;
		if (te->tasks[i]->start_time != start_time) {
			pr_info("memory tracking: pid %d is another process than the one tracked: dumped whole\n", pid);
			break;
		}
		tt->uffd = high_fd(pidfd_getfd(ts->tracker_pidfd, te->tasks[i]->fd));
		if (tt->uffd >= 0 && !is_uffd(tt->uffd)) {
			close(tt->uffd);
			tt->uffd = -1;
		}
		if (tt->uffd < 0)
			pr_pwarn("memory tracking: can't take the userfaultfd of %d from the tracker", pid);
		tt->since_prev = ts->valid && tt->uffd >= 0;
		break;
	}
	if (ts->valid && !tt->since_prev)
		pr_info("memory tracking: process %d was not tracked since the previous dump: dumped whole\n", pid);
	if (tt->uffd < 0 && make) {
		tt->uffd = make_uffd(ctl, pid);
		if (tt->uffd < 0)
			return -1;
	}
	if (reg && tt->uffd >= 0)
		register_areas(tt->uffd, pid, md);
	return 0;
}

int track_invalidate(struct track_state *ts)
{
	uint64_t zero = 0;

	if (ts->state_fd < 0)
		return 0;
	if (pwrite(ts->state_fd, &zero, sizeof(zero), 0) != sizeof(zero)) {
		pr_perror("can't mark the tracker's round as over");
		return -1;
	}
	return 0;
}

/* ---- the tracker ---- */

/*
 * The tracker is forked in criu's pid namespace: by criu, or, when the
 * dump runs in an agent inside the tree's pid namespace (whose children
 * would be the tree's), by criu outside at the agent's request
 * (ns_dump_tracker_fork()). Either way it takes the fds it holds over a
 * socket and answers with their numbers in its fd table. A message is an
 * int, the number of fds that come with it, in pairs: first the round
 * memfd and the end eventfd, then a pidfd and the userfaultfd of each
 * process. A message without fds is "go": till then the tracker exits
 * when the socket closes, so a commit that fails half-way leaves none.
 */
struct tracker_pair {
	int a, b;
};

static void tracker_loop(struct tracker_pair *f, int nr)
{
	struct pollfd *p = calloc(nr, sizeof(*p));
	int live = nr - 1;

	if (!p)
		_exit(1);
	p[0].fd = f[0].b;	/* the end eventfd: a later dump took our fds over */
	p[0].events = POLLIN;
	for (int i = 1; i < nr; i++) {
		p[i].fd = f[i].a;
		p[i].events = POLLIN;
	}
	/* a task gone takes its mm and our registration with it: its userfaultfd goes too */
	while (live > 0) {
		if (poll(p, nr, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (p[0].revents)
			_exit(0);
		for (int i = 1; i < nr; i++)
			if (p[i].fd >= 0 && p[i].revents) {
				close(p[i].fd);
				close(f[i].b);
				p[i].fd = -1;
				live--;
			}
	}
	_exit(0);
}

/* In the tracker: nothing of criu's but the socket, then what comes over it. */
static void tracker_main(int sk)
{
	struct tracker_pair *f = NULL;
	int nr = 0, null;
	sigset_t none;

	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* criu's interrupt handling is not ours: SIGTERM ends the tracker */
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, TRACKER_COMM);
	if (chdir("/") || move_fd(sk, 3) != 3)
		_exit(1);
	sk = 3;
	syscall(SYS_close_range, 4, ~0U, 0);
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	if (null > 3)
		close(null);
	for (;;) {
		int n, got, fds[SEND_FDS_MAX];
		struct tracker_pair *g;

		if (recv_fds(sk, &n, sizeof(n), fds, SEND_FDS_MAX, &got) != sizeof(n) || got != n || n % 2 ||
		    (!nr && n && n != 2) || (!n && !nr))
			_exit(1);
		if (!n)
			break;
		g = realloc(f, (nr + n / 2) * sizeof(*f));
		if (!g)
			_exit(1);
		f = g;
		for (int i = 0; i < n; i += 2)
			f[nr++] = (struct tracker_pair){ fds[i], fds[i + 1] };
		if (send_fds(sk, fds, n * sizeof(int), NULL, 0))
			_exit(1);
	}
	if (send_fds(sk, &nr, sizeof(nr), NULL, 0))
		_exit(1);
	close(sk);
	tracker_loop(f, nr);
}

int tracker_fork(pid_t *pid, uint64_t *start)
{
	struct proc_pid_stat st;
	int s[2], status, nr;
	pid_t child, t = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s)) {
		pr_perror("can't make the memory tracker's socket");
		return -1;
	}
	child = fork();
	if (child == 0) {
		close(s[0]);
		/* its own session, and not our child: it outlives us */
		setsid();
		/* named before it exists: the next dump knows the tracker by its name */
		prctl(PR_SET_NAME, TRACKER_COMM);
		t = fork();
		if (t != 0)
			_exit(t < 0 || send_fds(s[1], &t, sizeof(t), NULL, 0) ? 1 : 0);
		tracker_main(s[1]);
	}
	close(s[1]);
	if (child < 0) {
		pr_perror("can't fork the memory tracker");
		close(s[0]);
		return -1;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || recv_fds(s[0], &t, sizeof(t), NULL, 0, &nr) != sizeof(t) ||
	    t <= 0 || parse_pid_stat(t, &st)) {
		pr_err("the memory tracker did not start\n");
		close(s[0]);
		return -1;
	}
	*pid = t;
	*start = st.start_time;
	return s[0];
}

int tracker_pidfd(pid_t pid, uint64_t start)
{
	struct proc_pid_stat st;
	int fd;

	if (parse_pid_stat(pid, &st) || st.start_time != start || strcmp(st.comm, TRACKER_COMM)) {
		errno = ESRCH;
		return -1;
	}
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	/* the pid may have been given to another process between the look and the open */
	if (parse_pid_stat(pid, &st) || st.start_time != start) {
		close(fd);
		errno = ESRCH;
		return -1;
	}
	return high_fd(fd);
}

/*
 * Send @n fds (pairs) to the tracker at @sk: their numbers there land in
 * @out. With none, "go": @out gets how many pairs it holds.
 */
static int tracker_give(int sk, const int *fds, int n, int *out)
{
	ssize_t len = (n ?: 1) * sizeof(int);
	int got;

	if (send_fds(sk, &n, sizeof(n), fds, n) || recv_fds(sk, out, len, NULL, 0, &got) != len) {
		pr_perror("can't pass the memory tracker its fds");
		return -1;
	}
	return 0;
}

int track_commit(struct track_state *ts, int dfd)
{
	TrackEntry te = TRACK_ENTRY__INIT;
	TrackTaskEntry *tte = NULL, **ptrs = NULL;
	struct cr_img *img;
	uint64_t gen, tstart;
	pid_t tracker;
	int n = 0, ret = -1, sk, end = -1, go = 0, num[2 * (SEND_FDS_MAX / 2)];

	if (ts->state_fd < 0)
		ts->state_fd = high_fd(memfd_create("criu-track-state", MFD_CLOEXEC));
	if (ts->state_fd < 0 || getrandom(&gen, sizeof(gen), 0) != sizeof(gen)) {
		pr_perror("can't set up the memory tracker");
		return -1;
	}
	gen |= 1;
	if (pwrite(ts->state_fd, &gen, sizeof(gen), 0) != sizeof(gen)) {
		pr_perror("can't set the tracker's round");
		return -1;
	}
	end = eventfd(0, EFD_CLOEXEC);
	if (end < 0) {
		pr_perror("can't make the memory tracker's end eventfd");
		goto zero;
	}
	sk = ns_dump_tracker_fork(&tracker, &tstart);
	if (sk < 0) {
		pr_perror("can't start the memory tracker");
		goto zero;
	}
	if (tracker_give(sk, (int[]){ ts->state_fd, end }, 2, num))
		goto out;
	te.state_fd = num[0];
	te.has_end_fd = true;
	te.end_fd = num[1];
	tte = calloc(ts->nr_tasks ? ts->nr_tasks : 1, sizeof(*tte));
	ptrs = calloc(ts->nr_tasks ? ts->nr_tasks : 1, sizeof(*ptrs));
	if (!tte || !ptrs)
		goto out;
	for (int i = 0; i < ts->nr_tasks;) {
		int fds[SEND_FDS_MAX], k = 0, first = n;

		for (; i < ts->nr_tasks && k < SEND_FDS_MAX; i++) {
			int pidfd;

			if (ts->tasks[i].uffd < 0)
				continue;
			/* the task's pid as the dump sees it: the tracker watches it by its pidfd */
			pidfd = syscall(SYS_pidfd_open, ts->tasks[i].pid, 0);
			if (pidfd < 0) {
				pr_pwarn("memory tracking: can't watch %d (no pidfd): not tracked", ts->tasks[i].pid);
				continue;
			}
			track_task_entry__init(&tte[n]);
			tte[n].pid = ts->tasks[i].pid;
			tte[n].start_time = ts->tasks[i].start_time;
			ptrs[n] = &tte[n];
			n++;
			fds[k++] = pidfd;
			fds[k++] = ts->tasks[i].uffd;
		}
		ret = k ? tracker_give(sk, fds, k, num) : 0;
		for (int j = 0; j < k; j += 2)
			close(fds[j]);
		if (ret)
			goto out;
		ret = -1;
		for (int j = first; j < n; j++)
			tte[j].fd = num[2 * (j - first) + 1];
	}
	te.tracker_pid = tracker;
	te.tracker_start = tstart;
	te.generation = gen;
	te.n_tasks = n;
	te.tasks = ptrs;
	img = open_image_at(dfd, CR_FD_TRACK, O_DUMP);
	if (!img || finish_image(img, pb_write_one(img, &te)))
		goto out;
	/* the tracker keeps its fds from here on */
	if (tracker_give(sk, NULL, 0, &go) || go != n + 1) {
		unlinkat(dfd, "track.img", 0);
		goto out;
	}
	ret = 0;
	pr_info("memory tracking: tracker %d holds %d process(es), round %lx\n", tracker, n, (unsigned long)gen);
out:
	/* without its "go" the tracker ends as this socket closes */
	close(sk);
zero:
	if (end >= 0)
		close(end);
	if (ret)
		pwrite(ts->state_fd, &(uint64_t){ 0 }, sizeof(uint64_t), 0);
	free(tte);
	free(ptrs);
	return ret;
}

/*
 * Its end eventfd, written: what works from any pid namespace (a signal
 * sent through a pidfd does not reach a process of an outer one).
 */
static int end_tracker_of(struct track_state *ts)
{
	TrackEntry *te = ts->entry;
	uint64_t one = 1;
	int fd, ret;

	if (!te || !te->has_end_fd)
		return syscall(SYS_pidfd_send_signal, ts->tracker_pidfd, SIGKILL, NULL, 0);
	fd = pidfd_getfd(ts->tracker_pidfd, te->end_fd);
	if (fd < 0)
		return -1;
	ret = write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
	close(fd);
	return ret;
}

void track_close(struct track_state *ts, bool end_tracker)
{
	if (end_tracker && ts->tracker_pidfd >= 0 && end_tracker_of(ts) == 0)
		pr_info("memory tracking: tracker %d ended\n", ts->tracker_pid);
	for (int i = 0; i < ts->nr_tasks; i++) {
		if (ts->tasks[i].uffd >= 0)
			close(ts->tasks[i].uffd);
		page_list_free(&ts->tasks[i].cover);
	}
	free(ts->tasks);
	if (ts->state_fd >= 0)
		close(ts->state_fd);
	if (ts->tracker_pidfd >= 0)
		close(ts->tracker_pidfd);
	if (ts->entry)
		track_entry__free_unpacked(ts->entry, NULL);
	memset(ts, 0, sizeof(*ts));
	ts->prev_dfd = ts->tracker_pidfd = ts->state_fd = -1;
}
