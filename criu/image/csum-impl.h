/*
 * The checksum functions, built once per ISA: the including file defines
 * CSUM_NAME (scalar, avx2, avx512) and XXH_VECTOR. Everything of xxhash is
 * inlined and static here, so the three builds do not clash, and the
 * blobs (freestanding) can carry them too.
 */
#ifndef CSUM_NAME
#error "define CSUM_NAME and XXH_VECTOR"
#endif

#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY
/* direct unaligned loads: the blobs are built with -fno-builtin, so memcpy would be a call */
#define XXH_FORCE_MEMORY_ACCESS	1
#include <xxhash.h>

#include "csum.h"

#define CSUM_CAT2(a, b)	a##_##b
#define CSUM_CAT(a, b)	CSUM_CAT2(a, b)

uint64_t CSUM_CAT(csum_buf, CSUM_NAME)(const void *p, size_t len)
{
	return XXH3_64bits(p, len);
}

/*
 * XXH3-64 of one 4096-byte page, the same value as XXH3_64bits(p, 4096)
 * (default secret, seed 0), in fewer instructions. XXH3 adds to each
 * accumulator, for every 64-byte stripe of a 1 KiB block, the product of
 * the halves of (data ^ secret) and the data with its 64-bit lanes
 * swapped pairwise. Sums modulo 2^64 do not care about order and the
 * swap commutes with the sum, so the data are summed as they are and
 * swapped once a block: one shuffle a block instead of one a stripe, and
 * the stripes no longer wait on the accumulator, whose scramble then
 * overlaps the next block's stripes. A page is three whole blocks of 16
 * stripes, 15 stripes and the last stripe with its own secret offset
 * (XXH3_hashLong_internal_loop() for len 4096); then XXH3_mergeAccs().
 * The SIMD builds only: the scalar one calls XXH3_64bits().
 *
 * While a page is hashed, the next one (@nx) is prefetched a line a
 * stripe: a pages file's page cache is in 4 KiB pages scattered in
 * memory, where the hardware prefetchers stop at every page edge, so a
 * cold page would otherwise start with a stall on each of its first
 * lines (the dump's hasher reads what the splice left in memory: 30% less
 * time a GiB measured; pages just read at restore, in L2: a few percent).
 * The last page prefetches itself. Prefetches never fault.
 */
#define CSUM_STRIPES		(CSUM_PAGE / XXH_STRIPE_LEN)		/* 64 */
#define CSUM_BLOCK_STRIPES	((XXH_SECRET_DEFAULT_SIZE - XXH_STRIPE_LEN) / XXH_SECRET_CONSUME_RATE)	/* 16 */
#define CSUM_SCRAMBLE_AT	(XXH_SECRET_DEFAULT_SIZE - XXH_STRIPE_LEN)
#define CSUM_LAST_AT		(XXH_SECRET_DEFAULT_SIZE - XXH_STRIPE_LEN - 7)	/* XXH_SECRET_LASTACC_START */
#define CSUM_MERGE_AT		11					/* XXH_SECRET_MERGEACCS_START */

#if XXH_VECTOR == XXH_AVX512

/* Stripe @i of @in with the secret at @sec: its product into @ps, its data into @ds. */
#define CSUM_STRIPE512(in, i, sec, ps, ds, nx) do {					\
	_mm_prefetch((const char *)(nx) + (i) * XXH_STRIPE_LEN, _MM_HINT_T0);		\
	__m512i d_ = _mm512_loadu_si512((const __m512i *)(in) + (i));			\
	__m512i k_ = _mm512_xor_si512(d_, _mm512_loadu_si512(sec));			\
	ps = _mm512_add_epi64(ps, _mm512_mul_epu32(k_, _mm512_srli_epi64(k_, 32)));	\
	ds = _mm512_add_epi64(ds, d_);							\
} while (0)

static inline __attribute__((always_inline)) uint64_t CSUM_CAT(csum_page, CSUM_NAME)(const void *p, const void *nx)
{
	const unsigned char *sec = XXH3_kSecret;
	XXH_ALIGN(64) uint64_t acc[XXH_ACC_NB];
	/* XXH3_INIT_ACC, highest lane first */
	__m512i a = _mm512_set_epi64((long long)XXH_PRIME32_1, (long long)XXH_PRIME64_5, (long long)XXH_PRIME32_2,
				     (long long)XXH_PRIME64_4, (long long)XXH_PRIME64_3, (long long)XXH_PRIME64_2,
				     (long long)XXH_PRIME64_1, (long long)XXH_PRIME32_3);

	for (int b = 0; b < 4; b++) {
		__m512i ps = _mm512_setzero_si512(), ds = _mm512_setzero_si512();
		int first = b * CSUM_BLOCK_STRIPES;

		for (int s = 0; s < CSUM_BLOCK_STRIPES - (b == 3); s++)
			CSUM_STRIPE512(p, first + s, sec + s * XXH_SECRET_CONSUME_RATE, ps, ds, nx);
		if (b == 3)
			CSUM_STRIPE512(p, CSUM_STRIPES - 1, sec + CSUM_LAST_AT, ps, ds, nx);
		ds = _mm512_shuffle_epi32(ds, (_MM_PERM_ENUM)_MM_SHUFFLE(1, 0, 3, 2));
		a = _mm512_add_epi64(a, _mm512_add_epi64(ps, ds));
		_mm512_store_si512((__m512i *)acc, a);
		if (b < 3) {
			XXH3_scrambleAcc_avx512(acc, sec + CSUM_SCRAMBLE_AT);
			a = _mm512_load_si512((const __m512i *)acc);
		}
	}
	return XXH3_mergeAccs(acc, sec + CSUM_MERGE_AT, (uint64_t)CSUM_PAGE * XXH_PRIME64_1);
}

