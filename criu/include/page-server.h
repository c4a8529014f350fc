/*
 * The page server: `criu page-server -D DIR --port N` receives over TCP the
 * pagemap and pages images a `criu dump --page-server --address A --port
 * N` (or pre-dump) would write, and writes them into DIR, where they are
 * the same files a local dump makes; the dump writes the other images
 * locally. One connection per server; it exits when the dump is whole (or
 * went away: then it fails). A dump's live rounds (pre-dumps into
 * DIR/.live-N before it freezes the tree) go over the same connection,
 * each a HELLO naming its subdir and a FINISH with PS_F_MORE, then the
 * dump's own HELLO (no subdir). See Documentation/incremental.md.
 *
 * Messages: a struct ps_msg, then len bytes of payload.
 */
#ifndef CR_PAGE_SERVER_H
#define CR_PAGE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pagerange.h"

#define PS_MAGIC	0x53504352u	/* "RCPS" */
#define PS_DEFAULT_PORT	27027

enum ps_cmd {
	PS_HELLO = 1,	/* a: PS_MAGIC, b: the dump id its images carry, payload: a live round's subdir or none; reply */
	PS_PARENT,	/* payload: the previous images dir, relative to the server's -D, in or next to it (ps_parent_ok) */
	PS_OPEN,	/* a: pid, b: pages id, flags: PS_F_COMPRESS, PS_F_CSUM_AES */
	PS_PAGES,	/* a: vaddr, b: nr_pages, c: clen (0: not compressed); payload: b checksums, the data */
	PS_DATALESS,	/* a: vaddr, b: nr_pages, flags: PS_F_IN_PREV or PS_F_IN_PARENT */
	PS_CLOSE,	/* the images of the last PS_OPEN are whole */
	PS_COVER,	/* a: pid; reply: payload of (start, nr_pages) pairs the previous images hold */
	PS_FINISH,	/* everything sent (flags: PS_F_DEDUP); reply once it is all written */
	PS_REPLY,	/* a: 0 or an errno */
	PS_INVENTORY,	/* payload: the dump's inventory_entry, written as inventory.img */
	PS_GET,		/* lazy: a: pid, b: vaddr, c: nr_pages; reply PS_PAGES (c 0) in parts, or PS_REPLY (a: errno) */
	PS_IMAGE,	/* lazy, from an image server: a: name length (= len), b: size; payload: the name; then b bytes */
};

/*
 * PS_HELLO with PS_F_LAZY: `criu lazy-pages --page-server` to a `criu dump
 * --lazy-pages`, b: the dump id of the images it restores from (it must be
 * this dump's). Then PS_GET as faults and the background copy need pages;
 * PS_FINISH once every page is in: the dump replies and kills the tree.
 * The connection closed before: the dump resumes the tree.
 */
#define PS_F_LAZY	4
/*
 * PS_HELLO with PS_F_LAZY | PS_F_IMAGES (b 0): to a `criu page-server
 * --lazy-pages`, which serves the lazy pages of a finished dump's images
 * and first sends the images the restore needs (PS_IMAGE each, then
 * PS_CLOSE): the dump's, with the pages of the areas the daemon fills left
 * with the server (pagemap entries marked lazy, as dump --lazy-pages
 * writes them).
 */
#define PS_F_IMAGES	8
#define PS_LAZY_MAX	1024	/* pages per PS_GET */
#define PS_LAZY_PART	64	/* pages per PS_PAGES answering it: read, summed and sent while in the cache */

/* PS_PAGES: at most this many pages a message (what the server buffers); the dump sends 256 at most */
#define PS_PAGES_MAX	1024

#define PS_F_COMPRESS	1
#define PS_F_CSUM_AES	2	/* PS_OPEN, and PS_PAGES of a lazy dump: the pages' checksums are AES page hashes (csum.h) */
#define PS_F_IN_PREV	1
#define PS_F_IN_PARENT	2
#define PS_F_DEDUP	1	/* PS_FINISH: --auto-dedup the previous images there */
#define PS_F_MORE	2	/* PS_FINISH: a live round's; the dump's own comes after, on this connection */

struct ps_msg {
	uint32_t cmd;
	uint32_t flags;
	uint64_t a, b, c;
	uint64_t len;
};

/* criu page-server: serve one dump into opts.imgs_dir. 0 or -1. */
int cr_page_server(void);
/*
 * Serve the dump on the connection @sk into the dir @top (neither is
 * closed): the message loop of cr_page_server(), also what the fuzzer
 * (test/fuzz/fuzz_ps.c) feeds. 0 or -1.
 */
