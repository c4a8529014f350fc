/*
 * Private memory still shared copy-on-write between a parent and a child
 * it forked.
 *
 * Dump: a page of a child's private anonymous area that is, at the same
 * address, the very physical page its parent has (same PFN in both
 * /proc/PID/pagemap) is not saved again: the child's pagemap marks it
 * "in_parent".
 *
 * Restore: a parent maps the areas its children take pages from in a
 * region reserved for the whole tree (the premap region), fills them and
 * only then forks; each child moves the part it shares into its own slot
 * of the region, drops the pages it does not share and writes its own.
 * So the shared pages are one physical copy again. Each restorer finally
 * moves its premapped areas to their addresses (restorer.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cow.h"
#include "compress.h"
#include "clone3-stack.h"
#include "pagechain.h"
#include "csum.h"
#include "pidmap.h"
#include "image.h"
#include "crtools.h"
#include "cr_options.h"
#include "image.h"
#include "log.h"
#include "pagerange.h"
#include "proc_parse.h"
#include "restorer.h"
#include "util.h"

#define PM_CHUNK	4096
#define HUGE_SZ		(2ULL << 20)
#define HUGE_MAX_FILLERS	8
/* Below this much, threads cost more than they bring. */
#define HUGE_THREADED_MIN	(64ULL << 20)

static int vma_anon(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK;
}

int cow_vma_private(const VmaEntry *v)
{
	/* a droppable area is wiped in a child: nothing shared */
	return (vma_anon(v) && (v->flags & MAP_TYPE) != MAP_DROPPABLE) || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

/* The same file at the same offsets: then the same address is the same page of it. */
static int same_backing(const VmaEntry *v, const VmaEntry *p)
{
	if (vma_anon(v) || vma_anon(p))
		return vma_anon(v) && vma_anon(p);
	return v->has_file_id && p->has_file_id && v->file_id == p->file_id &&
	       v->pgoff - v->start == p->pgoff - p->start;
}

const VmaEntry *cow_parent_vma(const VmaEntry *v, VmaEntry *const *pvmas, size_t nr)
{
	size_t lo = 0, hi = nr;
	const VmaEntry *p;

	if (!cow_vma_private(v))
		return NULL;
	/* the first area ending above v's start */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pvmas[mid]->end <= v->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == nr || pvmas[lo]->start > v->start)
		return NULL;
	p = pvmas[lo];
	return cow_vma_private(p) && same_backing(v, p) && !((p->flags ^ v->flags) & MAP_GROWSDOWN) ? p : NULL;
}

static int read_pm(int fd, uint64_t *buf, uint64_t addr, size_t n, pid_t pid)
{
	ssize_t ret = pread(fd, buf, n * 8, (addr >> PAGE_SHIFT) * 8);

	if (ret != (ssize_t)(n * 8)) {
		pr_perror("reading /proc/%d/pagemap at %lx", pid, (unsigned long)addr);
		return -1;
	}
	return 0;
}

static int open_pm(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open %s", path);
	return fd;
}

/*
 * The parent is read before and after the child: a page that stays the
 * parent's across the child's read can't have been anything else in the
 * child meanwhile. A PFN of 0 means the kernel hides PFNs from us.
 */
static int same_pages(int cfd, int pfd, pid_t pid, pid_t ppid, uint64_t start, uint64_t end,
		      struct page_list *out)
{
	static uint64_t c[PM_CHUNK], p1[PM_CHUNK], p2[PM_CHUNK];

