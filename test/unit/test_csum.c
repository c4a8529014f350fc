/*
 * The page checksum routines (csum-impl.h: XXH3-64 of a 4096-byte page in
 * fewer instructions than XXH3_64bits() spends) against XXH3_64bits() of
 * the xxhash library itself, for every build this CPU runs: random pages,
 * pages of one byte value, pages not aligned, and a changed byte found at
 * every place that matters to the routine (block and stripe edges, the
 * last stripe). csum_buf() over odd sizes too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "csum.h"

#define NR	512	/* random pages */

/* The AES page hash of three fixed pages (test_aes_vectors). */
#define AES_V0	0xd5a594f67680534dULL
#define AES_V1	0x893951d6dc81a3dcULL
#define AES_V2	0x6a7db6f1ec959b9aULL

typedef void (*pages_fn)(const void *p, size_t nr, uint64_t *out);
typedef size_t (*check_fn)(const void *p, size_t nr, const uint64_t *want);
typedef uint64_t (*buf_fn)(const void *p, size_t len);

struct build {
	const char *name, *cpu;
	pages_fn pages;
	check_fn check;
	buf_fn buf;
};

static const struct build builds[] = {
	{ "scalar", NULL, csum_pages_scalar, csum_check_pages_scalar, csum_buf_scalar },
	{ "avx2", "avx2", csum_pages_avx2, csum_check_pages_avx2, csum_buf_avx2 },
	{ "avx512", "avx512f", csum_pages_avx512, csum_check_pages_avx512, csum_buf_avx512 },
};

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* splitmix64: the same pages every run */
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int runs(const struct build *b)
{
	__builtin_cpu_init();
	if (b->cpu && !strcmp(b->cpu, "avx2"))
		return __builtin_cpu_supports("avx2");
	if (b->cpu)
		return __builtin_cpu_supports("avx512f");
	return 1;
}

/* @nr pages at @p: every build gives XXH3_64bits() of each. */
static void same_as_xxh3(const unsigned char *p, size_t nr)
{
	uint64_t *want = malloc(nr * sizeof(*want)), *got = malloc(nr * sizeof(*got));

	assert_non_null(want);
	assert_non_null(got);
	for (size_t i = 0; i < nr; i++)
		want[i] = XXH3_64bits(p + i * CSUM_PAGE, CSUM_PAGE);
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		memset(got, 0, nr * sizeof(*got));
		builds[k].pages(p, nr, got);
		for (size_t i = 0; i < nr; i++)
			if (got[i] != want[i])
				fail_msg("%s: page %zu: %016llx, XXH3 says %016llx", builds[k].name, i,
					 (unsigned long long)got[i], (unsigned long long)want[i]);
		assert_int_equal(builds[k].check(p, nr, want), nr);
	}
	/* and the one picked for this machine */
	csum_pages(p, nr, got);
	assert_memory_equal(got, want, nr * sizeof(*got));
	assert_int_equal(csum_check_pages(p, nr, want), nr);
	free(want);
	free(got);
}

static void test_random_pages(void **state)
{
	unsigned char *p = aligned_alloc(4096, NR * CSUM_PAGE);

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < NR * CSUM_PAGE / 8; i++) {
		uint64_t v = rnd();

		memcpy(p + i * 8, &v, 8);
	}
	same_as_xxh3(p, NR);
	/* sparse pages: mostly zeros, a few random words (carries in the sums) */
	memset(p, 0, NR * CSUM_PAGE);
	for (size_t i = 0; i < NR * 8; i++) {
		uint64_t v = rnd();

		memcpy(p + (rnd() % (NR * CSUM_PAGE / 8)) * 8, &v, 8);
	}
	same_as_xxh3(p, NR);
	free(p);
}

/* Pages of one byte value each (0, 0xff, ...), and all-ones words that overflow every sum. */
static void test_uniform_pages(void **state)
{
	unsigned char *p = aligned_alloc(4096, 256 * CSUM_PAGE);

	(void)state;
	assert_non_null(p);
	for (int v = 0; v < 256; v++)
		memset(p + v * CSUM_PAGE, v, CSUM_PAGE);
	same_as_xxh3(p, 256);
	free(p);
}

/* The routines load without alignment: pages at every offset in a cache line. */
static void test_unaligned(void **state)
{
	unsigned char *m = aligned_alloc(4096, 5 * CSUM_PAGE);

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < 5 * CSUM_PAGE; i++)
		m[i] = (unsigned char)rnd();
	for (int off = 1; off < 64; off += 3)
		same_as_xxh3(m + off, 4);
	free(m);
}

