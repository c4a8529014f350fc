/*
 * Lazy restore: `criu restore --lazy-pages` brings the tree back with its
 * private anonymous areas registered with userfaultfd (missing faults)
 * instead of filled; `criu lazy-pages` serves the faults from the images
 * and copies every other page in the background, then lets go.
 *
 * The daemon (this file) and the restore agree on what is lazy by the same
 * function (lazy_area(), lazy_split()) over the same images. Every page
 * the daemon copies in is checked against its checksum first. A watchdog
 * process holds a copy of every userfaultfd: if the daemon dies before the
 * memory is whole, the faults wait instead of filling zeros, and the
 * watchdog kills the tree. See Documentation/lazy-pages.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "lazy.h"
#include "../restore/rst.h"
#include "namespaces.h"
#include "pagechain.h"
#include "external.h"
#include "page-server.h"
#include "util.h"

#define PAGE	4096UL

/* ---- what is lazy: the same answer for the restore and the daemon ---- */

/* Also what dump --lazy-pages leaves in the tree: both sides must agree. */
bool lazy_vma(const VmaEntry *v)
{
	if (v->kind != VMA_KIND__VMA_ANON_PRIVATE && v->kind != VMA_KIND__VMA_HEAP && v->kind != VMA_KIND__VMA_STACK)
		return false;
	if ((v->flags & MAP_TYPE) != MAP_PRIVATE)
		return false;	/* MAP_DROPPABLE too: userfaultfd takes none */
	/* mlock() would fault every page in while the restorer runs: no gain */
	return !(v->has_madv && (v->madv & (1ULL << 63)));
}

bool lazy_area(struct rst_ctx *rc, size_t i)
{
	VmaEntry *v = rc->mm->vmas[i];

	/* premapped: filled before the fork, shared with the children */
	return lazy_vma(v) && !cow_slot(&rc->cow, v->start);
}

/* Checksums @n pages on; none (NULL) for pages with the dumping host, which come with theirs. */
static const uint64_t *csum_at(const uint64_t *c, uint64_t n)
{
	return c ? c + n : NULL;
}

/* Index of the area holding @addr, or -1. */
static ssize_t area_of(MmEntry *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->vmas[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mm->n_vmas && mm->vmas[lo]->start <= addr ? (ssize_t)lo : -1;
}

ssize_t lazy_split(struct rst_ctx *rc, struct rst_pagemap *pms, size_t nr, size_t max, bool lazy)
{
	struct rst_pagemap *out = malloc((max ? max : 1) * sizeof(*out));
	size_t n = 0;

	if (!out)
		return -1;
	for (size_t k = 0; k < nr; k++) {
		uint64_t s = pms[k].vaddr, e = s + pms[k].nr_pages * PAGE;

		while (s < e) {
			ssize_t i = area_of(rc->mm, s);
			uint64_t to = i < 0 ? e : (rc->mm->vmas[i]->end < e ? rc->mm->vmas[i]->end : e);

			if (i >= 0 && lazy_area(rc, i) == lazy) {
				if (n >= max) {
					pr_err("%d: more pagemap pieces than room for them\n", rc->pid);
					free(out);
					return -1;
				}
				out[n].vaddr = s;
				out[n].nr_pages = (to - s) / PAGE;
				out[n].off = pms[k].off + (s - pms[k].vaddr);
				out[n].file = pms[k].file;
				out[n++].csum = csum_at(pms[k].csum, (s - pms[k].vaddr) / PAGE);
			}
			s = to;
		}
	}
	memcpy(pms, out, n * sizeof(*out));
	free(out);
	return n;
}

bool lazy_area_used(struct rst_ctx *rc, size_t i)
{
	VmaEntry *v = rc->mm->vmas[i];

	if (!lazy_area(rc, i) || !rc->vma_pages || !rc->vma_pages[i])
		return false;
	/* pages of its own: not only the parent's (those make it premapped anyway) */
	for (size_t k = 0; k < rc->nr_pms; k++) {
		PagemapEntry *pe = rc->pms[k];
		uint64_t e = pe->vaddr + (uint64_t)pe->nr_pages * PAGE;

		if (pe->has_in_parent && pe->in_parent)
			continue;
		if (pe->vaddr < v->end && e > v->start)
			return true;
	}
	return false;
}

/* ---- criu restore --lazy-pages ---- */

static int restore_sk = -1, uffd_dev = -1;

int lazy_restore_sk(void)
{
	return restore_sk;
}

int lazy_uffd_dev(void)
{
	return uffd_dev;
}

void lazy_restore_set_fds(int sk, int dev)
{
	restore_sk = sk;
	uffd_dev = dev;
}

static int socket_path(struct sockaddr_un *a)
{
	const char *dir = opts.work_dir ? opts.work_dir : opts.imgs_dir;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, LAZY_SOCKET) >= (int)sizeof(a->sun_path)) {
		pr_err("the lazy-pages socket's path %s/%s is too long for a unix socket; use a shorter -W\n", dir,
		       LAZY_SOCKET);
		return -1;
	}
	return 0;
}

int lazy_restore_start(void)
{
	struct lazy_msg m = { LAZY_MAGIC_CRIU, getpid() };
	struct sockaddr_un a;
	int sk, tries = 0;

	if (socket_path(&a))
		return -1;
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("socket");
		return -1;
	}
	/* the daemon may be starting alongside: 5 s for it to listen */
	while (connect(sk, (struct sockaddr *)&a, sizeof(a))) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || ++tries > 500) {
			pr_perror("no lazy-pages daemon at %s (start `criu lazy-pages -D DIR` first)", a.sun_path);
			close(sk);
			return -1;
		}
		usleep(10000);
	}
	if (send(sk, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		pr_perror("can't talk to the lazy-pages daemon");
		close(sk);
		return -1;
	}
	restore_sk = sk;
	/* the restorers make their userfaultfds from it: kernel faults are taken too, whatever their creds */
	uffd_dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (uffd_dev < 0)
		pr_debug("/dev/userfaultfd: %s; the restorers call userfaultfd()\n", strerror(errno));
	pr_info("lazy pages: connected to the daemon at %s\n", a.sun_path);
	return 0;
}

void lazy_restore_end(bool committed)
{
	struct lazy_msg m = { LAZY_MAGIC_DONE, committed };

	if (restore_sk < 0)
		return;
	if (send(restore_sk, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		pr_pwarn("can't tell the lazy-pages daemon how the restore ended");
	close(restore_sk);
	restore_sk = -1;
	if (uffd_dev >= 0)
		close(uffd_dev);
	uffd_dev = -1;
}

/* ---- check ---- */

#define LAZY_FEATURES	(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | \
			 UFFD_FEATURE_EVENT_UNMAP)

static char lazy_why[256];

const char *lazy_pages_why(void)
{
	return lazy_why;
}

int lazy_pages_supported(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = LAZY_FEATURES };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), ok;

	/* kernel faults need the sysctl or CAP_SYS_PTRACE, the fork event CAP_SYS_PTRACE */
	if (fd < 0) {
		snprintf(lazy_why, sizeof(lazy_why), "userfaultfd(): %s (it takes CAP_SYS_PTRACE, or "
			 "vm.unprivileged_userfaultfd=1 and no fork events)", strerror(errno));
		pr_info("lazy pages: %s\n", lazy_why);
		return 0;
	}
	ok = ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & LAZY_FEATURES) == LAZY_FEATURES &&
	     (api.ioctls & (1ULL << _UFFDIO_REGISTER));
	if (!ok) {
		snprintf(lazy_why, sizeof(lazy_why), "userfaultfd without the fork, remap, remove and unmap events: %s "
			 "(the fork event takes CAP_SYS_PTRACE)", strerror(errno));
		pr_info("lazy pages: %s\n", lazy_why);
	}
	close(fd);
	return ok;
}

/* ---- the daemon ---- */

/*
 * With the dumping host, the background copy keeps LZ_AHEAD asks of
 * LZ_CHUNK pages in flight, so the dump reads and sends while we check and
 * copy in: a fault's ask waits behind at most those (8 MiB, a few ms on a
 * fast link). Faults ask for LZ_FAULT pages.
 */
#define LZ_CHUNK	512
#define LZ_AHEAD	4
#define LZ_FAULT	16
#define LZ_ASK_RING	16

/*
 * Pages still to come: [start, end) whose bytes are at off in the source
 * src; for pages with the dumping host (no csum), at address off there.
 */
