// SPDX-License-Identifier: GPL-2.0-only
/*
 * Restored through the vDSO proxy (the runner passes --force-vdso-proxy):
 * the restoring kernel's vDSO lands elsewhere and the old address holds
 * trampolines. libc's cached vDSO entry points must still give sane
 * clocks, and AT_SYSINFO_EHDR must point at a real vDSO image.
 */
#include <elf.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

#include "zdtmtst.h"

static long long now_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return -1;
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long mono0, real0, mono, prev;
	struct timeval tv;
	unsigned int cpu;
	Elf64_Ehdr *eh;

	test_init(argc, argv);
	mono0 = now_ns(CLOCK_MONOTONIC);
	real0 = now_ns(CLOCK_REALTIME);
	test_daemon();
	test_waitsig();

	prev = mono0;
	for (int i = 0; i < 10000; i++) {
		mono = now_ns(CLOCK_MONOTONIC);
		if (mono < prev) {
			failv("CLOCK_MONOTONIC went back: %lld after %lld", mono, prev);
			break;
		}
		prev = mono;
	}
	if (now_ns(CLOCK_REALTIME) < real0)
		failv("CLOCK_REALTIME is before the dump");
	if (gettimeofday(&tv, NULL) || tv.tv_sec * 1000000000LL < real0 - 1000000000LL)
		failv("gettimeofday is off: %ld", (long)tv.tv_sec);
	if (time(NULL) < real0 / 1000000000LL)
		failv("time() is before the dump");
	if (getcpu(&cpu, NULL))
		fail("getcpu");

	eh = (Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		failv("AT_SYSINFO_EHDR (%p) does not point at an ELF image", (void *)eh);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
