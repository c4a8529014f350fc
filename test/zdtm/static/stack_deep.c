// SPDX-License-Identifier: GPL-2.0-only
/*
 * A deep stack: 2000 recursive frames, each holding a 512-byte array
 * with a depth dependent pattern and a pointer to its caller's array.
 * The test is checkpointed at the deepest level; while unwinding each
 * frame verifies its own data and its caller's, and the return path
 * itself proves the saved return addresses survived.
 */
#include "zdtmtst.h"

#define DEPTH		2000
#define FRAME_WORDS	64

static uint64_t seed;
static unsigned long deepest;
static int reported;

static int __attribute__((noinline)) recurse(int depth,
					     volatile uint64_t *parent)
{
	volatile uint64_t local[FRAME_WORDS];
	int i, bad = 0;

	for (i = 0; i < FRAME_WORDS; i++)
		local[i] = zdtm_pattern(seed ^ depth, i);

	if (depth == DEPTH) {
		deepest = (unsigned long)local;
		test_daemon();
		test_waitsig();
	} else {
		bad += recurse(depth + 1, local);
	}

	for (i = 0; i < FRAME_WORDS; i++) {
		if (local[i] == zdtm_pattern(seed ^ depth, i))
			continue;
		if (reported++ < 10)
			failv("frame %d word %d is %#llx", depth, i,
			      (unsigned long long)local[i]);
		bad++;
	}
	if (parent && parent[FRAME_WORDS - 1] !=
		      zdtm_pattern(seed ^ (depth - 1), FRAME_WORDS - 1)) {
		if (reported++ < 10)
			failv("frame %d: caller's data is wrong", depth);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long top = (unsigned long)&argc;
	char prot[5];
	int bad;

	test_init(argc, argv);
	seed = zdtm_random();

	bad = recurse(1, NULL);

	test_msg("stack depth used: %lu KiB", (top - deepest) >> 10);
	if (bad)
		failv("%d corrupted stack words", bad);
	if (top - deepest < DEPTH * FRAME_WORDS * 8)
		failv("recursion was shallower than expected");
	if (zdtm_find_vma((void *)deepest, NULL, NULL, prot) ||
	    zdtm_find_vma((void *)top, NULL, NULL, prot))
		failv("stack area is not mapped");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
