/*
 * A map from 64-bit keys to 64-bit values (open addressing, built once and
 * looked up many times): lookups by id or inode in loops over fds, files
 * and mappings stay O(1) instead of a scan of the whole table.
 */
#ifndef CR_HMAP_H
#define CR_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap {
	uint64_t *keys;
	uint64_t *vals;
	uint8_t *used;
	size_t cap;		/* a power of two, or 0 */
	size_t nr;
};

/* The value stored for @key, NULL if none. */
uint64_t *hmap_get(const struct hmap *m, uint64_t key);
/* The value of @key, made with @val if it was not there (*made says which). NULL: out of memory. */
uint64_t *hmap_get_or_put(struct hmap *m, uint64_t key, uint64_t val, int *made);
/* Store @val for @key, replacing what was there. 0 or -1 (out of memory). */
int hmap_put(struct hmap *m, uint64_t key, uint64_t val);
void hmap_free(struct hmap *m);

/*
 * Lists of ids (files of one pipe, sockets of one group...): @m gives the
 * first id of @key's list, @next[id] the id after it (0: the end). Put @id
 * first in @key's list. 0 or -1 (out of memory).
 */
static inline int hmap_list_push(struct hmap *m, uint64_t key, uint32_t id, uint32_t *next)
{
	uint64_t *first = hmap_get_or_put(m, key, 0, NULL);

	if (!first)
		return -1;
	next[id] = *first;
	*first = id;
	return 0;
}

/* Well-mixed hashes to build keys from several fields. */
uint64_t hash_u64(uint64_t v);
uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);

#endif