/* A changed byte anywhere is found, and in the right page. */
static void test_damage_found(void **state)
{
	static const size_t at[] = { 0, 1, 7, 8, 63, 64, 1023, 1024, 2047, 2048, 3071, 3072, 4031, 4032, 4095 };
	unsigned char *p = aligned_alloc(4096, 3 * CSUM_PAGE);
	uint64_t want[3];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 3 * CSUM_PAGE; i++)
		p[i] = (unsigned char)rnd();
	for (int i = 0; i < 3; i++)
		want[i] = XXH3_64bits(p + i * CSUM_PAGE, CSUM_PAGE);
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
			for (int bit = 0; bit < 8; bit += 7) {
				p[CSUM_PAGE + at[j]] ^= 1 << bit;
				assert_int_equal(builds[k].check(p, 3, want), 1);
				p[CSUM_PAGE + at[j]] ^= 1 << bit;
			}
		}
		/* two pages swapped: both still hash to what they are, the first differs */
		assert_int_equal(builds[k].check(p + CSUM_PAGE, 2, want), 0);
		assert_int_equal(builds[k].check(p, 3, want), 3);
	}
	free(p);
}

/* csum_buf() is XXH3_64bits() at every length (each of its size classes, and odd ones). */
static void test_odd_sizes(void **state)
{
	static const size_t big[] = { 4095, 4096, 4097, 8191, 8192, 12345, 65535, 65536, 65537, 200001 };
	unsigned char *p = malloc(200001 + 1);

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 200002; i++)
		p[i] = (unsigned char)rnd();
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		for (size_t len = 0; len <= 1100; len++) {
			assert_true(builds[k].buf(p, len) == XXH3_64bits(p, len));
			assert_true(builds[k].buf(p + 1, len) == XXH3_64bits(p + 1, len));
		}
		for (size_t j = 0; j < sizeof(big) / sizeof(big[0]); j++)
			assert_true(builds[k].buf(p + 1, big[j]) == XXH3_64bits(p + 1, big[j]));
	}
	assert_true(csum_buf(p, 777) == XXH3_64bits(p, 777));
	free(p);
}

/* The builds of the AES page hash (csum-aes-impl.h). */
struct aes_build {
	const char *name;
	enum csum_aes_isa isa;
	pages_fn pages;
	check_fn check;
};

static const struct aes_build aes_builds[] = {
	{ "soft", CSUM_AES_SOFT, csum_pages_aes_soft, csum_check_pages_aes_soft },
	{ "aesni", CSUM_AES_AESNI, csum_pages_aes_aesni, csum_check_pages_aes_aesni },
	{ "vaes256", CSUM_AES_VAES256, csum_pages_aes_vaes256, csum_check_pages_aes_vaes256 },
	{ "vaes512", CSUM_AES_VAES512, csum_pages_aes_vaes512, csum_check_pages_aes_vaes512 },
};
#define NR_AES	(sizeof(aes_builds) / sizeof(aes_builds[0]))

/* Each build needs what the ones before it need, and more (csum_aes_isa() picks the last that runs). */
static int aes_runs(const struct aes_build *b)
{
	return b->isa <= csum_aes_isa();
}

/* @nr pages at @p: every AES build gives the soft one's values, which are returned in @want. */
static void aes_same(const unsigned char *p, size_t nr, uint64_t *want)
{
	uint64_t *got = malloc(nr * sizeof(*got));

	assert_non_null(got);
	csum_pages_aes_soft(p, nr, want);
	for (size_t k = 0; k < NR_AES; k++) {
		if (!aes_runs(&aes_builds[k])) {
			print_message("AES page hash: %s not run on this CPU\n", aes_builds[k].name);
			continue;
		}
		memset(got, 0, nr * sizeof(*got));
		aes_builds[k].pages(p, nr, got);
		for (size_t i = 0; i < nr; i++)
			if (got[i] != want[i])
				fail_msg("aes %s: page %zu: %016llx, soft says %016llx", aes_builds[k].name, i,
					 (unsigned long long)got[i], (unsigned long long)want[i]);
		assert_int_equal(aes_builds[k].check(p, nr, want), nr);
	}
	csum_pages_kind(CSUM_KIND_AES, p, nr, got);
	assert_memory_equal(got, want, nr * sizeof(*got));
	assert_int_equal(csum_check_pages_kind(CSUM_KIND_AES, p, nr, want), nr);
	/* the XXH3 kind is still XXH3 */
	csum_pages_kind(CSUM_KIND_XXH3, p, 1, got);
	assert_true(got[0] == XXH3_64bits(p, CSUM_PAGE));
	free(got);
}

/* Random, sparse, uniform and unaligned pages: all builds agree. */
static void test_aes_builds_agree(void **state)
{
	unsigned char *p = aligned_alloc(4096, (NR + 1) * CSUM_PAGE);
	uint64_t *want = malloc(NR * sizeof(*want));

	(void)state;
	assert_non_null(p);
	assert_non_null(want);
	for (size_t i = 0; i < (NR + 1) * CSUM_PAGE; i++)
		p[i] = (unsigned char)rnd();
	aes_same(p, NR, want);
	for (int off = 1; off < 64; off += 5)
		aes_same(p + off, 4, want);
	memset(p, 0, NR * CSUM_PAGE);
	for (size_t i = 0; i < NR * 8; i++)
		p[rnd() % (NR * CSUM_PAGE)] = (unsigned char)rnd();
	aes_same(p, NR, want);
	for (int v = 0; v < 256; v++)
		memset(p + v * CSUM_PAGE, v, CSUM_PAGE);
	aes_same(p, 256, want);
	/* different pages, different values */
	for (int v = 1; v < 256; v++)
		assert_true(want[v] != want[v - 1]);
	free(want);
	free(p);
}

