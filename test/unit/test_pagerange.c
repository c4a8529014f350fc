// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "log.h"
#include "pagerange.h"

#define MAX_IOV 64

/* Expected failures log errors; keep the test output readable. */
static void quiet(void)
{
	log_set_level(LOG_MSG);
}

static void loud(void)
{
	log_set_level(DEFAULT_LOGLEVEL);
}

static uint64_t iov_addr(const struct iovec *iov)
{
	return (uint64_t)(uintptr_t)iov->iov_base;
}

static void test_init_free(void **state)
{
	struct page_list l;

	page_list_init(&l);
	assert_null(l.r);
	assert_int_equal(l.nr, 0);
	assert_int_equal(l.cap, 0);
	assert_int_equal(l.total_pages, 0);

	assert_int_equal(page_list_add(&l, 0x1000, 1), 0);
	page_list_free(&l);
	assert_null(l.r);
	assert_int_equal(l.nr, 0);
	assert_int_equal(l.total_pages, 0);

	/* Freeing twice (or an empty list) is harmless. */
	page_list_free(&l);
}

static void test_merge_adjacent(void **state)
{
	struct page_list l;

	page_list_init(&l);
	assert_int_equal(page_list_add(&l, 0x1000, 1), 0);
	assert_int_equal(page_list_add(&l, 0x2000, 2), 0);
	assert_int_equal(l.nr, 1);
	assert_int_equal(l.r[0].start, 0x1000);
	assert_int_equal(l.r[0].nr_pages, 3);

	/* A gap: new range. */
	assert_int_equal(page_list_add(&l, 0x5000, 1), 0);
	assert_int_equal(l.nr, 2);
	/* Adjacent to the new last range: merged into it. */
	assert_int_equal(page_list_add(&l, 0x6000, 4), 0);
	assert_int_equal(l.nr, 2);
	assert_int_equal(l.r[0].start, 0x1000);
	assert_int_equal(l.r[0].nr_pages, 3);
	assert_int_equal(l.r[1].start, 0x5000);
	assert_int_equal(l.r[1].nr_pages, 5);
	assert_int_equal(l.total_pages, 8);

	page_list_free(&l);
}

static void expect_einval(struct page_list *l, uint64_t addr, uint64_t nr)
{
	size_t nr_ranges = l->nr;
	uint64_t total = l->total_pages;

	errno = 0;
	assert_int_equal(page_list_add(l, addr, nr), -1);
	assert_int_equal(errno, EINVAL);
	/* A rejected range leaves the list alone. */
	assert_int_equal(l->nr, nr_ranges);
	assert_int_equal(l->total_pages, total);
}

static void test_reject(void **state)
{
	struct page_list l;

	page_list_init(&l);
	quiet();

	/* Invalid on an empty list, too. */
	expect_einval(&l, 0x1001, 1);
	expect_einval(&l, 0x1000, 0);
	assert_null(l.r);

	assert_int_equal(page_list_add(&l, 0x10000, 4), 0);	/* ends at 0x14000 */

	expect_einval(&l, 0x10000, 1);		/* same start */
	expect_einval(&l, 0x13000, 2);		/* overlaps the tail */
	expect_einval(&l, 0x11000, 1);		/* inside */
	expect_einval(&l, 0x8000, 1);		/* backwards, disjoint */
	expect_einval(&l, 0xf000, 2);		/* backwards, overlapping the head */
	expect_einval(&l, 0x20800, 1);		/* unaligned */
	expect_einval(&l, 0x20000, 0);		/* zero pages */
	expect_einval(&l, 0xfffffffffffff000ULL, 2);	/* wraps past 2^64 */

	assert_int_equal(l.nr, 1);
	assert_int_equal(l.r[0].nr_pages, 4);

	/* The topmost page is fine; nothing can follow it. */
	assert_int_equal(page_list_add(&l, 0xfffffffffffff000ULL, 1), 0);
	assert_int_equal(l.nr, 2);
	expect_einval(&l, 0xfffffffffffff000ULL, 1);
	assert_int_equal(l.total_pages, 5);

	loud();
	page_list_free(&l);
}

