// SPDX-License-Identifier: GPL-2.0-only
/*
 * FPU/SSE/AVX register state.  One asm block loads distinctive values
 * into xmm0-15 (ymm0-15 when the CPU and kernel support AVX), four x87
 * registers, a non-default x87 control word and MXCSR, reports
 * readiness with raw syscalls and then spins: each round stores all
 * registers and compares them with the expected values, until the
 * SIGTERM flag is set or a mismatch is seen.  No function is called
 * while the registers hold the values, so they can only change if
 * checkpoint/restore loses them.
 */
#include <cpuid.h>
#include <string.h>

#include "zdtmtst.h"

struct regs {
	uint8_t vec[16][32];	/* ymm (or xmm in the low half) */
	uint8_t st[4][16];	/* 80-bit x87 values, zero padded */
	uint16_t fcw;
	uint16_t pad;
	uint32_t mxcsr;
};

#define OFF_ST		512
#define OFF_FCW		576
#define OFF_MXCSR	580
#define REGS_SIZE	584

_Static_assert(__builtin_offsetof(struct regs, st) == OFF_ST, "st");
_Static_assert(__builtin_offsetof(struct regs, fcw) == OFF_FCW, "fcw");
_Static_assert(__builtin_offsetof(struct regs, mxcsr) == OFF_MXCSR, "mxcsr");
_Static_assert(sizeof(struct regs) == REGS_SIZE, "size");

/* Round toward zero, double precision, exceptions masked. */
#define TEST_FCW	0x0e7f
/* Round toward zero, flush-to-zero, exceptions masked. */
#define TEST_MXCSR	0xff80

static struct regs expect __attribute__((aligned(64)));
static struct regs seen __attribute__((aligned(64)));
static uint16_t orig_fcw;
static uint32_t orig_mxcsr;
static unsigned long iters;
static int bad;
static int ready_fd;
static const char ready_byte = 'R';

#define STR(x) #x
#define XSTR(x) STR(x)

#define VLOAD(n)  "vmovdqu " #n "*32(%[exp]), %%ymm" #n "\n\t"
#define VSTORE(n) "vmovdqu %%ymm" #n ", " #n "*32(%[seen])\n\t"
#define XLOAD(n)  "movdqu " #n "*32(%[exp]), %%xmm" #n "\n\t"
#define XSTORE(n) "movdqu %%xmm" #n ", " #n "*32(%[seen])\n\t"

#define ALL16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
		 M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

#define PROLOGUE							\
	"fnstcw %[ofcw]\n\t"						\
	"stmxcsr %[omx]\n\t"						\
	"fldcw " XSTR(OFF_FCW) "(%[exp])\n\t"				\
	"ldmxcsr " XSTR(OFF_MXCSR) "(%[exp])\n\t"			\
	"fldt " XSTR(OFF_ST) "+48(%[exp])\n\t"				\
	"fldt " XSTR(OFF_ST) "+32(%[exp])\n\t"				\
	"fldt " XSTR(OFF_ST) "+16(%[exp])\n\t"				\
	"fldt " XSTR(OFF_ST) "+0(%[exp])\n\t"

/* write(ready_fd, &ready_byte, 1); close(ready_fd); */
#define REPORT_READY							\
	"mov $1, %%eax\n\t"						\
	"mov %[fd], %%edi\n\t"						\
	"lea %[rb], %%rsi\n\t"						\
	"mov $1, %%edx\n\t"						\
	"syscall\n\t"							\
	"mov $3, %%eax\n\t"						\
	"mov %[fd], %%edi\n\t"						\
	"syscall\n\t"

#define LOOP_HEAD							\
	"1:\n\t"							\
	"cmpl $0, %[flag]\n\t"						\
	"jne 3f\n\t"

