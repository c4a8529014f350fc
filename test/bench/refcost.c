/*
 * Reference costs for the benchmark, the limits a dump and a restore are
 * measured against. Prints one line of key=value pairs (seconds, bytes).
 *
 * refcost write MODE SIZE_MIB FILE [SEED]
 *	Fill SIZE_MIB of anonymous memory the way memhog does (untimed), then
 *	time: writev() of only the pages with data to FILE.data (unless that
 *	is all of them) and its fdatasync; write() of all of it to FILE in
 *	1 MiB pieces (no sync); read() of FILE back into fresh anonymous
 *	memory (page cache warm); fdatasync of FILE. Files unlinked after.
 *
 * refcost fill SIZE_MIB
 *	Time mmap of fresh anonymous memory plus memset of every page, and
 *	separately the munmap.
 *
 * With -w MIB first (refcost -w MIB write|fill ...), MIB of memory is
 * touched and freed before every timed step (untimed): in a VM that hands
 * freed memory back to the host, it makes the step's first touches warm.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fill.h"

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("refcost: mmap");
	return p;
}

/*
 * write()/read() in 1 MiB pieces, as a program writing out a big buffer
 * would: on this kernel one 1 GiB write() to ext4 was 2-3x slower and far
 * noisier than the same bytes in 1 MiB writes.
 */
#define CHUNK	(1UL << 20)

static size_t prewarm_bytes;

static void prewarm(void)
{
	char *p;

	if (!prewarm_bytes)
		return;
	p = map_anon(prewarm_bytes);
	memset(p, 0x33, prewarm_bytes);
	munmap(p, prewarm_bytes);
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len > CHUNK ? CHUNK : len);

		if (n <= 0)
			die("refcost: write");
		p += n;
		len -= n;
	}
}

static void read_all(int fd, char *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len > CHUNK ? CHUNK : len);

		if (n <= 0)
			die("refcost: read");
		p += n;
		len -= n;
	}
}

/* writev the pages with data, up to IOV_MAX of them (merged when adjacent) per call */
static size_t write_data_pages(int fd, char *buf, size_t npages, enum fill_mode m)
{
	struct iovec iov[IOV_MAX];
	size_t total = 0, i = 0;

	while (i < npages) {
		size_t n = 0, bytes = 0;

		for (; i < npages && n < IOV_MAX; i++) {
			if (!fill_page_has_data(m, i))
				continue;
			if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == buf + i * BENCH_PAGE &&
			    iov[n - 1].iov_len < (1UL << 30)) {
				iov[n - 1].iov_len += BENCH_PAGE;
			} else {
				iov[n].iov_base = buf + i * BENCH_PAGE;
				iov[n].iov_len = BENCH_PAGE;
				n++;
			}
			bytes += BENCH_PAGE;
		}
		if (!n)
			break;
		/* one writev moves at most ~2 GiB; our batches are below that */
		for (size_t k = 0; k < n;) {
			ssize_t w = writev(fd, iov + k, n - k);

			if (w <= 0)
				die("refcost: writev");
			while (k < n && (size_t)w >= iov[k].iov_len)
				w -= iov[k++].iov_len;
			if (k < n) {
				iov[k].iov_base = (char *)iov[k].iov_base + w;
				iov[k].iov_len -= w;
			}
		}
		total += bytes;
	}
	return total;
}

