/*
 * Chains of images dirs: a dump taken with --prev-images-dir keeps a
 * "parent" symlink to the previous images dir, and leaves out of its pages
 * file what did not change since (pagemap entries with in_prev). Those
 * pages are wherever the parent's pagemap of the same pid puts them:
 * in its pages file, or again in_prev, further up.
 */
#ifndef CR_PAGECHAIN_H
#define CR_PAGECHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagemap.pb-c.h"
#include "pagerange.h"

#define PARENT_LINK	"parent"

/* Make @dfd/parent point at @prev (relative to @dfd, as given), replacing an old one. 0 or -1. */
int chain_link(int dfd, const char *prev);
/* The images dir @dfd's parent link, opened (O_PATH), or -1 with errno ENOENT when it has none. */
int chain_open_parent(int dfd);
/* The pages the images in @dfd hold for @pid (stored or in_prev, not the parent process's). 0 or -1. */
int chain_cover(int dfd, pid_t pid, struct page_list *out);
/* The kind of page checksum of the images @dfd (csum.h), -1 in @kind if they have no pagemap; 0 or -1. */
int chain_csum_kind(int dfd, int *kind);
/*
 * Restore: @pms (the pagemap of @pid in @dfd, whose pages are @pages_name)
 * has in_prev entries: gather every page from the chain into one memfd,
 * in the order of @pms, and rewrite the entries to point into it. *memfd
 * gets the memfd. 0 or -1 (a page the chain does not have, a short file).
 */
int chain_gather(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr, int *memfd);
/* The same, leaving out the pages of @skip (huge runs, read by chain_runs()'s sources): holes in the memfd. */
int chain_gather_skip(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr,
		      const struct page_list *skip, int *memfd);

/*
 * Where the chain stores the pages of some ranges (the huge runs of a
 * process, cow.c): pieces of pages files, plain or a compressed frame,
 * each with its pages' checksums. The files stay open in criu (their
 * levels kept, the checksums are theirs), reached by the restoring
 * process by their /proc path as the gathered memfd is.
 */
struct chain_src {
	uint64_t to, len;		/* the piece: address and bytes */
	uint64_t off;			/* plain: where its first page is; compressed: where the frame is */
	uint64_t fvaddr;		/* compressed: the frame's first address */
	uint32_t clen, fpages;		/* compressed: the frame's bytes and pages; clen 0 if plain */
	int file;			/* index in files[] */
	const uint64_t *csum;		/* the checksum of the piece's first page */
};

struct level;

struct chain_srcs {
	struct chain_src *s;
	size_t nr, cap;
	char (*files)[64];		/* for chain_open_pages() */
	char (*what)[64];		/* for messages */
	int nr_files;
	int top_fd, top_fd1;		/* the top images' pages files (the second: pagemap_head.nr_files 2) */
	struct level *up;		/* the levels walked */
};

/* Fill @cs with the sources of @runs, through @pms (in @dfd, pages in @pages_name). 0 or -1. */
int chain_runs(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr,
	       const struct page_list *runs, struct chain_srcs *cs);
void chain_srcs_free(struct chain_srcs *cs);
/*
 * --auto-dedup: the images in @dfd are whole: punch out of the pages files
 * up its chain, for @pid, every stored page its pagemap (through in_prev)
 * no longer needs. *punched counts the pages. 0 or -1.
 */
int chain_dedup(int dfd, pid_t pid, uint64_t *punched);
/* restore --auto-dedup: the pages of @pid freed in every level of the chain; @bytes added to. 0 or -1. */
int chain_free_pages(int dfd, pid_t pid, uint64_t *bytes);
/*
 * The dump id of the images dir @dfd, from its inventory.img (entry and
 * trailer must agree): the id every image of that dir carries, which a
 * child dump in a chain reads it with (open_image_of()). 0 or -1.
 */
int chain_dump_id(int dfd, uint64_t *id);
/*
 * Restore: open the pages file @name of a pagemap (an image file of @dfd),
 * or, once chain_gather() replaced it, its memfd by the /proc path it
 * was given. The fd or -1 (logged).
 */
int chain_open_pages(int dfd, const char *name);
/* How many levels up the chain of @dfd goes (0: no parent). */
int chain_depth(int dfd);

#endif
