#ifndef CR_SPARSE_H
#define CR_SPARSE_H

#include <stddef.h>
#include <stdint.h>

struct cr_img;

/*
 * Sparse objects (shmem-N.img, sysvshm-ID.img, ghost-ID.img): the bytes at their offsets,
 * holes kept, one checksum per CSUM_CHUNK bytes (csum.h) in the image that
 * describes the object.
 */
size_t sparse_nr_csum(uint64_t size);
/* Dump: @size bytes of @src into the image file @dst (@what names it); @csum gets sparse_nr_csum(size). */
int save_sparse(int src, int dst, uint64_t size, uint64_t *csum, const char *what);
/* Restore: @size bytes of image @img into @mem (NULL: only check them), checked against its @nr_csum checksums. */
int load_sparse(struct cr_img *img, uint64_t size, void *mem, const uint64_t *csum, size_t nr_csum);
/* Restore: the same into the file @fd (sized to @size first), holes kept. */
int load_sparse_fd(struct cr_img *img, uint64_t size, int fd, const uint64_t *csum, size_t nr_csum);

#endif