struct lz_range {
	uint64_t start, end, off;
	const uint64_t *csum;
	int src;
};

struct lz_src {
	int fd;
	char name[48];
	pid_t pid;		/* whose pages (images) */
};

struct lz_mm {
	int uffd;		/* -1: done */
	int id;			/* for the watchdog */
	pid_t pid;		/* in the images; 0 for one forked since */
	pid_t hpid;		/* ours (0 unknown) */
	int sk;			/* the restorer's end while it registers, else -1 */
	bool registered;
	struct lz_range *r;
	size_t nr;
	uint64_t faults[64];	/* faults to answer again (the layout was changing) */
	int nr_faults;
	uint64_t enoent_addr;	/* where UFFDIO_COPY last found no area, since when (ms) */
	int64_t enoent_since;
	uint64_t copied, zeroed;
	uint64_t ahead;		/* with the dumping host: asked for up to here (the background) */
};

struct lz_expect {
	pid_t pid;
	struct lz_range *r;
	size_t nr;
	bool got;
};

struct lz {
	int dfd, lsk, wd_sk;
	pid_t wd_pid;
	int conns[16];
	int nr_conns;
	bool ever_conn, outcome_known, committed;
	struct lz_src *src;
	int nr_src;
	struct lz_expect *exp;
	int nr_exp;
	struct lz_mm **mm;
	int nr_mm, next_id;
	uint8_t *buf;
	struct pollfd *p;		/* serve()'s poll set, as big as it grew */
	struct lz_mm **who;
	int *kind;
	size_t poll_max;
	uint64_t copied, zeroed;
	uint64_t remote;	/* pages fetched from the dumping host */
	bool need_remote;	/* the images have pages with the dumping host */
	/* asked of the dumping host and not taken yet, oldest first (a ring) */
	struct lz_ask {
		struct lz_mm *m;
		pid_t pid;		/* of the images: the dump's */
		uint64_t addr, src, nr, seq;
	} ask[LZ_ASK_RING];
	int ask_head, nr_ask;
	uint64_t ask_seq;
	int64_t t0;
};

/* The daemon's CPU time so far, ms: what the fill costs, which wall time under load hides. */
static long cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int range_cmp(const void *a, const void *b)
{
	const struct lz_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Drop [s, e) from the pages still to come (given up, filled, or moved). */
static int ranges_cut(struct lz_mm *m, uint64_t s, uint64_t e, struct lz_range **cut, size_t *nr_cut)
{
	struct lz_range *n = malloc((m->nr * 2 + 1) * sizeof(*n));
	size_t k = 0;

	if (!n)
		return -1;
	for (size_t i = 0; i < m->nr; i++) {
		struct lz_range r = m->r[i];

		if (r.end <= s || r.start >= e) {
			n[k++] = r;
			continue;
		}
		if (r.start < s) {
			n[k] = r;
			n[k++].end = s;
		}
		if (cut) {
			struct lz_range *c = realloc(*cut, (*nr_cut + 1) * sizeof(*c));
			uint64_t from = r.start > s ? r.start : s, to = r.end < e ? r.end : e;

			if (!c) {
				free(n);
				return -1;
			}
			*cut = c;
			c[*nr_cut] = r;
			c[*nr_cut].start = from;
			c[*nr_cut].end = to;
			c[*nr_cut].off = r.off + (from - r.start);
			c[(*nr_cut)++].csum = csum_at(r.csum, (from - r.start) / PAGE);
		}
		if (r.end > e) {
			n[k] = r;
			n[k].start = e;
			n[k].off = r.off + (e - r.start);
			n[k++].csum = csum_at(r.csum, (e - r.start) / PAGE);
		}
	}
	free(m->r);
	m->r = n;
	m->nr = k;
	return 0;
}

/* mremap(): what was still to come at [from, from + len) is to come at to. */
static int ranges_move(struct lz_mm *m, uint64_t from, uint64_t to, uint64_t len)
{
	struct lz_range *cut = NULL, *n;
	size_t nr_cut = 0;

	if (ranges_cut(m, from, from + len, &cut, &nr_cut))
		return -1;
	/* whatever was at the target is gone (MREMAP_FIXED unmaps it) */
	if (ranges_cut(m, to, to + len, NULL, NULL)) {
		free(cut);
		return -1;
	}
	n = realloc(m->r, (m->nr + nr_cut + 1) * sizeof(*n));
	if (!n) {
		free(cut);
		return -1;
	}
	m->r = n;
	for (size_t i = 0; i < nr_cut; i++) {
		cut[i].start = cut[i].start - from + to;
		cut[i].end = cut[i].end - from + to;
		m->r[m->nr++] = cut[i];
	}
	free(cut);
	qsort(m->r, m->nr, sizeof(*m->r), range_cmp);
	return 0;
}

static struct lz_range *range_of(struct lz_mm *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nr && m->r[lo].start <= addr ? &m->r[lo] : NULL;
}

/* ---- the watchdog ---- */

enum { WD_ADD = 1, WD_DONE, WD_FINISH };

struct wd_msg {
	int type, id;
	pid_t hpid;
};

struct wd_task {
	int id, uffd, pidfd;
	pid_t hpid;
};

static void kill_tree(pid_t pid, int depth);

static int kill_subtree(pid_t child, void *depth)
{
	kill_tree(child, *(int *)depth + 1);
	return 0;
}

/* @pid and everything below it, children first (their list is read before the kill). */
static void kill_tree(pid_t pid, int depth)
{
	if (depth < 64)
		proc_children(pid, kill_subtree, &depth);
	kill(pid, SIGKILL);
}

static void __attribute__((noreturn)) watchdog(int sk)
{
	struct wd_task *t = NULL;
	int nr = 0;

	name_undoer("lazy-watchdog");
	/* only the daemon's end (or SIGKILL) ends it: a ^C to the group stops the daemon, and we act */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct wd_msg m;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		ssize_t r = recvmsg(sk, &h, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != sizeof(m))
			break;
		if (m.type == WD_FINISH)
			_exit(0);
		if (m.type == WD_DONE) {
			for (int i = 0; i < nr; i++)
				if (t[i].id == m.id && t[i].uffd >= 0) {
					close(t[i].uffd);
					t[i].uffd = -1;
				}
			continue;
		}
		c = CMSG_FIRSTHDR(&h);
		if (m.type != WD_ADD || !c || c->cmsg_type != SCM_RIGHTS)
			continue;
		t = realloc(t, (nr + 1) * sizeof(*t));
		if (!t)
			break;
		memcpy(&t[nr].uffd, CMSG_DATA(c), sizeof(int));
		t[nr].id = m.id;
		t[nr].hpid = m.hpid;
		t[nr].pidfd = m.hpid > 0 ? syscall(SYS_pidfd_open, m.hpid, 0) : -1;
		nr++;
	}
	/* the daemon is gone with pages still to come: no fault may ever read zeros */
	for (int i = 0; i < nr; i++) {
		if (t[i].uffd < 0 || t[i].pidfd < 0)
			continue;
		pr_err("lazy-pages watchdog: the lazy-pages daemon died before the memory of process %d was whole: "
		       "killing it and its children\n", t[i].hpid);
		/* the pidfd holds it: still ours if it answers signal 0 */
		if (syscall(SYS_pidfd_send_signal, t[i].pidfd, 0, NULL, 0) == 0) {
			kill_tree(t[i].hpid, 0);
			syscall(SYS_pidfd_send_signal, t[i].pidfd, SIGKILL, NULL, 0);
		}
		close(t[i].uffd);
		t[i].uffd = -1;
	}
	/*
	 * A process forked since has no pid we know; killed with its
	 * ancestors above, unless it was orphaned before. Its copy is kept
	 * until its mm is gone (ESRCH to a probe at page 0, where nothing is
	 * ever mapped): closed before, its faults would read zeros.
	 */
	for (bool said = false;; said = true) {
		int left = 0;

		for (int i = 0; i < nr; i++) {
			struct uffdio_zeropage z = { .range = { 0, PAGE }, .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };

			if (t[i].uffd < 0)
				continue;
			if (ioctl(t[i].uffd, UFFDIO_ZEROPAGE, &z) && errno == ESRCH) {
				close(t[i].uffd);
				t[i].uffd = -1;
				continue;
			}
			if (!left++ && !said)
				pr_err("lazy-pages watchdog: a process forked after the restore (its pid unknown) still "
				       "waits for pages: it hangs until killed\n");
		}
		if (!left)
			break;
		sleep(1);
	}
	_exit(1);
}