static void test_batch_split_range(void **state)
{
	struct iovec iov[MAX_IOV];
	struct page_cursor cur = { 0, 0 };
	struct page_list l;
	uint64_t pages;

	page_list_init(&l);
	assert_int_equal(page_list_add(&l, 0x100000, 10), 0);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, MAX_IOV, &pages), 1);
	assert_int_equal(pages, 4);
	assert_int_equal(iov_addr(&iov[0]), 0x100000);
	assert_int_equal(iov[0].iov_len, 4 * PAGE_SIZE);
	assert_int_equal(cur.idx, 0);
	assert_int_equal(cur.off, 4);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, MAX_IOV, &pages), 1);
	assert_int_equal(pages, 4);
	assert_int_equal(iov_addr(&iov[0]), 0x104000);
	assert_int_equal(iov[0].iov_len, 4 * PAGE_SIZE);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, MAX_IOV, &pages), 1);
	assert_int_equal(pages, 2);
	assert_int_equal(iov_addr(&iov[0]), 0x108000);
	assert_int_equal(iov[0].iov_len, 2 * PAGE_SIZE);
	assert_int_equal(cur.idx, 1);
	assert_int_equal(cur.off, 0);

	pages = 12345;
	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, MAX_IOV, &pages), 0);
	assert_int_equal(pages, 0);

	page_list_free(&l);
}

static void test_batch_max_iov(void **state)
{
	struct iovec iov[MAX_IOV];
	struct page_cursor cur = { 0, 0 };
	struct page_list l;
	uint64_t pages;
	int i;

	page_list_init(&l);
	for (i = 0; i < 5; i++)
		assert_int_equal(page_list_add(&l, 0x10000 + i * 0x2000, 1), 0);
	assert_int_equal(l.nr, 5);

	assert_int_equal(page_list_next_batch(&l, &cur, 100, iov, 2, &pages), 2);
	assert_int_equal(pages, 2);
	assert_int_equal(iov_addr(&iov[0]), 0x10000);
	assert_int_equal(iov_addr(&iov[1]), 0x12000);

	assert_int_equal(page_list_next_batch(&l, &cur, 100, iov, 2, &pages), 2);
	assert_int_equal(pages, 2);
	assert_int_equal(iov_addr(&iov[0]), 0x14000);
	assert_int_equal(iov_addr(&iov[1]), 0x16000);

	assert_int_equal(page_list_next_batch(&l, &cur, 100, iov, 2, &pages), 1);
	assert_int_equal(pages, 1);
	assert_int_equal(iov_addr(&iov[0]), 0x18000);
	assert_int_equal(iov[0].iov_len, PAGE_SIZE);

	assert_int_equal(page_list_next_batch(&l, &cur, 100, iov, 2, &pages), 0);
	assert_int_equal(pages, 0);

	page_list_free(&l);
}

/* Both limits at once: a range split at the page limit, then resumed. */
static void test_batch_mixed(void **state)
{
	struct iovec iov[MAX_IOV];
	struct page_cursor cur = { 0, 0 };
	struct page_list l;
	uint64_t pages;

	page_list_init(&l);
	assert_int_equal(page_list_add(&l, 0x10000, 3), 0);
	assert_int_equal(page_list_add(&l, 0x20000, 5), 0);
	assert_int_equal(page_list_add(&l, 0x30000, 2), 0);
	assert_int_equal(l.total_pages, 10);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, 8, &pages), 2);
	assert_int_equal(pages, 4);
	assert_int_equal(iov_addr(&iov[0]), 0x10000);
	assert_int_equal(iov[0].iov_len, 3 * PAGE_SIZE);
	assert_int_equal(iov_addr(&iov[1]), 0x20000);
	assert_int_equal(iov[1].iov_len, 1 * PAGE_SIZE);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, 8, &pages), 1);
	assert_int_equal(pages, 4);
	assert_int_equal(iov_addr(&iov[0]), 0x21000);
	assert_int_equal(iov[0].iov_len, 4 * PAGE_SIZE);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, 8, &pages), 1);
	assert_int_equal(pages, 2);
	assert_int_equal(iov_addr(&iov[0]), 0x30000);
	assert_int_equal(iov[0].iov_len, 2 * PAGE_SIZE);

	assert_int_equal(page_list_next_batch(&l, &cur, 4, iov, 8, &pages), 0);

	/* A fresh cursor with roomy limits gets everything at once. */
	cur.idx = 0;
	cur.off = 0;
	assert_int_equal(page_list_next_batch(&l, &cur, 1000, iov, 8, &pages), 3);
	assert_int_equal(pages, 10);
	assert_int_equal(iov[1].iov_len, 5 * PAGE_SIZE);
	assert_int_equal(cur.idx, 3);

	page_list_free(&l);
}

