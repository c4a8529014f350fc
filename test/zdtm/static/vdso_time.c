// SPDX-License-Identifier: GPL-2.0-only
/*
 * vDSO and time.  libc calls clock_gettime()/gettimeofday()/time()/
 * getcpu through vDSO entry points it found at startup, so they only
 * work after C/R if the vDSO is where it was.  After C/R: the [vdso]
 * mapping is at AT_SYSINFO_EHDR, /proc/self/auxv is unchanged, and the
 * clocks, called in a loop, are sane and monotonic relative to the
 * values read before the dump.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/auxv.h>
#include <sys/time.h>

#include "zdtmtst.h"

#define NSEC_PER_SEC 1000000000LL

static long long ts_ns(const struct timespec *ts)
{
	return ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

static long long clk(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return -1;
	return ts_ns(&ts);
}

static unsigned long vdso_start(void)
{
	unsigned long s, e, ret = 0;
	char line[1024];
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") &&
		    sscanf(line, "%lx-%lx", &s, &e) == 2)
			ret = s;
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	long long mono0, real0, boot0, mono, real, boot, prev_mono, tv_ns;
	struct timespec res0, res;
	unsigned long ehdr;
	char *auxv0, *auxv;
	ssize_t alen0, alen;
	struct timeval tv;
	time_t t;
	int i;

	test_init(argc, argv);

	ehdr = getauxval(AT_SYSINFO_EHDR);
	if (!ehdr || ehdr != vdso_start())
		test_bug("AT_SYSINFO_EHDR %#lx, [vdso] at %#lx", ehdr,
			 vdso_start());
	alen0 = zdtm_read_file("/proc/self/auxv", &auxv0);
	if (alen0 <= 0)
		test_bug("read auxv");
	if (clock_getres(CLOCK_MONOTONIC, &res0))
		test_bug("clock_getres");

	mono0 = clk(CLOCK_MONOTONIC);
	real0 = clk(CLOCK_REALTIME);
	boot0 = clk(CLOCK_BOOTTIME);

	test_daemon();
	test_waitsig();

	if (vdso_start() != ehdr)
		failv("[vdso] is at %#lx, libc uses %#lx", vdso_start(), ehdr);
	alen = zdtm_read_file("/proc/self/auxv", &auxv);
	if (alen < 0)
		fail("read auxv");
	else if (alen != alen0 || memcmp(auxv, auxv0, alen))
		failv("/proc/self/auxv changed");

	if (clock_getres(CLOCK_MONOTONIC, &res) ||
	    res.tv_sec != res0.tv_sec || res.tv_nsec != res0.tv_nsec)
		failv("clock_getres(CLOCK_MONOTONIC) changed");

	prev_mono = mono0;
	for (i = 0; i < 10000 && !test_failures; i++) {
		mono = clk(CLOCK_MONOTONIC);
		real = clk(CLOCK_REALTIME);
		boot = clk(CLOCK_BOOTTIME);
		if (gettimeofday(&tv, NULL))
			fail("gettimeofday");
		t = time(NULL);
		tv_ns = tv.tv_sec * NSEC_PER_SEC + tv.tv_usec * 1000LL;

		if (mono < prev_mono)
			failv("CLOCK_MONOTONIC went back: %lld < %lld", mono,
			      prev_mono);
		if (mono - mono0 > 3600 * NSEC_PER_SEC)
			failv("CLOCK_MONOTONIC jumped by %lld s",
			      (mono - mono0) / NSEC_PER_SEC);
		if (boot < boot0 || boot < mono)
			failv("CLOCK_BOOTTIME %lld is insane (mono %lld)",
			      boot, mono);
		if (real < real0 - NSEC_PER_SEC ||
		    real - real0 > 3600 * NSEC_PER_SEC)
			failv("CLOCK_REALTIME moved by %lld ns", real - real0);
		if (llabs(tv_ns - real) > NSEC_PER_SEC)
			failv("gettimeofday and CLOCK_REALTIME differ by %lld ns",
			      tv_ns - real);
		if (llabs((long long)t * NSEC_PER_SEC - real) > 2 * NSEC_PER_SEC)
			failv("time() and CLOCK_REALTIME differ");
		prev_mono = mono;
	}
	if (clk(CLOCK_MONOTONIC_COARSE) < 0 || clk(CLOCK_REALTIME_COARSE) < 0 ||
	    clk(CLOCK_PROCESS_CPUTIME_ID) <= 0)
		fail("other clocks");
	if (sched_getcpu() < 0)
		fail("sched_getcpu");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