static int start_watchdog(struct lz *lz)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		pr_perror("socketpair");
		return -1;
	}
	lz->wd_pid = fork();
	if (lz->wd_pid < 0) {
		pr_perror("fork");
		return -1;
	}
	if (lz->wd_pid == 0) {
		close(sp[0]);
		close(lz->lsk);
		watchdog(sp[1]);
	}
	close(sp[1]);
	lz->wd_sk = sp[0];
	return 0;
}

static int wd_send(struct lz *lz, int type, int id, pid_t hpid, int fd)
{
	struct wd_msg m = { type, id, hpid };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		h.msg_control = cbuf;
		h.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(lz->wd_sk, &h, MSG_NOSIGNAL) != sizeof(m)) {
		pr_perror("the lazy-pages watchdog is gone");
		return -1;
	}
	return 0;
}

/* ---- serving ---- */

static int read_events(struct lz *lz, struct lz_mm *m);

static void mm_done(struct lz *lz, struct lz_mm *m, const char *why)
{
	if (m->uffd < 0)
		return;
	/* what is queued (a fork's event above all) is read first: nobody reads it after */
	if (!strcmp(why, "every page is in") && read_events(lz, m) < 0)
		pr_debug("lazy pages: process %d: its last events\n", m->pid);
	pr_info("lazy pages: process %d%s: %s (%lu pages copied, %lu zero pages)\n", m->pid ? m->pid : m->hpid,
		m->pid ? "" : " (forked since)", why, (unsigned long)m->copied, (unsigned long)m->zeroed);
	/* the watchdog's copy first: closing ours last drops the registration */
	wd_send(lz, WD_DONE, m->id, 0, -1);
	close(m->uffd);
	m->uffd = -1;
	if (m->sk >= 0)
		close(m->sk);
	m->sk = -1;
	free(m->r);
	m->r = NULL;
	m->nr = 0;
}

static int zero_page(struct lz_mm *m, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { addr, PAGE }, .mode = 0 };

	if (ioctl(m->uffd, UFFDIO_ZEROPAGE, &z) == 0) {
		m->zeroed++;
		return 0;
	}
	if (errno == EEXIST) {
		struct uffdio_range w = { addr, PAGE };

		ioctl(m->uffd, UFFDIO_WAKE, &w);
		return 0;
	}
	if (errno == EAGAIN)
		return 1;
	return 0;	/* ENOENT, ESRCH: not ours any more */
}

/*
 * Copy the @nr pages at @buf in at @addr. 0: done (or given up on), 1: try
 * again after the events, -1: fatal, -2: the process is gone.
 */
static int put_pages(struct lz_mm *m, uint64_t addr, void *buf, size_t nr)
{
	struct uffdio_copy cp = { .dst = addr, .src = (uint64_t)buf, .len = nr * PAGE, .mode = 0 };

	if (ioctl(m->uffd, UFFDIO_COPY, &cp) == 0) {
		m->copied += nr;
		return ranges_cut(m, addr, addr + nr * PAGE, NULL, NULL) ? -1 : 0;
	}
	if (cp.copy > 0) {
		m->copied += cp.copy / PAGE;
		if (ranges_cut(m, addr, addr + cp.copy, NULL, NULL))
			return -1;
		return 1;
	}
	switch (errno) {
	case EAGAIN:
		return 1;	/* the layout is changing: its event first */
	case EEXIST:
		/* something is there already: page by page, keeping what is */
		if (nr > 1) {
			for (size_t i = 0; i < nr; i++) {
				int ret = put_pages(m, addr + i * PAGE, (char *)buf + i * PAGE, 1);

				if (ret)
					return ret;
			}
			return 0;
		} else {
			struct uffdio_range w = { addr, PAGE };

			ioctl(m->uffd, UFFDIO_WAKE, &w);
			return ranges_cut(m, addr, addr + PAGE, NULL, NULL) ? -1 : 0;
		}
	case ENOENT:
		/*
		 * No registered area there: the kernel looks the area up before
		 * it sees an mremap() in flight, whose event then comes. An area
		 * a forked child did not inherit (MADV_DONTFORK) never comes back:
		 * given up on after a second without it.
		 */
		if (m->enoent_addr != addr) {
			m->enoent_addr = addr;
			m->enoent_since = mono_ms();
			return 1;
		}
		if (mono_ms() - m->enoent_since < 1000)
			return 1;
		pr_debug("lazy pages: %lx+%zu pages of process %d: no registered area there any more\n",
			 (unsigned long)addr, nr, m->pid);
		m->enoent_addr = 0;
		return ranges_cut(m, addr, addr + nr * PAGE, NULL, NULL) ? -1 : 0;
	case ESRCH:
		return -2;
	}
	pr_perror("lazy pages: UFFDIO_COPY at %lx of process %d", (unsigned long)addr, m->pid);
	return -1;
}

/* ---- pages with the dumping host: asked for ahead, taken in order ---- */

static struct lz_ask *ask_at(struct lz *lz, int i)
{
	return &lz->ask[(lz->ask_head + i) % LZ_ASK_RING];
}

static int remote_ask(struct lz *lz, struct lz_mm *m, struct lz_range *r, uint64_t addr, uint64_t nr)
{
	struct lz_ask *a;

	if (lz->nr_ask == LZ_ASK_RING) {
		pr_err("lazy pages: too many asks in flight\n");
		return -1;
	}
	a = ask_at(lz, lz->nr_ask);
	*a = (struct lz_ask){ m, lz->src[r->src].pid, addr, r->off + (addr - r->start), nr, ++lz->ask_seq };
	if (ps_lazy_ask(a->pid, a->src, nr))
		return -1;
	lz->nr_ask++;
	return 0;
}

/*
 * The answer to the oldest ask, copied in where its pages are still to come
 * (a fault, an mremap() or an MADV_DONTNEED may have taken some since: the
 * range at each address must still say it is those bytes). @mp, @addrp:
 * which ask it was. As put_pages(); 1 leaves the rest to be asked again.
 */
static int remote_take(struct lz *lz, struct lz_mm **mp, uint64_t *addrp, uint64_t *seqp)
{
	struct lz_ask a = lz->ask[lz->ask_head];
	struct lz_mm *m = a.m;
	int ret = 0;

	if (!lz->nr_ask) {
		pr_err("lazy pages: an answer taken that was not asked for\n");
		return -1;
	}
	*seqp = a.seq;
	lz->ask_head = (lz->ask_head + 1) % LZ_ASK_RING;
	lz->nr_ask--;
	*mp = m;
	*addrp = a.addr;
	/* part by part, each copied in while it is in the cache */
	for (uint64_t done = 0, nr; done < a.nr; done += nr) {
		uint64_t src = a.src + done * PAGE, start = a.addr + done * PAGE, end, at;

		if (ps_lazy_take(a.pid, src, a.nr - done, lz->buf, &nr))
			return -1;
		lz->remote += nr;
		end = start + nr * PAGE;
		for (at = start; at < end && m->uffd >= 0 && ret >= 0;) {
			struct lz_range *r = range_of(m, at);
			uint64_t run;
			int put;

			if (!r || r->csum || r->off + (at - r->start) != src + (at - start)) {
				at += PAGE;
				continue;
			}
			run = (r->end < end ? r->end : end) - at;
			put = put_pages(m, at, lz->buf + (at - start), run / PAGE);
			if (put)
				ret = put;
			if (put == 1)
				break;	/* the rest of this part: asked for again */
			at += run;
		}
	}
	if (ret == 1)
		m->ahead = 0;	/* what is left is asked for again */
	return ret;
}

/* Take the oldest answer; a process that went meanwhile is done with. */
static int remote_take_one(struct lz *lz, struct lz_mm **mp, uint64_t *addrp)
{
	uint64_t seq;
	int ret = remote_take(lz, mp, addrp, &seq);

	if (ret == -2) {
		mm_done(lz, *mp, "gone");
		return 0;
	}
	return ret;
}

/* Every answer still to come, taken (and copied in where still wanted). */
static int remote_drain(struct lz *lz)
{
	while (lz->nr_ask) {
		struct lz_mm *m;
		uint64_t addr;

		if (remote_take_one(lz, &m, &addr) < 0)
			return -1;
	}
	return 0;
}

