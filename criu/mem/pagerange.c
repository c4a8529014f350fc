// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sorted lists of page ranges, built in address order while scanning a
 * memory area and later walked in iovec-sized batches (for
 * process_vm_readv(), vmsplice() and friends).
 *
 * Internally all range arithmetic is done in page frame numbers so that
 * a range ending exactly at the top of the 64-bit space does not wrap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pagerange.h"
#include "util.h"

#define PAGE_LIST_MIN_CAP	16
/* Page frame numbers of a 64-bit address space: 2^64 / PAGE_SIZE. */
#define PFN_LIMIT		(1ULL << (64 - PAGE_SHIFT))

void page_list_init(struct page_list *l)
{
	memset(l, 0, sizeof(*l));
}

void page_list_free(struct page_list *l)
{
	free(l->r);
	page_list_init(l);
}

static uint64_t range_end_pfn(const struct page_range *r)
{
	return (r->start >> PAGE_SHIFT) + r->nr_pages;
}

static int page_list_grow(struct page_list *l)
{
	struct page_range *tmp;
	size_t new_cap;

	if (l->cap > SIZE_MAX / 2 / sizeof(*l->r)) {
		pr_err("Page list is too long (%zu ranges)\n", l->cap);
		errno = ENOMEM;
		return -1;
	}
	new_cap = l->cap ? l->cap * 2 : PAGE_LIST_MIN_CAP;

	tmp = realloc(l->r, new_cap * sizeof(*l->r));
	if (!tmp) {
		pr_perror("Can't grow page list to %zu ranges", new_cap);
		return -1;
	}

	l->r = tmp;
	l->cap = new_cap;
	return 0;
}

static int check_new_range(const struct page_list *l, uint64_t addr, uint64_t nr_pages)
{
	uint64_t pfn = addr >> PAGE_SHIFT;

	if (!nr_pages || (addr & (PAGE_SIZE - 1))) {
		pr_err("Bad page range %#llx+%llu pages\n",
		       (unsigned long long)addr, (unsigned long long)nr_pages);
		return -1;
	}
	if (nr_pages > PFN_LIMIT - pfn) {
		pr_err("Page range %#llx+%llu pages wraps the address space\n",
		       (unsigned long long)addr, (unsigned long long)nr_pages);
		return -1;
	}
	if (l->nr && pfn < range_end_pfn(&l->r[l->nr - 1])) {
		pr_err("Page range %#llx+%llu pages overlaps or precedes the last one\n",
		       (unsigned long long)addr, (unsigned long long)nr_pages);
		return -1;
	}
	return 0;
}

int page_list_add(struct page_list *l, uint64_t addr, uint64_t nr_pages)
{
	struct page_range *last;

	if (check_new_range(l, addr, nr_pages)) {
		errno = EINVAL;
		return -1;
	}

	last = l->nr ? &l->r[l->nr - 1] : NULL;
	if (last && range_end_pfn(last) == addr >> PAGE_SHIFT) {
		last->nr_pages += nr_pages;
		l->total_pages += nr_pages;
		return 0;
	}

	if (l->nr == l->cap && page_list_grow(l))
		return -1;

	l->r[l->nr].start = addr;
	l->r[l->nr].nr_pages = nr_pages;
	l->nr++;
	l->total_pages += nr_pages;
	return 0;
}

int page_list_split(const struct page_list *l, const struct page_list *sel, struct page_list *in,
		    struct page_list *out)
{
	size_t j = 0;

	page_list_init(in);
	page_list_init(out);
	for (size_t i = 0; i < l->nr; i++) {
		uint64_t pfn = l->r[i].start >> PAGE_SHIFT, end = range_end_pfn(&l->r[i]);

		while (pfn < end) {
			uint64_t s, e, next;
			struct page_list *to;

			/* skip selected ranges wholly below pfn */
			while (j < sel->nr && range_end_pfn(&sel->r[j]) <= pfn)
				j++;
			s = j < sel->nr ? sel->r[j].start >> PAGE_SHIFT : end;
			e = j < sel->nr ? range_end_pfn(&sel->r[j]) : end;
			if (pfn < s) {
				next = s < end ? s : end;
				to = out;
			} else {
				next = e < end ? e : end;
				to = in;
			}
			if (page_list_add(to, pfn << PAGE_SHIFT, next - pfn))
				goto err;
			pfn = next;
		}
	}
	return 0;
err:
	page_list_free(in);
	page_list_free(out);
	return -1;
}

size_t page_list_next_batch(const struct page_list *l, struct page_cursor *cur,
			    uint64_t max_pages, struct iovec *iov, size_t max_iov,
			    uint64_t *nr_pages)
{
	const struct page_range *r;
	uint64_t pages = 0, take;
	size_t n = 0;

	while (cur->idx < l->nr && n < max_iov && pages < max_pages) {
		r = &l->r[cur->idx];
		if (cur->off >= r->nr_pages) {
			/* Tolerate a cursor left at the very end of a range. */
			cur->idx++;
			cur->off = 0;
			continue;
		}

		take = r->nr_pages - cur->off;
		if (take > max_pages - pages)
			take = max_pages - pages;
		/* Keep iov_len representable even for absurdly large ranges. */
		if (take > SIZE_MAX >> PAGE_SHIFT)
			take = SIZE_MAX >> PAGE_SHIFT;

		iov[n].iov_base = (void *)(uintptr_t)(r->start + (cur->off << PAGE_SHIFT));
		iov[n].iov_len = take << PAGE_SHIFT;
		n++;
		pages += take;

		cur->off += take;
		if (cur->off == r->nr_pages) {
			cur->idx++;
			cur->off = 0;
		}
	}

	if (nr_pages)
		*nr_pages = pages;
	return n;
}

int page_list_merge(const struct page_list *a, const struct page_list *b, struct page_list *out)
{
	size_t i = 0, j = 0;

	page_list_init(out);
	while (i < a->nr || j < b->nr) {
		const struct page_range *r;

		if (j >= b->nr || (i < a->nr && a->r[i].start < b->r[j].start))
			r = &a->r[i++];
		else
			r = &b->r[j++];
		if (page_list_add(out, r->start, r->nr_pages)) {
			page_list_free(out);
			return -1;
		}
	}
	return 0;
}

static int cmp_range(const void *x, const void *y)
{
	const struct page_range *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

int page_list_normalize(struct page_range *r, size_t nr, struct page_list *out)
{
	page_list_init(out);
	sort_array(r, nr, sizeof(*r), cmp_range);
	for (size_t i = 0; i < nr; i++) {
		uint64_t s = r[i].start, e = s + r[i].nr_pages * PAGE_SIZE;

		if (out->nr) {
			struct page_range *last = &out->r[out->nr - 1];
			uint64_t le = last->start + last->nr_pages * PAGE_SIZE;

			if (s < le) {
				/* overlapping: keep what the last one does not cover */
				if (e <= le)
					continue;
				s = le;
			}
		}
		if (page_list_add(out, s, (e - s) >> PAGE_SHIFT)) {
			page_list_free(out);
			return -1;
		}
	}
	return 0;
}

size_t page_list_lower_bound(const struct page_list *l, uint64_t addr)
{
	size_t lo = 0, hi = l->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->r[mid].start + l->r[mid].nr_pages * PAGE_SIZE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
