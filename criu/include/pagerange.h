#ifndef CR_PAGERANGE_H
#define CR_PAGERANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#undef PAGE_SIZE
#define PAGE_SIZE	4096UL
#define PAGE_SHIFT	12
#define PAGE_ALIGN(x)	(((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* A sorted list of page ranges, adjacent ranges merged. */
struct page_range {
	uint64_t start;		/* address, page aligned */
	uint64_t nr_pages;
};

struct page_list {
	struct page_range *r;
	size_t nr, cap;
	uint64_t total_pages;
};

void page_list_init(struct page_list *l);
void page_list_free(struct page_list *l);
/*
 * Append [addr, addr + nr_pages pages). Ranges must come in increasing
 * address order and must not overlap earlier ones (-1 with EINVAL if so);
 * a range adjacent to the last one is merged into it. 0 or -1.
 */
int page_list_add(struct page_list *l, uint64_t addr, uint64_t nr_pages);

/*
 * Split @l by @sel: the pages of @l that are in @sel go to @in, the others
 * to @out (both initialised here). 0 or -1.
 */
int page_list_split(const struct page_list *l, const struct page_list *sel, struct page_list *in,
		    struct page_list *out);

/* The union of two lists of disjoint ranges, into @out (initialised here). 0 or -1. */
int page_list_merge(const struct page_list *a, const struct page_list *b, struct page_list *out);
/* Sort @nr ranges (in place), merge overlaps and neighbours into @out (initialised here). 0 or -1. */
int page_list_normalize(struct page_range *r, size_t nr, struct page_list *out);

/* The index of the first range of @l ending above @addr (l->nr if none). */
size_t page_list_lower_bound(const struct page_list *l, uint64_t addr);

/* A position inside a page_list, for walking it in batches. */
struct page_cursor {
	size_t idx;		/* range index */
	uint64_t off;		/* pages already consumed from range idx */
};

/*
 * Fill at most @max_iov iovecs covering at most @max_pages pages starting
 * at @cur, advance @cur, and return the number of iovecs filled (0 when
 * the list is exhausted). *nr_pages gets the pages covered.
 */
size_t page_list_next_batch(const struct page_list *l, struct page_cursor *cur,
			    uint64_t max_pages, struct iovec *iov, size_t max_iov,
			    uint64_t *nr_pages);

#endif
