// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory-deny-write-execute (PR_SET_MDWE, REFUSE_EXEC_GAIN): set once, it
 * can never be cleared. An executable area made before it stays as it
 * is. After C/R the setting is there (PR_GET_MDWE), a writable area
 * still can't be made executable, and the old executable area runs.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "zdtmtst.h"

#ifndef PR_SET_MDWE
#define PR_SET_MDWE			65
#define PR_GET_MDWE			66
#define PR_MDWE_REFUSE_EXEC_GAIN	(1UL << 0)
#endif

int main(int argc, char **argv)
{
	static const unsigned char ret42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };	/* mov $42,%eax; ret */
	unsigned char *code, *w;

	test_init(argc, argv);
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED || w == MAP_FAILED)
		test_bug("mmap");
	memcpy(code, ret42, sizeof(ret42));
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC))
		test_bug("mprotect");
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0))
		test_bug("PR_SET_MDWE");
	if (!mprotect(w, 4096, PROT_READ | PROT_EXEC))
		test_bug("MDWE does not hold");

	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_MDWE, 0, 0, 0, 0) != (int)PR_MDWE_REFUSE_EXEC_GAIN)
		failv("PR_GET_MDWE is %d", prctl(PR_GET_MDWE, 0, 0, 0, 0));
	if (!mprotect(w, 4096, PROT_READ | PROT_EXEC))
		failv("a writable area could be made executable");
	if (((int (*)(void))code)() != 42)
		failv("the old code");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