#elif XXH_VECTOR == XXH_AVX2

#define CSUM_STRIPE256(in, i, sec, ps, ds) do {						\
	__m256i d_ = _mm256_loadu_si256((const __m256i *)(in) + (i));			\
	__m256i k_ = _mm256_xor_si256(d_, _mm256_loadu_si256((const __m256i *)(sec)));	\
	ps = _mm256_add_epi64(ps, _mm256_mul_epu32(k_, _mm256_srli_epi64(k_, 32)));	\
	ds = _mm256_add_epi64(ds, d_);							\
} while (0)

static inline __attribute__((always_inline)) uint64_t CSUM_CAT(csum_page, CSUM_NAME)(const void *p, const void *nx)
{
	const unsigned char *sec = XXH3_kSecret;
	XXH_ALIGN(64) uint64_t acc[XXH_ACC_NB];
	/* XXH3_INIT_ACC, highest lane first */
	__m256i a0 = _mm256_set_epi64x((long long)XXH_PRIME64_3, (long long)XXH_PRIME64_2, (long long)XXH_PRIME64_1,
				       (long long)XXH_PRIME32_3);
	__m256i a1 = _mm256_set_epi64x((long long)XXH_PRIME32_1, (long long)XXH_PRIME64_5, (long long)XXH_PRIME32_2,
				       (long long)XXH_PRIME64_4);

	for (int b = 0; b < 4; b++) {
		__m256i p0 = _mm256_setzero_si256(), p1 = p0, d0 = p0, d1 = p0;
		int first = b * CSUM_BLOCK_STRIPES;

		for (int s = 0; s < CSUM_BLOCK_STRIPES - (b == 3); s++) {
			const unsigned char *k = sec + s * XXH_SECRET_CONSUME_RATE;

			_mm_prefetch((const char *)nx + (first + s) * XXH_STRIPE_LEN, _MM_HINT_T0);
			CSUM_STRIPE256(p, 2 * (first + s), k, p0, d0);
			CSUM_STRIPE256(p, 2 * (first + s) + 1, k + 32, p1, d1);
		}
		if (b == 3) {
			_mm_prefetch((const char *)nx + (CSUM_STRIPES - 1) * XXH_STRIPE_LEN, _MM_HINT_T0);
			CSUM_STRIPE256(p, 2 * (CSUM_STRIPES - 1), sec + CSUM_LAST_AT, p0, d0);
			CSUM_STRIPE256(p, 2 * (CSUM_STRIPES - 1) + 1, sec + CSUM_LAST_AT + 32, p1, d1);
		}
		a0 = _mm256_add_epi64(a0, _mm256_add_epi64(p0, _mm256_shuffle_epi32(d0, _MM_SHUFFLE(1, 0, 3, 2))));
		a1 = _mm256_add_epi64(a1, _mm256_add_epi64(p1, _mm256_shuffle_epi32(d1, _MM_SHUFFLE(1, 0, 3, 2))));
		_mm256_store_si256((__m256i *)acc, a0);
		_mm256_store_si256((__m256i *)acc + 1, a1);
		if (b < 3) {
			XXH3_scrambleAcc_avx2(acc, sec + CSUM_SCRAMBLE_AT);
			a0 = _mm256_load_si256((const __m256i *)acc);
			a1 = _mm256_load_si256((const __m256i *)acc + 1);
		}
	}
	return XXH3_mergeAccs(acc, sec + CSUM_MERGE_AT, (uint64_t)CSUM_PAGE * XXH_PRIME64_1);
}

#else

static inline uint64_t CSUM_CAT(csum_page, CSUM_NAME)(const void *p, const void *nx)
{
	(void)nx;
	return XXH3_64bits(p, CSUM_PAGE);
}

#endif

void CSUM_CAT(csum_pages, CSUM_NAME)(const void *p, size_t nr, uint64_t *out)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < nr; i++) {
		const unsigned char *pg = c + i * (size_t)CSUM_PAGE;

		out[i] = CSUM_CAT(csum_page, CSUM_NAME)(pg, i + 1 < nr ? pg + CSUM_PAGE : pg);
	}
}

size_t CSUM_CAT(csum_check_pages, CSUM_NAME)(const void *p, size_t nr, const uint64_t *want)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < nr; i++) {
		const unsigned char *pg = c + i * (size_t)CSUM_PAGE;

		if (CSUM_CAT(csum_page, CSUM_NAME)(pg, i + 1 < nr ? pg + CSUM_PAGE : pg) != want[i])
			return i;
	}
	return nr;
}
