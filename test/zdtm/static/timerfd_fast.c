// SPDX-License-Identifier: GPL-2.0-only
/*
 * A periodic timerfd of 50 us, never read: it has fired and waits to be
 * re-armed (a timerfd re-arms when read or looked at), and fires again
 * within microseconds of being looked at. The dump must catch it armed: a
 * restored timer with no time left would never fire again, and the second
 * read() here would block for ever.
 */
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct itimerspec per = { { 0, 50 * 1000 }, { 0, 50 * 1000 } }, got;
	uint64_t ticks = 0;
	int p;

	test_init(argc, argv);
	p = timerfd_create(CLOCK_MONOTONIC, 0);
	if (p < 0 || timerfd_settime(p, 0, &per, NULL))
		test_bug("timerfd");
	usleep(10 * 1000);

	test_daemon();
	test_waitsig();

	if (read(p, &ticks, 8) != 8 || ticks < 1)
		failv("the timerfd has %llu expirations", (unsigned long long)ticks);
	/* blocks for ever if the restored timer is not armed */
	if (read(p, &ticks, 8) != 8 || ticks < 1)
		failv("the timerfd stopped firing");
	if (timerfd_gettime(p, &got) || got.it_interval.tv_nsec != 50 * 1000)
		failv("the interval is %ld ns", (long)got.it_interval.tv_nsec);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