	for (uint64_t addr = start; addr < end;) {
		size_t n = (end - addr) >> PAGE_SHIFT;

		if (n > PM_CHUNK)
			n = PM_CHUNK;
		if (read_pm(pfd, p1, addr, n, ppid) || read_pm(cfd, c, addr, n, pid) || read_pm(pfd, p2, addr, n, ppid))
			return -1;
		for (size_t i = 0; i < n; i++, addr += PAGE_SIZE) {
			uint64_t pfn = c[i] & PM_PFN_MASK;

			if (!(c[i] & PM_PRESENT) || (c[i] & PM_FILE) || !pfn)
				continue;
			if (!(p1[i] & PM_PRESENT) || !(p2[i] & PM_PRESENT) || (p1[i] & PM_PFN_MASK) != pfn ||
			    (p2[i] & PM_PFN_MASK) != pfn)
				continue;
			if (page_list_add(out, addr, 1))
				return -1;
		}
	}
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct page_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The area of @md holding @addr, or NULL. */
static const VmaEntry *vma_at(const struct mm_dump *md, uint64_t addr)
{
	size_t lo = 0, hi = md->nr_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (md->vmas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < md->nr_vmas && md->vmas[lo].start <= addr ? &md->vmas[lo] : NULL;
}

/*
 * Only the pages the task has (@lists, from the scan) are compared with
 * the parent's: areas of many GiB reserved and hardly used (a browser's
 * heaps) would cost their whole size in pagemap reads otherwise.
 */
static int find_shared(pid_t pid, const struct mm_dump *md, const struct mm_parent *par,
		       const struct page_list *lists, int nr, struct page_list *out)
{
	struct page_range *r;
	size_t n = 0;
	int cfd, pfd = -1, ret = -1;

	for (int l = 0; l < nr; l++)
		n += lists[l].nr;
	r = calloc(n + 1, sizeof(*r));
	if (!r)
		return -1;
	n = 0;
	for (int l = 0; l < nr; l++)
		for (size_t k = 0; k < lists[l].nr; k++)
			r[n++] = lists[l].r[k];
	sort_array(r, n, sizeof(*r), cmp_range);
	cfd = open_pm(pid);
	if (cfd < 0)
		goto out;
	pfd = open_pm(par->pid);
	if (pfd < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		uint64_t a = r[k].start, e = a + (r[k].nr_pages << PAGE_SHIFT);

		while (a < e) {
			const VmaEntry *v = vma_at(md, a), *p;
			uint64_t ve;

			if (!v)
				break;
			ve = v->end < e ? v->end : e;
			p = cow_parent_vma(v, par->md->vma_ptrs, par->md->nr_vmas);
			if (p && a < p->end && same_pages(cfd, pfd, pid, par->pid, a, ve < p->end ? ve : p->end, out))
				goto out;
			a = ve;
		}
	}
	ret = 0;
out:
	free(r);
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
	return ret;
}

/* Take the pages still shared with the parent out of @lists, into @inh. */
int cow_split_inherited(pid_t pid, const struct mm_dump *md, const struct mm_parent *par,
			struct page_list *lists, int nr, struct page_list *inh)
{
	struct page_list shared, rest;
	int ret = -1;

	for (int i = 0; i < nr; i++)
		page_list_init(&inh[i]);
	page_list_init(&shared);
	if (find_shared(pid, md, par, lists, nr, &shared))
		goto out;
	for (int i = 0; i < nr; i++) {
		if (page_list_split(&lists[i], &shared, &inh[i], &rest))
			goto out;
		page_list_free(&lists[i]);
		lists[i] = rest;
	}
	ret = 0;
out:
	page_list_free(&shared);
	return ret;
}

/* ---- restore ---- */

/* The in_parent entries of a task as a sorted page list; overlaps are refused. */
static int collect_inherited(struct cow_task *t, pid_t pid)
{
	struct page_range *r = calloc(t->nr_pms + 1, sizeof(*r));
	size_t n = 0;
	int ret = -1;

	if (!r)
		return -1;
	for (size_t i = 0; i < t->nr_pms; i++)
		if (t->pms[i]->has_in_parent && t->pms[i]->in_parent) {
			r[n].start = t->pms[i]->vaddr;
			r[n++].nr_pages = t->pms[i]->nr_pages;
		}
	sort_array(r, n, sizeof(*r), cmp_range);
	for (size_t i = 0; i < n; i++)
		if (page_list_add(&t->inherited, r[i].start, r[i].nr_pages)) {
			pr_err("pagemap-%d.img: pages at %lx are marked as the parent's twice\n", pid,
			       (unsigned long)r[i].start);
			goto out;
		}
	ret = 0;
out:
	free(r);
	return ret;
}

static ssize_t vma_index(const MmEntry *mm, uint64_t addr)
{
	size_t lo = mm_vma_lower_bound(mm, addr);

	return lo < mm->n_vmas && mm->vmas[lo]->start <= addr ? (ssize_t)lo : -1;
}

/*
 * Every in_parent range must lie in one private anonymous area of the
 * task, in the part the parent's matching area covers. Marks both areas:
 * mark[] is -2 (not premapped), -1 (premapped, built fresh) or the index
 * of the parent's area it takes pages from.
 */
static int mark_task(struct cow_tree *ct, int i, int **mark)
{
	struct cow_task *t = ct->t[i], *p;
	pid_t pid = t->pid;

	if (!t->inherited.nr)
		return 0;
	if (t->parent < 0 || !ct->t[t->parent]->live) {
		pr_err("pagemap-%d.img: pages are marked as the parent's, but %d has no parent to share them\n", pid,
		       pid);
		return -1;
	}
	p = ct->t[t->parent];
	for (size_t k = 0; k < t->inherited.nr; k++) {
		uint64_t s = t->inherited.r[k].start, e = s + t->inherited.r[k].nr_pages * PAGE_SIZE;

		/* neighbouring areas' ranges come merged: one area at a time */
		for (uint64_t pos = s; pos < e;) {
			ssize_t vi = vma_index(t->mm, pos), pi;
			const VmaEntry *v = vi >= 0 ? t->mm->vmas[vi] : NULL, *pv;
			uint64_t end;

			pv = v ? cow_parent_vma(v, p->mm->vmas, p->mm->n_vmas) : NULL;
			end = v && e > v->end ? v->end : e;
			if (!pv || end > pv->end) {
				pr_err("pagemap-%d.img: pages at %lx-%lx are marked as the parent's, but %d and its "
				       "parent %d have no private anonymous area there in common\n", pid,
				       (unsigned long)pos, (unsigned long)end, pid, p->pid);
				return -1;
			}
			pi = vma_index(p->mm, pv->start);
			mark[i][vi] = pi;
			if (mark[t->parent][pi] == -2)
				mark[t->parent][pi] = -1;
			pos = end;
		}
	}
	return 0;
}

/*
 * File areas of a task mapping more files than the restorer may hold fds
 * for: those of the files beyond the first COW_DIRECT_FILES are built in
 * the premap region too, after the fork. @direct counts the files seen.
 */
static int premap_late(const VmaEntry *v, struct pidmap *direct)
{
	int32_t key;

	if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
		return 0;
	key = (int32_t)v->file_id + 1;
	if (pidmap_get(direct, key) >= 0)
		return 0;
	if (direct->nr >= COW_DIRECT_FILES)
		return 1;
	return pidmap_set(direct, key, 1) ? -1 : 0;
}

/* A slot of @len bytes in the region, aligned to the area's page size; an offset until cow_reserve(). */
static uint64_t take_slot(struct cow_tree *ct, const VmaEntry *v, int gap)
{
	uint64_t align = v->has_page_size && v->page_size > PAGE_SIZE ? v->page_size : PAGE_SIZE, slot;

	if (align > ct->align)
		ct->align = align;
	slot = (ct->len + align - 1) & ~(align - 1);
	/* a page between areas that must not merge with their neighbours (cow.c moves parts of them) */
	ct->len = slot + (v->end - v->start) + (gap ? PAGE_SIZE : 0);
	return slot;
}

/*
 * A huge area: its slot starts at the same offset in a huge page as the
 * area, so that a huge page filled in the slot moves whole (a PMD) to its
 * place in the area.
 */
static uint64_t take_huge_slot(struct cow_tree *ct, const VmaEntry *v)
{
	uint64_t slot;

	if (HUGE_SZ > ct->align)
		ct->align = HUGE_SZ;
	slot = ((ct->len + HUGE_SZ - 1) & ~(HUGE_SZ - 1)) + (v->start & (HUGE_SZ - 1));
	ct->len = slot + (v->end - v->start) + PAGE_SIZE;
	return slot;
}

/*
 * An area whose all-data 2 MiB runs may be filled in huge pages and moved
 * into it with UFFDIO_MOVE: private anonymous (moved pages must be
 * anonymous), of small pages, not told to stay without huge pages, not
 * growing down, not premapped for sharing with parent or children (those
 * pages are shared: UFFDIO_MOVE takes only exclusive ones).
 */
static int huge_vma(const struct cow_tree *ct, const VmaEntry *v, int mark)
{
	if (!ct->huge_ok || mark != -2)
		return 0;
	if (v->kind != VMA_KIND__VMA_ANON_PRIVATE && v->kind != VMA_KIND__VMA_HEAP)
		return 0;
	if ((v->flags & MAP_TYPE) != MAP_PRIVATE || (v->flags & MAP_GROWSDOWN))
		return 0;
	if ((v->has_page_size && v->page_size > PAGE_SIZE) || (v->has_madv && (v->madv & (1ULL << MADV_NOHUGEPAGE))))
		return 0;
	return v->end - v->start >= HUGE_SZ;
}

/* Add the runs of [s, e), all pages of the pagemap, to t->huge; @hbytes per area. */
static int huge_extent(const struct cow_tree *ct, struct cow_task *t, const int *mark, uint64_t s, uint64_t e,
		       uint64_t *hbytes)
{
	for (size_t k = mm_vma_lower_bound(t->mm, s); k < t->mm->n_vmas && t->mm->vmas[k]->start < e; k++) {
		const VmaEntry *v = t->mm->vmas[k];
		uint64_t a = s > v->start ? s : v->start, b = e < v->end ? e : v->end;

		if (!huge_vma(ct, v, mark[k]))
			continue;
		a = (a + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
		b &= ~(HUGE_SZ - 1);
		if (a >= b)
			continue;
		if (page_list_add(&t->huge, a, (b - a) >> PAGE_SHIFT))
			return -1;
		hbytes[k] += b - a;
	}
	return 0;
}

/* The task's own pages (not the parent's) as sorted extents, each cut into its huge runs. */
static int plan_huge(const struct cow_tree *ct, struct cow_task *t, const int *mark, uint64_t *hbytes)
{
	struct page_range *r;
	uint64_t s = 0, e = 0;
	size_t n = 0;
	int ret = -1;

	if (!ct->huge_ok)
		return 0;
	r = calloc(t->nr_pms + 1, sizeof(*r));
	if (!r)
		return -1;
	/* pages with the dumping host (lazy) are not here to fill */
	for (size_t i = 0; i < t->nr_pms; i++)
		if (!(t->pms[i]->has_in_parent && t->pms[i]->in_parent) && !(t->pms[i]->has_lazy && t->pms[i]->lazy))
			r[n++] = (struct page_range){ t->pms[i]->vaddr, t->pms[i]->nr_pages };
	sort_array(r, n, sizeof(*r), cmp_range);
	for (size_t i = 0; i <= n; i++) {
		uint64_t rs = i < n ? r[i].start : UINT64_MAX, re = i < n ? rs + r[i].nr_pages * PAGE_SIZE : UINT64_MAX;

		if (i < n && e && rs <= e) {
			if (re > e)
				e = re;
			continue;
		}
		if (e && huge_extent(ct, t, mark, s, e, hbytes))
			goto out;
		s = rs;
		e = re;
	}
	ret = 0;
out:
	free(r);
	return ret;
}

/*
 * Turn the marks into areas, and add the late ones; parents come first,
 * so their areas exist. @pidx maps a parent's area index to its cow area.
 */
static int build_areas(struct cow_tree *ct, int i, int *mark, int **pidx)
{
	struct cow_task *t = ct->t[i];
	struct pidmap direct = { 0 };
	uint8_t *late = calloc(t->mm->n_vmas + 1, 1);
	uint64_t *hbytes = calloc(t->mm->n_vmas + 1, sizeof(*hbytes));
	size_t n = 0;
	int ret = -1;

	pidx[i] = calloc(t->mm->n_vmas + 1, sizeof(int));
	if (!pidx[i] || !late || !hbytes || plan_huge(ct, t, mark, hbytes))
		goto out;
	for (size_t k = 0; k < t->mm->n_vmas; k++) {
		int l = mark[k] == -2 && !hbytes[k] ? premap_late(t->mm->vmas[k], &direct) : 0;

		if (l < 0)
			goto out;
		late[k] = l;
		n += mark[k] != -2 || l || hbytes[k];
	}
	ret = 0;
	if (!n)
		goto out;
	ret = -1;
	t->areas = calloc(n, sizeof(*t->areas));
	if (!t->areas)
		goto out;
	for (size_t k = 0; k < t->mm->n_vmas; k++) {
		const VmaEntry *v = t->mm->vmas[k];
		struct cow_area *a;

		if (mark[k] == -2 && !late[k] && !hbytes[k])
			continue;
		pidx[i][k] = t->nr_areas;
		a = &t->areas[t->nr_areas++];
		a->start = v->start;
		a->end = v->end;
		a->vma = v;
		a->flags = v->flags & MAP_GROWSDOWN;
		a->nohuge = v->has_madv && (v->madv & (1ULL << MADV_NOHUGEPAGE));
		a->from = -1;
		a->late = mark[k] == -2 && late[k];
		a->pages = t->vma_pages && t->vma_pages[k];
		a->huge = hbytes[k] != 0;
		a->huge_bytes = hbytes[k];
		a->slot = a->huge ? take_huge_slot(ct, v) : take_slot(ct, v, !a->late);
		if (mark[k] >= 0) {
			const struct cow_task *p = ct->t[t->parent];
			const VmaEntry *pv = p->mm->vmas[mark[k]];

			a->from = pidx[t->parent][mark[k]];
			if (a->from < 0 || (size_t)a->from >= p->nr_areas || p->areas[a->from].start != pv->start)
				goto out;	/* can't be: mark_task() marked it */
			a->from_len = (v->end < pv->end ? v->end : pv->end) - v->start;
		}
	}
	ret = 0;
out:
	free(late);
	free(hbytes);
	pidmap_free(&direct);
	return ret;
}

/*
 * Huge pages made here must be huge pages there: THP not off (for the
 * system or for us), and UFFDIO_MOVE to move them without touching the
 * flags of the areas they go to. Not with --lazy-pages (its daemon fills
 * the areas), nor with CRIU_NO_HUGE_FILL in the environment (to measure
 * the restore without it).
 */
static int huge_fill_possible(void)
{
	char buf[128] = "";
	int fd;
	ssize_t n;

	if (!kdat.has_uffd_move || opts.lazy_pages || getenv("CRIU_NO_HUGE_FILL"))
		return 0;
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) > 0)
		return 0;
	fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		pr_pwarn("can't read the THP mode: memory is filled without huge pages");
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 && !strstr(buf, "[never]");
}

/* One filler a CPU (at most HUGE_MAX_FILLERS), if filler ids can be had (cow_fill_huge()). */
static int huge_fillers(struct cow_tree *ct)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long long v;

