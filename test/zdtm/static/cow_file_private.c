// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private file mappings shared copy-on-write across a fork come back
 * shared, like anonymous ones. The root maps a test file MAP_PRIVATE
 * (8 MiB), writes every page (each becomes its own copy of the file's
 * page) and forks c; then c rewrites pages 0-255 and the root pages
 * 256-511. So pages 512-2047 are one physical page in both. After C/R
 * every page has the bytes its process last wrote (the file keeps its
 * own), and exactly pages 512-2047 are shared: same PFN in
 * /proc/PID/pagemap (root), or, where PFNs are hidden (nobody), the
 * Shared and Private sizes of the area in /proc/PID/smaps. A second
 * private mapping of the file that nobody wrote still reads the file.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#define NPAGES		2048
#define SZ		(NPAGES * ZDTM_PAGE_SIZE)
#define PAGE(i)		(mem + (size_t)(i) * ZDTM_PAGE_SIZE)

enum { FILE_DATA, ORIG, BY_ROOT, BY_C };

static char *mem, *ro;

static void write_pages(int from, int to, int who)
{
	for (int i = from; i < to; i++)
		zdtm_fill(PAGE(i), ZDTM_PAGE_SIZE, (uint64_t)i * 4 + who);
}

static int writer(int self, int i)
{
	if (self == 0 && i >= 256 && i < 512)
		return BY_ROOT;
	if (self == 1 && i < 256)
		return BY_C;
	return ORIG;
}

static int check_contents(int self)
{
	for (int i = 0; i < NPAGES; i++)
		if (zdtm_check(PAGE(i), ZDTM_PAGE_SIZE, (uint64_t)i * 4 + writer(self, i)) != (size_t)-1)
			return -1;
	for (int i = 0; i < 16; i++)
		if (zdtm_check(ro + i * ZDTM_PAGE_SIZE, ZDTM_PAGE_SIZE, (uint64_t)i * 4 + FILE_DATA) != (size_t)-1)
			return -1;
	return 0;
}

static int read_pfns(pid_t pid, uint64_t *pfn)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, pfn, NPAGES * 8, ((uintptr_t)mem / ZDTM_PAGE_SIZE) * 8);
	close(fd);
	if (n != NPAGES * 8)
		return -1;
	for (int i = 0; i < NPAGES; i++) {
		if (!(pfn[i] >> 63))
			return -2;
		pfn[i] &= (1ULL << 55) - 1;
		if (!pfn[i])
			return -1;
	}
	return 0;
}

static int read_smaps(pid_t pid, long *rss, long *shared, long *priv)
{
	char path[64], line[512], head[64];
	int in = 0, n;
	long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = snprintf(head, sizeof(head), "%lx-%lx ", (unsigned long)mem, (unsigned long)mem + SZ);
	*rss = *shared = *priv = -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, head, n)) {
			in = 1;
			*shared = *priv = 0;
			continue;
		}
		if (!in)
			continue;
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
			break;
		if (sscanf(line, "Rss: %ld", &v) == 1)
			*rss = v;
		else if (sscanf(line, "Shared_Clean: %ld", &v) == 1 || sscanf(line, "Shared_Dirty: %ld", &v) == 1)
			*shared += v;
		else if (sscanf(line, "Private_Clean: %ld", &v) == 1 || sscanf(line, "Private_Dirty: %ld", &v) == 1)
			*priv += v;
	}
	fclose(f);
	return *rss < 0 ? -1 : 0;
}

static void check_smaps(const char *who, pid_t pid)
{
	long rss, shared, priv, want = (NPAGES - 512) * (long)(ZDTM_PAGE_SIZE / 1024);

	if (read_smaps(pid, &rss, &shared, &priv)) {
		fail("%s: no area %p in /proc/%d/smaps", who, mem, pid);
		return;
	}
	if (rss != (long)(SZ / 1024) || shared != want || priv != rss - want)
		failv("%s: Rss %ld kB, Shared %ld kB, Private %ld kB; want %ld, %ld, %ld", who, rss, shared, priv,
		      (long)(SZ / 1024), want, (long)(SZ / 1024) - want);
}

static void check_sharing(pid_t c)
{
	static uint64_t pr[NPAGES], pc[NPAGES];
	int r = read_pfns(getpid(), pr), bad = 0;

	if (r == -2) {
		failv("pages of the area are missing");
		return;
	}
	if (!r && !read_pfns(c, pc)) {
		for (int i = 0; i < NPAGES; i++)
			bad += (i >= 512) != (pr[i] == pc[i]);
		if (bad)
			failv("%d pages shared or not shared as they should", bad);
		return;
	}
	check_smaps("root", getpid());
	check_smaps("c", c);
}

int main(int argc, char **argv)
{
	char path[4096], *buf;
	int fd, ready[2], status;
	pid_t c;

	test_init(argc, argv);
	test_path(path, sizeof(path), "cow.file");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	buf = malloc(SZ);
	if (fd < 0 || !buf)
		test_bug("setup");
	for (int i = 0; i < NPAGES; i++)
		zdtm_fill(buf + (size_t)i * ZDTM_PAGE_SIZE, ZDTM_PAGE_SIZE, (uint64_t)i * 4 + FILE_DATA);
	if (write(fd, buf, SZ) != SZ)
		test_bug("write");
	free(buf);
	mem = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ro = mmap(NULL, 16 * ZDTM_PAGE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (mem == MAP_FAILED || ro == MAP_FAILED || pipe(ready))
		test_bug("mmap");
	write_pages(0, NPAGES, ORIG);
	zdtm_block_usr1(true);

	c = zdtm_fork();
	if (!c) {
		close(ready[0]);
		write_pages(0, 256, BY_C);
		close(ready[1]);
		if (zdtm_wait_usr1())
			_exit(2);
		_exit(check_contents(1) ? 3 : 0);
	}
	if (zdtm_wait_ready(ready))
		test_bug("the child did not get ready");
	write_pages(256, 512, BY_ROOT);
	test_daemon();
	test_waitsig();

	check_sharing(c);
	if (check_contents(0))
		failv("the root's pages have wrong contents");
	if (zdtm_wake_and_reap(c, &status))
		failv("child: status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
