/*
 * Lazy restore (--lazy-pages, criu lazy-pages): the private anonymous
 * memory of the restored tree is registered with userfaultfd instead of
 * filled, and the lazy-pages daemon fills it on faults and in the
 * background. See Documentation/lazy-pages.md.
 */
#ifndef CR_LAZY_H
#define CR_LAZY_H

#include <stdbool.h>
#include <sys/types.h>

struct rst_ctx;
struct rst_pagemap;

#define LAZY_SOCKET	"lazy-pages.socket"

#include "mm.pb-c.h"

/* The kind of area a restore may fill lazily: private anonymous memory, not mlock()ed. */
bool lazy_vma(const VmaEntry *v);
/* Area @i of the process is filled lazily (lazy_vma(), and not premapped). */
bool lazy_area(struct rst_ctx *rc, size_t i);
/*
 * Keeps in @pms (@nr pieces, room for @max) only the parts that are
 * (@lazy) or are not lazy, split at the areas' bounds. The new count, or -1.
 */
ssize_t lazy_split(struct rst_ctx *rc, struct rst_pagemap *pms, size_t nr, size_t max, bool lazy);
/* Does area @i get pages lazily? (it is lazy and the pagemap has some for it) */
bool lazy_area_used(struct rst_ctx *rc, size_t i);

/* criu restore --lazy-pages: connect to the daemon (waiting for it a while), open /dev/userfaultfd. */
int lazy_restore_start(void);
int lazy_restore_sk(void);
int lazy_uffd_dev(void);
void lazy_restore_set_fds(int sk, int dev);
/* The outcome, told to the daemon; closes the connection. */
void lazy_restore_end(bool committed);

/* criu lazy-pages */
int cr_lazy_pages(void);
/* criu page-server --lazy-pages: serve the lazy pages (and the images) of a finished dump */
int cr_lazy_page_server(void);
/* check: the kernel lets criu do it (events, kernel faults) */
int lazy_pages_supported(void);
/* Why not, after lazy_pages_supported() said no. */
const char *lazy_pages_why(void);

#endif
