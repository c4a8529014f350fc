/* A pid -> index hash table: open addressing, linear probing, never shrinks. */
#include <stdlib.h>

#include "pidmap.h"

static size_t slot_of(const struct pidmap *m, int32_t key)
{
	/* Fibonacci hashing: neighbouring pids land far apart */
	return ((uint32_t)key * 2654435769u) & (m->cap - 1);
}

static int alloc(struct pidmap *m, size_t cap)
{
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	m->cap = cap;
	m->nr = 0;
	if (!m->keys || !m->vals) {
		pidmap_free(m);
		return -1;
	}
	return 0;
}

int pidmap_init(struct pidmap *m, size_t hint)
{
	size_t cap = 16;

	while (cap < 2 * hint)
		cap *= 2;
	return alloc(m, cap);
}

static int grow(struct pidmap *m)
{
	struct pidmap n;

	if (alloc(&n, m->cap * 2))
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] && pidmap_set(&n, m->keys[i], m->vals[i]))
			return -1;
	pidmap_free(m);
	*m = n;
	return 0;
}

int pidmap_set(struct pidmap *m, int32_t key, int32_t val)
{
	size_t i;

	if (key <= 0)
		return -1;
	if (!m->cap && pidmap_init(m, 8))
		return -1;
	if (2 * (m->nr + 1) > m->cap && grow(m))
		return -1;
	for (i = slot_of(m, key); m->keys[i] && m->keys[i] != key; i = (i + 1) & (m->cap - 1))
		;
	if (!m->keys[i])
		m->nr++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

int32_t pidmap_get(const struct pidmap *m, int32_t key)
{
	if (!m->cap || key <= 0)
		return -1;
	for (size_t i = slot_of(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i];
	return -1;
}

void pidmap_free(struct pidmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->cap = m->nr = 0;
}
