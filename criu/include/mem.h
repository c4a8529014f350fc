#ifndef CR_MEM_H
#define CR_MEM_H

#include <stdbool.h>
#include <sys/types.h>

#include "files.h"
#include "mm.pb-c.h"
#include "proc_parse.h"

struct parasite_ctl;
struct dump_stats;

/* vma_entry.madv bit standing for mlock() rather than an madvise() advice */
#define VMA_MADV_LOCK	63
/* with VMA_MADV_LOCK: mlock2(MLOCK_ONFAULT), pages locked as they fault in, not all at once */
#define VMA_MADV_LOCKONFAULT	62

#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE	0x08	/* Linux 6.11: a map type of its own */
#endif

/* The task's memory areas as they go into mm-PID.img. */
struct mm_dump {
	MmEntry mm;
	VmaEntry *vmas;
	VmaEntry **vma_ptrs;
	uint8_t *may_guard;	/* per area: VmFlags "gu", so it is scanned for guard regions */
	uint8_t *wp;		/* per area: MD_WP_* (dirty tracking, track.c) */
	size_t nr_vmas;
	uint64_t auxv[128];
	/*
	 * Memory the kernel may write while the parasite runs in the task:
	 * the rseq area of the thread it runs in, updated each time that
	 * thread comes back to user space on another CPU.
	 */
	uint64_t live_start, live_end;
};

#define MD_WP_OLD	1	/* registered for asynchronous write-protect before this dump (ours: track.c) */
#define MD_WP_NEW	2	/* registered by this dump */

struct track_task;

/* What dump_pages() is to do about tracking and the previous images. */
struct page_opts {
	const struct track_task *tt;	/* NULL: no tracking */
	bool protect;			/* write-protect what is dumped: the tracking goes on */
};

/* The process a task was forked from: the task may still share pages with it. */
struct mm_parent {
	pid_t pid;
	const struct mm_dump *md;
};

/* Classify every area of @pid; refuse (with a message) any we can't restore. */
int collect_vmas(pid_t pid, struct proc_vma *pv, int nr, struct file_table *ft, struct mm_dump *md);
/*
 * Once every task's fds and areas are collected: each mapping of a socket
 * must be the rings of a packet socket of the tree (sk-packet.c), which
 * it then names. Also forgets them, for the next dump (with @ft NULL: only that).
 */
int resolve_socket_vmas(struct file_table *ft);
/* Write the contents of private areas to pages-1.img and pagemap-PID.img. */
int dump_pages(struct parasite_ctl *ctl, pid_t pid, int dfd, struct mm_dump *md, struct dump_stats *st,
	       uint32_t pages_id, const struct mm_parent *parent, const struct page_opts *po);
/*
 * pre-dump: find the pages while the tree is frozen (write-protecting them
 * for the tracking), then, with the tree running again, copy them.
 */
struct predump_pages;
struct predump_pages *predump_find(pid_t pid, struct mm_dump *md, struct dump_stats *st, const struct page_opts *po);
int predump_copy(struct predump_pages *pp, pid_t pid, int dfd, uint32_t pages_id, struct dump_stats *st);
void predump_free(struct predump_pages *pp);
/*
 * dump --snapshot (snapshot.c): the same with the pages still shared with
 * the parent process left out (in_parent), the lists found, and the copy
 * reading through @rd (a pread() of the task's memory otherwise).
 */
struct page_list;
struct predump_pages *predump_find_shared(pid_t pid, struct mm_dump *md, struct dump_stats *st,
					  const struct page_opts *po, const struct mm_parent *parent);
void predump_lists(const struct predump_pages *pp, const struct page_list **anon, const struct page_list **file,
		   const struct page_list **hidden);
struct page_reader {
	/* @len bytes of the task's memory at @addr: as pread() answers */
	ssize_t (*read)(void *arg, char *buf, size_t len, uint64_t addr);
	void *arg;
};
int predump_copy_via(struct predump_pages *pp, pid_t pid, int dfd, uint32_t pages_id, struct dump_stats *st,
		     const struct page_reader *rd);
void free_mm_dump(struct mm_dump *md);

/* The first of @mm's areas (sorted) that ends above @addr: its index, or n_vmas. */
static inline size_t mm_vma_lower_bound(const MmEntry *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->vmas[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
