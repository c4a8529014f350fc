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

void CSUM_CAT(csum_pages, CSUM_NAME)(const void *p, size_t nr, uint64_t *out)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < nr; i++)
		out[i] = XXH3_64bits(c + i * (size_t)CSUM_PAGE, CSUM_PAGE);
}

size_t CSUM_CAT(csum_check_pages, CSUM_NAME)(const void *p, size_t nr, const uint64_t *want)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < nr; i++)
		if (XXH3_64bits(c + i * (size_t)CSUM_PAGE, CSUM_PAGE) != want[i])
			return i;
	return nr;
}