/* A fault at @addr of a range with the dumping host: asked for after what is in flight, all taken. */
static int remote_fault(struct lz *lz, struct lz_mm *m, struct lz_range *r, uint64_t addr)
{
	uint64_t nr = (r->end - addr) / PAGE, seq;

	if (nr > LZ_FAULT)
		nr = LZ_FAULT;
	if (remote_ask(lz, m, r, addr, nr))
		return -1;
	seq = lz->ask_seq;
	for (;;) {
		struct lz_mm *tm;
		uint64_t ta, ts;
		int ret = remote_take(lz, &tm, &ta, &ts);
		bool mine = ts == seq;

		if (mine && ret == 0 && m->uffd >= 0) {
			/*
			 * The faulting thread was woken by the copy that filled its
			 * page (this one or one asked before); a page that is
			 * still to come moved meanwhile (again, after the events),
			 * one no longer to come was discarded (a zero page).
			 */
			if (range_of(m, addr))
				return 1;
			return zero_page(m, addr);
		}
		if (mine)
			return ret;
		if (ret == -2)
			mm_done(lz, tm, "gone");
		else if (ret < 0)
			return -1;
	}
}

/*
 * Copy up to @max pages from @addr (in a range still to come), each checked
 * first. 0: done (or given up on), 1: try again after the events, -1: fatal,
 * -2: the process is gone.
 */
static int copy_pages(struct lz *lz, struct lz_mm *m, uint64_t addr, size_t max)
{
	struct lz_range *r = range_of(m, addr);
	struct lz_src *src;
	size_t nr, bad;
	uint64_t first;

	if (!r)
		return 0;
	if (!r->csum)
		return remote_fault(lz, m, r, addr);
	src = &lz->src[r->src];
	nr = (r->end - addr) / PAGE;
	if (nr > max)
		nr = max;
	first = (addr - r->start) / PAGE;
	if (pread(src->fd, lz->buf, nr * PAGE, r->off + first * PAGE) != (ssize_t)(nr * PAGE)) {
		pr_err("lazy pages: %s: can't read %zu pages at offset %lu (address %lx of process %d): %s\n",
		       src->name, nr, (unsigned long)(r->off + first * PAGE), (unsigned long)addr, src->pid,
		       errno ? strerror(errno) : "file too short");
		return -1;
	}
	bad = csum_check_pages(lz->buf, nr, r->csum + first);
	if (bad < nr) {
		pr_err("lazy pages: %s: the page at offset %lu (address %lx of process %d) is damaged (checksum "
		       "mismatch): the restored tree is killed\n", src->name,
		       (unsigned long)(r->off + (first + bad) * PAGE), (unsigned long)(addr + bad * PAGE), src->pid);
		return -1;
	}
	return put_pages(m, addr, lz->buf, nr);
}

static int serve_fault(struct lz *lz, struct lz_mm *m, uint64_t addr)
{
	int ret;

	addr &= ~(PAGE - 1);
	/* a fault is mostly followed by its neighbours: take some along */
	ret = range_of(m, addr) ? copy_pages(lz, m, addr, 16) : zero_page(m, addr);
	if (ret == 1 && m->nr_faults < (int)ARRAY_SIZE(m->faults)) {
		m->faults[m->nr_faults++] = addr;
		return 0;
	}
	return ret == 1 ? -1 : ret;
}

static struct lz_mm *mm_new(struct lz *lz, int uffd, pid_t pid, pid_t hpid)
{
	struct lz_mm *m = calloc(1, sizeof(*m)), **n;

	if (!m)
		return NULL;
	n = realloc(lz->mm, (lz->nr_mm + 1) * sizeof(*n));
	if (!n) {
		free(m);
		return NULL;
	}
	lz->mm = n;
	lz->mm[lz->nr_mm++] = m;
	m->uffd = uffd;
	m->pid = pid;
	m->hpid = hpid;
	m->sk = -1;
	m->id = lz->next_id++;
	return m;
}

/*
 * A forked child has no copy of its parent's MADV_DONTFORK areas, and an
 * empty one of its MADV_WIPEONFORK areas (zeros): neither gets the parent's
 * pages still to come. The parent's smaps say which ones (read while the
 * fork waits for its event, after the kernel let go of the parent's mm).
 */
static int cut_not_inherited(struct lz_mm *m, struct lz_mm *c)
{
	char path[64], line[512];
	unsigned long s = 0, e = 0;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps", m->hpid);
	f = fopen(path, "r");
	if (!f) {
		pr_perror("lazy pages: can't read %s for a fork", path);
		return -1;
	}
	while (!ret && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			s = a;
			e = b;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) || (!strstr(line, " wf") && !strstr(line, " dc")))
			continue;
		pr_debug("lazy pages: %lx-%lx of process %d is not its children's (wipe or don't copy on fork)\n",
			 s, e, m->pid);
		ret = ranges_cut(c, s, e, NULL, NULL);
	}
	fclose(f);
	return ret;
}

static int read_events(struct lz *lz, struct lz_mm *m)
{
	struct uffd_msg msg[16];

	for (;;) {
		ssize_t n = read(m->uffd, msg, sizeof(msg));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			if (n < 0)
				pr_perror("lazy pages: reading the userfaultfd of process %d", m->pid);
			return -2;
		}
		for (size_t i = 0; i < n / sizeof(msg[0]); i++) {
			struct uffd_msg *u = &msg[i];
			int ret = 0;

			switch (u->event) {
			case UFFD_EVENT_PAGEFAULT:
				ret = serve_fault(lz, m, u->arg.pagefault.address);
				break;
			case UFFD_EVENT_FORK: {
				/* the child's missing pages are what ours are: the same still to come */
				struct lz_mm *c = mm_new(lz, u->arg.fork.ufd, 0, 0);

				if (!c || !(c->r = malloc((m->nr + 1) * sizeof(*c->r)))) {
					ret = -1;
					break;
				}
				memcpy(c->r, m->r, m->nr * sizeof(*c->r));
				c->nr = m->nr;
				c->registered = true;
				fcntl(c->uffd, F_SETFD, FD_CLOEXEC);
				ret = wd_send(lz, WD_ADD, c->id, 0, c->uffd);
				/*
				 * A parent forked since has no pid we know: its own
				 * children's wipe-on-fork areas are not found (lazy-pages.md).
				 */
				if (!ret && m->hpid > 0 && m->nr)
					ret = cut_not_inherited(m, c);
				pr_debug("lazy pages: process %d forked (uffd %d)\n", m->pid, c->uffd);
				break;
			}
			case UFFD_EVENT_REMAP:
				pr_debug("lazy pages: process %d: %llx+%llx moved to %llx\n", m->pid,
					 (unsigned long long)u->arg.remap.from, (unsigned long long)u->arg.remap.len,
					 (unsigned long long)u->arg.remap.to);
				ret = ranges_move(m, u->arg.remap.from, u->arg.remap.to, u->arg.remap.len);
				break;
			case UFFD_EVENT_REMOVE:
			case UFFD_EVENT_UNMAP:
				/* discarded pages read as zeros from now on; unmapped ones are no more */
				pr_debug("lazy pages: process %d: %llx-%llx %s\n", m->pid,
					 (unsigned long long)u->arg.remove.start, (unsigned long long)u->arg.remove.end,
					 u->event == UFFD_EVENT_REMOVE ? "discarded" : "unmapped");
				ret = ranges_cut(m, u->arg.remove.start, u->arg.remove.end, NULL, NULL);
				break;
			default:
				pr_err("lazy pages: unknown userfaultfd event %d\n", u->event);
				ret = -1;
			}
			if (ret)
				return ret;
		}
	}
}

static struct lz_expect *expected(struct lz *lz, pid_t pid)
{
	for (int i = 0; i < lz->nr_exp; i++)
		if (lz->exp[i].pid == pid)
			return &lz->exp[i];
	return NULL;
}

