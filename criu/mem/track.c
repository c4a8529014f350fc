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
#include <sys/ioctl.h>
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
	struct proc_pid_stat st;
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
	if (parse_pid_stat(te->tracker_pid, &st) || st.start_time != te->tracker_start ||
	    strcmp(st.comm, TRACKER_COMM)) {
		pr_warn("memory tracking was lost: its tracker (pid %d) is gone: a full dump\n", te->tracker_pid);
		return 0;
	}
	ts->tracker_pidfd = syscall(SYS_pidfd_open, te->tracker_pid, 0);
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

/* @report hears one byte once the tracker holds what it has to: criu may go then. */
static void tracker_loop(struct track_state *ts, int report)
{
	struct pollfd *p = calloc(ts->nr_tasks ? ts->nr_tasks : 1, sizeof(*p));
	int live = 0;

	if (!p)
		_exit(1);
	for (int i = 0; i < ts->nr_tasks; i++) {
		p[i].fd = ts->tasks[i].uffd < 0 ? -1 : syscall(SYS_pidfd_open, ts->tasks[i].pid, 0);
		p[i].events = POLLIN;
		live += p[i].fd >= 0;
	}
	if (write(report, "", 1) != 1)
		_exit(1);
	close(report);
	/* a task gone takes its mm and our registration with it: its userfaultfd goes too */
	while (live > 0) {
		if (poll(p, ts->nr_tasks, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (int i = 0; i < ts->nr_tasks; i++)
			if (p[i].fd >= 0 && p[i].revents) {
				close(p[i].fd);
				close(ts->tasks[i].uffd);
				p[i].fd = -1;
				live--;
			}
	}
	_exit(0);
}

static int keep_fd(struct track_state *ts, int fd, int extra)
{
	if (fd == ts->state_fd || fd == extra)
		return 1;
	for (int i = 0; i < ts->nr_tasks; i++)
		if (ts->tasks[i].uffd == fd)
			return 1;
	return 0;
}

/* In the tracker: nothing of criu's but what it holds for the tasks. */
static void tracker_close_fds(struct track_state *ts, int report)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || keep_fd(ts, fd, report))
			continue;
		close(fd);
	}
	closedir(d);
}

/* A tracker process holding our userfaultfds: its pid, or -1. */
static pid_t spawn_tracker(struct track_state *ts)
{
	int p[2], status;
	pid_t child, tracker = -1;
	char ready;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("can't fork the memory tracker");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (child == 0) {
		pid_t t;

		close(p[0]);
		setsid();
		/* named before it exists: the next dump knows the tracker by its name */
		prctl(PR_SET_NAME, TRACKER_COMM);
		t = fork();
		if (t != 0) {
			if (write(p[1], &t, sizeof(t)) != sizeof(t))
				_exit(1);
			_exit(t < 0);
		}
		signal(SIGHUP, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		if (chdir("/"))
			_exit(1);
		tracker_close_fds(ts, p[1]);
		tracker_loop(ts, p[1]);
	}
	close(p[1]);
	if (read(p[0], &tracker, sizeof(tracker)) != sizeof(tracker) || read(p[0], &ready, 1) != 1)
		tracker = -1;
	close(p[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (tracker <= 0)
		pr_err("the memory tracker did not start\n");
	return tracker;
}

int track_commit(struct track_state *ts, int dfd)
{
	TrackEntry te = TRACK_ENTRY__INIT;
	TrackTaskEntry *tte = NULL, **ptrs = NULL;
	struct proc_pid_stat st;
	struct cr_img *img;
	uint64_t gen;
	pid_t tracker;
	int n = 0, ret = -1;

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
	tracker = spawn_tracker(ts);
	if (tracker < 0 || parse_pid_stat(tracker, &st))
		return -1;
	tte = calloc(ts->nr_tasks ? ts->nr_tasks : 1, sizeof(*tte));
	ptrs = calloc(ts->nr_tasks ? ts->nr_tasks : 1, sizeof(*ptrs));
	if (!tte || !ptrs)
		goto out;
	for (int i = 0; i < ts->nr_tasks; i++) {
		if (ts->tasks[i].uffd < 0)
			continue;
		track_task_entry__init(&tte[n]);
		tte[n].pid = ts->tasks[i].pid;
		tte[n].start_time = ts->tasks[i].start_time;
		tte[n].fd = ts->tasks[i].uffd;
		ptrs[n] = &tte[n];
		n++;
	}
	te.tracker_pid = tracker;
	te.tracker_start = st.start_time;
	te.state_fd = ts->state_fd;
	te.generation = gen;
	te.n_tasks = n;
	te.tasks = ptrs;
	img = open_image_at(dfd, CR_FD_TRACK, O_DUMP);
	if (!img)
		goto out;
	ret = finish_image(img, pb_write_one(img, &te));
	pr_info("memory tracking: tracker %d holds %d process(es), round %lx\n", tracker, n, (unsigned long)gen);
out:
	if (ret) {
		kill(tracker, SIGKILL);
		pwrite(ts->state_fd, &(uint64_t){ 0 }, sizeof(uint64_t), 0);
	}
	free(tte);
	free(ptrs);
	return ret;
}

void track_close(struct track_state *ts, bool end_tracker)
{
	if (end_tracker && ts->tracker_pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, ts->tracker_pidfd, SIGKILL, NULL, 0) == 0)
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
