/*
 * Sparse objects: the bytes of a shmem object or a SysV segment, at their
 * offsets in a raw image (shmem-N.img, sysvshm-ID.img), holes kept, with a
 * checksum per CSUM_CHUNK bytes in the image that describes the object
 * (shmem.img, ipc-ns.img).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csum.h"
#include "image.h"
#include "log.h"
#include "sparse.h"

size_t sparse_nr_csum(uint64_t size)
{
	return (size + CSUM_CHUNK - 1) / CSUM_CHUNK;
}

/*
 * Read the piece [@off, @off + @n) of a sparse file into @buf, unless it
 * is all hole (*hole set; holes read as zeros, there is no need).
 */
static int read_piece(int fd, uint64_t off, size_t n, char *buf, int *hole, const char *what)
{
	off_t data = lseek(fd, off, SEEK_DATA);
	size_t done = 0;

	if (data < 0 && errno != ENXIO) {
		pr_perror("%s: SEEK_DATA at offset %lu", what, (unsigned long)off);
		return -1;
	}
	*hole = data < 0 || (uint64_t)data >= off + n;
	while (!*hole && done < n) {
		ssize_t r = pread(fd, buf + done, n - done, off + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				pr_err("%s: ends at offset %lu, short of %lu bytes\n", what,
				       (unsigned long)(off + done), (unsigned long)(off + n));
			else
				pr_perror("%s: reading at offset %lu", what, (unsigned long)(off + done));
			return -1;
		}
		done += r;
	}
	return 0;
}

static int page_is_zero(const char *p)
{
	static const char zero[CSUM_PAGE];

	return !memcmp(p, zero, CSUM_PAGE);
}

/* Copy the pages of @buf (@n bytes, from object offset @off) that are not all zero. */
static int put_pages(const char *buf, size_t n, uint64_t off, int dst, char *mem, const char *what)
{
	for (size_t p = 0; p < n; p += CSUM_PAGE) {
		size_t len = n - p < CSUM_PAGE ? n - p : CSUM_PAGE;

		if (len == CSUM_PAGE && page_is_zero(buf + p))
			continue;
		if (mem) {
			memcpy(mem + off + p, buf + p, len);
		} else if (pwrite(dst, buf + p, len, off + p) != (ssize_t)len) {
			pr_perror("%s: writing at offset %lu", what, (unsigned long)(off + p));
			return -1;
		}
	}
	return 0;
}

/*
 * Both directions of a sparse object, piece by piece (CSUM_CHUNK bytes):
 * at dump (@save) from the object @src into the image @dst, noting each
 * piece's checksum in @csum; at restore from the image @src into @mem or
 * the file @dst (or nowhere, to check it), checking each piece against
 * @csum.
 * Pages all zero are left out (holes at dump, untouched memory at restore).
 */
static int move_sparse(int src, int dst, char *mem, uint64_t size, uint64_t *csum, const char *what, int save)
{
	char *buf = malloc(CSUM_CHUNK);
	int ret = -1;

	if (!buf) {
		pr_err("%s: out of memory\n", what);
		return -1;
	}
	for (uint64_t off = 0, k = 0; off < size; off += CSUM_CHUNK, k++) {
		size_t n = size - off < CSUM_CHUNK ? size - off : CSUM_CHUNK;
		uint64_t h;
		int hole;

		if (read_piece(src, off, n, buf, &hole, what))
			goto out;
		h = hole ? csum_zero(n) : csum_buf(buf, n);
		if (save) {
			csum[k] = h;
		} else if (h != csum[k]) {
			pr_err("%s: bytes %lu-%lu are damaged (checksum mismatch)\n", what, (unsigned long)off,
			       (unsigned long)(off + n - 1));
			goto out;
		}
		if (!hole && (dst >= 0 || mem) && put_pages(buf, n, off, dst, mem, what))
			goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int save_sparse(int src, int dst, uint64_t size, uint64_t *csum, const char *what)
{
	if (ftruncate(dst, size)) {
		pr_perror("%s: can't size it to %lu bytes", what, (unsigned long)size);
		return -1;
	}
	return move_sparse(src, dst, NULL, size, csum, what, 1);
}

int load_sparse(struct cr_img *img, uint64_t size, void *mem, const uint64_t *csum, size_t nr_csum)
{
	if (nr_csum != sparse_nr_csum(size)) {
		pr_err("%s: %zu checksums recorded for %lu bytes, %zu expected: damaged image\n", img->path,
		       nr_csum, (unsigned long)size, sparse_nr_csum(size));
		return -1;
	}
	return move_sparse(img->fd, -1, mem, size, (uint64_t *)csum, img->path, 0);
}

int load_sparse_fd(struct cr_img *img, uint64_t size, int fd, const uint64_t *csum, size_t nr_csum)
{
	if (nr_csum != sparse_nr_csum(size)) {
		pr_err("%s: %zu checksums recorded for %lu bytes, %zu expected: damaged image\n", img->path,
		       nr_csum, (unsigned long)size, sparse_nr_csum(size));
		return -1;
	}
	if (ftruncate(fd, size)) {
		pr_perror("%s: can't size the file to %lu bytes", img->path, (unsigned long)size);
		return -1;
	}
	return move_sparse(img->fd, fd, NULL, size, (uint64_t *)csum, img->path, 0);
}

