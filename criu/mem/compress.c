/* Compressed pages (compress.h): frames of zstd. */
#include <stdlib.h>
#include <zstd.h>

#include "compress.h"
#include "log.h"
#include "pagerange.h"

#define COMP_LEVEL	1

struct page_comp {
	ZSTD_CCtx *cctx;
	size_t cap;
	char buf[];
};

struct page_comp *comp_new(void)
{
	size_t cap = ZSTD_compressBound(COMP_FRAME_PAGES * PAGE_SIZE);
	struct page_comp *c = malloc(sizeof(*c) + cap);

	if (!c)
		return NULL;
	c->cap = cap;
	c->cctx = ZSTD_createCCtx();
	if (!c->cctx) {
		free(c);
		return NULL;
	}
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, COMP_LEVEL);
	/* the frame's size is in the pagemap: no need for it (or a checksum: the pages have theirs) in the frame */
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 0);
	return c;
}

void comp_free(struct page_comp *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	free(c);
}

size_t comp_frame(struct page_comp *c, const void *src, size_t nr, const void **out)
{
	size_t r = ZSTD_compress2(c->cctx, c->buf, c->cap, src, nr * PAGE_SIZE);

	if (ZSTD_isError(r) || r >= nr * PAGE_SIZE)
		return 0;
	*out = c->buf;
	return r;
}

int decomp_frame(const void *src, size_t clen, void *dst, size_t nr)
{
	static __thread ZSTD_DCtx *d;
	size_t r;

	if (!d)
		d = ZSTD_createDCtx();
	if (!d) {
		pr_err("out of memory for zstd\n");
		return -1;
	}
	r = ZSTD_decompressDCtx(d, dst, nr * PAGE_SIZE, src, clen);
	if (ZSTD_isError(r) || r != nr * PAGE_SIZE) {
		pr_err("a compressed frame of %zu bytes does not give %zu pages: %s\n", clen, nr,
		       ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short");
		return -1;
	}
	return 0;
}

void *decomp_ctx_new(void)
{
	return ZSTD_createDCtx();
}

void decomp_ctx_free(void *ctx)
{
	ZSTD_freeDCtx(ctx);
}

int decomp_frame_ctx(void *ctx, const void *src, size_t clen, void *dst, size_t nr)
{
	size_t r = ZSTD_decompressDCtx(ctx, dst, nr * PAGE_SIZE, src, clen);

	return ZSTD_isError(r) || r != nr * PAGE_SIZE ? -1 : 0;
}
