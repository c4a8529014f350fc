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
	else if (!strcmp(s, "text"))
		*m = FILL_TEXT;
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
	case FILL_TEXT:
		return "text";
	}
	return "?";
}

int fill_page_has_data(enum fill_mode m, size_t i)
{
	switch (m) {
	case FILL_RANDOM:
	case FILL_TEXT:
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

/*
 * Text-like memory: lines of words from a vocabulary of 200 common English
 * words and a number, as logs or documents would have them (zstd -1 makes
 * about 2.3x of it, lz4 1.6x).
 */
static const char *const vocab[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
	"he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you", "were", "her",
	"she", "there", "one", "all", "we", "their", "been", "has", "when", "who", "will", "more", "no", "if", "out",
	"so", "said", "what", "up", "its", "about", "into", "than", "them", "can", "only", "other", "new", "some",
	"could", "time", "these", "two", "may", "then", "do", "first", "any", "my", "now", "such", "like", "our",
	"over", "man", "me", "even", "most", "made", "after", "also", "did", "many", "before", "must", "through",
	"back", "years", "where", "much", "your", "way", "well", "down", "should", "because", "each", "just",
	"those", "people", "how", "too", "little", "state", "good", "very", "make", "world", "still", "own", "see",
	"men", "work", "long", "get", "here", "between", "both", "life", "being", "under", "never", "day", "same",
	"another", "know", "while", "last", "might", "us", "great", "old", "year", "off", "come", "since",
	"against", "go", "came", "right", "used", "take", "three", "house", "small", "place", "found", "thought",
	"went", "say", "part", "once", "general", "high", "upon", "school", "every", "does", "got", "united",
	"left", "number", "course", "war", "until", "always", "away", "something", "fact", "though", "water",
	"less", "public", "put", "think", "almost", "hand", "enough", "far", "took", "head", "yet", "government",
	"system", "better", "set", "told", "nothing", "night", "end", "why", "called", "didn't", "eyes", "find",
	"going", "look", "asked", "later", "point", "knew", "city", "next", "program", "business", "give", "group",
	"toward", "young", "days", "let", "room", "president", "side", "social", "given", "present", "several",
	"order", "national", "second", "possible", "rather", "per", "face", "among", "form",
};

static void fill_text(char *p, uint64_t *s)
{
	size_t n = 0, words = 0;

	while (n < BENCH_PAGE) {
		uint64_t r = prng_next(s);
		const char *w = vocab[r % (sizeof(vocab) / sizeof(vocab[0]))];
		char num[24];

		while (*w && n < BENCH_PAGE)
			p[n++] = *w++;
		if (++words % 12 == 0) {
			int k = snprintf(num, sizeof(num), ". %u\n", (unsigned)(r >> 40) % 100000);

			for (int j = 0; j < k && n < BENCH_PAGE; j++)
				p[n++] = num[j];
		} else if (n < BENCH_PAGE) {
			p[n++] = ' ';
		}
	}
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
		if (m == FILL_TEXT) {
			fill_text((char *)w, &s);
			if (hashes)
				hashes[i] = page_hash(w);
			with_data++;
			continue;
		}
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
