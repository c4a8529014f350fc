/*
 * Checksums of what images hold: XXH3-64 (seed 0) from the xxhash library.
 *
 * - protobuf images: each entry ends in 32 bits of the XXH3 of its length
 *   word and body, and the trailer holds the XXH3 of everything before it
 *   (image.c);
 * - page data: one XXH3 per 4096-byte page, kept in the pagemap entry that
 *   places the page, so it does not depend on where or how the page is
 *   stored (a parent dump, a compressed file, a page server);
 * - sparse objects (shmem-N.img, sysvshm-ID.img): one XXH3 per
 *   CSUM_CHUNK bytes of the object, holes hashed as zeros.
 *
 * The same functions are built three times (scalar, AVX2, AVX-512) and the
 * fastest one the CPU and kernel allow is used; all give the same values.
 * A page's checksum is XXH3_64bits() of its 4096 bytes; the SIMD builds
 * compute it with a routine of their own (csum-impl.h: fewer instructions
 * a stripe, the same value; test_csum holds it to xxhash's).
 * The restorer blob carries its own copies and is told by csum_isa() which
 * one to use. At dump the tool hashes pages itself, as it copies them
 * (mem.c): the parasite runs no checksums.
 */
#ifndef CR_CSUM_H
#define CR_CSUM_H

#include <stddef.h>
#include <stdint.h>

#define CSUM_PAGE	4096u
#define CSUM_CHUNK	(64u << 10)	/* sparse objects: bytes per checksum */

enum csum_isa {
	CSUM_SCALAR,
	CSUM_AVX2,
	CSUM_AVX512,
	/*
	 * Page checksums neither computed nor checked: CRIU_CSUM_OFF=1 in
	 * criu's environment, for measuring what they cost and nothing else
	 * (images dumped so carry zeros and restore only with it set too).
	 */
	CSUM_NONE,
	/* restore_args.csum_isa of the AES page hash: CSUM_ISA_AES + enum csum_aes_isa */
	CSUM_ISA_AES = 16,
};

/* Declared for each ISA by csum-impl.h. */
#define CSUM_DECLARE(isa)								\
	uint64_t csum_buf_##isa(const void *p, size_t len);				\
	void csum_pages_##isa(const void *p, size_t nr, uint64_t *out);			\
	size_t csum_check_pages_##isa(const void *p, size_t nr, const uint64_t *want);

CSUM_DECLARE(scalar)
CSUM_DECLARE(avx2)
CSUM_DECLARE(avx512)

/*
 * Kinds of page checksum (pagemap_head.csum_kind): XXH3-64 (above; images
 * without the field), or the AES page hash (csum-aes-impl.h).
 */
enum csum_kind {
	CSUM_KIND_XXH3 = 0,
	CSUM_KIND_AES = 1,
};

/* The builds of the AES page hash; all give the same values. */
enum csum_aes_isa {
	CSUM_AES_SOFT,		/* the AES round in C */
	CSUM_AES_AESNI,		/* AES-NI, 128-bit */
	CSUM_AES_VAES256,	/* VAES with AVX2 */
	CSUM_AES_VAES512,	/* VAES with AVX-512 */
};

#define CSUM_AES_DECLARE(isa)								\
	void csum_pages_aes_##isa(const void *p, size_t nr, uint64_t *out);		\
	size_t csum_check_pages_aes_##isa(const void *p, size_t nr, const uint64_t *want);

CSUM_AES_DECLARE(soft)
CSUM_AES_DECLARE(aesni)
CSUM_AES_DECLARE(vaes256)
CSUM_AES_DECLARE(vaes512)

#ifndef CR_BLOB
/* The ISA this machine hashes with (CPU features and XCR0 both allow it). */
enum csum_isa csum_isa(void);
/* XXH3-64 of @len bytes. */
uint64_t csum_buf(const void *p, size_t len);
/* One checksum per page of @nr pages at @p, into @out. */
void csum_pages(const void *p, size_t nr, uint64_t *out);
/* Index of the first of @nr pages whose checksum is not @want[i], or @nr. */
size_t csum_check_pages(const void *p, size_t nr, const uint64_t *want);
/*
 * The kind of page checksum in effect: one per run. A dump takes
 * csum_dump_kind() (or its parent images' kind); a restore, show or page
 * server takes the kind of the images it reads, and refuses images of
 * another kind in the same run (csum_take_kind()). csum_pages() and
 * csum_check_pages() hash with it.
 */
unsigned csum_kind(void);
/* CRIU_CSUM_KIND=xxh3|aes in criu's environment, AES if unset; -1 (with a message) if unknown. */
int csum_dump_kind(void);
/* Take @kind for this run; -1 with a message naming @what if it is unknown or not the kind taken before. */
int csum_take_kind(unsigned kind, const char *what);
/* Forget the kind taken (the fuzz harnesses: each input is a run of its own). */
void csum_reset_kind(void);
/* The value of restore_args.csum_isa: which build of which hash the restorer checks pages with. */
uint32_t csum_restorer_isa(void);
/* The build of the AES page hash this machine runs fastest. */
enum csum_aes_isa csum_aes_isa(void);
/* csum_pages() and csum_check_pages() with the page hash of kind @kind (enum csum_kind). */
void csum_pages_kind(unsigned kind, const void *p, size_t nr, uint64_t *out);
size_t csum_check_pages_kind(unsigned kind, const void *p, size_t nr, const uint64_t *want);
/* Checksum of @len (up to CSUM_CHUNK) zero bytes: a hole of a sparse object. */
uint64_t csum_zero(size_t len);

/* XXH3-64 of a stream of bytes given piece by piece (image files). */
struct csum_stream *csum_stream_new(void);
void csum_stream_update(struct csum_stream *s, const void *p, size_t len);
uint64_t csum_stream_digest(struct csum_stream *s);
void csum_stream_free(struct csum_stream *s);
#endif

#endif
