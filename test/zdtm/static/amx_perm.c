// SPDX-License-Identifier: GPL-2.0-only
/*
 * ARCH_REQ_XCOMP_PERM: a process asks for AMX tile data (what oneDNN and
 * PyTorch do at start-up) and has not used the tiles yet at dump time.
 * After C/R the permission must still be there and the tiles usable (else
 * the first tile instruction raises SIGILL). Without AMX it passes empty.
 */
#include <asm/prctl.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#ifndef ARCH_GET_XCOMP_PERM
#define ARCH_GET_XCOMP_PERM	0x1022
#define ARCH_REQ_XCOMP_PERM	0x1023
#endif
#define XFEATURE_XTILEDATA	18

static sigjmp_buf jb;

static void on_sigill(int sig)
{
	siglongjmp(jb, 1);
}

static uint64_t perm(void)
{
	uint64_t m = 0;

	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &m))
		return 0;
	return m;
}

/* 0 if the tiles work: a one-tile config, tilezero, tilerelease */
static int use_tiles(void)
{
	static uint8_t cfg[64] __attribute__((aligned(64)));

	memset(cfg, 0, sizeof(cfg));
	cfg[0] = 1;			/* palette 1 */
	cfg[16] = 64;			/* tile 0: 64 bytes a row */
	cfg[48] = 16;			/* 16 rows */
	if (sigsetjmp(jb, 1))
		return -1;
	asm volatile(".byte 0xc4, 0xe2, 0x78, 0x49, 0x00" : : "a"(cfg) : "memory");	/* ldtilecfg (%rax) */
	asm volatile(".byte 0xc4, 0xe2, 0x7b, 0x49, 0xc0" ::: "memory");			/* tilezero %tmm0 */
	asm volatile(".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0" ::: "memory");			/* tilerelease */
	return 0;
}

int main(int argc, char **argv)
{
	int supported = 1;

	test_init(argc, argv);
	signal(SIGILL, on_sigill);
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) {
		if (errno != EINVAL && errno != EOPNOTSUPP && errno != ENODEV)
			test_bug("ARCH_REQ_XCOMP_PERM");
		test_msg("no AMX here: nothing to check\n");
		supported = 0;
	}

	test_daemon();
	test_waitsig();

	if (supported && !(perm() & (1ULL << XFEATURE_XTILEDATA)))
		failv("the AMX permission is gone: %llx", (unsigned long long)perm());
	if (supported && use_tiles())
		failv("the tiles raise SIGILL");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
