/*
 * Private memory shared copy-on-write between a parent and the children
 * it forked: found at dump time (cow.c), shared again at restore.
 */
#ifndef CR_COW_H
#define CR_COW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mem.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pagerange.h"
#include "pidmap.h"
#include "pagechain.h"

/*
 * A private area whose pages a fork shares: anonymous (heap, stack too)
 * or a private file mapping, whose written pages are anonymous copies.
 */
int cow_vma_private(const VmaEntry *v);
/*
 * The area of the parent (@pvmas, sorted) a child's area @v may share pages
 * with: one of the same kind holding v's first page, growing the same way,
 * for a file mapping of the same file at the same offsets. Or NULL. The
 * pages shared lie in [v->start, min(v->end, parent's end)).
 */
const VmaEntry *cow_parent_vma(const VmaEntry *v, VmaEntry *const *pvmas, size_t nr);

/* ---- dump ---- */

/*
 * Move the pages of @lists (nr of them) that @pid still shares with its
 * parent, same address and same physical page, into @inh[0..nr).
 */
int cow_split_inherited(pid_t pid, const struct mm_dump *md, const struct mm_parent *par,
			struct page_list *lists, int nr, struct page_list *inh);

/* ---- restore ---- */

/*
 * An area of a task built before the restorer runs, in a slot of the
 * premap region, and moved into place by the restorer:
 *  - an area whose pages are shared with the parent or a child (cow), made
 *    before the task forks so that the fork shares them;
 *  - a file area of a task mapping more than COW_DIRECT_FILES files
 *    ("late"), of the files beyond those: mapped from its file after the
 *    fork, so that the restorer needs no fd for it. The restorer maps the
 *    others from one fd per file; restore's fds stay few whatever the
 *    mappings (moving an area costs more than mapping it: only the rest).
 */
#define COW_DIRECT_FILES	256

struct cow_area {
	uint64_t start, end;		/* where it ends up */
	uint64_t slot;			/* where it is built, in the premap region */
	uint32_t flags;			/* MAP_GROWSDOWN */
	int nohuge;			/* MADV_NOHUGEPAGE applies */
	int from;			/* the parent's area it takes pages from, or -1 */
	uint64_t from_len;		/* bytes taken from there */
	int late;			/* mapped after the fork; its pages are the restorer's to fill */
	int pages;			/* the pagemap has pages for it */
	int huge;			/* filled after the fork in huge pages, run by run (cow_fill_huge()) */
	uint64_t huge_bytes;		/* of those runs */
	const VmaEntry *vma;
};

struct cow_task {
	pid_t pid;
	int parent;			/* index in the tree; -1 for the root */
	int live;
	int nested;			/* in a nested pid namespace of the tree's */
	MmEntry *mm;
	PagemapEntry **pms;
	size_t nr_pms;
	const uint8_t *vma_pages;	/* per area of mm: pages in the pagemap */
	struct cow_area *areas;		/* sorted by address */
	size_t nr_areas;
	struct page_list inherited;	/* the pages marked in_parent */
	struct page_list huge;		/* 2 MiB runs all of whose pages are in the pagemap (huge areas) */
	struct chain_srcs *srcs;	/* where the chain stores the runs' pages (pagechain.c), if not in pms */
};

struct cow_tree {
	struct cow_task **t;
	int nr;
	uint64_t base, len;		/* the premap region, 0 if none */
	uint64_t align;			/* of the region: the largest page size of an area in it */
	int no_huge;			/* set before cow_plan(): no huge fill (the lazy-pages daemon's reading) */
	int huge_ok;			/* huge fill possible: THP and UFFDIO_MOVE (cow_plan()) */
	int fillers;			/* threads a task fills its huge areas with, itself included */
	int32_t pid_max;		/* filler threads take ids below it... */
	const struct pidmap *ids;	/* ...and none of these: every pid, tid, pgid and sid of the images */
};

/* Address ranges taken, to find a hole free in all of them. */
struct span {
	uint64_t start, end;
};

struct span_set {
	struct span *s;
	size_t n, cap;
};

int span_set_add(struct span_set *ss, uint64_t start, uint64_t end);
/*
 * The highest free hole of @len bytes (aligned to @align) between 4 GiB and
 * 4 GiB below the task size, or 0. Sorts and merges the set: O(n log n).
 */
uint64_t find_free_hole(struct span_set *ss, uint64_t len, uint64_t align);

/*
 * The protection a private area is mapped with before the restorer gives
 * it its own: writable if pages go in (@pages) or if it was writable once
 * (VM_ACCOUNT, which mprotect() keeps; mapping an area writable that
 * never was would charge it, and let it merge with neighbours it did not).
 */
uint32_t cow_map_prot(const VmaEntry *v, int pages);

/* An fd to map file-backed area @v from (closed by the caller), or -1. */
typedef int (*cow_open_fn)(void *priv, const VmaEntry *v);

/* Check the in_parent pages against the parent's areas, and pick the areas to premap. */
int cow_plan(struct cow_tree *ct);
/* Reserve the premap region in our address space: free here and in every task's layout. */
int cow_reserve(struct cow_tree *ct);
/* In the restore process of task @i, before it forks: build its areas shared with parent or children. */
int cow_premap(struct cow_tree *ct, int i, int dfd, const char *pages_name, cow_open_fn open, void *priv);
/* After it forked: map its other file-backed areas in their slots. */
int cow_premap_late(struct cow_tree *ct, int i, cow_open_fn open, void *priv);
/*
 * After it forked: fill the runs of its huge areas in their slots (huge
 * pages), which the restorer moves into its own areas with UFFDIO_MOVE.
 */
int cow_fill_huge(struct cow_tree *ct, int i, int dfd, const char *pages_name);
/* The premapped slot of the area starting at @start, 0 if it is mapped the usual way. */
uint64_t cow_slot(const struct cow_task *ct, uint64_t start);
/* The slot of the huge area at @start; 0 if it is none. */
uint64_t cow_huge_slot(const struct cow_task *ct, uint64_t start);
struct rst_pagemap;
/*
 * The pagemap the restorer fills: no in_parent pages, none filled before the
 * fork, no huge runs. Room needed: nr_pms + nr_areas + huge.nr. Count or -1.
 */
ssize_t cow_restorer_pagemap(const struct cow_task *ct, struct rst_pagemap *out, size_t max);
void cow_task_free(struct cow_task *ct);

#endif
