/*
 * Shared by the benchmark helpers: how a buffer is filled for each memory
 * mode, and the per-page hash used to check it afterwards.
 */
#ifndef BENCH_FILL_H
#define BENCH_FILL_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_PAGE	4096UL
/* sparse mode: one page in SPARSE_STRIDE holds data, the others are never touched */
#define SPARSE_STRIDE	16

enum fill_mode {
	FILL_RANDOM,	/* every byte from the PRNG: every page distinct */
	FILL_SPARSE,	/* 1 page in SPARSE_STRIDE random, the rest untouched */
	FILL_ZEROED,	/* every page written with memset(0) */
	FILL_TEXT,	/* every page text-like: words and numbers */
};

int fill_mode_parse(const char *s, enum fill_mode *m);
const char *fill_mode_name(enum fill_mode m);

/* Does page number i hold (random) data in this mode? */
int fill_page_has_data(enum fill_mode m, size_t i);

/*
 * Fill npages pages at buf. If hashes is not NULL, store the hash of each
 * page with data there (pages without data are left untouched: not even
 * read, so they stay unpopulated in sparse mode). Returns the number of
 * pages with data.
 */
size_t fill_buffer(void *buf, size_t npages, enum fill_mode m, uint64_t seed, uint64_t *hashes);

uint64_t page_hash(const void *page);
int page_is_zero(const void *page);
uint64_t hash_words(const uint64_t *w, size_t n);

double now_s(void);
uint64_t seed_from_clock(void);

/* Our pid into @path, atomically. 0 or -1. */
int write_pidfile(const char *path);

#endif