	if (!ct->huge_ok || !ct->ids || getenv("CRIU_HUGE_FILL_ONE") || read_num_file("/proc/sys/kernel/pid_max", &v) ||
	    v < 1024 || v > INT32_MAX)
		return 1;
	ct->pid_max = (int32_t)v;
	return cpus < 1 ? 1 : cpus > HUGE_MAX_FILLERS ? HUGE_MAX_FILLERS : (int)cpus;
}

int cow_plan(struct cow_tree *ct)
{
	int **mark = calloc(ct->nr, sizeof(*mark)), **pidx = calloc(ct->nr, sizeof(*pidx));
	int ret = -1;

	if (!mark || !pidx)
		goto out;
	ct->len = 0;
	ct->align = PAGE_SIZE;
	ct->huge_ok = !ct->no_huge && huge_fill_possible();
	ct->fillers = huge_fillers(ct);
	for (int i = 0; i < ct->nr; i++) {
		struct cow_task *t = ct->t[i];

		page_list_init(&t->inherited);
		page_list_init(&t->huge);
		if (!t->live)
			continue;
		mark[i] = malloc((t->mm->n_vmas + 1) * sizeof(int));
		if (!mark[i] || collect_inherited(t, t->pid))
			goto out;
		for (size_t k = 0; k < t->mm->n_vmas; k++)
			mark[i][k] = -2;
	}
	for (int i = 0; i < ct->nr; i++)
		if (ct->t[i]->live && mark_task(ct, i, mark))
			goto out;
	for (int i = 0; i < ct->nr; i++)
		if (ct->t[i]->live && build_areas(ct, i, mark[i], pidx))
			goto out;
	ret = 0;
out:
	for (int i = 0; mark && pidx && i < ct->nr; i++) {
		free(mark[i]);
		free(pidx[i]);
	}
	free(mark);
	free(pidx);
	return ret;
}

int span_set_add(struct span_set *ss, uint64_t start, uint64_t end)
{
	if (ss->n == ss->cap) {
		size_t c = ss->cap ? ss->cap * 2 : 256;
		struct span *x = realloc(ss->s, c * sizeof(*x));

		if (!x) {
			pr_err("out of memory\n");
			return -1;
		}
		ss->s = x;
		ss->cap = c;
	}
	ss->s[ss->n++] = (struct span){ start, end };
	return 0;
}

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

