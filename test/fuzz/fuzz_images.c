/*
 * libFuzzer harness for every image reader and for "criu show".
 *
 * A base dump (a directory named by $FUZZ_BASE, made by scripts/fuzz from
 * a real tree) is copied to a scratch directory once. Each input replaces
 * one of its files and then runs what restore does before it makes
 * anything (read_all_images(): every image of the tree read and checked)
 * and "criu show" of that file. The base is a chain (Documentation/
 * incremental.md): its "parent" dir's files come after its own, as
 * "parent/NAME", so that the pages gathered from the parent, its
 * pagemaps and its compressed frames are read too. The input is
 *
 *   byte 0     which file of the base (by sorted name, modulo their number)
 *   byte 1     bit 0: the rest is entries to seal (see below), else the
 *              file's bytes as they are; bit 1: skip show
 *   the rest   the file's bytes, or entries: u32 length + message, as
 *              many as fit, which get the file's header, a check word each
 *              and a trailer, as criu writes them, so that the fuzzer gets
 *              past the checksums to the decoders and the checks behind
 *              them.
 *
 * Build: scripts/fuzz (clang, -Dfuzz=true, ASan and UBSan).
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../criu/restore/rst.h"
#include "csum.h"

#define MAX_FILES	256

static struct base_file {
	char name[NAME_MAX + 1];
	unsigned char *data;
	size_t len;
} files[MAX_FILES];
static int nr_files;
static char work[64] = "/tmp/fuzz-images.XXXXXX";
static int work_fd = -1;
static FILE *devnull;
static unsigned char *sealbuf;

static unsigned char *slurp(int dfd, const char *name, size_t *len)
{
	int fd = openat(dfd, name, O_RDONLY);
	struct stat st;
	unsigned char *buf;

	if (fd < 0 || fstat(fd, &st))
		exit(1);
	buf = malloc(st.st_size + 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size)
		exit(1);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void put(const char *name, const unsigned char *data, size_t len)
{
	int fd;

	unlinkat(work_fd, name, 0);
	fd = openat(work_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		exit(1);
	close(fd);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct base_file *)a)->name, ((const struct base_file *)b)->name);
}

static void cleanup(void)
{
	char path[sizeof(work) + 8];

	for (int i = 0; i < nr_files; i++)
		unlinkat(work_fd, files[i].name, 0);
	snprintf(path, sizeof(path), "%s/parent", work);
	rmdir(path);
	rmdir(work);
}

/* The image files of @dfd, named @prefix NAME, into files[]. */
static void read_dir(int dfd, const char *prefix)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d)
		exit(1);
	while ((de = readdir(d)) && nr_files < MAX_FILES) {
		struct base_file *f = &files[nr_files];

		if (de->d_name[0] == '.' || strstr(de->d_name, ".log") || !strcmp(de->d_name, "parent"))
			continue;
		snprintf(f->name, sizeof(f->name), "%s%s", prefix, de->d_name);
		f->data = slurp(dirfd(d), de->d_name, &f->len);
		nr_files++;
	}
	closedir(d);
}

