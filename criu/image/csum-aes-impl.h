/*
 * The AES page hash (csum.h: CSUM_KIND_AES), built once per ISA: the
 * including file defines CSUM_AES_NAME (soft, aesni, vaes256, vaes512) and
 * CSUM_AES_W, the bits of one vector (0: no vector, the AES round in C).
 * All builds give the same value; test_csum holds them to each other and
 * to fixed vectors.
 *
 * The hash of a 4096-byte page, written for 128-bit lanes:
 *   K = the 64 bytes of aes_k[] (the first hex digits of pi's fraction);
 *   state chains S0..S3 of 64 bytes, S0 = K, S1, S2, S3 = K with each
 *   64-bit word rotated right by 17, 31, 47 bits;
 *   for the 64-byte blocks B[0..63] of the page, B[i] enters chain i % 4:
 *     S = AESENC(S, B[i]), for each of the four 16-byte lanes,
 *   (AESENC: one AES encryption round, the block as its round key);
 *   then S0 = AESENC(S0, S1), S2 = AESENC(S2, S3), S0 = AESENC(S0, S2),
 *   S0 = AESENC(S0, K) twice, and the hash is the XOR of S0's eight
 *   64-bit words (little endian).
 * One round per 16 bytes and four independent chains keep the AES units
 * busy: about a third of XXH3's time a page (Documentation/images.md).
 * Every byte then goes through at least six rounds before the fold, which
 * spreads any change over the 128 bits of its lane: a damaged page keeps
 * its old hash with a chance of about 2^-64. Not a MAC: made for finding
 * random damage, as XXH3 is (Documentation/security.md).
 */
#ifndef CSUM_AES_NAME
#error "define CSUM_AES_NAME and CSUM_AES_W"
#endif

#include "csum.h"

#define CSUM_AES_CAT2(a, b)	a##_##b
#define CSUM_AES_CAT(a, b)	CSUM_AES_CAT2(a, b)
#define CSUM_AES_FN(f)		CSUM_AES_CAT(f, CSUM_AES_NAME)

#define AES_ROR(x, r)	(((x) >> (r)) | ((x) << (64 - (r))))
#define AES_K0 0x243f6a8885a308d3ULL
#define AES_K1 0x13198a2e03707344ULL
#define AES_K2 0xa4093822299f31d0ULL
#define AES_K3 0x082efa98ec4e6c89ULL
#define AES_K4 0x452821e638d01377ULL
#define AES_K5 0xbe5466cf34e90c6cULL
#define AES_K6 0xc0ac29b7c97c50ddULL
#define AES_K7 0x3f84d5b5b5470917ULL
#define AES_KR(r) { AES_ROR(AES_K0, r), AES_ROR(AES_K1, r), AES_ROR(AES_K2, r), AES_ROR(AES_K3, r), \
		    AES_ROR(AES_K4, r), AES_ROR(AES_K5, r), AES_ROR(AES_K6, r), AES_ROR(AES_K7, r) }
#define AES_KEYS { { AES_K0, AES_K1, AES_K2, AES_K3, AES_K4, AES_K5, AES_K6, AES_K7 }, \
		   AES_KR(17), AES_KR(31), AES_KR(47) }

#if CSUM_AES_W == 0

/* The AES round in C, from the S-box (FIPS-197): slow, for CPUs without AES-NI. */
static const uint8_t aes_sbox[256] = {
	0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
	0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
	0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
	0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
	0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
	0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
	0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
	0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
	0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
	0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
	0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
	0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
	0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
	0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
	0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
	0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16,
};

static inline uint8_t aes_xtime(uint8_t x)
{
	return (uint8_t)((x << 1) ^ ((x >> 7) * 0x1b));
}

/* AESENC of the 16 bytes at @s with the 16 bytes at @k (little endian, byte 4c + r is row r of column c). */
static inline void aes_round(uint8_t *s, const uint8_t *k)
{
	uint8_t t[16];
	int c, r;

	for (c = 0; c < 4; c++)			/* SubBytes and ShiftRows */
		for (r = 0; r < 4; r++)
			t[4 * c + r] = aes_sbox[s[4 * ((c + r) & 3) + r]];
	for (c = 0; c < 4; c++) {		/* MixColumns, AddRoundKey */
		uint8_t *a = t + 4 * c, x = a[0] ^ a[1] ^ a[2] ^ a[3];

		for (r = 0; r < 4; r++)
			s[4 * c + r] = a[r] ^ x ^ aes_xtime(a[r] ^ a[(r + 1) & 3]) ^ k[4 * c + r];
	}
}

