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
/*
 * Restore: @pms (the pagemap of @pid in @dfd, whose pages are @pages_name)
 * has in_prev entries: gather every page from the chain into one memfd,
 * in the order of @pms, and rewrite the entries to point into it. *memfd
 * gets the memfd. 0 or -1 (a page the chain does not have, a short file).
 */
int chain_gather(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr, int *memfd);
/*
 * --auto-dedup: the images in @dfd are whole: punch out of the pages files
 * up its chain, for @pid, every stored page its pagemap (through in_prev)
 * no longer needs. *punched counts the pages. 0 or -1.
 */
int chain_dedup(int dfd, pid_t pid, uint64_t *punched);
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