/* A restorer's userfaultfd: enabled, handed to the watchdog, answered. */
static int take_task(struct lz *lz, pid_t pid, pid_t hpid, int uffd, int sk)
{
	struct uffdio_api api = { .api = UFFD_API, .features = LAZY_FEATURES };
	struct lz_expect *e = expected(lz, pid);
	struct lz_mm *m;
	int32_t ok = 0;

	if (!e || e->got) {
		pr_err("lazy pages: process %d (ours %d) is not one of the images' with lazy pages\n", pid, hpid);
		ok = EINVAL;
	} else if (ioctl(uffd, UFFDIO_API, &api)) {
		ok = errno;
		pr_perror("lazy pages: UFFDIO_API for process %d", pid);
	}
	if (ok) {
		send(sk, &ok, sizeof(ok), MSG_NOSIGNAL);
		close(uffd);
		close(sk);
		return 0;	/* the restore fails: so will our wait for it */
	}
	m = mm_new(lz, uffd, pid, hpid);
	if (!m)
		return -1;
	e->got = true;
	m->r = e->r;
	m->nr = e->nr;
	e->r = NULL;
	m->sk = sk;
	if (wd_send(lz, WD_ADD, m->id, hpid, uffd))
		return -1;
	if (send(sk, &ok, sizeof(ok), MSG_NOSIGNAL) != sizeof(ok))
		pr_pwarn("lazy pages: process %d went away", pid);
	pr_debug("lazy pages: process %d (ours %d): %zu ranges to fill\n", pid, hpid, m->nr);
	return 0;
}

static int read_conn(struct lz *lz, int sk)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	struct lazy_msg m;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int fds[2] = { -1, -1 };
	pid_t hpid = 0;
	ssize_t r = recvmsg(sk, &h, MSG_CMSG_CLOEXEC);

	if (r <= 0)
		return r < 0 && errno == EINTR ? 0 : 1;	/* gone */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS)
			memcpy(fds, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0) < sizeof(fds) ? c->cmsg_len - CMSG_LEN(0) :
			       sizeof(fds));
		if (c->cmsg_type == SCM_CREDENTIALS)
			hpid = ((struct ucred *)CMSG_DATA(c))->pid;
	}
	if (r == sizeof(m) && m.magic == LAZY_MAGIC_TASK && fds[0] >= 0 && fds[1] >= 0)
		return take_task(lz, m.arg, hpid, fds[0], fds[1]) ? -1 : 0;
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (r == sizeof(m) && m.magic == LAZY_MAGIC_CRIU) {
		pr_info("lazy pages: criu restore (pid %d) connected\n", m.arg);
		return 0;
	}
	if (r == sizeof(m) && m.magic == LAZY_MAGIC_DONE) {
		lz->outcome_known = true;
		lz->committed = m.arg == 1;
		pr_info("lazy pages: the restore %s\n", lz->committed ? "is done" : "failed");
		return 0;
	}
	pr_err("lazy pages: a message that is not ours on the socket\n");
	return 1;
}

/* Read the images as restore does, and what is lazy in each process. */
static int read_images(struct lz *lz, struct rst_tree *tr)
{
	tr->dfd = lz->dfd;
	image_trust_required = 1;
	if (images_dir_trusted(opts.imgs_dir) || image_trusted(tr->dfd, opts.imgs_dir))
		return -1;
	/* every page is the daemon's to serve: none filled in huge pages by a restoring process */
	tr->cow.no_huge = 1;
	tr->lazy_serve = 1;
	if (read_all_images(tr))
		return -1;
	lz->exp = calloc(tr->nr + 1, sizeof(*lz->exp));
	/* a process's pages may be in two files (pagemap_head.nr_files): a source each */
	lz->src = calloc(2 * tr->nr + 1, sizeof(*lz->src));
	if (!lz->exp || !lz->src)
		return -1;
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];
		struct rst_pagemap *pms;
		struct lz_expect *e;
		size_t max;
		ssize_t n;

		if (rc->zombie || rc->vm_child || !rc->mm)
			continue;
		max = rc->nr_pms + rc->cow.nr_areas + rc->mm->n_vmas + 1;
		pms = malloc(max * sizeof(*pms));
		if (!pms)
			return -1;
		n = cow_restorer_pagemap(&rc->cow, pms, max);
		if (n >= 0)
			n = lazy_split(rc, pms, n, max, true);
		if (n <= 0) {
			free(pms);
			if (n < 0)
				return -1;
			continue;
		}
		struct lz_src *s = &lz->src[lz->nr_src];

		s->fd = chain_open_pages(tr->dfd, rc->pages_name);
		if (s->fd < 0)
			return -1;
		snprintf(s->name, sizeof(s->name), "%s", rc->pages_what);
		s->pid = rc->pid;
		/* not gathered (gather_chained()): the second file's pages are read from it */
		if (rc->chained & CHAINED_FILE1) {
			s[1].fd = chain_open_pages(tr->dfd, rc->pages1_name);
			if (s[1].fd < 0)
				return -1;
			snprintf(s[1].name, sizeof(s[1].name), "%s", rc->pages1_name);
			s[1].pid = rc->pid;
		}
		e = &lz->exp[lz->nr_exp++];
		e->pid = rc->pid;
		e->r = calloc(n, sizeof(*e->r));
		if (!e->r)
			return -1;
		for (ssize_t k = 0; k < n; k++) {
			lz->need_remote |= !pms[k].csum;
			e->r[k].start = pms[k].vaddr;
			e->r[k].end = pms[k].vaddr + pms[k].nr_pages * PAGE;
			/* with the dumping host: off is where they are there, what PS_GET asks for */
			e->r[k].off = pms[k].csum ? pms[k].off : pms[k].vaddr;
			/* the entries (and their checksums) stay with the tree, which we keep */
			e->r[k].csum = pms[k].csum;
			if (pms[k].file && !(rc->chained & CHAINED_FILE1)) {
				pr_err("lazy pages: process %d: pages at %lx of a second pages file gathered\n", rc->pid,
				       (unsigned long)pms[k].vaddr);
				free(pms);
				return -1;
			}
			e->r[k].src = lz->nr_src + pms[k].file;
		}
		e->nr = n;
		qsort(e->r, e->nr, sizeof(*e->r), range_cmp);
		lz->nr_src += rc->chained & CHAINED_FILE1 ? 2 : 1;
		free(pms);
		pr_info("lazy pages: process %d: %zu ranges of %s%s%s\n", rc->pid, e->nr, s->name,
			rc->chained & CHAINED_FILE1 ? " and " : "", rc->chained & CHAINED_FILE1 ? s[1].name : "");
	}
	return 0;
}

static int listen_socket(struct lz *lz)
{
	struct sockaddr_un a;

	if (socket_path(&a))
		return -1;
	lz->lsk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lz->lsk < 0) {
		pr_perror("socket");
		return -1;
	}
	unlink(a.sun_path);
	if (bind(lz->lsk, (struct sockaddr *)&a, sizeof(a)) || chmod(a.sun_path, 0600) || listen(lz->lsk, 16)) {
		pr_perror("can't listen at %s", a.sun_path);
		return -1;
	}
	pr_info("lazy pages: listening at %s\n", a.sun_path);
	return 0;
}

static bool all_done(struct lz *lz)
{
	if (lz->nr_conns || !lz->ever_conn)
		return false;
	for (int i = 0; i < lz->nr_mm; i++)
		if (lz->mm[i]->uffd >= 0)
			return false;
	return true;
}

/* Index of the first of @nr sorted ranges that ends after @addr (@nr if none). */
static size_t range_after(const struct lz_range *r, size_t nr, uint64_t addr)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first part of a range with the dumping host at or after @from, or NULL. */
static struct lz_range *remote_after(struct lz_mm *m, uint64_t from)
{
	size_t lo = range_after(m->r, m->nr, from);

	for (; lo < m->nr; lo++)
		if (!m->r[lo].csum)
			return &m->r[lo];
	return NULL;
}

/* Ask for the next background chunk, round robin: 1 asked, 0 nothing left to ask for, -1. */
static int remote_next(struct lz *lz, int *rr)
{
	for (int k = 0; k < lz->nr_mm; k++) {
		struct lz_mm *m = lz->mm[(*rr + k) % lz->nr_mm];
		struct lz_range *r;
		uint64_t addr, nr;

		if (m->uffd < 0 || !m->registered || m->nr_faults)
			continue;
		r = remote_after(m, m->ahead);
		if (!r)
			continue;
		addr = r->start > m->ahead ? r->start : m->ahead;
		nr = (r->end - addr) / PAGE;
		if (nr > LZ_CHUNK)
			nr = LZ_CHUNK;
		m->ahead = addr + nr * PAGE;
		*rr = (*rr + k + 1) % lz->nr_mm;
		return remote_ask(lz, m, r, addr, nr) ? -1 : 1;
	}
	return 0;
}