int ps_serve(int sk, int top);
/*
 * @path may be a dump's previous images dir for the server: relative to
 * its images dir (or, @depth 1, a live round's subdir of it), in it or
 * next to it. The dumping side checks its own --prev-images-dir so.
 */
bool ps_parent_ok(const char *path, int depth);

/* The dumping side: one connection for the whole run. */
bool ps_active(void);
int ps_connect(void);
int ps_send(uint32_t cmd, uint32_t flags, uint64_t a, uint64_t b, uint64_t c, const void *data, uint64_t len);
/* PS_PAGES: @nr pages at @vaddr, their checksums (of the uncompressed bytes), @len bytes of data (@clen: compressed). */
int ps_send_pages(uint64_t vaddr, uint64_t nr, uint64_t clen, const uint64_t *csum, const void *data, uint64_t len);
/* The previous images' pages of @pid, as the server has them (chain_cover there). 0 or -1. */
int ps_cover(pid_t pid, struct page_list *out);
/* The dump's (or pre-dump's) inventory, for the server's dir to be a parent of later dumps. 0 or -1. */
struct InventoryEntry;
int ps_send_inventory(const struct InventoryEntry *ie);
/* All sent: wait until the server has written it. 0 or -1. */
int ps_finish(void);
void ps_close(void);
/*
 * A dump's live rounds: the connection is kept from one to the next and
 * to the dump (ps_close() leaves it), each round's images going into
 * @subdir at the server (a plain name); ps_rounds_end() before the dump's
 * own part (its images into the server's -D).
 */
void ps_round(const char *subdir);
void ps_rounds_end(void);

/* dump --lazy-pages: listen (before the dump enters the tree's namespaces). 0 or -1. */
int lazy_dump_listen(void);
/* The area at @start of @pid is not to be lazy (shared copy-on-write with a parent or child). 0 or -1. */
int lazy_dump_keep(pid_t pid, uint64_t start);
bool lazy_dump_kept(pid_t pid, uint64_t start);
/* The lazy pages of @pid, @l (taken over: emptied); they are served from its memory. 0 or -1. */
int lazy_dump_add(pid_t pid, struct page_list *l);
/* Serve them until the destination has every page (0: the tree may go) or is gone (-1: it resumes). */
int lazy_dump_serve(void);
/* The same on the connection @sk (not closed): what lazy_dump_serve() runs once it accepted (the fuzzer's). */
int lazy_dump_session(int sk);
void lazy_dump_fini(void);

/*
 * criu page-server --lazy-pages: the lazy pages come from images, not a
 * frozen tree. read: @nr pages of @pid at @vaddr (in its lazy pages, maybe
 * across ranges) into @data, their checksums into @csum, checked (a damaged
 * page: -1, said in the log). send_images: the images for PS_F_IMAGES.
 */
struct lazy_source {
	int (*read)(pid_t pid, uint64_t vaddr, uint64_t nr, void *data, uint64_t *csum);
	int (*send_images)(int sk);
};
void lazy_dump_from(const struct lazy_source *src);
int lazy_send_image(int sk, const char *name, int fd, uint64_t size);
int lazy_send_images_end(int sk);

/*
 * criu lazy-pages --page-server: the daemon's side. @images_dfd >= 0: the
 * server is a page-server --lazy-pages and sends the images into it first.
 */
int ps_lazy_connect(uint64_t dump_id, int images_dfd);
/* The same on the connection @sk (the fuzzer's); ps_lazy_detach() forgets it (not closed). */
int ps_lazy_attach(int sk, uint64_t dump_id);
/* ... to a page-server --lazy-pages, its images written into @dfd first. */
int ps_lazy_attach_images(int sk, int dfd);
void ps_lazy_detach(void);
/*
 * Ask for @nr (up to PS_LAZY_MAX) pages of @pid at @vaddr; as many asks may
 * be in flight as the daemon likes. 0 or -1.
 */
int ps_lazy_ask(pid_t pid, uint64_t vaddr, uint64_t nr);
/*
 * The next part of the answer to the oldest ask still in flight, which is
 * for @max more pages of @pid from @vaddr: *@nr pages (up to PS_LAZY_PART)
 * into @buf, checked against the checksums they came with. 0 or -1.
 */
int ps_lazy_take(pid_t pid, uint64_t vaddr, uint64_t max, void *buf, uint64_t *nr);
/* Every page is in: the dump may kill its tree. 0 or -1. */
int ps_lazy_finish(void);

#endif
