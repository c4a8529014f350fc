/*
 * dump -R --snapshot: the tree is frozen only to take its state and
 * write-protect its private anonymous memory; the pages are copied while
 * it runs again (Documentation/incremental.md, "A dump frozen only for a
 * snapshot").
 *
 * While frozen, each process gets a userfaultfd of its mm, made from
 * /dev/userfaultfd by the parasite (so faults of kernel-mode writes wait
 * too, whatever the task's privileges) and held by criu only. Its private
 * anonymous areas are registered for synchronous write-protect and every
 * page of them protected: the snapshot instant. Pages of areas that can't
 * be registered (private file mappings, unreadable areas, areas
 * registered by someone else) are read at once, still frozen.
 *
 * Then the tree runs. A thread serves the write faults: a page not copied
 * yet is read (the write has not happened) and then unprotected, which
 * wakes the writer. The dump copies the other pages in address order, a
 * chunk at a time, each read and then checked to be still protected and
 * present (PAGEMAP_SCAN: neither written nor gone): a page discarded
 * (MADV_DONTNEED), unmapped, moved or replaced meanwhile lost its
 * protection, and fails the dump instead of being saved wrong. The checks
 * and the fault thread's copies are under one lock, so a page is taken
 * once, from whichever read it first.
 *
 * Any failure, or criu's death: the userfaultfds are criu's fds only;
 * closing them drops every registration and wakes every writer, whose
 * write then goes through. The tree is as if nothing happened; only the
 * images are incomplete (no inventory.img).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compel/compel.h"
#include "crtools.h"
#include "dump.h"
#include "hmap.h"
#include "log.h"
#include "mem.h"
#include "pagemap_scan.h"
#include "pagerange.h"
#include "parasite.h"
#include "snapshot.h"
#include "util.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW	_IO(0xAA, 0x00)
#endif

#define SNAP_CHUNK	256	/* pages read under the lock at a time (copy_live() asks for at most this) */

struct snap_task {
	pid_t pid;
	uint32_t pages_id;
	int uffd, mem_fd, pm_fd;
	struct dump_ctx *dc;
	struct predump_pages *pp;
	struct page_list reg;		/* registered for write-protect: protected at the snapshot instant */
	struct page_list live;		/* pages copied while the tree runs (in reg) */
	struct page_list early;		/* pages read while the tree was frozen */
	uint64_t *early_off;		/* per early range: where its pages are in early_data */
	char *early_data;
	uint64_t copied_upto;		/* live pages below were copied: the copy goes in address order */
	struct hmap saved;		/* page address -> index in saved_data: copied at a write fault */
	char *saved_data;
	size_t nr_saved, cap_saved;
	uint64_t faults;
};

struct snapshot {
	int dev;			/* /dev/userfaultfd */
	int wake;			/* eventfd: the fault thread is to stop */
	pthread_t thread;
	bool running;
	volatile bool stop;
	pthread_mutex_t lock;		/* the copy and the fault thread, for every task */
	struct snap_task *t;
	int nr, cap;
	volatile int failed;
	int waiting;			/* the fault thread waits for the lock */
};

static int uffd_api(int fd)
{
	struct uffdio_api api = { .api = UFFD_API };

	if (ioctl(fd, UFFDIO_API, &api)) {
		pr_perror("--snapshot: UFFDIO_API");
		return -1;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		pr_err("--snapshot: this kernel's userfaultfd has no write-protect mode\n");
		return -1;
	}
	return 0;
}

/* What it takes, tried on a page of our own: a userfaultfd from /dev/userfaultfd, write-protect of anonymous memory. */
static int probe(int dev)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	int fd, ret = -1;
	char *p;

	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		pr_perror("--snapshot: USERFAULTFD_IOC_NEW on /dev/userfaultfd");
		return -1;
	}
	p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pr_perror("--snapshot: mmap");
		close(fd);
		return -1;
	}
	p[0] = 1;
	reg.range.start = wp.range.start = (unsigned long)p;
	reg.range.len = wp.range.len = PAGE_SIZE;
	if (uffd_api(fd))
		goto out;
	if (ioctl(fd, UFFDIO_REGISTER, &reg) || !(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)) ||
	    ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		pr_perror("--snapshot: this kernel can't write-protect anonymous memory with userfaultfd");
		goto out;
	}
	ret = 0;
out:
	munmap(p, PAGE_SIZE);
	close(fd);
	return ret;
}

