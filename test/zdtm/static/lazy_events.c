// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restored with --lazy-pages (desc), while its memory is still coming in
 * a thread keeps forking (the child checks pages), moving areas away and
 * back with mremap(), discarding pieces with MADV_DONTNEED, unmapping and
 * mapping pieces afresh and writing new versions of pages: every page must
 * read what was last written (zeros after a discard), in the children too;
 * an area with MADV_WIPEONFORK reads zeros in the children, its data in the
 * parent.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NAREA		6
#define AREA_SIZE	(32UL << 20)
#define PAGE		ZDTM_PAGE_SIZE
#define NPAGES		(AREA_SIZE / PAGE)
#define CHUNK		(1UL << 20)

#define WIPE_SIZE	(16UL << 20)

static unsigned char *area[NAREA], *spare, *wipe;
static uint16_t ver[NAREA][NPAGES];	/* 0: zero page */
static uint64_t seed;
static volatile int stop;
static int errors;

static uint64_t page_seed(int a, size_t pg)
{
	return seed ^ ((uint64_t)a << 40) ^ ((uint64_t)pg << 8) ^ ver[a][pg];
}

static void write_page(int a, size_t pg)
{
	ver[a][pg]++;
	if (!ver[a][pg])
		ver[a][pg] = 1;
	zdtm_fill(area[a] + pg * PAGE, PAGE, page_seed(a, pg));
}

/* Pages of area @a at @base (it may be moved there) from @pg, every @step-th of @n: 0 if all right. */
static int check_pages(int a, unsigned char *base, size_t pg, size_t n, size_t step, const char *when)
{
	int bad = 0;

	for (size_t i = pg; i < pg + n && i < NPAGES; i += step) {
		size_t off = ver[a][i] ? zdtm_check(base + i * PAGE, PAGE, page_seed(a, i)) :
					 zdtm_check_zero(base + i * PAGE, PAGE);

		if (off == (size_t)-1)
			continue;
		if (bad++ < 5)
			failv("%s: area %d page %zu (version %u) differs at byte %zu", when, a, i, ver[a][i], off);
	}
	return bad;
}

static void op_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		fail("fork");
		errors++;
		return;
	}
	if (pid == 0) {
		int bad = 0;

		for (int a = 0; a < NAREA; a++)
			bad += check_pages(a, area[a], 0, NPAGES, 61, "in a forked child");
		for (size_t i = 0; i < WIPE_SIZE; i += 17 * PAGE)
			if (zdtm_check_zero(wipe + i, PAGE) != (size_t)-1 && bad++ < 5)
				failv("in a forked child: the wipe-on-fork page at %zu is not zero", i);
		_exit(bad ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail("a forked child found its memory wrong (status %x)", status);
		errors++;
	}
}

static void op_move(int a)
{
	void *p = mremap(area[a], AREA_SIZE, AREA_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, spare);

	if (p != spare) {
		fail("mremap away");
		errors++;
		return;
	}
	errors += check_pages(a, spare, zdtm_random() % NPAGES, 64, 1, "moved away") ? 1 : 0;
	p = mremap(spare, AREA_SIZE, AREA_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, area[a]);
	if (p != area[a]) {
		fail("mremap back");
		errors++;
	}
}

static void op_discard(int a, int unmap)
{
	size_t pg = (zdtm_random() % (NPAGES - CHUNK / PAGE));
	unsigned char *at = area[a] + pg * PAGE;

	if (unmap) {
		if (mmap(at, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at) {
			fail("mmap over");
			errors++;
			return;
		}
	} else if (madvise(at, CHUNK, MADV_DONTNEED)) {
		fail("madvise");
		errors++;
		return;
	}
	for (size_t i = 0; i < CHUNK / PAGE; i++)
		ver[a][pg + i] = 0;
	errors += check_pages(a, area[a], pg, CHUNK / PAGE, 1, unmap ? "mapped afresh" : "discarded") ? 1 : 0;
	for (size_t i = 0; i < CHUNK / PAGE; i += 3)
		write_page(a, pg + i);
}

static void *worker(void *arg)
{
	sigset_t all;

	/* SIGTERM is the main thread's, waiting for it in sigsuspend() */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (unsigned long it = 0; !stop; it++) {
		int a = it % NAREA;

		switch (it % 5) {
		case 0:
			op_fork();
			break;
		case 1:
			/* an area mapped over in pieces is several: mremap() takes one */
			op_move(a % (NAREA / 2));
			break;
		case 2:
			op_discard(a, 0);
			break;
		case 3:
			op_discard(NAREA / 2 + a % (NAREA / 2), 1);
			break;
		case 4:
			for (int i = 0; i < 16; i++)
				write_page(a, zdtm_random() % NPAGES);
			break;
		}
		usleep(2000);
	}
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t th;
	int bad = 0;

	test_init(argc, argv);
	seed = zdtm_random();
	/* mapped first, so above the others: the background copy, lowest first, fills it last */
	wipe = mmap(NULL, WIPE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wipe == MAP_FAILED)
		test_bug("mmap");
	for (int a = 0; a < NAREA; a++) {
		area[a] = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (area[a] == MAP_FAILED)
			test_bug("mmap");
		for (size_t pg = 0; pg < NPAGES; pg++)
			if (pg % 7)
				write_page(a, pg);
	}
	spare = mmap(NULL, AREA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spare == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(wipe, WIPE_SIZE, seed + 1);
	if (madvise(wipe, WIPE_SIZE, MADV_WIPEONFORK))
		test_bug("madvise(MADV_WIPEONFORK)");
	if (pthread_create(&th, NULL, worker, NULL))
		test_bug("pthread_create");

	test_daemon();
	test_waitsig();

	stop = 1;
	pthread_join(th, NULL);
	for (int a = 0; a < NAREA; a++)
		bad += check_pages(a, area[a], 0, NPAGES, 1, "at the end");
	if (zdtm_check(wipe, WIPE_SIZE, seed + 1) != (size_t)-1) {
		failv("the wipe-on-fork area lost its data");
		bad++;
	}
	if (bad || errors)
		fail("%d pages wrong at the end, %d errors on the way", bad, errors);
	else
		pass();
	return 0;
}