static void test_batch_zero_limits(void **state)
{
	struct iovec iov[MAX_IOV];
	struct page_cursor cur = { 0, 0 };
	struct page_list l;
	uint64_t pages = 99;

	page_list_init(&l);
	/* Empty list. */
	assert_int_equal(page_list_next_batch(&l, &cur, 10, iov, MAX_IOV, &pages), 0);
	assert_int_equal(pages, 0);

	assert_int_equal(page_list_add(&l, 0x1000, 2), 0);
	assert_int_equal(page_list_next_batch(&l, &cur, 0, iov, MAX_IOV, &pages), 0);
	assert_int_equal(page_list_next_batch(&l, &cur, 10, iov, 0, &pages), 0);
	assert_int_equal(cur.idx, 0);
	assert_int_equal(cur.off, 0);

	/* nr_pages is optional. */
	assert_int_equal(page_list_next_batch(&l, &cur, 10, iov, MAX_IOV, NULL), 1);
	assert_int_equal(iov[0].iov_len, 2 * PAGE_SIZE);
	assert_int_equal(page_list_next_batch(&l, &cur, 10, iov, MAX_IOV, NULL), 0);

	page_list_free(&l);
}

static void test_many_adjacent_adds(void **state)
{
	struct page_list l;
	uint64_t i;

	page_list_init(&l);
	for (i = 0; i < 100000; i++)
		assert_int_equal(page_list_add(&l, 0x400000 + i * PAGE_SIZE, 1), 0);
	assert_int_equal(l.nr, 1);
	assert_int_equal(l.r[0].start, 0x400000);
	assert_int_equal(l.r[0].nr_pages, 100000);
	assert_int_equal(l.total_pages, 100000);
	page_list_free(&l);
}

#define BIG_NR		100000
#define BIG_MAX_PAGES	37
#define BIG_MAX_IOV	16

static uint64_t big_range_pages(size_t i)
{
	return i % 7 + 1;
}

static void build_big_list(struct page_list *l, uint64_t *total)
{
	uint64_t addr = 0x10000000, nr;
	size_t i;

	*total = 0;
	page_list_init(l);
	for (i = 0; i < BIG_NR; i++) {
		nr = big_range_pages(i);
		assert_int_equal(page_list_add(l, addr, nr), 0);
		*total += nr;
		addr += (nr + 1) * PAGE_SIZE;	/* leave a one-page hole */
	}
	assert_int_equal(l->nr, BIG_NR);
	assert_int_equal(l->total_pages, *total);
	/*
	 * Grown geometrically (by doubling): a power of two, and not more
	 * than twice what is needed.
	 */
	assert_true(l->cap >= l->nr);
	assert_true(l->cap < 2 * l->nr);
	assert_int_equal(l->cap & (l->cap - 1), 0);
}

/*
 * Walk the list in batches and check every iovec against an independent
 * cursor: pieces must come in order, without holes or repeats.
 */
