/* Filling and hashing for the benchmark helpers (see fill.h). */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdio.h>
#include <unistd.h>

#include "fill.h"

#define WORDS_PER_PAGE	(BENCH_PAGE / sizeof(uint64_t))

int fill_mode_parse(const char *s, enum fill_mode *m)
{
	if (!strcmp(s, "random"))
		*m = FILL_RANDOM;
	else if (!strcmp(s, "sparse"))
		*m = FILL_SPARSE;
	else if (!strcmp(s, "zeroed"))
		*m = FILL_ZEROED;
	else
		return -1;
	return 0;
}

const char *fill_mode_name(enum fill_mode m)
{
	switch (m) {
	case FILL_RANDOM:
		return "random";
	case FILL_SPARSE:
		return "sparse";
	case FILL_ZEROED:
		return "zeroed";
	}
	return "?";
}

int fill_page_has_data(enum fill_mode m, size_t i)
{
	switch (m) {
	case FILL_RANDOM:
		return 1;
	case FILL_SPARSE:
		return i % SPARSE_STRIDE == 0;
	case FILL_ZEROED:
		return 0;
	}
	return 0;
}

/* xorshift64* */
static inline uint64_t prng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

uint64_t hash_words(const uint64_t *w, size_t n)
{
	/* two independent lanes so the multiply chains overlap */
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		a = mix(a, w[i]);
		b = mix(b, w[i + 1]);
	}
	if (i < n)
		a = mix(a, w[i]);
	return mix(a, b + n);
}

uint64_t page_hash(const void *page)
{
	return hash_words(page, WORDS_PER_PAGE);
}

int page_is_zero(const void *page)
{
	const uint64_t *w = page;
	uint64_t acc = 0;

	for (size_t i = 0; i < WORDS_PER_PAGE; i++)
		acc |= w[i];
	return acc == 0;
}

size_t fill_buffer(void *buf, size_t npages, enum fill_mode m, uint64_t seed, uint64_t *hashes)
{
	uint64_t s = seed ? seed : 0x9E3779B97F4A7C15ULL;
	size_t with_data = 0;

	if (m == FILL_ZEROED) {
		memset(buf, 0, npages * BENCH_PAGE);
		return 0;
	}
	for (size_t i = 0; i < npages; i++) {
		uint64_t *w = (uint64_t *)((char *)buf + i * BENCH_PAGE);

		if (!fill_page_has_data(m, i))
			continue;
		for (size_t j = 0; j < WORDS_PER_PAGE; j++)
			w[j] = prng_next(&s);
		if (hashes)
			hashes[i] = page_hash(w);
		with_data++;
	}
	return with_data;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t seed_from_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ 1;
}

/* Our pid into @path, atomically (write a temporary, then rename). 0 or -1. */
int write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", getpid());
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}
