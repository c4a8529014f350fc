// SPDX-License-Identifier: GPL-2.0-only
/*
 * In the ns flavors the test runs in a time namespace whose clocks are
 * ahead of the host's (zdtm_ns_init: monotonic +1000 s, boottime
 * +2000 s): across C/R CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from
 * where they were inside (never back, not ahead by more than the time
 * the dump and restore took), and the namespace still has offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdtmtst.h"

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int offsets_set(void)
{
	char *buf = NULL;
	long long s1 = 0, s2 = 0;
	int ret = 0;

	if (zdtm_read_file("/proc/self/timens_offsets", &buf) > 0 &&
	    sscanf(buf, "%*s %lld %*d %*s %lld", &s1, &s2) == 2)
		ret = s1 != 0 && s2 != 0;
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	double mono, boot, mono2, boot2;

	test_init(argc, argv);
	if (!offsets_set())
		test_bug("not in a time namespace with offsets (run in the ns flavors)");
	test_daemon();
	while (test_go()) {
		mono = now(CLOCK_MONOTONIC);
		boot = now(CLOCK_BOOTTIME);
		usleep(10000);
		mono2 = now(CLOCK_MONOTONIC);
		boot2 = now(CLOCK_BOOTTIME);
		/* a C/R may fall between the two readings: at most 60 s, never back */
		if (mono2 < mono || mono2 - mono > 60)
			failv("CLOCK_MONOTONIC went from %f to %f", mono, mono2);
		if (boot2 < boot || boot2 - boot > 60)
			failv("CLOCK_BOOTTIME went from %f to %f", boot, boot2);
		if (test_failures)
			break;
	}
	if (!offsets_set())
		failv("the time namespace has no offsets after the restore");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
