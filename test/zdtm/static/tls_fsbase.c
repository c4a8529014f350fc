// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thread-local storage and the FS/GS bases.  __thread variables hold
 * values; after C/R they have the same values at the same addresses,
 * ARCH_GET_FS/GS report the same bases and %fs:0 still points at the
 * thread control block (which errno and friends rely on).
 */
#include <asm/prctl.h>
#include <string.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static __thread uint64_t tls_val;
static __thread unsigned char tls_buf[200];
static __thread int tls_zero;

static unsigned long fs_self(void)
{
	unsigned long v;

	asm volatile("mov %%fs:0, %0" : "=r" (v));
	return v;
}

int main(int argc, char **argv)
{
	unsigned long fs, gs, fs2, gs2, self;
	void *addr_val, *addr_buf;
	uint64_t seed, val;
	size_t off;

	test_init(argc, argv);

	seed = zdtm_random();
	val = zdtm_pattern(seed, 12345);
	tls_val = val;
	zdtm_fill(tls_buf, sizeof(tls_buf), seed);
	addr_val = &tls_val;
	addr_buf = tls_buf;
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs))
		test_bug("arch_prctl");
	self = fs_self();
	if (self != fs)
		test_bug("%%fs:0 is %#lx, fs base %#lx", self, fs);

	test_daemon();
	test_waitsig();

	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs2) ||
	    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs2)) {
		fail("arch_prctl");
	} else {
		if (fs2 != fs)
			failv("fs base %#lx, expected %#lx", fs2, fs);
		if (gs2 != gs)
			failv("gs base %#lx, expected %#lx", gs2, gs);
	}
	if (fs_self() != fs)
		failv("%%fs:0 is %#lx, expected %#lx", fs_self(), fs);

	if ((void *)&tls_val != addr_val || (void *)tls_buf != addr_buf)
		failv("TLS variables moved: %p %p, were %p %p",
		      (void *)&tls_val, (void *)tls_buf, addr_val, addr_buf);
	if (tls_val != val)
		failv("tls_val is %#llx, expected %#llx",
		      (unsigned long long)tls_val, (unsigned long long)val);
	off = zdtm_check(tls_buf, sizeof(tls_buf), seed);
	if (off != (size_t)-1)
		failv("tls_buf differs at byte %zu", off);
	if (tls_zero)
		failv("zero-initialised TLS variable is %d", tls_zero);

	errno = 0;
	if (close(-1) != -1 || errno != EBADF)
		failv("errno (TLS) does not work");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