/* The background copy from the dumping host: the asks kept in flight, one answer taken. 0: nothing to do. */
static int remote_background(struct lz *lz, int *rr)
{
	struct lz_mm *m;
	uint64_t addr;

	while (lz->nr_ask < LZ_AHEAD) {
		int ret = remote_next(lz, rr);

		if (ret < 0)
			return -1;
		if (ret)
			continue;
		if (lz->nr_ask)
			break;
		/* all asked for and taken: what is left (moved, or to try again) from the start */
		for (int i = 0; i < lz->nr_mm; i++)
			lz->mm[i]->ahead = 0;
		ret = remote_next(lz, rr);
		if (ret <= 0)
			return ret;
	}
	if (remote_take_one(lz, &m, &addr) < 0)
		return -1;
	return 1;
}

/* One chunk of the background copy, for the next process with pages to come; false if none. */
static int background(struct lz *lz, int *rr)
{
	if (lz->need_remote) {
		int ret = remote_background(lz, rr);

		if (ret)
			return ret;
	}
	for (int k = 0; k < lz->nr_mm; k++) {
		struct lz_mm *m = lz->mm[(*rr + k) % lz->nr_mm];
		int ret;

		if (m->uffd < 0 || !m->registered || m->nr_faults)
			continue;
		if (!m->nr) {
			mm_done(lz, m, "every page is in");
			continue;
		}
		*rr = (*rr + k + 1) % lz->nr_mm;
		ret = copy_pages(lz, m, m->r[0].start, 256);
		if (ret == 1 && m->enoent_addr)
			return 2;	/* an event to wait for: not at full speed */
		if (ret == -2)
			mm_done(lz, m, "gone");
		return ret == -1 ? -1 : ret == 2 ? 2 : 1;
	}
	return 0;
}

enum { P_LISTEN, P_WATCHDOG, P_CONN, P_RESTORER, P_UFFD };

static int serve(struct lz *lz)
{
	int rr = 0, busy = 0;

	for (;;) {
		size_t max = 2 + lz->nr_conns + 2 * lz->nr_mm;
		struct pollfd *p;
		struct lz_mm **who;
		int *kind, n = 0, ret;

#define ADD_POLL(f, k, m)	do { p[n] = (struct pollfd){ .fd = (f), .events = POLLIN }; \
				     kind[n] = (k); who[n++] = (m); } while (0)
		if (all_done(lz))
			return 0;
		if (check_interrupted())
			return -1;
		if (max > lz->poll_max) {
			lz->poll_max = max * 2;
			lz->p = realloc(lz->p, lz->poll_max * sizeof(*lz->p));
			lz->who = realloc(lz->who, lz->poll_max * sizeof(*lz->who));
			lz->kind = realloc(lz->kind, lz->poll_max * sizeof(*lz->kind));
			if (!lz->p || !lz->who || !lz->kind)
				return -1;
		}
		p = lz->p;
		who = lz->who;
		kind = lz->kind;
		ADD_POLL(lz->lsk, P_LISTEN, NULL);
		ADD_POLL(lz->wd_sk, P_WATCHDOG, NULL);
		for (int i = 0; i < lz->nr_conns; i++)
			ADD_POLL(lz->conns[i], P_CONN, NULL);
		for (int i = 0; i < lz->nr_mm; i++) {
			struct lz_mm *m = lz->mm[i];

			if (m->uffd < 0)
				continue;
			if (m->sk >= 0)
				ADD_POLL(m->sk, P_RESTORER, m);
			ADD_POLL(m->uffd, P_UFFD, m);
		}
#undef ADD_POLL
		ret = poll(p, n, busy == 1 ? 0 : busy == 2 ? 2 : 1000);
		if (ret < 0 && errno != EINTR) {
			pr_perror("poll");
			return -1;
		}
		for (int i = 0; i < n && ret > 0; i++) {
			struct lz_mm *m = who[i];

			if (!p[i].revents)
				continue;
			switch (kind[i]) {
			case P_WATCHDOG:
				pr_err("lazy pages: the watchdog is gone\n");
				return -1;
			case P_LISTEN: {
				int sk = accept4(lz->lsk, NULL, NULL, SOCK_CLOEXEC), on = 1;

				if (sk >= 0 && lz->nr_conns < (int)ARRAY_SIZE(lz->conns)) {
					setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
					lz->conns[lz->nr_conns++] = sk;
					lz->ever_conn = true;
				} else if (sk >= 0) {
					close(sk);
				}
				break;
			}
			case P_CONN:
				ret = read_conn(lz, p[i].fd);
				if (ret < 0)
					return -1;
				if (ret > 0) {
					close(p[i].fd);
					for (int k = 0; k < lz->nr_conns; k++)
						if (lz->conns[k] == p[i].fd)
							lz->conns[k] = lz->conns[--lz->nr_conns];
				}
				ret = 1;
				break;
			case P_RESTORER: {
				int32_t nr = -1;

				if (m->sk < 0 || m->uffd < 0)
					break;
				if (read(m->sk, &nr, sizeof(nr)) != sizeof(nr) || nr < 0) {
					mm_done(lz, m, "its restorer went away");
					break;
				}
				m->registered = true;
				close(m->sk);
				m->sk = -1;
				pr_debug("lazy pages: process %d registered %d areas\n", m->pid, nr);
				break;
			}
			case P_UFFD:
				if (m->uffd < 0)
					break;
				ret = read_events(lz, m);
				if (ret == -2)
					mm_done(lz, m, "gone");
				else if (ret)
					return -1;
				ret = 1;
				break;
			}
		}
		/* faults that met a changing layout: again, now that its events are read */
		for (int i = 0; i < lz->nr_mm; i++) {
			struct lz_mm *m = lz->mm[i];
			int nf = m->nr_faults;

			m->nr_faults = 0;
			for (int k = 0; k < nf && m->uffd >= 0; k++) {
				ret = serve_fault(lz, m, m->faults[k]);
				if (ret == -2)
					mm_done(lz, m, "gone");
				else if (ret < 0)
					return -1;
			}
		}
		busy = background(lz, &rr);
		if (busy < 0)
			return -1;
	}
}

