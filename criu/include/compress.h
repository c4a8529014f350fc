/*
 * Compressed pages (--compress): pages files hold frames of up to
 * COMP_FRAME_PAGES pages, each compressed with zstd (level 1) on its own,
 * one pagemap entry per frame (its clen says how many bytes the frame
 * takes). A frame that would not shrink is stored as it is. zstd was
 * chosen by measurement: on text-like memory it makes 2.3x where lz4 makes
 * 1.6x, and both see incompressible data at a few GB/s
 * (Documentation/incremental.md).
 */
#ifndef CR_COMPRESS_H
#define CR_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#define COMP_FRAME_PAGES	32
#define COMP_ZSTD		1	/* pagemap_head.compress */

struct page_comp;

struct page_comp *comp_new(void);
void comp_free(struct page_comp *c);
/*
 * Compress @nr (up to COMP_FRAME_PAGES) pages at @src: the frame's length,
 * *out pointing at it; 0 when it would not shrink (store the pages as they are).
 */
size_t comp_frame(struct page_comp *c, const void *src, size_t nr, const void **out);
/* Decompress a frame of @clen bytes into @nr pages at @dst. 0, or -1 with a message. */
int decomp_frame(const void *src, size_t clen, void *dst, size_t nr);
/*
 * The same with a context of the caller's (decomp_ctx_new()): no message,
 * no allocation, no thread-local state (cow.c's filler threads have none).
 */
void *decomp_ctx_new(void);
void decomp_ctx_free(void *ctx);
int decomp_frame_ctx(void *ctx, const void *src, size_t clen, void *dst, size_t nr);

#endif