static int read_base(void)
{
	struct rst_tree tr = { .dfd = dup(work_fd) };
	int ret = read_all_images(&tr);

	free_tree(&tr);
	img_set_dump_id(0);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("FUZZ_BASE");
	char path[sizeof(work) + 8];
	int bfd, pfd, nr_own;

	if (!base) {
		fprintf(stderr, "fuzz-images: set FUZZ_BASE to a dump directory (scripts/fuzz does)\n");
		exit(1);
	}
	bfd = open(base, O_RDONLY | O_DIRECTORY);
	if (bfd < 0 || !mkdtemp(work)) {
		perror(base);
		exit(1);
	}
	pfd = openat(bfd, "parent", O_RDONLY | O_DIRECTORY);
	read_dir(bfd, "");
	if (!nr_files) {
		fprintf(stderr, "fuzz-images: %s holds no images\n", base);
		exit(1);
	}
	/* its own files first, in the order the corpus's byte 0 counts them; then the parent's */
	qsort(files, nr_files, sizeof(files[0]), by_name);
	nr_own = nr_files;
	if (pfd >= 0) {
		read_dir(pfd, "parent/");
		qsort(files + nr_own, nr_files - nr_own, sizeof(files[0]), by_name);
		snprintf(path, sizeof(path), "%s/parent", work);
		if (mkdir(path, 0700))
			exit(1);
	}
	work_fd = open(work, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < nr_files; i++)
		put(files[i].name, files[i].data, files[i].len);
	opts.imgs_dir = work;
	devnull = fopen("/dev/null", "w");
	sealbuf = malloc(IMG_MAX_FILE_SIZE > (64u << 20) ? (64u << 20) : IMG_MAX_FILE_SIZE);
	if (work_fd < 0 || !devnull || !sealbuf)
		exit(1);
	log_init("/dev/null", LOG_DEBUG);
	kerndat_init();
	atexit(cleanup);
	/* the base must read whole, or every input would stop at the first error */
	if (read_base()) {
		fprintf(stderr, "fuzz-images: the base dump in %s does not read (see criu restore of it)\n", base);
		exit(1);
	}
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

/* NAME of "parent/NAME": trailers hash the file's own name */
static const char *base_name(const char *name)
{
	const char *s = strrchr(name, '/');

	return s ? s + 1 : name;
}

/* Entries of @in, sealed as criu writes them, under the header of base file @f. */
static size_t seal(const struct base_file *f, const uint8_t *in, size_t len, uint64_t dump_id)
{
	size_t off = 8, pos = 0;
	uint32_t nr = 0;

	memset(sealbuf, 0, 8);
	memcpy(sealbuf, f->data, f->len < 8 ? f->len : 8);
	while (len - pos >= 4) {
		uint32_t n;

		memcpy(&n, in + pos, 4);
		n = le32toh(n);
		if (n > len - pos - 4 || n > (1u << 20))
			break;
		memcpy(sealbuf + off, in + pos, 4 + n);
		put32(sealbuf + off + 4 + n, (uint32_t)csum_buf(sealbuf + off, 4 + n));
		off += 4 + n + 4;
		pos += 4 + n;
		nr++;
	}
	put32(sealbuf + off, IMG_TRAILER_MARK);
	put32(sealbuf + off + 4, nr);
	put64(sealbuf + off + 8, dump_id);
	put64(sealbuf + off + 16, csum_buf(base_name(f->name), strlen(base_name(f->name))));
	put64(sealbuf + off + 24, csum_buf(sealbuf, off + 24));
	return off + IMG_TRAILER_SIZE;
}

/* The dump id in the trailer of the inventory.img of the dir @f is in (the base's or its parent's). */
static uint64_t base_dump_id(const struct base_file *f)
{
	const char *want = strncmp(f->name, "parent/", 7) ? "inventory.img" : "parent/inventory.img";

	for (int i = 0; i < nr_files; i++)
		if (!strcmp(files[i].name, want) && files[i].len >= IMG_TRAILER_SIZE) {
			uint64_t id;

			memcpy(&id, files[i].data + files[i].len - IMG_TRAILER_SIZE + 8, 8);
			return le64toh(id);
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rst_tree tr = { .dfd = -1 };
	const struct base_file *f;
	char path[128];

	if (size < 2)
		return 0;
	f = &files[data[0] % nr_files];
	if (data[1] & 1)
		put(f->name, sealbuf, seal(f, data + 2, size - 2, base_dump_id(f)));
	else
		put(f->name, data + 2, size - 2);

	if (!(data[1] & 2)) {
		snprintf(path, sizeof(path), "%s/%s", work, f->name);
		show_image(path, devnull);
	}

	img_set_dump_id(0);
	csum_reset_kind();	/* each input a run of its own (show took the kind of what it read) */
	tr.dfd = dup(work_fd);
	read_all_images(&tr);
	free_tree(&tr);
	img_set_dump_id(0);

	put(f->name, f->data, f->len);
	return 0;
}