uint64_t find_free_hole(struct span_set *ss, uint64_t len, uint64_t align)
{
	uint64_t floor = 1ULL << 32, top = kdat.task_size - (1ULL << 32);
	size_t m = 0;

	/* sorted and merged once; then the gaps between them from the top down */
	sort_array(ss->s, ss->n, sizeof(*ss->s), cmp_span);
	for (size_t i = 0; i < ss->n; i++) {
		if (m && ss->s[i].start <= ss->s[m - 1].end) {
			if (ss->s[i].end > ss->s[m - 1].end)
				ss->s[m - 1].end = ss->s[i].end;
		} else {
			ss->s[m++] = ss->s[i];
		}
	}
	ss->n = m;
	for (size_t i = m + 1; i-- > 0;) {
		uint64_t hi = i < m ? ss->s[i].start : top, lo = i ? ss->s[i - 1].end : floor, cand;

		if (hi > top)
			hi = top;
		if (lo < floor)
			lo = floor;
		if (hi <= lo || hi - lo < len)
			continue;
		cand = (hi - len) & ~(align - 1);
		if (cand >= lo)
			return cand;
	}
	return 0;
}

int cow_reserve(struct cow_tree *ct)
{
	struct span_set ss = { 0 };
	struct proc_vma *self;
	int nr_self, ret = -1;
	void *mem;

	if (!ct->len)
		return 0;
	if (parse_maps(0, &self, &nr_self))
		return -1;
	for (int i = 0; i < nr_self; i++)
		if (span_set_add(&ss, self[i].start, self[i].end))
			goto out;
	for (int i = 0; i < ct->nr; i++)
		for (size_t k = 0; ct->t[i]->live && k < ct->t[i]->mm->n_vmas; k++)
			if (span_set_add(&ss, ct->t[i]->mm->vmas[k]->start, ct->t[i]->mm->vmas[k]->end))
				goto out;
	ct->base = find_free_hole(&ss, ct->len, ct->align);
	if (!ct->base) {
		pr_err("no room for the %lu MiB of memory premapped for the tree\n", (unsigned long)(ct->len >> 20));
		goto out;
	}
	mem = mmap((void *)ct->base, ct->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		   MAP_FIXED_NOREPLACE, -1, 0);
	if (mem != (void *)ct->base) {
		pr_perror("can't reserve %lu bytes at %lx for premapped memory", (unsigned long)ct->len,
			  (unsigned long)ct->base);
		ct->base = 0;
		goto out;
	}
	for (int i = 0; i < ct->nr; i++)
		for (size_t k = 0; k < ct->t[i]->nr_areas; k++)
			ct->t[i]->areas[k].slot += ct->base;
	pr_info("premap region: %lx-%lx\n", (unsigned long)ct->base, (unsigned long)(ct->base + ct->len));
	ret = 0;
out:
	free(ss.s);
	free_maps(self, nr_self);
	return ret;
}

/* Drop what the task does not share from the part taken from the parent. */
static int drop_unshared(struct cow_task *t, struct cow_area *a)
{
	uint64_t pos = a->start, end = a->start + a->from_len;

	for (size_t k = 0; k <= t->inherited.nr && pos < end; k++) {
		uint64_t s = k < t->inherited.nr ? t->inherited.r[k].start : end;
		uint64_t e = k < t->inherited.nr ? s + t->inherited.r[k].nr_pages * PAGE_SIZE : end;

		if (e <= pos)
			continue;
		if (s > end)
			s = end;
		if (s > pos && madvise((void *)(a->slot + (pos - a->start)), s - pos, MADV_DONTNEED)) {
			pr_perror("%d: can't drop pages at %lx", t->pid, (unsigned long)pos);
			return -1;
		}
		pos = e;
	}
	return 0;
}

/*
 * An execute-only mapping makes the kernel allocate the mm's execute-only
 * protection key: an area whose key is saved is mapped readable too, and
 * its key and protection set later with pkey_mprotect(), which takes no
 * key of its own.
 */
static uint32_t exec_only_map_prot(const VmaEntry *v)
{
	if (v->prot == PROT_EXEC && v->has_pkey && v->pkey)
		return PROT_READ | PROT_EXEC;
	return v->prot;
}

uint32_t cow_map_prot(const VmaEntry *v, int pages)
{
	if (v->kind == VMA_KIND__VMA_FILE_SHARED || v->kind == VMA_KIND__VMA_SHMEM || v->kind == VMA_KIND__VMA_SYSVSHM ||
	    v->kind == VMA_KIND__VMA_PACKET_RING)
		return exec_only_map_prot(v);
	if (pages || (v->has_accounted && v->accounted) || !v->has_accounted)
		return v->prot | PROT_READ | PROT_WRITE;
	return exec_only_map_prot(v);
}

/* A private mapping of a character device (/dev/zero) is anonymous memory with a file. */
static int devzero_like(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode);
}

/*
 * The kernel gives anonymous memory without pages yet the offset of its
 * new address when it is moved (mremap), and maps shows that offset. A
 * page touched and dropped again keeps the one it was mapped with.
 */
static int touch_anon(void *m)
{
	*(volatile char *)m = 0;
	return madvise(m, PAGE_SIZE, MADV_DONTNEED);
}

/*
 * Map @a's area fresh in its slot: anonymous, or from its file (private
 * ones writable until the restorer has filled them and set their
 * protection; shared ones as they will be).
 */
static int map_fresh(struct cow_task *t, struct cow_area *a, cow_open_fn open_fd, void *priv, int fd)
{
	const VmaEntry *v = a->vma;
	uint64_t len = a->end - a->start;
	int prot = a->late ? cow_map_prot(v, a->pages) : PROT_READ | PROT_WRITE;
	int flags = MAP_FIXED | (v->flags & MAP_NORESERVE), own = -1;
	void *m;

	if (vma_anon(v)) {
		flags |= MAP_PRIVATE | MAP_ANONYMOUS | a->flags;
	} else {
		if (fd < 0)
			fd = own = open_fd(priv, v);
		if (fd < 0)
			return -1;
		flags |= v->kind == VMA_KIND__VMA_FILE_PRIVATE ? MAP_PRIVATE : MAP_SHARED;
	}
	m = mmap((void *)a->slot, len, prot, flags, vma_anon(v) ? -1 : fd, vma_anon(v) ? 0 : v->pgoff);
	if (m == (void *)a->slot && v->kind == VMA_KIND__VMA_FILE_PRIVATE && devzero_like(fd) && touch_anon(m))
		m = MAP_FAILED;
	if (own >= 0)
		close(own);
	if (m != (void *)a->slot) {
		pr_perror("%d: can't map memory for %lx in its slot", t->pid, (unsigned long)a->start);
		return -1;
	}
	return 0;
}

static int map_area(struct cow_tree *ct, struct cow_task *t, struct cow_area *a, cow_open_fn open_fd, void *priv)
{
	uint64_t len = a->end - a->start;
	void *m = (void *)a->slot;

	if (a->from >= 0) {
		const struct cow_area *pa = &ct->t[t->parent]->areas[a->from];

		m = mremap((void *)(pa->slot + (a->start - pa->start)), a->from_len, len,
			   MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a->slot);
		if (m != (void *)a->slot) {
			pr_perror("%d: can't take over the parent's memory at %lx", t->pid, (unsigned long)a->start);
			return -1;
		}
		if (drop_unshared(t, a))
			return -1;
	} else if (map_fresh(t, a, open_fd, priv, -1)) {
		return -1;
	}
	if (a->nohuge && madvise(m, len, MADV_NOHUGEPAGE)) {
		pr_perror("%d: MADV_NOHUGEPAGE at %lx", t->pid, (unsigned long)a->start);
		return -1;
	}
	return 0;
}

