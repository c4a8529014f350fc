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
#include <unistd.h>

#include "cow.h"
#include "crtools.h"
#include "image.h"
#include "log.h"
#include "pagerange.h"
#include "proc_parse.h"
#include "restorer.h"
#include "util.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_FILE		(1ULL << 61)
#define PM_PFN_MASK	((1ULL << 55) - 1)
#define PM_CHUNK	4096

int cow_vma_anon(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK;
}

/*
 * The parent's area a child's area @v can take pages from: a private
 * anonymous one holding v's first page, growing the same way. The pages
 * shared lie in [v->start, min(v->end, parent's end)).
 */
const VmaEntry *cow_parent_vma(const VmaEntry *v, VmaEntry *const *pvmas, size_t nr)
{
	if (!cow_vma_anon(v))
		return NULL;
	for (size_t i = 0; i < nr; i++) {
		const VmaEntry *p = pvmas[i];

		if (p->start <= v->start && v->start < p->end)
			return cow_vma_anon(p) && !((p->flags ^ v->flags) & MAP_GROWSDOWN) ? p : NULL;
	}
	return NULL;
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

static int find_shared(pid_t pid, const struct mm_dump *md, const struct mm_parent *par, struct page_list *out)
{
	int cfd, pfd = -1, ret = -1;

	cfd = open_pm(pid);
	if (cfd < 0)
		return -1;
	pfd = open_pm(par->pid);
	if (pfd < 0)
		goto out;
	for (size_t i = 0; i < md->nr_vmas; i++) {
		const VmaEntry *v = &md->vmas[i];
		const VmaEntry *p = cow_parent_vma(v, par->md->vma_ptrs, par->md->nr_vmas);

		if (!p)
			continue;
		if (same_pages(cfd, pfd, pid, par->pid, v->start, v->end < p->end ? v->end : p->end, out))
			goto out;
	}
	ret = 0;
out:
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
	if (find_shared(pid, md, par, &shared))
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

static int cmp_range(const void *a, const void *b)
{
	const struct page_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

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
	qsort(r, n, sizeof(*r), cmp_range);
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

/* Turn the marks into areas; parents come first, so their areas exist. */
static int build_areas(struct cow_tree *ct, int i, int *mark)
{
	struct cow_task *t = ct->t[i];
	size_t n = 0;

	for (size_t k = 0; k < t->mm->n_vmas; k++)
		n += mark[k] != -2;
	if (!n)
		return 0;
	t->areas = calloc(n, sizeof(*t->areas));
	if (!t->areas)
		return -1;
	for (size_t k = 0; k < t->mm->n_vmas; k++) {
		const VmaEntry *v = t->mm->vmas[k];
		struct cow_area *a;

		if (mark[k] == -2)
			continue;
		a = &t->areas[t->nr_areas++];
		a->start = v->start;
		a->end = v->end;
		a->flags = v->flags & MAP_GROWSDOWN;
		a->nohuge = v->has_madv && (v->madv & (1ULL << MADV_NOHUGEPAGE));
		a->from = -1;
		a->slot = ct->len;		/* an offset until cow_reserve() */
		ct->len += v->end - v->start + PAGE_SIZE;
		if (mark[k] >= 0) {
			const struct cow_task *p = ct->t[t->parent];
			const VmaEntry *pv = p->mm->vmas[mark[k]];

			for (size_t j = 0; j < p->nr_areas; j++)
				if (p->areas[j].start == pv->start)
					a->from = j;
			if (a->from < 0)
				return -1;	/* can't be: mark_task() marked it */
			a->from_len = (v->end < pv->end ? v->end : pv->end) - v->start;
		}
	}
	return 0;
}

int cow_plan(struct cow_tree *ct)
{
	int **mark = calloc(ct->nr, sizeof(*mark));
	int ret = -1;

	if (!mark)
		return -1;
	ct->len = 0;
	for (int i = 0; i < ct->nr; i++) {
		struct cow_task *t = ct->t[i];

		page_list_init(&t->inherited);
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
		if (ct->t[i]->live && build_areas(ct, i, mark[i]))
			goto out;
	ret = 0;
out:
	for (int i = 0; i < ct->nr; i++)
		free(mark[i]);
	free(mark);
	return ret;
}

struct span {
	uint64_t start, end;
};

static int add_span(struct span **s, size_t *n, size_t *cap, uint64_t start, uint64_t end)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct span *x = realloc(*s, c * sizeof(*x));

		if (!x)
			return -1;
		*s = x;
		*cap = c;
	}
	(*s)[(*n)++] = (struct span){ start, end };
	return 0;
}

/* Highest hole of @len below 4 GiB under the task size that no span touches. */
static uint64_t find_hole(const struct span *s, size_t n, uint64_t len)
{
	uint64_t cand = kdat.task_size - (1ULL << 32) - len;

	cand &= ~(PAGE_SIZE - 1);
	while (cand > (1ULL << 32) && len < kdat.task_size) {
		uint64_t lowest = cand;
		int hit = 0;

		for (size_t i = 0; i < n; i++)
			if (s[i].start < cand + len && cand < s[i].end) {
				hit = 1;
				if (s[i].start < lowest)
					lowest = s[i].start;
			}
		if (!hit)
			return cand;
		if (lowest < len + PAGE_SIZE)
			break;
		cand = ((lowest - len) & ~(PAGE_SIZE - 1)) - PAGE_SIZE;
	}
	return 0;
}

int cow_reserve(struct cow_tree *ct)
{
	struct proc_vma *self;
	struct span *s = NULL;
	size_t n = 0, cap = 0;
	int nr_self, ret = -1;
	void *mem;

	if (!ct->len)
		return 0;
	if (parse_maps(0, &self, &nr_self))
		return -1;
	for (int i = 0; i < nr_self; i++)
		if (add_span(&s, &n, &cap, self[i].start, self[i].end))
			goto out;
	for (int i = 0; i < ct->nr; i++)
		for (size_t k = 0; ct->t[i]->live && k < ct->t[i]->mm->n_vmas; k++)
			if (add_span(&s, &n, &cap, ct->t[i]->mm->vmas[k]->start, ct->t[i]->mm->vmas[k]->end))
				goto out;
	ct->base = find_hole(s, n, ct->len);
	if (!ct->base) {
		pr_err("no room for the %lu MiB of memory shared between processes\n", (unsigned long)(ct->len >> 20));
		goto out;
	}
	mem = mmap((void *)ct->base, ct->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		   MAP_FIXED_NOREPLACE, -1, 0);
	if (mem != (void *)ct->base) {
		pr_perror("can't reserve %lu bytes at %lx for shared memory", (unsigned long)ct->len,
			  (unsigned long)ct->base);
		ct->base = 0;
		goto out;
	}
	for (int i = 0; i < ct->nr; i++)
		for (size_t k = 0; k < ct->t[i]->nr_areas; k++)
			ct->t[i]->areas[k].slot += ct->base;
	pr_info("premap region for shared private memory: %lx-%lx\n", (unsigned long)ct->base,
		(unsigned long)(ct->base + ct->len));
	ret = 0;
out:
	free(s);
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

static int map_area(struct cow_tree *ct, struct cow_task *t, struct cow_area *a)
{
	uint64_t len = a->end - a->start;
	void *m;

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
	} else {
		m = mmap((void *)a->slot, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | a->flags,
			 -1, 0);
		if (m != (void *)a->slot) {
			pr_perror("%d: can't map memory for %lx", t->pid, (unsigned long)a->start);
			return -1;
		}
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

static int pread_all(int fd, uint64_t to, uint64_t len, uint64_t off, pid_t pid)
{
	while (len) {
		ssize_t n = pread(fd, (void *)to, len, off);

		if (n <= 0) {
			pr_perror("%d: reading pages at offset %lu", pid, (unsigned long)off);
			return -1;
		}
		to += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The task's own pages that fall in premapped areas. */
static int fill_areas(struct cow_task *t, int fd)
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

			if (from < to && pread_all(fd, a->slot + (from - a->start), to - from, pe->off + (from - s), t->pid))
				return -1;
		}
	}
	return 0;
}

int cow_premap(struct cow_tree *ct, int i, int dfd, const char *pages_name)
{
	struct cow_task *t = ct->t[i];
	int fd, ret = 0;

	if (!t->nr_areas)
		return 0;
	for (size_t k = 0; k < t->nr_areas; k++)
		if (map_area(ct, t, &t->areas[k]))
			return -1;
	fd = img_openat(dfd, pages_name, O_RDONLY);
	if (fd < 0) {
		pr_perror("can't open %s", pages_name);
		return -1;
	}
	ret = fill_areas(t, fd);
	close(fd);
	return ret;
}

uint64_t cow_slot(const struct cow_task *t, uint64_t start)
{
	ssize_t k = area_index(t, start);

	return k >= 0 && t->areas[k].start == start ? t->areas[k].slot : 0;
}

static int add_pm(struct rst_pagemap *out, size_t *n, size_t max, uint64_t s, uint64_t e, uint64_t off)
{
	if (*n >= max)
		return -1;
	out[*n].vaddr = s;
	out[*n].nr_pages = (e - s) >> PAGE_SHIFT;
	out[(*n)++].off = off;
	return 0;
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
		for (; k >= 0 && (size_t)k < t->nr_areas && t->areas[k].start < e; k++) {
			if (t->areas[k].start > pos && add_pm(out, &n, max, pos, t->areas[k].start, pe->off + (pos - s)))
				goto full;
			if (t->areas[k].end > pos)
				pos = t->areas[k].end;
		}
		if (pos < e && add_pm(out, &n, max, pos, e, pe->off + (pos - s)))
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
}