static void test_big_list(void **state)
{
	struct iovec iov[BIG_MAX_IOV];
	struct page_cursor cur = { 0, 0 };
	struct page_list l;
	uint64_t total, seen = 0, pages, batch_len, exp_off = 0;
	size_t n, i, exp_idx = 0, batches = 0;

	build_big_list(&l, &total);

	while ((n = page_list_next_batch(&l, &cur, BIG_MAX_PAGES, iov, BIG_MAX_IOV, &pages))) {
		assert_true(n <= BIG_MAX_IOV);
		assert_true(pages <= BIG_MAX_PAGES);
		batch_len = 0;
		for (i = 0; i < n; i++) {
			const struct page_range *r = &l.r[exp_idx];
			uint64_t np = iov[i].iov_len / PAGE_SIZE;

			assert_int_equal(iov[i].iov_len % PAGE_SIZE, 0);
			assert_true(np > 0);
			assert_int_equal(iov_addr(&iov[i]), r->start + exp_off * PAGE_SIZE);
			assert_true(exp_off + np <= r->nr_pages);
			exp_off += np;
			if (exp_off == r->nr_pages) {
				exp_idx++;
				exp_off = 0;
			}
			batch_len += iov[i].iov_len;
		}
		assert_int_equal(batch_len, pages * PAGE_SIZE);
		/* Only the last batch may be short of both limits. */
		if (pages < BIG_MAX_PAGES && n < BIG_MAX_IOV)
			assert_int_equal(seen + pages, total);
		seen += pages;
		batches++;
	}

	assert_int_equal(seen, total);
	assert_int_equal(exp_idx, BIG_NR);
	assert_int_equal(cur.idx, BIG_NR);
	assert_true(batches >= (total + BIG_MAX_PAGES - 1) / BIG_MAX_PAGES);
	/* Exhausted cursor stays exhausted. */
	assert_int_equal(page_list_next_batch(&l, &cur, BIG_MAX_PAGES, iov, BIG_MAX_IOV, &pages), 0);
	assert_int_equal(pages, 0);

	page_list_free(&l);
}

/* Pages of l inside sel go one way, the rest the other, pieces cut at every edge. */
static void test_split(void **state)
{
	struct page_list l, sel, in, out;

	page_list_init(&l);
	page_list_init(&sel);
	/* l: pages 1-10, 20-21, 30 */
	assert_int_equal(page_list_add(&l, 0x1000, 10), 0);
	assert_int_equal(page_list_add(&l, 0x14000, 2), 0);
	assert_int_equal(page_list_add(&l, 0x1e000, 1), 0);
	/* sel: 0-2 (starts before l), 5-6, 9-20 (spans a gap), 40 (beyond) */
	assert_int_equal(page_list_add(&sel, 0x0, 3), 0);
	assert_int_equal(page_list_add(&sel, 0x5000, 2), 0);
	assert_int_equal(page_list_add(&sel, 0x9000, 12), 0);
	assert_int_equal(page_list_add(&sel, 0x28000, 1), 0);
	assert_int_equal(page_list_split(&l, &sel, &in, &out), 0);

	assert_int_equal(in.nr, 4);
	assert_int_equal(in.r[0].start, 0x1000);
	assert_int_equal(in.r[0].nr_pages, 2);
	assert_int_equal(in.r[1].start, 0x5000);
	assert_int_equal(in.r[1].nr_pages, 2);
	assert_int_equal(in.r[2].start, 0x9000);
	assert_int_equal(in.r[2].nr_pages, 2);
	assert_int_equal(in.r[3].start, 0x14000);
	assert_int_equal(in.r[3].nr_pages, 1);
	assert_int_equal(in.total_pages, 7);

	assert_int_equal(out.nr, 4);
	assert_int_equal(out.r[0].start, 0x3000);
	assert_int_equal(out.r[0].nr_pages, 2);
	assert_int_equal(out.r[1].start, 0x7000);
	assert_int_equal(out.r[1].nr_pages, 2);
	assert_int_equal(out.r[2].start, 0x15000);
	assert_int_equal(out.r[2].nr_pages, 1);
	assert_int_equal(out.r[3].start, 0x1e000);
	assert_int_equal(out.r[3].nr_pages, 1);
	assert_int_equal(out.total_pages, 6);
	page_list_free(&in);
	page_list_free(&out);

	/* an empty selection keeps everything out */
	page_list_free(&sel);
	assert_int_equal(page_list_split(&l, &sel, &in, &out), 0);
	assert_int_equal(in.nr, 0);
	assert_int_equal(out.nr, 3);
	assert_int_equal(out.total_pages, 13);
	page_list_free(&in);
	page_list_free(&out);
	page_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_free),
		cmocka_unit_test(test_merge_adjacent),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_batch_split_range),
		cmocka_unit_test(test_batch_max_iov),
		cmocka_unit_test(test_batch_mixed),
		cmocka_unit_test(test_batch_zero_limits),
		cmocka_unit_test(test_many_adjacent_adds),
		cmocka_unit_test(test_big_list),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
