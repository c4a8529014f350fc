#ifndef CR_CHUNKS_H
#define CR_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "files.pb-c.h"

/*
 * A file's contents as chunks (offset + bytes) with the holes left out:
 * how memfds and unlinked files travel in files.img.
 */
int read_chunks(int fd, uint64_t size, MemfdChunk ***chunks, size_t *nr);
/* Write them back into @fd, each checked to lie within @size. 0 or -1. */
int write_chunks(int fd, MemfdChunk *const *chunks, size_t nr, uint64_t size);
void free_chunks(MemfdChunk **chunks, size_t nr);

#endif
