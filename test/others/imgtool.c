/*
 * imgtool: look into and re-seal image files, for tests that damage images
 * on purpose (test/others).
 *
 *   imgtool entries FILE   one line per entry: "OFFSET LENGTH", then
 *                          "trailer OFFSET COUNT" (or "no trailer OFFSET")
 *   imgtool seal FILE      recompute every entry's check word and the
 *                          trailer (added if missing), keeping the entries
 *                          as they are: an image changed on purpose that
 *                          criu will read as whole (the dump id kept from
 *                          the trailer, or taken from the inventory.img
 *                          next to FILE; the name is FILE's)
 *
 * Both parse FILE as criu writes it (image.h): an 8-byte header, entries
 * of length word, message and check word, the trailer.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "image.h"

/* The whole of @path, with room for a trailer after it; NULL if it can't be read. */
static unsigned char *load(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	do {
		cap = cap ? cap * 2 : 65536;
		buf = realloc(buf, cap + IMG_TRAILER_SIZE);
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

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* Offset where entries stop: at the trailer mark, the end of the file, or a length that does not fit. */
static size_t walk(const unsigned char *buf, size_t size, int print, uint32_t *count)
{
	size_t off = 8;

	*count = 0;
	while (off + 4 <= size) {
		uint32_t len = get32(buf + off);

		if (len == IMG_TRAILER_MARK)
			break;
		if (size - off - 4 < (size_t)len + 4)
			break;
		if (print)
			printf("%zu %u\n", off, len);
		off += 4 + len + 4;
		(*count)++;
	}
	return off;
}

static int has_trailer(const unsigned char *buf, size_t size, size_t end)
{
	return end + IMG_TRAILER_SIZE <= size && get32(buf + end) == IMG_TRAILER_MARK;
}

/* The dump id of the inventory.img next to @path, or 0. */
static uint64_t dir_dump_id(const char *path)
{
	char inv[4096];
	unsigned char *buf;
	uint32_t count;
	uint64_t id = 0;
	size_t size, end;

	snprintf(inv, sizeof(inv), "%.*sinventory.img", (int)(base_name(path) - path), path);
	buf = load(inv, &size);
	if (!buf)
		return 0;
	end = walk(buf, size, 0, &count);
	if (has_trailer(buf, size, end))
		id = get64(buf + end + 8);
	free(buf);
	return id;
}

int main(int argc, char **argv)
{
	unsigned char *buf;
	uint32_t count;
	size_t size, end;
	uint64_t id;
	FILE *f;

	if (argc != 3 || (strcmp(argv[1], "entries") && strcmp(argv[1], "seal"))) {
		fprintf(stderr, "usage: imgtool entries|seal FILE\n");
		return 2;
	}
	buf = load(argv[2], &size);
	if (!buf || size < 8) {
		fprintf(stderr, "imgtool: %s: %s\n", argv[2], buf ? "no header" : strerror(errno));
		return 1;
	}
	end = walk(buf, size, !strcmp(argv[1], "entries"), &count);
	if (!strcmp(argv[1], "entries")) {
		if (has_trailer(buf, size, end))
			printf("trailer %zu %u\n", end, get32(buf + end + 4));
		else
			printf("no trailer %zu\n", end);
		free(buf);	/* the ASan build (scripts/sanitize) counts a leak as a failure */
		return 0;
	}

	id = has_trailer(buf, size, end) ? get64(buf + end + 8) : dir_dump_id(argv[2]);
	for (size_t off = 8; off < end;) {
		uint32_t len = get32(buf + off);

		put32(buf + off + 4 + len, (uint32_t)csum_buf(buf + off, 4 + len));
		off += 4 + len + 4;
	}
	put32(buf + end, IMG_TRAILER_MARK);
	put32(buf + end + 4, count);
	put64(buf + end + 8, id);
	put64(buf + end + 16, csum_buf(base_name(argv[2]), strlen(base_name(argv[2]))));
	put64(buf + end + 24, csum_buf(buf, end + 24));
	f = fopen(argv[2], "wb");
	if (!f || fwrite(buf, 1, end + IMG_TRAILER_SIZE, f) != end + IMG_TRAILER_SIZE || fclose(f)) {
		fprintf(stderr, "imgtool: can't write %s\n", argv[2]);
		free(buf);
		return 1;
	}
	free(buf);
	return 0;
}
