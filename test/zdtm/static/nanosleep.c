// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sleeping through C/R.  The main loop sleeps in 100 ms nanosleep()
 * steps, now and then in a 3 s nanosleep() resumed with the remaining
 * time on EINTR, and in an absolute clock_nanosleep(); it runs until
 * SIGTERM.  Every completed sleep must have lasted at least as long as
 * requested on CLOCK_MONOTONIC, and the clock must never go backwards.
 */
#include <time.h>

#include "zdtmtst.h"

#define NSEC_PER_SEC	1000000000LL
#define MS		1000000LL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static struct timespec ns_to_ts(long long ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};

	return ts;
}

static long long last;

static void check_clock(const char *what, long long t0, long long t1,
			long long want, bool completed)
{
	if (t1 < last)
		failv("%s: CLOCK_MONOTONIC went back by %lld ns", what,
		      last - t1);
	last = t1;
	if (completed && t1 - t0 < want)
		failv("%s: slept %lld ns, requested %lld ns", what, t1 - t0,
		      want);
	if (t1 - t0 > 3600 * NSEC_PER_SEC)
		failv("%s: took more than an hour", what);
}

int main(int argc, char **argv)
{
	unsigned long steps = 0, full = 0, longs = 0, abses = 0, eintr = 0;
	struct timespec req, rem;
	long long start, t0, t1;
	int ret;

	test_init(argc, argv);

	start = last = now_ns();
	test_daemon();

	while (test_go() && !test_failures) {
		req = ns_to_ts(100 * MS);
		t0 = now_ns();
		ret = nanosleep(&req, NULL);
		t1 = now_ns();
		if (ret && errno != EINTR)
			fail("nanosleep");
		eintr += ret != 0;
		full += ret == 0;
		check_clock("100ms sleep", t0, t1, 100 * MS, ret == 0);
		steps++;

		if (steps % 10 == 2 && test_go()) {
			req = ns_to_ts(3 * NSEC_PER_SEC);
			t0 = now_ns();
			while ((ret = nanosleep(&req, &rem)) && errno == EINTR &&
			       test_go()) {
				eintr++;
				req = rem;
			}
			t1 = now_ns();
			if (ret && errno != EINTR)
				fail("nanosleep(3s)");
			check_clock("3s sleep", t0, t1, 3 * NSEC_PER_SEC,
				    ret == 0);
			longs++;
		}

		if (steps % 10 == 1 && test_go()) {
			long long target = now_ns() + 200 * MS;

			req = ns_to_ts(target);
			t0 = now_ns();
			while ((ret = clock_nanosleep(CLOCK_MONOTONIC,
						      TIMER_ABSTIME, &req,
						      NULL)) == EINTR &&
			       test_go())
				eintr++;
			t1 = now_ns();
			if (ret && ret != EINTR) {
				errno = ret;
				fail("clock_nanosleep");
			}
			check_clock("absolute sleep", t0, t1, target - t0,
				    ret == 0);
			abses++;
		}
	}

	t1 = now_ns();
	test_msg("%lu steps, %lu long sleeps, %lu absolute sleeps, %lu EINTR, %lld ms",
		 steps, longs, abses, eintr, (t1 - start) / MS);
	if (!steps)
		failv("the loop never ran");
	if (t1 - start < (long long)full * 100 * MS)
		failv("%lu sleeps of 100ms took only %lld ms", full,
		      (t1 - start) / MS);

	if (test_failures) {
		test_waitsig();
		return 1;
	}
	pass();
	return 0;
}