static ssize_t area_index(const struct cow_task *t, uint64_t addr)
{
	size_t lo = 0, hi = t->nr_areas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->areas[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nr_areas ? (ssize_t)lo : -1;
}

/* Read @len bytes of pages at @off to @to, checking them against @csum (one per page). */
static int pread_pages(int fd, uint64_t to, uint64_t len, uint64_t off, const uint64_t *csum, const char *name)
{
	uint64_t addr = to, start = off, left = len;
	size_t bad;

	while (left) {
		ssize_t n = pread(fd, (void *)to, left, off);

		if (n <= 0) {
			if (n == 0)
				pr_err("%s: ends at offset %lu, short of the pages at %lx\n", name, (unsigned long)off,
				       (unsigned long)to);
			else
				pr_perror("%s: reading pages at offset %lu", name, (unsigned long)off);
			return -1;
		}
		to += n;
		off += n;
		left -= n;
	}
	bad = csum_check_pages((void *)addr, len >> PAGE_SHIFT, csum);
	if (bad < len >> PAGE_SHIFT) {
		pr_err("%s: the page at offset %lu (address %lx) is damaged (checksum mismatch)\n", name,
		       (unsigned long)(start + bad * PAGE_SIZE), (unsigned long)(addr + bad * PAGE_SIZE));
		return -1;
	}
	return 0;
}

/* The task's own pages that fall in areas built before the fork. */
static int fill_areas(struct cow_task *t, int fd, const char *name)
{
	for (size_t i = 0; i < t->nr_pms; i++) {
		const PagemapEntry *pe = t->pms[i];
		uint64_t s = pe->vaddr, e = s + (uint64_t)pe->nr_pages * PAGE_SIZE;
		ssize_t k = area_index(t, s);

		if (pe->has_in_parent && pe->in_parent)
			continue;
		for (; k >= 0 && (size_t)k < t->nr_areas && t->areas[k].start < e; k++) {
			const struct cow_area *a = &t->areas[k];
			uint64_t from = s > a->start ? s : a->start, to = e < a->end ? e : a->end;

			if (!a->late && !a->huge && from < to && pe->has_lazy && pe->lazy) {
				pr_err("%s: pages at %lx are with the dumping host, but their area is filled before "
				       "the fork (shared with a parent or child): can't be lazy\n", name,
				       (unsigned long)from);
				return -1;
			}

			if (!a->late && !a->huge && from < to &&
			    pread_pages(fd, a->slot + (from - a->start), to - from, pe->off + (from - s),
					pe->csum + ((from - s) >> PAGE_SHIFT), name))
				return -1;
		}
	}
	return 0;
}

int cow_premap(struct cow_tree *ct, int i, int dfd, const char *pages_name, cow_open_fn open_fd, void *priv)
{
	struct cow_task *t = ct->t[i];
	int fd, ret = 0, any = 0;

	for (size_t k = 0; k < t->nr_areas; k++) {
		if (t->areas[k].late || t->areas[k].huge)
			continue;
		if (map_area(ct, t, &t->areas[k], open_fd, priv))
			return -1;
		any = 1;
	}
	if (!any)
		return 0;
	fd = chain_open_pages(dfd, pages_name);
	if (fd < 0)
		return -1;
	ret = fill_areas(t, fd, pages_name);
	close(fd);
	return ret;
}

/* ---- huge fill ---- */


/*
 * A piece of a huge run: @len bytes at @off of pages file @file go to
 * @to, checked against @csum (one per page). Or, if @clen, the pages
 * [@to, @to + @len) of the compressed frame of @clen bytes at @off, which
 * holds @fpages pages from @fvaddr.
 */
struct huge_job {
	uint64_t to, off, len;
	uint64_t vaddr;			/* the task's address of @to, for messages */
	const uint64_t *csum;
	int file;
	uint32_t clen, fpages;
	uint64_t fvaddr;
};

#define HUGE_MAX_FILES	8192

/* What a worker needs for compressed frames: made before any filler starts. */
struct huge_wctx {
	void *dctx;
	char *frame, *pages;
};

/*
 * Work shared by the fillers: they take jobs in turn; the first failure
 * is kept for the caller to report (a filler thread may not log: it runs
 * without libc's thread state).
 */
struct huge_fill {
	struct huge_job *jobs;
	size_t nr, cap;
	int *fds;			/* of the pages files */
	const char *const *what;	/* their names for messages */
	int nr_fds;
	int frames;			/* some jobs are compressed frames */
	size_t next;			/* the next job to take */
	int failed;			/* 0, or the HF_* of the first failure */
	int err;			/* its errno */
	int at_file;
	uint64_t at_off, at_addr;	/* where */
	uint64_t check_tsc;		/* TSC cycles spent checking pages, all threads */
};

enum { HF_OK, HF_READ, HF_SHORT, HF_CSUM, HF_FRAME };

/* Pages go in chunks, each checked right after it is read, while it is in the cache (issue 13). */
#define HUGE_CHUNK	(256 << 10)

/* Check @nr pages at @p, counting the time it takes (the fill reports what the checks cost). */
static size_t huge_check(struct huge_fill *hf, const void *p, size_t nr, const uint64_t *csum)
{
	uint64_t t0 = __rdtsc();
	size_t bad = csum_check_pages(p, nr, csum);

	__atomic_fetch_add(&hf->check_tsc, __rdtsc() - t0, __ATOMIC_RELAXED);
	return bad;
}

static void huge_fail(struct huge_fill *hf, int why, int err, int file, uint64_t off, uint64_t addr)
{
	int none = HF_OK;

	if (__atomic_compare_exchange_n(&hf->failed, &none, why, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		hf->err = err;
		hf->at_file = file;
		hf->at_off = off;
		hf->at_addr = addr;
	}
}

/* Raw: a filler thread has no errno of its own. */
static long raw_pread(int fd, uint64_t to, uint64_t len, uint64_t off)
{
	register uint64_t r10 asm("r10") = off;
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "0"((long)SYS_pread64), "D"((long)fd), "S"(to), "d"(len), "r"(r10)
		     : "rcx", "r11", "memory");
	return ret;
}

static int read_all(struct huge_fill *hf, const struct huge_job *j, uint64_t to, uint64_t n, uint64_t off)
{
	for (uint64_t got = 0; got < n;) {
		long r = raw_pread(hf->fds[j->file], to + got, n - got, off + got);

		if (r <= 0) {
			huge_fail(hf, r ? HF_READ : HF_SHORT, r ? (int)-r : 0, j->file, off + got, j->vaddr);
			return -1;
		}
		got += r;
	}
	return 0;
}

/* A compressed frame: expanded straight into place if the job takes it whole, else through @w->pages. */
static int huge_frame_run(struct huge_fill *hf, struct huge_wctx *w, const struct huge_job *j)
{
	uint64_t flen = (uint64_t)j->fpages * PAGE_SIZE;
	int whole = j->to == j->fvaddr && j->len == flen;
	char *dst = whole ? (char *)j->to : w->pages;
	size_t bad;

	if (read_all(hf, j, (uint64_t)w->frame, j->clen, j->off))
		return -1;
	if (decomp_frame_ctx(w->dctx, w->frame, j->clen, dst, j->fpages)) {
		huge_fail(hf, HF_FRAME, 0, j->file, j->off, j->vaddr - (j->to - j->fvaddr));
		return -1;
	}
	dst += j->to - j->fvaddr;
	bad = huge_check(hf, dst, j->len >> PAGE_SHIFT, j->csum);
	if (bad < j->len >> PAGE_SHIFT) {
		huge_fail(hf, HF_CSUM, 0, j->file, j->off, j->vaddr + bad * PAGE_SIZE);
		return -1;
	}
	if (!whole)
		memcpy((void *)j->to, dst, j->len);
	return 0;
}

static int huge_job_run(struct huge_fill *hf, struct huge_wctx *w, const struct huge_job *j)
{
	if (j->clen)
		return huge_frame_run(hf, w, j);
	for (uint64_t done = 0; done < j->len;) {
		uint64_t n = j->len - done < HUGE_CHUNK ? j->len - done : HUGE_CHUNK;
		size_t bad;

		if (read_all(hf, j, j->to + done, n, j->off + done))
			return -1;
		bad = huge_check(hf, (void *)(j->to + done), n >> PAGE_SHIFT, j->csum + (done >> PAGE_SHIFT));
		if (bad < n >> PAGE_SHIFT) {
			huge_fail(hf, HF_CSUM, 0, j->file, j->off + done + bad * PAGE_SIZE, j->vaddr + done + bad * PAGE_SIZE);
			return -1;
		}
		done += n;
	}
	return 0;
}

static void huge_worker(struct huge_fill *hf, struct huge_wctx *w)
{
	for (;;) {
		size_t k = __atomic_fetch_add(&hf->next, 1, __ATOMIC_RELAXED);

		if (k >= hf->nr || __atomic_load_n(&hf->failed, __ATOMIC_RELAXED))
			return;
		if (huge_job_run(hf, w, &hf->jobs[k]))
			return;
	}
}

/*
 * Filler threads. They are threads of the restoring process (its memory
 * cgroup pays for the pages, as for the rest of its memory), made with
 * clone3 and an id of our choosing (set_tid): one that no pid, tid, pgid
 * or sid of the images has, from the top of the id space down, so that
 * no process or thread of the tree still to be made can find its id
 * taken. They run only huge_worker() (raw syscalls, no libc state: they
 * share the TLS of the thread that made them), with every signal blocked,
 * and are waited for (CLONE_CHILD_CLEARTID) before the process goes on,
 * on every path: none is left when the restorer starts, and a process
 * killed on a failure takes its fillers with it.
 */
struct filler {
	struct huge_fill *hf;
	struct huge_wctx *w;
	void *stack;
	volatile int32_t alive;		/* cleared and woken by the kernel when it is gone */
};

#define FILLER_STACK	(256 << 10)	/* zstd and the checksum code; reserved only as touched */

static void __attribute__((noreturn)) raw_exit(void)
{
	asm volatile("syscall" : : "a"((long)SYS_exit), "D"(0L) : "rcx", "r11", "memory");
	__builtin_unreachable();
}

static void filler_main(void *arg)
{
	struct filler *f = arg;

	huge_worker(f->hf, f->w);
	raw_exit();
}

/* Start filler @f with an id from *@next down; 0, or -1 if none could be had. */
static int filler_start(struct cow_tree *ct, struct filler *f, int32_t *next)
{
	struct clone_args ca;
	sigset_t all, old;
	long ret = -EEXIST;

	f->stack = mmap(NULL, FILLER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->stack == MAP_FAILED) {
		f->stack = NULL;
		return -1;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	for (int tries = 0; ret == -EEXIST && tries < 64 && *next > 300; tries++) {
		pid_t tid = (*next)--;

		if (pidmap_get(ct->ids, tid) >= 0)
			continue;
		memset(&ca, 0, sizeof(ca));
		/* untraced: no stop for criu to see to (the tree is traced from birth), and gone when it exits */
		ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
			   CLONE_CHILD_CLEARTID | CLONE_UNTRACED;
		ca.child_tid = (uintptr_t)&f->alive;
		ca.stack = (uintptr_t)f->stack;
		ca.stack_size = FILLER_STACK;
		ca.set_tid = (uintptr_t)&tid;
		ca.set_tid_size = 1;
		f->alive = 1;
		ret = clone3_into(&ca, sizeof(ca), filler_main, f);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		f->alive = 0;
		pr_warn("no filler thread (clone3: %s): fewer threads fill the huge pages\n", strerror((int)-ret));
		munmap(f->stack, FILLER_STACK);
		f->stack = NULL;
		return -1;
	}
	return 0;
}

static void filler_wait(struct filler *f)
{
	if (!f->stack)
		return;
	while (f->alive)
		syscall(SYS_futex, &f->alive, FUTEX_WAIT, 1, NULL, NULL, 0);
	munmap(f->stack, FILLER_STACK);
	f->stack = NULL;
}

static int huge_job_add(struct huge_fill *hf, const struct huge_job *j)
{
	if (hf->nr == hf->cap) {
		size_t c = hf->cap ? hf->cap * 2 : 64;
		struct huge_job *n = realloc(hf->jobs, c * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		hf->jobs = n;
		hf->cap = c;
	}
	hf->jobs[hf->nr++] = *j;
	return 0;
}

/* The slot address of @a in a huge area of @t, checking the piece [a, b) lies in one. 0 if not. */
static uint64_t slot_of(const struct cow_task *t, uint64_t a, uint64_t b)
{
	ssize_t ai = area_index(t, a);
	const struct cow_area *ar = ai >= 0 ? &t->areas[ai] : NULL;

	if (!ar || !ar->huge || ar->start > a || ar->end < b) {
		pr_err("%d: huge run piece at %lx outside a huge area\n", t->pid, (unsigned long)a);
		return 0;	/* can't be: plan_huge() cut runs by areas */
	}
	return ar->slot + (a - ar->start);
}

/*
 * A plain piece [s, e) at file offset @off (of its start) as jobs of at
 * most a huge page each (so fillers share a long piece); a compressed
 * one as one job.
 */
static int huge_piece(struct cow_task *t, struct huge_fill *hf, struct huge_job j, uint64_t s, uint64_t e)
{
	if (j.clen) {
		uint64_t to = slot_of(t, s, e);

		if (!to)
			return -1;
		j.fvaddr = to - (s - j.fvaddr);
		j.to = to;
		j.vaddr = s;
		j.len = e - s;
		hf->frames = 1;
		return huge_job_add(hf, &j);
	}
	for (uint64_t a = s; a < e;) {
		uint64_t c = (a + HUGE_SZ) & ~(HUGE_SZ - 1), to;
		struct huge_job p = j;

		if (c > e)
			c = e;
		to = slot_of(t, a, c);
		if (!to)
			return -1;
		p.to = to;
		p.vaddr = a;
		p.len = c - a;
		p.off = j.off + (a - s);
		p.csum = j.csum + ((a - s) >> PAGE_SHIFT);
		if (huge_job_add(hf, &p))
			return -1;
		a = c;
	}
	return 0;
}

/* The pieces of @pe's pages [s, e) in huge runs, from the pages file (file 0). */
static int huge_jobs_of(struct cow_task *t, struct huge_fill *hf, const PagemapEntry *pe, uint64_t s, uint64_t e)
{
	for (size_t k = page_list_lower_bound(&t->huge, s); k < t->huge.nr && t->huge.r[k].start < e; k++) {
		uint64_t a = t->huge.r[k].start > s ? t->huge.r[k].start : s;
		uint64_t b = t->huge.r[k].start + t->huge.r[k].nr_pages * PAGE_SIZE;
		struct huge_job j = { .file = 0 };

		if (b > e)
			b = e;
		j.off = pe->off + (a - pe->vaddr);
		j.csum = pe->csum + ((a - pe->vaddr) >> PAGE_SHIFT);
		if (huge_piece(t, hf, j, a, b))
			return -1;
	}
	return 0;
}

/* The runs' pieces where the chain stores them (pagechain.c). */
static int huge_jobs_of_srcs(struct cow_task *t, struct huge_fill *hf, const struct chain_srcs *cs)
{
	for (size_t k = 0; k < cs->nr; k++) {
		const struct chain_src *x = &cs->s[k];
		struct huge_job j = { .off = x->off, .csum = x->csum, .file = x->file, .clen = x->clen,
				      .fpages = x->fpages, .fvaddr = x->fvaddr };

		if (huge_piece(t, hf, j, x->to, x->to + x->len))
			return -1;
	}
	return 0;
}

static int map_huge_slots(struct cow_task *t)
{
	for (size_t k = 0; k < t->nr_areas; k++) {
		const struct cow_area *a = &t->areas[k];
		uint64_t len = a->end - a->start;
		void *m;

		if (!a->huge)
			continue;
		/* as the restorer maps the area: UFFDIO_MOVE wants the same access flags */
		m = mmap((void *)a->slot, len, cow_map_prot(a->vma, 1),
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (a->vma->flags & MAP_NORESERVE), -1, 0);
		if (m != (void *)a->slot) {
			pr_perror("%d: can't map memory for %lx in its slot", t->pid, (unsigned long)a->start);
			return -1;
		}
		if (madvise(m, len, MADV_HUGEPAGE)) {
			pr_perror("%d: MADV_HUGEPAGE on the slot of %lx", t->pid, (unsigned long)a->start);
			return -1;
		}
	}
	return 0;
}

static void huge_report(struct cow_task *t, struct huge_fill *hf)
{
	const char *name = hf->what[hf->at_file];

	switch (hf->failed) {
	case HF_READ:
		pr_err("%d: %s: reading pages at offset %lu: %s\n", t->pid, name, (unsigned long)hf->at_off,
		       strerror(hf->err));
		break;
	case HF_SHORT:
		pr_err("%s: ends at offset %lu, short of the pages of %d\n", name, (unsigned long)hf->at_off, t->pid);
		break;
	case HF_CSUM:
		pr_err("%s: the page at offset %lu (address %lx) is damaged (checksum mismatch)\n", name,
		       (unsigned long)hf->at_off, (unsigned long)hf->at_addr);
		break;
	case HF_FRAME:
		pr_err("%s: the compressed frame of %lx at offset %lu is damaged\n", name, (unsigned long)hf->at_addr,
		       (unsigned long)hf->at_off);
		break;
	case HF_OK:
		break;
	}
}

/* The pages files the jobs read: the pagemap's, or the chain's. */
static int huge_open(struct cow_task *t, struct huge_fill *hf, int dfd, const char *pages_name, const char **what1)
{
	const struct chain_srcs *cs = t->srcs;
	int n = cs ? cs->nr_files : 1;

	if (n > HUGE_MAX_FILES) {
		pr_err("%d: a chain of %d pages files\n", t->pid, n);
		return -1;
	}
	hf->fds = malloc(n * sizeof(*hf->fds));
	if (!hf->fds)
		return -1;
	for (int k = 0; k < n; k++) {
		hf->fds[k] = chain_open_pages(dfd, cs ? cs->files[k] : pages_name);
		if (hf->fds[k] < 0)
			return -1;
		hf->nr_fds++;
	}
	if (!cs) {
		*what1 = pages_name;
		hf->what = what1;
	} else {
		/* an array of pointers to the names */
		const char **w = malloc(n * sizeof(*w));

		if (!w)
			return -1;
		for (int k = 0; k < n; k++)
			w[k] = cs->what[k];
		hf->what = w;
	}
	return 0;
}

static void huge_wctx_free(struct huge_wctx *w)
{
	if (w->dctx)
		decomp_ctx_free(w->dctx);
	free(w->frame);
	free(w->pages);
}

static int huge_wctx_init(struct huge_fill *hf, struct huge_wctx *w)
{
	if (!hf->frames)
		return 0;
	w->dctx = decomp_ctx_new();
	w->frame = malloc(COMP_FRAME_PAGES * PAGE_SIZE);
	w->pages = malloc(COMP_FRAME_PAGES * PAGE_SIZE);
	if (!w->dctx || !w->frame || !w->pages) {
		pr_err("out of memory for compressed frames\n");
		return -1;
	}
	return 0;
}

/* Where the fill stands in time: wall (and TSC, to turn the checks' cycles into time), and CPU of all threads. */
struct fill_clock {
	uint64_t ns, tsc, cpu_ns;
};

static void fill_clock(struct fill_clock *c)
{
	struct timespec ts;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->tsc = __rdtsc();
	c->ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	/* the fillers are gone by the second call: their time is in the process's */
	c->cpu_ns = 0;
	if (!getrusage(RUSAGE_SELF, &ru))
		c->cpu_ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
			    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

int cow_fill_huge(struct cow_tree *ct, int i, int dfd, const char *pages_name)
{
	struct cow_task *t = ct->t[i];
	struct fill_clock c0, c1;
	struct huge_fill hf = { 0 };
	struct filler fillers[HUGE_MAX_FILLERS] = {};
	struct huge_wctx w[HUGE_MAX_FILLERS] = {};
	const char *what1 = NULL;
	int ret = -1, nr_fillers = 0;

	if (!t->huge.nr)
		return 0;
	if (map_huge_slots(t))
		return -1;
	if (t->srcs) {
		if (huge_jobs_of_srcs(t, &hf, t->srcs))
			goto out;
	} else {
		for (size_t k = 0; k < t->nr_pms; k++) {
			const PagemapEntry *pe = t->pms[k];

			if (pe->has_in_parent && pe->in_parent)
				continue;
			if (huge_jobs_of(t, &hf, pe, pe->vaddr, pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE))
				goto out;
		}
	}
	/* a frame is at most COMP_FRAME_PAGES pages, and its bytes no more (check_pagemap_entry()) */
	for (size_t k = 0; k < hf.nr; k++)
		if (hf.jobs[k].clen && (hf.jobs[k].fpages > COMP_FRAME_PAGES || hf.jobs[k].clen > hf.jobs[k].fpages * PAGE_SIZE)) {
			pr_err("%d: a compressed frame of %u pages, %u bytes at %lx\n", t->pid, hf.jobs[k].fpages,
			       hf.jobs[k].clen, (unsigned long)hf.jobs[k].to);
			goto out;
		}
	if (huge_open(t, &hf, dfd, pages_name, &what1) || huge_wctx_init(&hf, &w[0]))
		goto out;
	/* a process in a nested pid namespace has ids at several levels: it fills alone */
	if (ct->fillers > 1 && !t->nested && t->huge.total_pages * PAGE_SIZE >= HUGE_THREADED_MIN) {
		int32_t next = ct->pid_max - 1;

		for (int k = 0; k < ct->fillers - 1; k++) {
			if (huge_wctx_init(&hf, &w[nr_fillers + 1]))
				break;
			fillers[nr_fillers].hf = &hf;
			fillers[nr_fillers].w = &w[nr_fillers + 1];
			if (filler_start(ct, &fillers[nr_fillers], &next) == 0)
				nr_fillers++;
		}
	}
	pr_debug("%d: %zu pieces to fill from %d file(s), %d filler thread(s) started\n", t->pid, hf.nr, hf.nr_fds,
		 nr_fillers);
	fill_clock(&c0);
	huge_worker(&hf, &w[0]);
	for (int k = 0; k < nr_fillers; k++)
		filler_wait(&fillers[k]);
	if (hf.failed) {
		huge_report(t, &hf);
		goto out;
	}
	fill_clock(&c1);
	pr_info("%d: %lu MiB filled in huge pages (%zu pieces, %d thread(s)%s) in %.1f ms, %.1f ms of CPU, of which "
		"page checks %.1f ms\n", t->pid, (unsigned long)(t->huge.total_pages >> 8), hf.nr, nr_fillers + 1,
		t->srcs ? ", from the chain" : "", (c1.ns - c0.ns) / 1e6, (c1.cpu_ns - c0.cpu_ns) / 1e6,
		c1.tsc > c0.tsc ? hf.check_tsc * ((double)(c1.ns - c0.ns) / (c1.tsc - c0.tsc)) / 1e6 : 0.0);
	ret = 0;
out:
	for (int k = 0; k < HUGE_MAX_FILLERS; k++)
		huge_wctx_free(&w[k]);
	for (int k = 0; k < hf.nr_fds; k++)
		close(hf.fds[k]);
	free(hf.fds);
	if (hf.what && hf.what != (const char *const *)&what1)
		free((void *)hf.what);
	free(hf.jobs);
	return ret;
}

/* Which file an area maps: areas of one file are mapped together, from one open. */
static uint64_t backing_key(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_SHMEM ? (1ULL << 32) | v->shmem_id : v->file_id;
}

static const struct cow_area *sort_base;

static int cmp_backing(const void *a, const void *b)
{
	uint64_t x = backing_key(sort_base[*(const uint32_t *)a].vma), y = backing_key(sort_base[*(const uint32_t *)b].vma);

	return x < y ? -1 : x > y;
}

int cow_premap_late(struct cow_tree *ct, int i, cow_open_fn open_fd, void *priv)
{
	struct cow_task *t = ct->t[i];
	uint32_t *order = calloc(t->nr_areas + 1, sizeof(*order));
	uint64_t key = UINT64_MAX;
	size_t n = 0;
	int fd = -1, ret = -1;

	if (!order) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t k = 0; k < t->nr_areas; k++)
		if (t->areas[k].late)
			order[n++] = k;
	sort_base = t->areas;
	sort_array(order, n, sizeof(*order), cmp_backing);
	for (size_t k = 0; k < n; k++) {
		struct cow_area *a = &t->areas[order[k]];

		if (backing_key(a->vma) != key) {
			if (fd >= 0)
				close(fd);
			key = backing_key(a->vma);
			fd = open_fd(priv, a->vma);
			if (fd < 0)
				goto out;
		}
		if (map_fresh(t, a, open_fd, priv, fd))
			goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(order);
	return ret;
}

uint64_t cow_slot(const struct cow_task *t, uint64_t start)
{
	ssize_t k = area_index(t, start);

	return k >= 0 && t->areas[k].start == start && !t->areas[k].huge ? t->areas[k].slot : 0;
}

uint64_t cow_huge_slot(const struct cow_task *t, uint64_t start)
{
	ssize_t k = area_index(t, start);

	return k >= 0 && t->areas[k].start == start && t->areas[k].huge ? t->areas[k].slot : 0;
}

static int add_pm_piece(struct rst_pagemap *out, size_t *n, size_t max, const PagemapEntry *pe, uint64_t s, uint64_t e)
{
	if (*n >= max)
		return -1;
	out[*n].vaddr = s;
	out[*n].nr_pages = (e - s) >> PAGE_SHIFT;
	out[*n].off = pe->off + (s - pe->vaddr);
	out[*n].file = pe->has_file ? pe->file : 0;
	out[(*n)++].csum = pe->csum ? pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT) : NULL;	/* NULL: with the dumping host (lazy) */
	return 0;
}

/*
 * A piece [s, e) of entry @pe for the restorer: where it is in the file,
 * and its pages' checksums; without the huge runs (@runs), filled already.
 */
static int add_pm(struct rst_pagemap *out, size_t *n, size_t max, const PagemapEntry *pe, uint64_t s, uint64_t e,
		  const struct page_list *runs)
{
	for (size_t k = page_list_lower_bound(runs, s); k < runs->nr && runs->r[k].start < e; k++) {
		uint64_t rs = runs->r[k].start, re = rs + runs->r[k].nr_pages * PAGE_SIZE;

		if (rs > s && add_pm_piece(out, n, max, pe, s, rs))
			return -1;
		s = re;
		if (s >= e)
			return 0;
	}
	return add_pm_piece(out, n, max, pe, s, e);
}

ssize_t cow_restorer_pagemap(const struct cow_task *t, struct rst_pagemap *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nr_pms; i++) {
		const PagemapEntry *pe = t->pms[i];
		uint64_t s = pe->vaddr, e = s + (uint64_t)pe->nr_pages * PAGE_SIZE, pos = s;
		ssize_t k = area_index(t, s);

		if (pe->has_in_parent && pe->in_parent)
			continue;
		/*
		 * pages of areas filled before the fork are left out; late areas
		 * are the restorer's, and so is what huge areas have outside runs
		 */
		for (; k >= 0 && (size_t)k < t->nr_areas && t->areas[k].start < e; k++) {
			if (t->areas[k].late || t->areas[k].huge)
				continue;
			if (t->areas[k].start > pos && add_pm(out, &n, max, pe, pos, t->areas[k].start, &t->huge))
				goto full;
			if (t->areas[k].end > pos)
				pos = t->areas[k].end;
		}
		if (pos < e && add_pm(out, &n, max, pe, pos, e, &t->huge))
			goto full;
	}
	return n;
full:
	pr_err("%d: more pagemap pieces than room for them\n", t->pid);
	return -1;
}

void cow_task_free(struct cow_task *t)
{
	free(t->areas);
	t->areas = NULL;
	t->nr_areas = 0;
	page_list_free(&t->inherited);
	page_list_free(&t->huge);
	if (t->srcs) {
		chain_srcs_free(t->srcs);
		free(t->srcs);
		t->srcs = NULL;
	}
}