#define LOOP_TAIL							\
	"fld %%st(0)\n\tfstpt " XSTR(OFF_ST) "+0(%[seen])\n\t"		\
	"fld %%st(1)\n\tfstpt " XSTR(OFF_ST) "+16(%[seen])\n\t"	\
	"fld %%st(2)\n\tfstpt " XSTR(OFF_ST) "+32(%[seen])\n\t"	\
	"fld %%st(3)\n\tfstpt " XSTR(OFF_ST) "+48(%[seen])\n\t"	\
	"fnstcw " XSTR(OFF_FCW) "(%[seen])\n\t"				\
	"stmxcsr " XSTR(OFF_MXCSR) "(%[seen])\n\t"			\
	"xor %%ecx, %%ecx\n\t"						\
	"2:\n\t"							\
	"mov (%[exp],%%rcx), %%rax\n\t"					\
	"cmp (%[seen],%%rcx), %%rax\n\t"				\
	"jne 4f\n\t"							\
	"add $8, %%rcx\n\t"						\
	"cmp $" XSTR(REGS_SIZE) ", %%rcx\n\t"				\
	"jb 2b\n\t"							\
	"incq %[iters]\n\t"						\
	"jmp 1b\n\t"							\
	"4:\n\t"							\
	"movl $1, %[bad]\n\t"						\
	"3:\n\t"							\
	"fstp %%st(0)\n\t"						\
	"fstp %%st(0)\n\t"						\
	"fstp %%st(0)\n\t"						\
	"fstp %%st(0)\n\t"						\
	"fldcw %[ofcw]\n\t"						\
	"ldmxcsr %[omx]\n\t"

#define OPERANDS							\
	: [iters] "+m" (iters), [bad] "+m" (bad),			\
	  [ofcw] "+m" (orig_fcw), [omx] "+m" (orig_mxcsr)		\
	: [exp] "r" (&expect), [seen] "r" (&seen),			\
	  [flag] "m" (test_sigterm), [fd] "m" (ready_fd),		\
	  [rb] "m" (ready_byte)						\
	: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "memory", "cc",	\
	  "st", "st(1)", "st(2)", "st(3)",				\
	  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",\
	  "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",	\
	  "xmm15"

static void spin_avx(void)
{
	asm volatile(PROLOGUE ALL16(VLOAD) REPORT_READY
		     LOOP_HEAD ALL16(VSTORE) LOOP_TAIL
		     "vzeroupper\n\t"
		     OPERANDS);
}

static void spin_sse(void)
{
	asm volatile(PROLOGUE ALL16(XLOAD) REPORT_READY
		     LOOP_HEAD ALL16(XSTORE) LOOP_TAIL
		     OPERANDS);
}

static bool have_avx(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	if (!(c & bit_AVX) || !(c & bit_OSXSAVE))
		return false;
	asm volatile("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));
	return (lo & 6) == 6;	/* SSE and AVX state enabled by the OS */
}

/* A normal 80-bit extended value: explicit integer bit set. */
static void make_x87(uint8_t *dst, uint64_t mant, int exp, int sign)
{
	uint16_t se = (sign ? 0x8000 : 0) | (0x3fff + exp);

	mant |= 1ULL << 63;
	memset(dst, 0, 16);
	memcpy(dst, &mant, 8);
	memcpy(dst + 8, &se, 2);
}

int main(int argc, char **argv)
{
	uint64_t seed;
	bool avx;
	int i, j;

	test_init(argc, argv);

	avx = have_avx();
	seed = zdtm_random();

	memset(&expect, 0, sizeof(expect));
	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 16; i++)
		zdtm_fill(expect.vec[i], avx ? 32 : 16, seed + i);
	for (i = 0; i < 4; i++)
		make_x87(expect.st[i], zdtm_pattern(seed, 100 + i), i * 7 - 9,
			 i & 1);
	expect.fcw = TEST_FCW;
	expect.mxcsr = TEST_MXCSR;

	test_msg("%s, seed %#llx", avx ? "AVX: ymm0-15" : "no AVX: xmm0-15",
		 (unsigned long long)seed);

	ready_fd = test_daemon_prepare();
	if (avx)
		spin_avx();
	else
		spin_sse();

	if (bad) {
		failv("registers changed after %lu rounds", iters);
		for (i = 0; i < 16; i++)
			if (memcmp(seen.vec[i], expect.vec[i], 32))
				failv("%s%d differs", avx ? "ymm" : "xmm", i);
		for (i = 0; i < 4; i++)
			if (memcmp(seen.st[i], expect.st[i], 16)) {
				failv("st(%d) differs", i);
				for (j = 0; j < 10; j++)
					test_msg("  byte %d: %02x expected %02x",
						 j, seen.st[i][j],
						 expect.st[i][j]);
			}
		if (seen.fcw != expect.fcw)
			failv("x87 control word %#x, expected %#x", seen.fcw,
			      expect.fcw);
		if (seen.mxcsr != expect.mxcsr)
			failv("MXCSR %#x, expected %#x", seen.mxcsr,
			      expect.mxcsr);
		/* Report only after the runner asks for the result. */
		test_waitsig();
	} else if (!iters) {
		failv("the check loop never ran");
	} else if (memcmp(&seen, &expect, sizeof(seen))) {
		failv("last register snapshot differs");
	}

	test_msg("%lu rounds", iters);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
