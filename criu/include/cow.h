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

/* A private anonymous area: the kind whose pages a fork shares. */
int cow_vma_anon(const VmaEntry *v);
/* The area of the parent (@pvmas) a child's area @v may share pages with, or NULL. */
const VmaEntry *cow_parent_vma(const VmaEntry *v, VmaEntry *const *pvmas, size_t nr);

/* ---- dump ---- */

/*
 * Move the pages of @lists (nr of them) that @pid still shares with its
 * parent, same address and same physical page, into @inh[0..nr).
 */
int cow_split_inherited(pid_t pid, const struct mm_dump *md, const struct mm_parent *par,
			struct page_list *lists, int nr, struct page_list *inh);

/* ---- restore ---- */

/* A private area of a task that is built before the task forks. */
struct cow_area {
	uint64_t start, end;		/* where it ends up */
	uint64_t slot;			/* where it is built, in the premap region */
	uint32_t flags;			/* MAP_GROWSDOWN */
	int nohuge;			/* MADV_NOHUGEPAGE applies */
	int from;			/* the parent's area it takes pages from, or -1 */
	uint64_t from_len;		/* bytes taken from there */
};

struct cow_task {
	pid_t pid;
	int parent;			/* index in the tree; -1 for the root */
	int live;
	MmEntry *mm;
	PagemapEntry **pms;
	size_t nr_pms;
	struct cow_area *areas;		/* sorted by address */
	size_t nr_areas;
	struct page_list inherited;	/* the pages marked in_parent */
};

struct cow_tree {
	struct cow_task **t;
	int nr;
	uint64_t base, len;		/* the premap region, 0 if none */
};

/* Check the in_parent pages against the parent's areas, and pick the areas to premap. */
int cow_plan(struct cow_tree *ct);
/* Reserve the premap region in our address space: free here and in every task's layout. */
int cow_reserve(struct cow_tree *ct);
/* In the restore process of task @i, before it forks: build its premapped areas. */
int cow_premap(struct cow_tree *ct, int i, int dfd, const char *pages_name);
/* The premapped slot of the area starting at @start, 0 if it is mapped the usual way. */
uint64_t cow_slot(const struct cow_task *ct, uint64_t start);
struct rst_pagemap;
/* The pagemap the restorer fills: no in_parent pages, none in premapped areas. Count or -1. */
ssize_t cow_restorer_pagemap(const struct cow_task *ct, struct rst_pagemap *out, size_t max);
void cow_task_free(struct cow_task *ct);

#endif