int snapshot_begin(struct dump_tree *t)
{
	struct snapshot *s;

	if (!kdat.has_pagemap_scan) {
		pr_err("--snapshot needs PAGEMAP_SCAN (Linux 6.7): each page copied is checked to be the snapshot's\n");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pr_err("out of memory\n");
		return -1;
	}
	s->wake = s->dev = -1;
	pthread_mutex_init(&s->lock, NULL);
	t->snap = s;
	s->dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (s->dev < 0) {
		pr_perror("--snapshot needs /dev/userfaultfd (Linux 6.1; a userfaultfd that kernel-mode writes wait "
			  "on too, whatever the tasks' privileges)");
		return -1;
	}
	s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake < 0) {
		pr_perror("eventfd");
		return -1;
	}
	return probe(s->dev);
}

/* A userfaultfd of the task's mm, made by its parasite from our /dev/userfaultfd fd. */
static int task_uffd(struct snapshot *s, struct parasite_ctl *ctl, pid_t pid)
{
	union parasite_args *pa = compel_parasite_args(ctl);
	int fd = -1;

	pa->uffd_flags = O_CLOEXEC | O_NONBLOCK;
	if (compel_rpc_call(ctl, PARASITE_CMD_NEW_UFFD) || compel_send_fds(ctl, &s->dev, 1) ||
	    compel_recv_fds(ctl, &fd, 1) || compel_rpc_sync(ctl, PARASITE_CMD_NEW_UFFD) < 0) {
		pr_perror("--snapshot: can't make a userfaultfd in %d", pid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (uffd_api(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int open_proc(pid_t pid, const char *what)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open %s", path);
	return fd;
}

int snapshot_task(struct dump_ctx *dc, struct parasite_ctl *ctl, const struct page_opts *po)
{
	struct snapshot *s = dc->tree->snap;
	struct snap_task *st;

	if (s->nr == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct snap_task *n = realloc(s->t, cap * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		s->t = n;
		s->cap = cap;
	}
	st = &s->t[s->nr++];
	memset(st, 0, sizeof(*st));
	st->pid = dc->pid;
	st->pages_id = dc->pages_id;
	st->dc = dc;
	st->mem_fd = st->pm_fd = -1;
	page_list_init(&st->reg);
	page_list_init(&st->live);
	page_list_init(&st->early);
	st->uffd = task_uffd(s, ctl, dc->pid);
	if (st->uffd < 0)
		return -1;
	/* opened now: they stay this mm's (a later exec does not lead them elsewhere) */
	st->mem_fd = open_proc(dc->pid, "mem");
	st->pm_fd = open_proc(dc->pid, "pagemap");
	if (st->mem_fd < 0 || st->pm_fd < 0)
		return -1;
	st->pp = predump_find_shared(dc->pid, &dc->md, dc->st, po, dc->parent.md ? &dc->parent : NULL);
	return st->pp ? 0 : -1;
}

static int registrable(const VmaEntry *v)
{
	/* userfaultfd's synchronous write-protect: anonymous memory (and shmem, hugetlb: not private) */
	return (v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
		v->kind == VMA_KIND__VMA_STACK) && (v->prot & PROT_READ);
}

static int register_areas(struct snap_task *st)
{
	const struct mm_dump *md = &st->dc->md;

	for (size_t i = 0; i < md->nr_vmas; i++) {
		const VmaEntry *v = &md->vmas[i];
		struct uffdio_register reg = {
			.range = { .start = v->start, .len = v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		if (!registrable(v))
			continue;
		if (ioctl(st->uffd, UFFDIO_REGISTER, &reg)) {
			/*
			 * Registered by someone else: on a chain, the memory
			 * tracking (its pages written since are few); its
			 * pages are read now, frozen.
			 */
			pr_info("snapshot: %d: area %lx-%lx can't be write-protected (%s%s): copied while frozen\n",
				st->pid, (unsigned long)v->start, (unsigned long)v->end, strerror(errno),
				errno == EBUSY ? ": registered by the memory tracking or the task" : "");
			continue;
		}
		if (page_list_add(&st->reg, v->start, (v->end - v->start) >> PAGE_SHIFT))
			return -1;
	}
	return 0;
}

/* Which pages are copied later (live) and which now (early), and the early ones read. */
static int split_and_read(struct snap_task *st)
{
	const struct page_list *anon, *file, *hidden;
	struct page_list out, a;
	uint64_t off = 0;
	int ret;

	predump_lists(st->pp, &anon, &file, &hidden);
	if (page_list_split(anon, &st->reg, &st->live, &out))
		return -1;
	ret = page_list_merge(&out, file, &a);
	page_list_free(&out);
	if (ret)
		return -1;
	ret = page_list_merge(&a, hidden, &st->early);
	page_list_free(&a);
	if (ret)
		return -1;
	st->early_off = calloc(st->early.nr + 1, sizeof(*st->early_off));
	st->early_data = st->early.total_pages ? malloc(st->early.total_pages * PAGE_SIZE) : NULL;
	if (!st->early_off || (st->early.total_pages && !st->early_data)) {
		pr_err("out of memory for %lu pages of %d\n", (unsigned long)st->early.total_pages, st->pid);
		return -1;
	}
	for (size_t i = 0; i < st->early.nr; i++) {
		size_t len = st->early.r[i].nr_pages * PAGE_SIZE;

		st->early_off[i] = off;
		if (pread(st->mem_fd, st->early_data + off, len, st->early.r[i].start) != (ssize_t)len) {
			pr_perror("can't read the memory of %d at %lx", st->pid, (unsigned long)st->early.r[i].start);
			return -1;
		}
		off += len;
	}
	pr_info("snapshot: %d: %lu pages to copy while the tree runs, %lu copied while frozen\n", st->pid,
		(unsigned long)st->live.total_pages, (unsigned long)st->early.total_pages);
	return 0;
}

static int protect(struct snap_task *st, uint64_t start, uint64_t nr, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = start, .len = nr * PAGE_SIZE },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (!ioctl(st->uffd, UFFDIO_WRITEPROTECT, &wp))
		return 0;
	if (on) {
		pr_perror("snapshot: can't write-protect %lx-%lx of %d", (unsigned long)start,
			  (unsigned long)(start + nr * PAGE_SIZE), st->pid);
		return -1;
	}
	/* the area changed meanwhile (the copy fails on it): whoever waits there still goes on */
	struct uffdio_range r = { .start = start, .len = nr * PAGE_SIZE };

	ioctl(st->uffd, UFFDIO_WAKE, &r);
	return -1;
}

static void snap_fail(struct snapshot *s)
{
	s->failed = 1;
}

/*
 * Pages [@start, +@nr) still as at the snapshot instant: present (or
 * swapped out) and still write-protected. A page written, discarded,
 * unmapped, moved or replaced since is not. @ok[i] per page.
 */
static int check_snap(struct snap_task *st, uint64_t start, uint64_t nr, uint8_t *ok)
{
	struct page_region r[SNAP_CHUNK];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = start + nr * PAGE_SIZE,
		.vec = (unsigned long)r,
		.vec_len = SNAP_CHUNK,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = PAGE_IS_WRITTEN,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	long n;

	memset(ok, 0, nr);
	n = ioctl(st->pm_fd, PAGEMAP_SCAN, &arg);
	if (n < 0) {
		pr_perror("snapshot: PAGEMAP_SCAN of %d at %lx", st->pid, (unsigned long)start);
		return -1;
	}
	for (long k = 0; k < n; k++)
		for (uint64_t a = r[k].start; a < r[k].end; a += PAGE_SIZE)
			if (a >= start && a < arg.end)
				ok[(a - start) >> PAGE_SHIFT] = 1;
	return 0;
}

static bool in_list(const struct page_list *l, uint64_t addr)
{
	size_t i = page_list_lower_bound(l, addr);

	return i < l->nr && l->r[i].start <= addr;
}

/* A write fault at @addr: the page is copied first if it is the snapshot's and not copied yet. */
static void serve_fault(struct snapshot *s, struct snap_task *st, uint64_t addr)
{
	uint8_t ok;

	st->faults++;
	if (!s->failed && in_list(&st->live, addr) && addr >= st->copied_upto && !hmap_get(&st->saved, addr)) {
		if (st->nr_saved == st->cap_saved) {
			size_t cap = st->cap_saved ? st->cap_saved * 2 : 64;
			char *n = realloc(st->saved_data, cap * PAGE_SIZE);

			if (!n) {
				pr_err("snapshot: out of memory for the pages of %d written during the copy\n", st->pid);
				snap_fail(s);
				goto wake;
			}
			st->saved_data = n;
			st->cap_saved = cap;
		}
		if (pread(st->mem_fd, st->saved_data + st->nr_saved * PAGE_SIZE, PAGE_SIZE, addr) != PAGE_SIZE ||
		    check_snap(st, addr, 1, &ok) || !ok) {
			pr_err("snapshot: page %lx of %d is no longer the snapshot's (discarded, unmapped or replaced "
			       "since): the dump fails\n", (unsigned long)addr, st->pid);
			snap_fail(s);
			goto wake;
		}
		if (hmap_put(&st->saved, addr, st->nr_saved)) {
			snap_fail(s);
			goto wake;
		}
		st->nr_saved++;
	}
wake:
	protect(st, addr, 1, false);
}

static void serve(struct snapshot *s, struct snap_task *st)
{
	struct uffd_msg msg;

	while (read(st->uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;	/* none asked for */
		serve_fault(s, st, msg.arg.pagefault.address & ~(PAGE_SIZE - 1));
	}
}

static void *fault_thread(void *arg)
{
	struct snapshot *s = arg;
	struct pollfd *p = calloc(s->nr + 1, sizeof(*p));

	if (!p) {
		/* nobody serves the faults: the copy fails at once, and closing the fds wakes every writer */
		snap_fail(s);
		return NULL;
	}
	p[0].fd = s->wake;
	p[0].events = POLLIN;
	for (int i = 0; i < s->nr; i++) {
		p[i + 1].fd = s->t[i].uffd;
		p[i + 1].events = POLLIN;
	}
	while (!s->stop) {
		if (poll(p, s->nr + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("snapshot: poll");
			snap_fail(s);
			break;
		}
		for (int i = 0; i < s->nr; i++) {
			if (p[i + 1].revents & (POLLERR | POLLHUP | POLLNVAL) && !(p[i + 1].revents & POLLIN)) {
				/* nothing more will come from it (its mm is gone): the copy finds that out itself */
				p[i + 1].fd = -1;
				continue;
			}
			if (!(p[i + 1].revents & POLLIN))
				continue;
			__atomic_add_fetch(&s->waiting, 1, __ATOMIC_RELEASE);
			pthread_mutex_lock(&s->lock);
			__atomic_sub_fetch(&s->waiting, 1, __ATOMIC_RELEASE);
			serve(s, &s->t[i]);
			pthread_mutex_unlock(&s->lock);
		}
	}
	free(p);
	return NULL;
}

int snapshot_protect(struct dump_tree *t)
{
	struct snapshot *s = t->snap;
	sigset_t all, old;
	int ret;

	for (int i = 0; i < s->nr; i++)
		if (register_areas(&s->t[i]) || split_and_read(&s->t[i]))
			return -1;
	/* from the first page protected on, a write fault must be served (also while still frozen) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&s->thread, NULL, fault_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		errno = ret;
		pr_perror("snapshot: can't start the fault thread");
		return -1;
	}
	s->running = true;
	for (int i = 0; i < s->nr; i++)
		for (size_t k = 0; k < s->t[i].reg.nr; k++)
			if (protect(&s->t[i], s->t[i].reg.r[k].start, s->t[i].reg.r[k].nr_pages, true))
				return -1;
	pr_debug("snapshot taken\n");
	return 0;
}

/*
 * Pages [@addr, +@n) of the live list, read while the tree runs. The read
 * is not under the lock (the fault thread serves writers meanwhile): what
 * it got is right for every page still protected and present after it,
 * checked under the lock, as nothing but a write (which waits for the
 * fault thread, which keeps the page's copy first) or a discard (which
 * leaves the page unprotected) changes a page. Pages the fault thread
 * kept are taken from there.
 */
static int read_live(struct snapshot *s, struct snap_task *st, char *buf, uint64_t addr, uint64_t n)
{
	uint8_t ok[SNAP_CHUNK];
	int ret = -1;

	if (pread(st->mem_fd, buf, n * PAGE_SIZE, addr) != (ssize_t)(n * PAGE_SIZE)) {
		pr_err("snapshot: the memory of %d at %lx-%lx went away while it was copied (unmapped, or the "
		       "process exited): the dump fails\n", st->pid, (unsigned long)addr,
		       (unsigned long)(addr + n * PAGE_SIZE));
		snap_fail(s);
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	if (s->failed)
		goto out;
	if (check_snap(st, addr, n, ok))
		goto out;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a = addr + i * PAGE_SIZE, *idx = hmap_get(&st->saved, a);

		if (idx) {
			memcpy(buf + i * PAGE_SIZE, st->saved_data + *idx * PAGE_SIZE, PAGE_SIZE);
			continue;
		}
		if (!ok[i]) {
			pr_err("snapshot: page %lx of %d is no longer the snapshot's (discarded with MADV_DONTNEED, "
			       "unmapped, moved or replaced since): the dump fails\n", (unsigned long)a, st->pid);
			goto out;
		}
	}
	st->copied_upto = addr + n * PAGE_SIZE;
	/* copied: writes there go on without us (and who waits there now goes on) */
	protect(st, addr, n, false);
	ret = 0;
out:
	if (ret)
		snap_fail(s);
	pthread_mutex_unlock(&s->lock);
	/* a writer waits for the fault thread: let it have the lock before our next chunk */
	while (__atomic_load_n(&s->waiting, __ATOMIC_ACQUIRE))
		sched_yield();
	return ret;
}

static ssize_t early_range(const struct snap_task *st, uint64_t addr, size_t *idx)
{
	*idx = page_list_lower_bound(&st->early, addr);
	return *idx < st->early.nr && st->early.r[*idx].start <= addr;
}

struct snap_reader {
	struct snapshot *s;
	struct snap_task *st;
};

/* The page_reader of predump_copy_via(): pages read while frozen, or now under the lock. */
static ssize_t snap_read(void *arg, char *buf, size_t len, uint64_t addr)
{
	struct snap_reader *r = arg;
	struct snap_task *st = r->st;
	uint64_t a = addr, end = addr + len;

	if (r->s->failed || interrupted()) {
		snap_fail(r->s);
		errno = ECANCELED;
		return -1;
	}
	while (a < end) {
		size_t i;
		uint64_t to;

		if (early_range(st, a, &i)) {
			uint64_t re = st->early.r[i].start + st->early.r[i].nr_pages * PAGE_SIZE;

			to = re < end ? re : end;
			memcpy(buf + (a - addr), st->early_data + st->early_off[i] + (a - st->early.r[i].start), to - a);
		} else {
			to = i < st->early.nr && st->early.r[i].start < end ? st->early.r[i].start : end;
			if (read_live(r->s, st, buf + (a - addr), a, (to - a) >> PAGE_SHIFT)) {
				errno = ECANCELED;
				return -1;
			}
		}
		a = to;
	}
	return len;
}

int snapshot_copy(struct dump_tree *t)
{
	struct snapshot *s = t->snap;

	for (int i = 0; i < s->nr; i++) {
		struct snap_reader r = { .s = s, .st = &s->t[i] };
		struct page_reader rd = { .read = snap_read, .arg = &r };

		if (predump_copy_via(s->t[i].pp, s->t[i].pid, t->dfd, s->t[i].pages_id, &t->st, &rd) || s->failed) {
			pr_err("snapshot: the pages of %d could not be copied\n", s->t[i].pid);
			return -1;
		}
		pr_info("snapshot: %d: copied, %lu write faults served (%zu pages copied at one)\n", s->t[i].pid,
			(unsigned long)s->t[i].faults, s->t[i].nr_saved);
	}
	return 0;
}

void snapshot_end(struct dump_tree *t)
{
	struct snapshot *s = t->snap;

	if (!s)
		return;
	if (s->running) {
		uint64_t one = 1;

		s->stop = true;
		if (write(s->wake, &one, sizeof(one)) != sizeof(one))
			pr_perror("snapshot: waking the fault thread");
		pthread_join(s->thread, NULL);
	}
	for (int i = 0; i < s->nr; i++) {
		struct snap_task *st = &s->t[i];

		/* the registrations go with the last fd: every writer still waiting goes on */
		if (st->uffd >= 0)
			close(st->uffd);
		if (st->mem_fd >= 0)
			close(st->mem_fd);
		if (st->pm_fd >= 0)
			close(st->pm_fd);
		predump_free(st->pp);
		page_list_free(&st->reg);
		page_list_free(&st->live);
		page_list_free(&st->early);
		free(st->early_off);
		free(st->early_data);
		free(st->saved_data);
		hmap_free(&st->saved);
	}
	free(s->t);
	if (s->dev >= 0)
		close(s->dev);
	if (s->wake >= 0)
		close(s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	t->snap = NULL;
}
