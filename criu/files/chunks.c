/* File contents without their holes, for memfds and unlinked files. */
#include <stdlib.h>
#include <unistd.h>

#include "chunks.h"
#include "log.h"

static int add_chunk(MemfdChunk ***chunks, size_t *nr, int fd, off_t off, size_t len)
{
	MemfdChunk *c = calloc(1, sizeof(*c)), **n;

	n = realloc(*chunks, (*nr + 1) * sizeof(*n));
	if (!c || !n) {
		free(c);
		return -1;
	}
	*chunks = n;
	memfd_chunk__init(c);
	c->off = off;
	c->data.len = len;
	c->data.data = malloc(len);
	(*chunks)[(*nr)++] = c;
	if (!c->data.data || pread(fd, c->data.data, len, off) != (ssize_t)len) {
		pr_perror("reading file contents at %ld", (long)off);
		return -1;
	}
	return 0;
}

int read_chunks(int fd, uint64_t size, MemfdChunk ***chunks, size_t *nr)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0)
			break;		/* ENXIO: only a hole is left */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = size;
		if (add_chunk(chunks, nr, fd, data, hole - data))
			return -1;
		off = hole;
	}
	return 0;
}

int write_chunks(int fd, MemfdChunk *const *chunks, size_t nr, uint64_t size)
{
	for (size_t i = 0; i < nr; i++) {
		const MemfdChunk *c = chunks[i];

		if (c->off > size || c->data.len > size - c->off) {
			pr_err("a chunk of %zu bytes at %lu lies beyond the file's %lu bytes\n", c->data.len,
			       (unsigned long)c->off, (unsigned long)size);
			return -1;
		}
		if (pwrite(fd, c->data.data, c->data.len, c->off) != (ssize_t)c->data.len) {
			pr_perror("writing file contents at %lu", (unsigned long)c->off);
			return -1;
		}
	}
	return 0;
}

void free_chunks(MemfdChunk **chunks, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		free(chunks[i]->data.data);
		free(chunks[i]);
	}
	free(chunks);
}
