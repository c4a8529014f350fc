// SPDX-License-Identifier: GPL-2.0-only
/*
 * timerfds: a periodic CLOCK_MONOTONIC one (100 ms) that has expired a few
 * times unread, and a one-shot CLOCK_REALTIME one 60 s away. After C/R the
 * first still holds its unread expirations and keeps firing, the second
 * has a sane time left.
 */
#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct itimerspec per = { { 0, 100 * 1000 * 1000 }, { 0, 100 * 1000 * 1000 } }, once = { { 0, 0 }, { 60, 0 } },
			  got;
	uint64_t ticks = 0;
	int p, o;

	test_init(argc, argv);
	p = timerfd_create(CLOCK_MONOTONIC, 0);
	o = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (p < 0 || o < 0 || timerfd_settime(p, 0, &per, NULL) || timerfd_settime(o, 0, &once, NULL))
		test_bug("timerfd");
	usleep(350 * 1000);	/* three expirations, unread */

	test_daemon();
	test_waitsig();

	if (read(p, &ticks, 8) != 8 || ticks < 3)
		failv("the periodic timerfd has %llu expirations, want at least 3", (unsigned long long)ticks);
	if (read(p, &ticks, 8) != 8 || ticks < 1)
		failv("the periodic timerfd stopped firing");
	if (timerfd_gettime(p, &got) || got.it_interval.tv_nsec != 100 * 1000 * 1000)
		failv("the interval is %ld ns", (long)got.it_interval.tv_nsec);
	if (timerfd_gettime(o, &got) || got.it_value.tv_sec > 60 || got.it_value.tv_sec < 30)
		failv("the one-shot timerfd has %ld s left", (long)got.it_value.tv_sec);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
