// SPDX-License-Identifier: GPL-2.0-only
/*
 * An absolute CLOCK_REALTIME timerfd with TFD_TIMER_CANCEL_ON_SET, 1 hour
 * away, and a CLOCK_BOOTTIME one with an interval that already expired.
 * After C/R /proc/self/fdinfo shows the same clock and settime flags, the
 * first has about an hour left, the second keeps its ticks and interval.
 */
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <stdlib.h>

#include "zdtmtst.h"

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

static int fdinfo_val(int fd, const char *key)
{
	char path[64], *buf, *s;
	int v = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	s = strstr(buf, key);
	if (s)
		v = (int)strtol(s + strlen(key), NULL, 0);
	free(buf);
	return v;
}

int main(int argc, char **argv)
{
	struct itimerspec its = { 0 }, got;
	struct timespec now;
	uint64_t ticks;
	int a, b;

	test_init(argc, argv);
	a = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	b = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
	if (a < 0 || b < 0)
		test_bug("timerfd_create");
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value.tv_sec = now.tv_sec + 3600;
	if (timerfd_settime(a, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL))
		test_bug("timerfd_settime a");
	its = (struct itimerspec){ { 5, 0 }, { 0, 1000 } };
	if (timerfd_settime(b, 0, &its, NULL))
		test_bug("timerfd_settime b");
	usleep(10000);

	test_daemon();
	test_waitsig();

	if (fdinfo_val(a, "clockid:") != CLOCK_REALTIME || fdinfo_val(b, "clockid:") != CLOCK_BOOTTIME)
		failv("clocks are %d and %d", fdinfo_val(a, "clockid:"), fdinfo_val(b, "clockid:"));
	if (fdinfo_val(a, "settime flags:") != (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET))
		failv("settime flags are %#x", fdinfo_val(a, "settime flags:"));
	if (timerfd_gettime(a, &got) || got.it_value.tv_sec < 3000 || got.it_value.tv_sec > 3600)
		failv("timer a has %ld s left", (long)got.it_value.tv_sec);
	if (timerfd_gettime(b, &got) || got.it_interval.tv_sec != 5 || got.it_value.tv_sec > 5)
		failv("timer b: interval %ld, left %ld", (long)got.it_interval.tv_sec, (long)got.it_value.tv_sec);
	if (read(b, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
		failv("timer b's expiration is lost");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
