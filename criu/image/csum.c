/* Picking the checksum build this machine runs fastest (csum.h). */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "log.h"

enum csum_isa csum_isa(void)
{
	static int isa = -1;

	if (isa >= 0)
		return isa;
	if (getenv("CRIU_CSUM_OFF")) {
		isa = CSUM_NONE;
		return isa;
	}
	/* libgcc's checks include the kernel enabling the state (XCR0) */
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		isa = CSUM_AVX512;
	else if (__builtin_cpu_supports("avx2"))
		isa = CSUM_AVX2;
	else
		isa = CSUM_SCALAR;
	return isa;
}

uint64_t csum_buf(const void *p, size_t len)
{
	switch (csum_isa()) {
	case CSUM_AVX512:
		return csum_buf_avx512(p, len);
	case CSUM_AVX2:
		return csum_buf_avx2(p, len);
	default:
		return csum_buf_scalar(p, len);
	}
}

static unsigned page_kind = CSUM_KIND_XXH3;
static int kind_taken;

static const char *kind_name(unsigned kind)
{
	return kind == CSUM_KIND_AES ? "AES" : kind == CSUM_KIND_XXH3 ? "XXH3" : "unknown";
}

unsigned csum_kind(void)
{
	return page_kind;
}

int csum_dump_kind(void)
{
	const char *e = getenv("CRIU_CSUM_KIND");

	if (!e || !strcmp(e, "aes"))
		return CSUM_KIND_AES;
	if (!strcmp(e, "xxh3"))
		return CSUM_KIND_XXH3;
	pr_err("CRIU_CSUM_KIND=%s: the page checksum kinds are xxh3 and aes\n", e);
	return -1;
}

int csum_take_kind(unsigned kind, const char *what)
{
	if (kind != CSUM_KIND_XXH3 && kind != CSUM_KIND_AES) {
		pr_err("%s: page checksums of an unknown kind (%u): images of a newer criu?\n", what, kind);
		return -1;
	}
	if (kind_taken && kind != page_kind) {
		pr_err("%s: page checksums of kind %s, but other images of this run have %s ones: "
		       "mixing them is not supported\n", what, kind_name(kind), kind_name(page_kind));
		return -1;
	}
	page_kind = kind;
	kind_taken = 1;
	return 0;
}

void csum_reset_kind(void)
{
	page_kind = CSUM_KIND_XXH3;
	kind_taken = 0;
}

uint32_t csum_restorer_isa(void)
{
	if (csum_isa() != CSUM_NONE && page_kind == CSUM_KIND_AES)
		return CSUM_ISA_AES + csum_aes_isa();
	return csum_isa();
}

static void xxh3_pages(const void *p, size_t nr, uint64_t *out)
{
	switch (csum_isa()) {
	case CSUM_AVX512:
		csum_pages_avx512(p, nr, out);
		break;
	case CSUM_AVX2:
		csum_pages_avx2(p, nr, out);
		break;
	case CSUM_NONE:
		memset(out, 0, nr * sizeof(*out));
		break;
	default:
		csum_pages_scalar(p, nr, out);
	}
}

static size_t xxh3_check_pages(const void *p, size_t nr, const uint64_t *want)
{
	switch (csum_isa()) {
	case CSUM_AVX512:
		return csum_check_pages_avx512(p, nr, want);
	case CSUM_AVX2:
		return csum_check_pages_avx2(p, nr, want);
	case CSUM_NONE:
		return nr;
	default:
		return csum_check_pages_scalar(p, nr, want);
	}
}

enum csum_aes_isa csum_aes_isa(void)
{
	static int isa = -1;

	unsigned a, b, c, d, aes = 0, vaes = 0;

	if (isa >= 0)
		return isa;
	/* CPUID itself: not every compiler's __builtin_cpu_supports() knows "vaes" */
	if (__get_cpuid(1, &a, &b, &c, &d))
		aes = c & bit_AES;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		vaes = c & (1u << 9);
	/* and libgcc's checks of AVX2 and AVX-512, which include the kernel enabling the state (XCR0) */
	__builtin_cpu_init();
	if (vaes && __builtin_cpu_supports("avx512f"))
		isa = CSUM_AES_VAES512;
	else if (vaes && __builtin_cpu_supports("avx2"))
		isa = CSUM_AES_VAES256;
	else if (aes)
		isa = CSUM_AES_AESNI;
	else
		isa = CSUM_AES_SOFT;
	return isa;
}

void csum_pages_kind(unsigned kind, const void *p, size_t nr, uint64_t *out)
{
	if (kind != CSUM_KIND_AES || csum_isa() == CSUM_NONE) {
		xxh3_pages(p, nr, out);
		return;
	}
	switch (csum_aes_isa()) {
	case CSUM_AES_VAES512:
		csum_pages_aes_vaes512(p, nr, out);
		break;
	case CSUM_AES_VAES256:
		csum_pages_aes_vaes256(p, nr, out);
		break;
	case CSUM_AES_AESNI:
		csum_pages_aes_aesni(p, nr, out);
		break;
	default:
		csum_pages_aes_soft(p, nr, out);
	}
}

size_t csum_check_pages_kind(unsigned kind, const void *p, size_t nr, const uint64_t *want)
{
	if (kind != CSUM_KIND_AES || csum_isa() == CSUM_NONE)
		return xxh3_check_pages(p, nr, want);
	switch (csum_aes_isa()) {
	case CSUM_AES_VAES512:
		return csum_check_pages_aes_vaes512(p, nr, want);
	case CSUM_AES_VAES256:
		return csum_check_pages_aes_vaes256(p, nr, want);
	case CSUM_AES_AESNI:
		return csum_check_pages_aes_aesni(p, nr, want);
	default:
		return csum_check_pages_aes_soft(p, nr, want);
	}
}

void csum_pages(const void *p, size_t nr, uint64_t *out)
{
	csum_pages_kind(page_kind, p, nr, out);
}

size_t csum_check_pages(const void *p, size_t nr, const uint64_t *want)
{
	return csum_check_pages_kind(page_kind, p, nr, want);
}

uint64_t csum_zero(size_t len)
{
	static const unsigned char zero[CSUM_CHUNK];
	static uint64_t whole;
	static int done;

	if (len > CSUM_CHUNK)
		len = CSUM_CHUNK;
	if (len < CSUM_CHUNK)
		return csum_buf(zero, len);
	if (!done) {
		whole = csum_buf(zero, sizeof(zero));
		done = 1;
	}
	return whole;
}

/* Streams are for image files, small: the default (SSE2) build of xxhash does. */
#define XXH_INLINE_ALL
#include <xxhash.h>

struct csum_stream {
	XXH3_state_t *st;
};

struct csum_stream *csum_stream_new(void)
{
	struct csum_stream *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	s->st = XXH3_createState();
	if (!s->st) {
		free(s);
		return NULL;
	}
	XXH3_64bits_reset(s->st);
	return s;
}

void csum_stream_update(struct csum_stream *s, const void *p, size_t len)
{
	XXH3_64bits_update(s->st, p, len);
}

uint64_t csum_stream_digest(struct csum_stream *s)
{
	return XXH3_64bits_digest(s->st);
}

void csum_stream_free(struct csum_stream *s)
{
	if (!s)
		return;
	XXH3_freeState(s->st);
	free(s);
}