static int cmd_write(int argc, char **argv)
{
	enum fill_mode mode;
	size_t size, npages, data_pages, data_bytes;
	double t0, fill_s, write_s, fsync_s, read_s, dwrite_s = 0, dfsync_s = 0;
	char *buf, *back, dpath[PATH_MAX];
	uint64_t seed;
	int fd, rfd, dfd;

	if (argc < 5 || argc > 6 || fill_mode_parse(argv[2], &mode)) {
		fprintf(stderr, "usage: refcost write random|sparse|zeroed SIZE_MIB FILE [SEED]\n");
		return 2;
	}
	size = strtoull(argv[3], NULL, 0) << 20;
	npages = size / BENCH_PAGE;
	seed = argc == 6 ? strtoull(argv[5], NULL, 0) : seed_from_clock();
	if (snprintf(dpath, sizeof(dpath), "%s.data", argv[4]) >= (int)sizeof(dpath))
		return 2;

	buf = map_anon(size);
	t0 = now_s();
	data_pages = fill_buffer(buf, npages, mode, seed, NULL);
	fill_s = now_s() - t0;

	/*
	 * Only the pages with data, unless that is all of them (then it is the
	 * write() below). First, and synced before the rest: with a gigabyte
	 * of dirty page cache pending it came out several times slower.
	 */
	data_bytes = size;
	if (data_pages != npages) {
		dfd = open(dpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (dfd < 0)
			die("refcost: open");
		prewarm();
		t0 = now_s();
		data_bytes = write_data_pages(dfd, buf, npages, mode);
		dwrite_s = now_s() - t0;
		t0 = now_s();
		if (fdatasync(dfd))
			die("refcost: fdatasync");
		dfsync_s = now_s() - t0;
		close(dfd);
		unlink(dpath);
	}

	/* all of it, as one stream */
	fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("refcost: open");
	prewarm();
	t0 = now_s();
	write_all(fd, buf, size);
	write_s = now_s() - t0;

	/*
	 * Back into fresh memory (the file's pages are in the page cache) before
	 * the fdatasync: that takes long enough for a VM with free page
	 * reporting to hand free memory back to the host, a cold start.
	 */
	rfd = open(argv[4], O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		die("refcost: open");
	prewarm();
	t0 = now_s();
	back = map_anon(size);
	read_all(rfd, back, size);
	read_s = now_s() - t0;
	close(rfd);
	if (memcmp(buf, back, size)) {
		fprintf(stderr, "refcost: the file read back differs from what was written\n");
		return 1;
	}
	munmap(back, size);

	t0 = now_s();
	if (fdatasync(fd))
		die("refcost: fdatasync");
	fsync_s = now_s() - t0;
	close(fd);
	unlink(argv[4]);
	if (data_pages == npages) {
		dwrite_s = write_s;
		dfsync_s = fsync_s;
	}

	printf("refcost write mode=%s bytes=%zu fill_s=%.6f write_s=%.6f fdatasync_s=%.6f readback_s=%.6f"
	       " data_bytes=%zu data_pages=%zu data_write_s=%.6f data_fdatasync_s=%.6f\n",
	       fill_mode_name(mode), size, fill_s, write_s, fsync_s, read_s, data_bytes, data_pages, dwrite_s,
	       dfsync_s);
	return 0;
}

static int cmd_fill(int argc, char **argv)
{
	size_t size;
	double t0, fill_s, unmap_s;
	char *p;

	if (argc != 3) {
		fprintf(stderr, "usage: refcost fill SIZE_MIB\n");
		return 2;
	}
	size = strtoull(argv[2], NULL, 0) << 20;
	prewarm();
	t0 = now_s();
	p = map_anon(size);
	memset(p, 0x5a, size);
	fill_s = now_s() - t0;
	t0 = now_s();
	munmap(p, size);
	unmap_s = now_s() - t0;
	printf("refcost fill bytes=%zu fill_s=%.6f munmap_s=%.6f\n", size, fill_s, unmap_s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "-w")) {
		prewarm_bytes = strtoull(argv[2], NULL, 0) << 20;
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	if (argc >= 2 && !strcmp(argv[1], "write"))
		return cmd_write(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "fill"))
		return cmd_fill(argc, argv);
	fprintf(stderr, "usage: refcost [-w MIB] write MODE SIZE_MIB FILE [SEED] | refcost [-w MIB] fill SIZE_MIB\n");
	return 2;
}