static uint64_t aes_page(const void *p)
{
	static const uint64_t keys[4][8] = AES_KEYS;
	const uint8_t *d = p;
	uint8_t s[4][64], k[64];
	uint64_t h = 0;
	int i, j;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 64; j++)
			s[i][j] = (uint8_t)(keys[i][j / 8] >> (8 * (j % 8)));
	for (j = 0; j < 64; j++)
		k[j] = s[0][j];
	for (i = 0; i < 64; i++)
		for (j = 0; j < 4; j++)
			aes_round(s[i & 3] + 16 * j, d + 64 * i + 16 * j);
	for (j = 0; j < 4; j++) {
		aes_round(s[0] + 16 * j, s[1] + 16 * j);
		aes_round(s[2] + 16 * j, s[3] + 16 * j);
		aes_round(s[0] + 16 * j, s[2] + 16 * j);
		aes_round(s[0] + 16 * j, k + 16 * j);
		aes_round(s[0] + 16 * j, k + 16 * j);
	}
	for (j = 0; j < 64; j++)
		h ^= (uint64_t)s[0][j] << (8 * (j % 8));
	return h;
}

#else
#include <immintrin.h>

#if CSUM_AES_W == 512
typedef __m512i aes_vec;
#define AES_LOAD(p)	_mm512_loadu_si512((const void *)(p))
#define AES_ENC(s, k)	_mm512_aesenc_epi128(s, k)
#define AES_XOR(a, b)	_mm512_xor_si512(a, b)
#define AES_STORE(p, v)	_mm512_storeu_si512((void *)(p), v)
#elif CSUM_AES_W == 256
typedef __m256i aes_vec;
#define AES_LOAD(p)	_mm256_loadu_si256((const void *)(p))
#define AES_ENC(s, k)	_mm256_aesenc_epi128(s, k)
#define AES_XOR(a, b)	_mm256_xor_si256(a, b)
#define AES_STORE(p, v)	_mm256_storeu_si256((void *)(p), v)
#else
typedef __m128i aes_vec;
#define AES_LOAD(p)	_mm_loadu_si128((const void *)(p))
#define AES_ENC(s, k)	_mm_aesenc_si128(s, k)
#define AES_XOR(a, b)	_mm_xor_si128(a, b)
#define AES_STORE(p, v)	_mm_storeu_si128((void *)(p), v)
#endif

#define AES_V	(512 / CSUM_AES_W)	/* vectors a 64-byte state */
#define AES_VB	(CSUM_AES_W / 8)	/* bytes a vector */

static inline __attribute__((always_inline)) uint64_t aes_page(const void *p)
{
	static const uint64_t keys[4][8] = AES_KEYS;
	const uint8_t *d = p;
	aes_vec s[4][AES_V], k[AES_V];
	uint64_t o[AES_VB / 8], h = 0;
	int i, c, v;

	for (v = 0; v < AES_V; v++) {
		for (c = 0; c < 4; c++)
			s[c][v] = AES_LOAD((const uint8_t *)keys[c] + v * AES_VB);
		k[v] = s[0][v];
	}
	for (i = 0; i < 64; i += 4)
#pragma GCC unroll 4
		for (c = 0; c < 4; c++)
#pragma GCC unroll 4
			for (v = 0; v < AES_V; v++)
				s[c][v] = AES_ENC(s[c][v], AES_LOAD(d + 64 * (i + c) + v * AES_VB));
#pragma GCC unroll 4
	for (v = 0; v < AES_V; v++) {
		s[0][v] = AES_ENC(s[0][v], s[1][v]);
		s[2][v] = AES_ENC(s[2][v], s[3][v]);
		s[0][v] = AES_ENC(s[0][v], s[2][v]);
		s[0][v] = AES_ENC(s[0][v], k[v]);
		s[0][v] = AES_ENC(s[0][v], k[v]);
	}
	for (v = 1; v < AES_V; v++)
		s[0][0] = AES_XOR(s[0][0], s[0][v]);
	AES_STORE(o, s[0][0]);
	for (i = 0; i < AES_VB / 8; i++)
		h ^= o[i];
	return h;
}
#endif

void CSUM_AES_FN(csum_pages_aes)(const void *p, size_t nr, uint64_t *out)
{
	const uint8_t *c = p;
	size_t i;

	for (i = 0; i < nr; i++)
		out[i] = aes_page(c + i * CSUM_PAGE);
}

size_t CSUM_AES_FN(csum_check_pages_aes)(const void *p, size_t nr, const uint64_t *want)
{
	const uint8_t *c = p;
	size_t i;

	for (i = 0; i < nr; i++)
		if (aes_page(c + i * CSUM_PAGE) != want[i])
			return i;
	return nr;
}