/*
 * Fixed values: the hash is a format (images keep it), so no build may
 * change it. A zero page, a page of 0xff, and a page whose byte i is
 * i * 7 + (i >> 8).
 */
static void test_aes_vectors(void **state)
{
	static const uint64_t fixed[3] = { AES_V0, AES_V1, AES_V2 };
	unsigned char *p = aligned_alloc(4096, 3 * CSUM_PAGE);
	uint64_t want[3];

	(void)state;
	assert_non_null(p);
	memset(p, 0, CSUM_PAGE);
	memset(p + CSUM_PAGE, 0xff, CSUM_PAGE);
	for (int i = 0; i < (int)CSUM_PAGE; i++)
		p[2 * CSUM_PAGE + i] = (unsigned char)(i * 7 + (i >> 8));
	aes_same(p, 3, want);
	for (int i = 0; i < 3; i++)
		if (want[i] != fixed[i])
			fail_msg("aes vector %d: %016llx, fixed %016llx", i, (unsigned long long)want[i],
				 (unsigned long long)fixed[i]);
	free(p);
}

/* A changed bit anywhere is found, and in the right page, by every build. */
static void test_aes_damage_found(void **state)
{
	unsigned char *p = aligned_alloc(4096, 3 * CSUM_PAGE);
	uint64_t want[3];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 3 * CSUM_PAGE; i++)
		p[i] = (unsigned char)rnd();
	csum_pages_aes_soft(p, 3, want);
	for (size_t k = 0; k < NR_AES; k++) {
		if (!aes_runs(&aes_builds[k]))
			continue;
		/* every bit with the fast builds; every 61st with the slow one */
		for (size_t b = 0; b < CSUM_PAGE * 8; b += k ? 1 : 61) {
			p[CSUM_PAGE + b / 8] ^= 1 << (b % 8);
			assert_int_equal(aes_builds[k].check(p, 3, want), 1);
			p[CSUM_PAGE + b / 8] ^= 1 << (b % 8);
		}
		/* two 16-byte words of a page swapped */
		for (int w = 1; w < 256; w += 17) {
			unsigned char t[16];

			memcpy(t, p + CSUM_PAGE, 16);
			memcpy(p + CSUM_PAGE, p + CSUM_PAGE + 16 * w, 16);
			memcpy(p + CSUM_PAGE + 16 * w, t, 16);
			assert_int_equal(aes_builds[k].check(p, 3, want), 1);
			memcpy(p + CSUM_PAGE + 16 * w, p + CSUM_PAGE, 16);
			memcpy(p + CSUM_PAGE, t, 16);
		}
		assert_int_equal(aes_builds[k].check(p + CSUM_PAGE, 2, want), 0);
		assert_int_equal(aes_builds[k].check(p, 3, want), 3);
	}
	free(p);
}

/* One kind a run: csum_pages() hashes with the kind taken; another kind, or an unknown one, is refused. */
static void test_kind_taken(void **state)
{
	unsigned char *p = aligned_alloc(4096, CSUM_PAGE);
	uint64_t aes, got;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < CSUM_PAGE; i++)
		p[i] = (unsigned char)rnd();
	csum_pages_aes_soft(p, 1, &aes);
	csum_reset_kind();
	assert_int_equal(csum_kind(), CSUM_KIND_XXH3);
	assert_int_equal(csum_take_kind(7, "test"), -1);
	assert_int_equal(csum_take_kind(CSUM_KIND_AES, "test"), 0);
	csum_pages(p, 1, &got);
	assert_true(got == aes);
	assert_int_equal(csum_check_pages(p, 1, &aes), 1);
	assert_int_equal(csum_take_kind(CSUM_KIND_AES, "test"), 0);
	assert_int_equal(csum_take_kind(CSUM_KIND_XXH3, "test"), -1);
	assert_int_equal(csum_kind(), CSUM_KIND_AES);
	csum_reset_kind();
	assert_int_equal(csum_take_kind(CSUM_KIND_XXH3, "test"), 0);
	csum_pages(p, 1, &got);
	assert_true(got == XXH3_64bits(p, CSUM_PAGE));
	csum_reset_kind();
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_pages),
		cmocka_unit_test(test_uniform_pages),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_damage_found),
		cmocka_unit_test(test_odd_sizes),
		cmocka_unit_test(test_aes_builds_agree),
		cmocka_unit_test(test_aes_vectors),
		cmocka_unit_test(test_aes_damage_found),
		cmocka_unit_test(test_kind_taken),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
