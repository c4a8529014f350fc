// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private anonymous memory shared copy-on-write across forks comes back
 * shared. The root fills 16 MiB and forks c; c rewrites pages 256-511 and
 * forks g; then the root rewrites pages 0-255 and g pages 512-767. So
 * root and c still share pages 512-4095, c and g pages 0-511 and
 * 768-4095. After C/R every page has the bytes its process last wrote,
 * and exactly those pairs of pages are one physical page again: same PFN
 * in /proc/PID/pagemap (root), or, where PFNs are hidden (nobody), the
 * Shared and Private sizes of the area in /proc/PID/smaps.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define NPAGES		4096
#define SZ		(NPAGES * ZDTM_PAGE_SIZE)
#define PAGE(i)		(mem + (size_t)(i) * ZDTM_PAGE_SIZE)

enum { ORIG, BY_ROOT, BY_C, BY_G };

static char *mem;
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	go = 1;
}

static void write_pages(int from, int to, int who)
{
	for (int i = from; i < to; i++)
		zdtm_fill(PAGE(i), ZDTM_PAGE_SIZE, (uint64_t)i * 4 + who);
}

/* Who wrote page i last, as process @self (0 root, 1 c, 2 g) sees it. */
static int writer(int self, int i)
{
	if (self == 0 && i < 256)
		return BY_ROOT;
	if (self >= 1 && i >= 256 && i < 512)
		return BY_C;
	if (self == 2 && i >= 512 && i < 768)
		return BY_G;
	return ORIG;
}

static int check_contents(int self)
{
	for (int i = 0; i < NPAGES; i++)
		if (zdtm_check(PAGE(i), ZDTM_PAGE_SIZE, (uint64_t)i * 4 + writer(self, i)) != (size_t)-1)
			return -1;
	return 0;
}

static void wait_go(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
}

static void __attribute__((noreturn)) grandchild(int ready)
{
	write_pages(512, 768, BY_G);
	if (write(ready, "g", 1) != 1)
		_exit(2);
	close(ready);
	wait_go();
	_exit(check_contents(2) ? 3 : 0);
}

static void __attribute__((noreturn)) child(int ready)
{
	int status, gready[2];
	pid_t g;
	char x;

	write_pages(256, 512, BY_C);
	if (pipe(gready))
		_exit(4);
	g = fork();
	if (g < 0)
		_exit(4);
	if (!g) {
		close(ready);
		close(gready[0]);
		grandchild(gready[1]);
	}
	close(gready[1]);
	if (read(gready[0], &x, 1) != 1 || write(ready, &g, sizeof(g)) != sizeof(g))
		_exit(5);
	close(gready[0]);
	close(ready);
	wait_go();
	if (check_contents(1))
		_exit(6);
	kill(g, SIGUSR1);
	if (waitpid(g, &status, 0) != g || !WIFEXITED(status))
		_exit(7);
	_exit(WEXITSTATUS(status) ? 10 + WEXITSTATUS(status) : 0);
}

/* PFNs of the area in @pid; -1 if the kernel hides them (not root). */
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
			return -2;	/* not present */
		pfn[i] &= (1ULL << 55) - 1;
		if (!pfn[i])
			return -1;
	}
	return 0;
}

/* Pages i where @a and @b must be the same page, compared with what they are. */
static int check_pfn_pair(const char *what, const uint64_t *a, const uint64_t *b, int sa, int sb)
{
	int bad = 0;

	for (int i = 0; i < NPAGES; i++) {
		int want = writer(sa, i) == writer(sb, i);

		if (want != (a[i] == b[i]))
			bad++;
	}
	if (bad)
		failv("%s: %d pages shared or not shared as they should", what, bad);
	return bad;
}

/* Shared and private kB of the area in /proc/PID/smaps. */
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
			break;		/* the next area */
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

static void check_smaps(const char *who, pid_t pid, int shared_pages)
{
	long rss, shared, priv;
	long want = shared_pages * (long)(ZDTM_PAGE_SIZE / 1024);

	if (read_smaps(pid, &rss, &shared, &priv)) {
		fail("%s: no area %p in /proc/%d/smaps", who, mem, pid);
		return;
	}
	if (rss != (long)(SZ / 1024) || shared != want || priv != rss - want)
		failv("%s: Rss %ld kB, Shared %ld kB, Private %ld kB; want %ld, %ld, %ld", who, rss, shared, priv,
		      (long)(SZ / 1024), want, (long)(SZ / 1024) - want);
}

static void check_sharing(pid_t c, pid_t g)
{
	static uint64_t pr[NPAGES], pc[NPAGES], pg[NPAGES];
	int r = read_pfns(getpid(), pr);

	if (r == -2) {
		failv("pages of the area are missing");
		return;
	}
	if (!r && !read_pfns(c, pc) && !read_pfns(g, pg)) {
		check_pfn_pair("root and c", pr, pc, 0, 1);
		check_pfn_pair("c and g", pc, pg, 1, 2);
		return;
	}
	/* PFNs hidden: root shares 512-4095 with c, c all with root or g, g 0-511 and 768-4095 with c */
	check_smaps("root", getpid(), NPAGES - 512);
	check_smaps("c", c, NPAGES);
	check_smaps("g", g, NPAGES - 256);
}

int main(int argc, char **argv)
{
	int ready[2], status;
	pid_t c, g;

	test_init(argc, argv);
	signal(SIGUSR1, on_usr1);
	mem = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || pipe(ready))
		test_bug("setup");
	/* small pages: Shared/Private in smaps are exact for them */
	if (madvise(mem, SZ, MADV_NOHUGEPAGE))
		test_bug("MADV_NOHUGEPAGE");
	write_pages(0, NPAGES, ORIG);

	c = zdtm_fork();
	if (!c) {
		close(ready[0]);
		child(ready[1]);
	}
	close(ready[1]);
	if (read(ready[0], &g, sizeof(g)) != sizeof(g))
		test_bug("the children did not get ready");
	close(ready[0]);
	write_pages(0, 256, BY_ROOT);
	test_daemon();
	test_waitsig();

	check_sharing(c, g);
	if (check_contents(0))
		failv("the root's pages have wrong contents");
	kill(c, SIGUSR1);
	if (zdtm_reap(c, &status))
		failv("child: status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
