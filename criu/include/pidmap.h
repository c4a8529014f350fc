/*
 * A map from pids (or tids, or any positive int id) to small ints, built
 * once and looked up in constant time: what a loop over processes,
 * threads or mappings uses instead of a search through a list.
 */
#ifndef CR_PIDMAP_H
#define CR_PIDMAP_H

#include <stddef.h>
#include <stdint.h>

struct pidmap {
	int32_t *keys;		/* 0: empty */
	int32_t *vals;
	size_t cap;		/* a power of two, at least twice the entries */
	size_t nr;
};

/* 0 or -1 (out of memory). Room for @hint entries without growing. */
int pidmap_init(struct pidmap *m, size_t hint);
/* Map @key (> 0) to @val, replacing what was there. 0 or -1. */
int pidmap_set(struct pidmap *m, int32_t key, int32_t val);
/* The value of @key, or -1. */
int32_t pidmap_get(const struct pidmap *m, int32_t key);
void pidmap_free(struct pidmap *m);

#endif