int cr_lazy_pages(void)
{
	struct rst_tree tr = { .dfd = -1, .core_fd = -1 };
	struct lz lz = { .dfd = -1, .lsk = -1, .wd_sk = -1 };
	int ret = 1, status;
	uint64_t pages = 0;
	bool connected = false;

	lz.t0 = mono_ms();
	if (!lazy_pages_supported()) {
		pr_err("lazy pages: this kernel does not let criu take userfaultfd faults with the fork, remap, remove "
		       "and unmap events (see criu check --feature lazy_pages)\n");
		return 1;
	}
	if (ns_init_self())
		return 1;
	inherit_fd_unused = true;
	lz.dfd = open(opts.imgs_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (lz.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return 1;
	}
	lz.buf = mmap(NULL, PS_LAZY_MAX * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* the images may have pages with the dumping host (dump --lazy-pages): those are ours to take */
	opts.lazy_pages = true;
	/*
	 * No images here: they come from the page server (page-server
	 * --lazy-pages), before we read them, over the same connection.
	 */
	if (opts.page_server && faccessat(lz.dfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		if (ps_lazy_connect(0, lz.dfd))
			goto out;
		connected = true;
	}
	if (lz.buf == MAP_FAILED || read_images(&lz, &tr))
		goto out;
	if (lz.need_remote && !opts.page_server) {
		pr_err("lazy pages: the images leave pages with the dumping host (dump --lazy-pages): run criu "
		       "lazy-pages with --page-server --address A --port N of that dump\n");
		goto out;
	}
	/*
	 * Before the watchdog, which inherits the connection: the dump resumes its
	 * tree when the connection closes, so if we die that happens only once the
	 * watchdog has killed the tree here (never two trees running).
	 */
	if (opts.page_server && !connected && ps_lazy_connect(img_get_dump_id(), -1))
		goto out;
	if (listen_socket(&lz) || start_watchdog(&lz))
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if (opts.status_fd >= 0) {
		char c = 0;

		if (write(opts.status_fd, &c, 1) != 1)
			pr_pwarn("--status-fd %d", opts.status_fd);
		close(opts.status_fd);
	}
	if (serve(&lz) == 0)
		ret = 0;
	for (int i = 0; i < lz.nr_mm; i++) {
		pages += lz.mm[i]->copied;
		if (lz.mm[i]->uffd >= 0)
			ret = 1;
	}
	for (int i = 0; i < lz.nr_exp; i++)
		if (!lz.exp[i].got && lz.outcome_known && lz.committed) {
			pr_err("lazy pages: process %d never came\n", lz.exp[i].pid);
			ret = 1;
		}
	if (ret == 0 && lz.outcome_known && !lz.committed)
		ret = 1;
	if (ret == 0) {
		wd_send(&lz, WD_FINISH, 0, 0, -1);
		pr_info("lazy pages: every page is in: %lu pages in %ld ms (%ld ms of CPU)\n", (unsigned long)pages,
			(long)(mono_ms() - lz.t0), cpu_ms());
		if (opts.page_server) {
			/* answers to asks for pages that came another way meanwhile */
			if (remote_drain(&lz))
				pr_warn("lazy pages: the last answers of the dumping host did not come\n");
			pr_info("lazy pages: %lu pages came from the dumping host\n", (unsigned long)lz.remote);
			ps_lazy_finish();
		}
	} else {
		pr_err("lazy pages: stopped before every page was in\n");
	}
out:
	if (lz.wd_sk >= 0)
		close(lz.wd_sk);	/* without FINISH: the watchdog kills what is left */
	for (int i = 0; i < lz.nr_mm; i++)
		if (lz.mm[i]->uffd >= 0)
			close(lz.mm[i]->uffd);
	if (lz.wd_pid > 0)
		waitpid(lz.wd_pid, &status, 0);
	/* the tree here is whole or gone: the dump may kill or resume its own */
	ps_close();
	if (lz.lsk >= 0) {
		struct sockaddr_un a;

		if (!socket_path(&a))
			unlink(a.sun_path);
	}
	return ret;
}

/* ---- criu page-server --lazy-pages: the lazy pages of a finished dump's images ---- */

/*
 * The source of a migration from images: a plain `criu dump` (a chain,
 * compressed, in two pages files: read as the daemon reads them,
 * read_images()) serves over TCP, in the protocol of dump --lazy-pages,
 * (1) the images the restore needs, with the pages of the areas the
 * daemon fills left here (pagemap entries marked lazy, one uncompressed
 * pages file holding the rest: the pages the restore fills itself), then
 * (2) the lazy pages, each checked against its checksum before it goes
 * (a damaged page is refused, naming file and offset). The destination
 * needs no copy of its own. See Documentation/lazy-pages.md.
 */
#define LS_TMP_FMT	".lazy-serve.%d"

static struct {
	struct lz lz;
	struct rst_tree tr;
	int tmp;		/* the rewritten pagemaps and pages files */
	char tmp_name[32];
	char **skip;		/* the names in -D they replace */
	int nr_skip;
} ls = { .tmp = -1 };

static struct lz_expect *ls_expect(pid_t pid)
{
	for (int i = 0; i < ls.lz.nr_exp; i++)
		if (ls.lz.exp[i].pid == pid)
			return &ls.lz.exp[i];
	return NULL;
}

static struct lz_range *ls_range(struct lz_expect *e, uint64_t addr)
{
	size_t lo = range_after(e->r, e->nr, addr);

	return lo < e->nr && e->r[lo].start <= addr ? &e->r[lo] : NULL;
}

static int ls_read(pid_t pid, uint64_t vaddr, uint64_t nr, void *data, uint64_t *csum)
{
	struct lz_expect *e = ls_expect(pid);

	for (uint64_t done = 0, n; done < nr; done += n) {
		uint64_t addr = vaddr + done * PAGE, first, off;
		struct lz_range *r = e ? ls_range(e, addr) : NULL;
		struct lz_src *src;
		size_t bad;

		if (!r || !r->csum) {
			pr_err("page-server --lazy-pages: no lazy page at %lx of process %d\n", (unsigned long)addr, pid);
			return -1;
		}
		src = &ls.lz.src[r->src];
		n = (r->end - addr) / PAGE;
		if (n > nr - done)
			n = nr - done;
		first = (addr - r->start) / PAGE;
		off = r->off + first * PAGE;
		errno = 0;
		if (pread(src->fd, (char *)data + done * PAGE, n * PAGE, off) != (ssize_t)(n * PAGE)) {
			pr_err("page-server --lazy-pages: %s: can't read %lu pages at offset %lu (address %lx of process "
			       "%d): %s\n", src->name, (unsigned long)n, (unsigned long)off, (unsigned long)addr, pid,
			       errno ? strerror(errno) : "file too short");
			return -1;
		}
		bad = csum_check_pages((char *)data + done * PAGE, n, r->csum + first);
		if (bad < n) {
			pr_err("page-server --lazy-pages: %s: the page at offset %lu (address %lx of process %d) is "
			       "damaged (checksum mismatch): refused, the destination's restore fails\n", src->name,
			       (unsigned long)(off + bad * PAGE), (unsigned long)(addr + bad * PAGE), pid);
			return -1;
		}
		memcpy(csum + done, r->csum + first, n * sizeof(*csum));
	}
	return 0;
}

static int ls_skip_add(const char *name)
{
	char **n = realloc(ls.skip, (ls.nr_skip + 1) * sizeof(*n));

	if (!n || !(n[ls.nr_skip] = strdup(name)))
		return -1;
	ls.skip = n;
	ls.nr_skip++;
	return 0;
}

static bool ls_skipped(const char *name)
{
	for (int i = 0; i < ls.nr_skip; i++)
		if (!strcmp(ls.skip[i], name))
			return true;
	return false;
}

/* [s, e) of @pe, whose bytes are at @off of @fd (@what), checked and appended to @pages at *@woff. */
static int ls_copy(int fd, const char *what, uint64_t off, PagemapEntry *pe, uint64_t s, uint64_t e,
		   struct cr_img *pages, uint64_t *woff, pid_t pid)
{
	for (uint64_t at = s; at < e;) {
		uint64_t n = (e - at) / PAGE, first = (at - pe->vaddr) / PAGE, o = off + (at - s);
		size_t bad;

		if (n > PS_LAZY_MAX)
			n = PS_LAZY_MAX;
		errno = 0;
		if (pread(fd, ls.lz.buf, n * PAGE, o) != (ssize_t)(n * PAGE)) {
			pr_err("page-server --lazy-pages: %s: can't read %lu pages at offset %lu (process %d): %s\n", what,
			       (unsigned long)n, (unsigned long)o, pid, errno ? strerror(errno) : "file too short");
			return -1;
		}
		bad = csum_check_pages(ls.lz.buf, n, pe->csum + first);
		if (bad < n) {
			pr_err("page-server --lazy-pages: %s: the page at offset %lu (address %lx of process %d) is "
			       "damaged (checksum mismatch)\n", what, (unsigned long)(o + bad * PAGE),
			       (unsigned long)(at + bad * PAGE), pid);
			return -1;
		}
		if (write(pages->fd, ls.lz.buf, n * PAGE) != (ssize_t)(n * PAGE)) {
			pr_perror("page-server --lazy-pages: can't write the pages of %d", pid);
			return -1;
		}
		*woff += n * PAGE;
		at += n * PAGE;
	}
	return 0;
}

/*
 * pagemap-PID.img and pages-ID.img for the destination: the entries of
 * the lazy areas marked lazy (no data: served later), the others with
 * their pages (gathered from the chain, expanded, from either file) in one
 * plain pages file; what the parent process shares stays in_parent.
 */
static int ls_rewrite(struct rst_ctx *rc)
{
	struct cr_img *old = open_image_at(ls.tr.dfd, CR_FD_PAGEMAP, O_RDONLY, rc->pid), *pm = NULL, *pages = NULL;
	PagemapHead *oh = NULL, head = PAGEMAP_HEAD__INIT;
	int fds[2] = { -1, -1 }, ret = -1;
	uint64_t woff = 0, lazy = 0;
	char name[64];

	if (!old || pb_read_one_required(old, (void **)&oh))
		goto out;
	head.pages_id = oh->pages_id;
	head.has_csum_kind = oh->has_csum_kind;
	head.csum_kind = oh->csum_kind;
	snprintf(name, sizeof(name), "pagemap-%d.img", rc->pid);
	if (ls_skip_add(name))
		goto out;
	for (int f = 0; f < 2; f++) {
		pages_file_name(name, sizeof(name), oh->pages_id, f);
		if (ls_skip_add(name))
			goto out;
	}
	fds[0] = chain_open_pages(ls.tr.dfd, rc->pages_name);
	if (fds[0] < 0 || (rc->chained & CHAINED_FILE1 && (fds[1] = chain_open_pages(ls.tr.dfd, rc->pages1_name)) < 0))
		goto out;
	pm = open_image_at(ls.tmp, CR_FD_PAGEMAP, O_DUMP, rc->pid);
	pages = open_image_at(ls.tmp, CR_FD_PAGES, O_DUMP, oh->pages_id);
	if (!pm || !pages || img_buffer_writes(pm) || pb_write_one(pm, &head))
		goto out;
	for (size_t k = 0; k < rc->nr_pms; k++) {
		PagemapEntry *pe = rc->pms[k];
		uint64_t s = pe->vaddr, e = s + (uint64_t)pe->nr_pages * PAGE;
		int f = pe->has_file ? pe->file : 0;

		if (pe->has_in_parent && pe->in_parent) {
			PagemapEntry ne = PAGEMAP_ENTRY__INIT;

			ne.vaddr = pe->vaddr;
			ne.nr_pages = pe->nr_pages;
			ne.has_in_parent = ne.in_parent = true;
			if (pb_write_one(pm, &ne))
				goto out;
			continue;
		}
		if ((pe->has_in_prev && pe->in_prev) || pe->has_clen || f > 1 || fds[f] < 0 || pe->n_csum != pe->nr_pages) {
			pr_err("page-server --lazy-pages: pagemap-%d.img: the pages at %lx were not gathered\n", rc->pid,
			       (unsigned long)pe->vaddr);
			goto out;
		}
		while (s < e) {
			PagemapEntry ne = PAGEMAP_ENTRY__INIT;
			ssize_t i = area_of(rc->mm, s);
			uint64_t to = i < 0 ? e : (rc->mm->vmas[i]->end < e ? rc->mm->vmas[i]->end : e);

			ne.vaddr = s;
			ne.nr_pages = (to - s) / PAGE;
			if (i >= 0 && lazy_area(rc, i)) {
				ne.has_lazy = ne.lazy = true;
				lazy += ne.nr_pages;
			} else {
				ne.off = woff;
				ne.n_csum = ne.nr_pages;
				ne.csum = pe->csum + (s - pe->vaddr) / PAGE;
				if (ls_copy(fds[f], f ? rc->pages1_name : rc->pages_what, pe->off + (s - pe->vaddr), pe, s, to,
					    pages, &woff, rc->pid))
					goto out;
			}
			if (pb_write_one(pm, &ne))
				goto out;
			s = to;
		}
	}
	pr_info("page-server --lazy-pages: process %d: %lu pages the restore fills itself, %lu lazy\n", rc->pid,
		(unsigned long)(woff / PAGE), (unsigned long)lazy);
	ret = 0;
out:
	if (pm)
		ret = finish_image(pm, ret);
	if (pages)
		ret = finish_image(pages, ret);
	for (int f = 0; f < 2; f++)
		if (fds[f] >= 0)
			close(fds[f]);
	if (oh)
		pb_free(old, oh);
	if (old)
		close_image(old);
	return ret;
}

/* Send every regular file of @dfd but the skipped ones, logs and hidden ones. */
static int ls_send_dir(int sk, int dfd, bool skip)
{
	DIR *d;
	struct dirent *de;
	int ret = 0, fd = dup(dfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		pr_perror("page-server --lazy-pages: can't list the images");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);	/* the dup shares its position with @dfd, maybe listed before */
	while (!ret && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;
		int f;

		if (de->d_name[0] == '.' || (len > 4 && !strcmp(de->d_name + len - 4, ".log")) ||
		    (skip && ls_skipped(de->d_name)) || !strcmp(de->d_name, "inventory.img"))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		f = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0) {
			pr_perror("page-server --lazy-pages: can't open %s", de->d_name);
			ret = -1;
			break;
		}
		ret = lazy_send_image(sk, de->d_name, f, st.st_size);
		close(f);
	}
	closedir(d);
	return ret;
}

static int ls_send_images(int sk)
{
	struct stat st;
	int fd;

	if (ls_send_dir(sk, ls.lz.dfd, true) || ls_send_dir(sk, ls.tmp, false))
		return -1;
	/* the last: a dir with an inventory is whole (the daemon takes one as images of its own) */
	fd = openat(ls.lz.dfd, "inventory.img", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("page-server --lazy-pages: can't open inventory.img");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (lazy_send_image(sk, "inventory.img", fd, st.st_size) || lazy_send_images_end(sk)) {
		close(fd);
		return -1;
	}
	close(fd);
	pr_info("page-server --lazy-pages: the images are sent\n");
	return 0;
}

/* Empty the dir @tmp (its files only: we made none other) and remove it, @name in @dfd. */
static void ls_rmdir(int dfd, int tmp, const char *name)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(tmp);

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d)
		rewinddir(d);	/* sent: listed to its end through the same position */
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(tmp, de->d_name, 0);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void ls_cleanup(void)
{
	if (ls.tmp < 0)
		return;
	ls_rmdir(ls.lz.dfd, ls.tmp, ls.tmp_name);
	close(ls.tmp);
	ls.tmp = -1;
}

/* What a server killed before its end left in the images dir: its pid is gone. */
static void ls_stale(void)
{
	int fd = dup(ls.lz.dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		int pid, n = 0, t;

		if (sscanf(de->d_name, LS_TMP_FMT "%n", &pid, &n) != 1 || de->d_name[n] || pid <= 0 ||
		    !(kill(pid, 0) && errno == ESRCH))
			continue;
		t = openat(ls.lz.dfd, de->d_name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			continue;
		pr_info("page-server --lazy-pages: removing %s, left by a server that was killed\n", de->d_name);
		ls_rmdir(ls.lz.dfd, t, de->d_name);
		close(t);
	}
	closedir(d);
}

int cr_lazy_page_server(void)
{
	static const struct lazy_source src = { .read = ls_read, .send_images = ls_send_images };
	int ret = 1;

	ls.tr = (struct rst_tree){ .dfd = -1, .core_fd = -1 };
	ls.lz = (struct lz){ .dfd = -1, .lsk = -1, .wd_sk = -1 };
	if (ns_init_self())
		return 1;
	inherit_fd_unused = true;
	ls.lz.dfd = open(opts.imgs_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (ls.lz.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return 1;
	}
	ls.lz.buf = mmap(NULL, PS_LAZY_MAX * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ls.lz.buf == MAP_FAILED)
		goto out;
	/* what is lazy is what a restore --lazy-pages of these images leaves to the daemon */
	opts.lazy_pages = true;
	if (read_images(&ls.lz, &ls.tr))
		goto out;
	if (ls.lz.need_remote) {
		pr_err("page-server --lazy-pages: %s are the images of a dump --lazy-pages: their lazy pages stayed "
		       "with the dumped tree, there is nothing here to serve\n", opts.imgs_dir);
		goto out;
	}
	ls_stale();
	snprintf(ls.tmp_name, sizeof(ls.tmp_name), LS_TMP_FMT, getpid());
	if (mkdirat(ls.lz.dfd, ls.tmp_name, 0700) ||
	    (ls.tmp = openat(ls.lz.dfd, ls.tmp_name, O_DIRECTORY | O_RDONLY | O_CLOEXEC)) < 0) {
		pr_perror("page-server --lazy-pages: can't make %s/%s", opts.imgs_dir, ls.tmp_name);
		unlinkat(ls.lz.dfd, ls.tmp_name, AT_REMOVEDIR);
		goto out;
	}
	for (int i = 0; i < ls.tr.nr; i++) {
		struct rst_ctx *rc = &ls.tr.t[i];

		if (rc->zombie || rc->vm_child || !rc->mm)
			continue;
		if (ls_rewrite(rc))
			goto out;
	}
	for (int i = 0; i < ls.lz.nr_exp; i++) {
		struct lz_expect *e = &ls.lz.exp[i];
		struct page_list l;

		page_list_init(&l);
		for (size_t k = 0; k < e->nr; k++)
			if (page_list_add(&l, e->r[k].start, (e->r[k].end - e->r[k].start) / PAGE)) {
				page_list_free(&l);
				goto out;
			}
		if (lazy_dump_add(e->pid, &l)) {
			page_list_free(&l);
			goto out;
		}
	}
	lazy_dump_from(&src);
	if (lazy_dump_listen())
		goto out;
	if (lazy_dump_serve() == 0)
		ret = 0;
out:
	lazy_dump_fini();
	lazy_dump_from(NULL);
	ls_cleanup();
	pr_info("page-server --lazy-pages: %s\n", ret ? "failed" : "done");
	return ret;
}
