/* A 64-bit key to 64-bit value map with linear probing (see hmap.h). */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define HMAP_MIN_CAP	64

uint64_t hash_u64(uint64_t v)
{
	/* the splitmix64 finalizer: every input bit reaches every output bit */
	v ^= v >> 30;
	v *= 0xbf58476d1ce4e5b9ULL;
	v ^= v >> 27;
	v *= 0x94d049bb133111ebULL;
	v ^= v >> 31;
	return v;
}

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ hash_u64(seed);	/* FNV-1a, mixed at the end */

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return hash_u64(h ^ len);
}

static size_t find_slot(const struct hmap *m, uint64_t key)
{
	size_t mask = m->cap - 1, i = hash_u64(key) & mask;

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & mask;
	return i;
}

static int grow(struct hmap *m)
{
	struct hmap n = { .cap = m->cap ? m->cap * 2 : HMAP_MIN_CAP };

	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	n.used = calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		free(n.keys);
		free(n.vals);
		free(n.used);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		size_t j = find_slot(&n, m->keys[i]);

		n.used[j] = 1;
		n.keys[j] = m->keys[i];
		n.vals[j] = m->vals[i];
		n.nr++;
	}
	hmap_free(m);
	*m = n;
	return 0;
}

uint64_t *hmap_get(const struct hmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = find_slot(m, key);
	return m->used[i] ? &m->vals[i] : NULL;
}

uint64_t *hmap_get_or_put(struct hmap *m, uint64_t key, uint64_t val, int *made)
{
	size_t i;

	if (made)
		*made = 0;
	/* at most half full: probes stay short */
	if ((m->nr + 1) * 2 > m->cap && grow(m))
		return NULL;
	i = find_slot(m, key);
	if (!m->used[i]) {
		m->used[i] = 1;
		m->keys[i] = key;
		m->vals[i] = val;
		m->nr++;
		if (made)
			*made = 1;
	}
	return &m->vals[i];
}

int hmap_put(struct hmap *m, uint64_t key, uint64_t val)
{
	uint64_t *v = hmap_get_or_put(m, key, val, NULL);

	if (!v)
		return -1;
	*v = val;
	return 0;
}

void hmap_free(struct hmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
