// SPDX-License-Identifier: GPL-2.0-only
/*
 * personality(READ_IMPLIES_EXEC): a readable mapping is executable too.
 * After C/R personality() still has the flag, and a new PROT_READ
 * mapping shows up executable in /proc/self/maps.
 */
#include <sys/mman.h>
#include <sys/personality.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char prot[5];
	void *m;
	int p;

	test_init(argc, argv);
	p = personality(0xffffffff);
	if (p < 0 || personality(p | READ_IMPLIES_EXEC) < 0)
		test_bug("personality");

	test_daemon();
	test_waitsig();

	p = personality(0xffffffff);
	if (!(p & READ_IMPLIES_EXEC))
		failv("personality is %#x", p);
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		fail("mmap");
	else if (zdtm_find_vma(m, NULL, NULL, prot) || prot[2] != 'x')
		failv("a new readable area is %s", prot);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
