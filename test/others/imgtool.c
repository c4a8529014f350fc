/*
 * imgtool: look into and re-seal image files, for tests that damage images
 * on purpose (test/others).
 *
 *   imgtool entries FILE   one line per entry: "OFFSET LENGTH", then
 *                          "trailer OFFSET COUNT" (or "no trailer OFFSET")
 *   imgtool seal FILE      recompute every entry's check word and the
 *                          trailer (added if missing), keeping the entries
 *                          as they are: an image changed on purpose that
 *                          criu will read as whole
 *
 * Both parse FILE as criu writes it (csum.h, image.h): an 8-byte header,
 * entries of length word, message and check word, the trailer.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "image.h"

static unsigned char *load(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "imgtool: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	do {
		cap = cap ? cap * 2 : 65536;
		buf = realloc(buf, cap + 16);
		if (!buf)
			exit(1);
		n += fread(buf + n, 1, cap - n, f);
	} while (n == cap);
	fclose(f);
	*size = n;
	return buf;
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Offset where entries stop: the trailer mark, the end of the file, or a length that does not fit. */
static size_t walk(const unsigned char *buf, size_t size, int print, uint32_t *count, int check_words)
{
	size_t off = 8;

	*count = 0;
	while (off + 4 <= size) {
		uint32_t len = get32(buf + off);

		if (len == IMG_TRAILER_MARK)
			break;
		if (size - off - 4 < (size_t)len + (check_words ? 4 : 0))
			break;
		if (print)
			printf("%zu %u\n", off, len);
		off += 4 + len + (check_words ? 4 : 0);
		(*count)++;
	}
	return off;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	uint32_t count;
	size_t size, end;

	if (argc != 3 || (strcmp(argv[1], "entries") && strcmp(argv[1], "seal"))) {
		fprintf(stderr, "usage: imgtool entries|seal FILE\n");
		return 2;
	}
	buf = load(argv[2], &size);
	if (size < 8) {
		fprintf(stderr, "imgtool: %s: no header\n", argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "entries")) {
		end = walk(buf, size, 1, &count, 1);
		if (end + 4 <= size && get32(buf + end) == IMG_TRAILER_MARK)
			printf("trailer %zu %u\n", end, end + 8 <= size ? get32(buf + end + 4) : 0);
		else
			printf("no trailer %zu\n", end);
		return 0;
	}

	end = walk(buf, size, 0, &count, 1);
	for (size_t off = 8; off < end;) {
		uint32_t len = get32(buf + off);

		put32(buf + off + 4 + len, (uint32_t)csum_buf(buf + off, 4 + len));
		off += 4 + len + 4;
	}
	put32(buf + end, IMG_TRAILER_MARK);
	put32(buf + end + 4, count);
	{
		uint64_t h = htole64(csum_buf(buf, end));

		memcpy(buf + end + 8, &h, 8);
	}
	FILE *f = fopen(argv[2], "wb");

	if (!f || fwrite(buf, 1, end + 16, f) != end + 16 || fclose(f)) {
		fprintf(stderr, "imgtool: can't write %s\n", argv[2]);
		return 1;
	}
	return 0;
}
