// SPDX-License-Identifier: GPL-2.0-only
/*
 * A memfd mapped MAP_SHARED and writable (by the parent, and by a child
 * that inherited the mapping and closed its fd), then sealed with
 * F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, as a producer does before handing
 * the memfd to readers. The seal forbids new writable mappings, not the
 * ones made before it: after C/R both mappings are there and still
 * write the memfd, the seals read the same, and they still hold (no
 * write(), no new writable mapping, no more seals).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "zdtmtst.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#define SZ	(64 << 10)
#define SEALS	(F_SEAL_FUTURE_WRITE | F_SEAL_SEAL | F_SEAL_SHRINK)

int main(int argc, char **argv)
{
	volatile char *map;
	int m, pfd[2], qfd[2], status;
	char c, buf[2];
	pid_t kid;

	test_init(argc, argv);
	m = memfd_create("zdtm-sealed", MFD_ALLOW_SEALING);
	if (m < 0 || ftruncate(m, SZ))
		test_bug("memfd");
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill((char *)map, SZ, 7);
	if (fcntl(m, F_ADD_SEALS, SEALS))
		test_bug("F_ADD_SEALS");
	if (pipe(pfd) || pipe(qfd))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		close(m);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (map[100] != 'P')
			_exit(3);
		map[200] = 'K';
		_exit(write(qfd[1], "k", 1) == 1 ? 0 : 4);
	}

	test_daemon();
	test_waitsig();

	if (zdtm_check((char *)map, SZ, 7) != (size_t)-1)
		failv("the mapping lost its contents");
	if (fcntl(m, F_GET_SEALS) != SEALS)
		failv("seals %#x, not %#x", fcntl(m, F_GET_SEALS), SEALS);
	map[100] = 'P';
	if (pread(m, buf, 1, 100) != 1 || buf[0] != 'P')
		failv("a write through the old mapping is not in the memfd");
	if (write(m, "x", 1) != -1 || errno != EPERM)
		failv("write() went through the seal");
	if (mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0) != MAP_FAILED)
		failv("a new writable mapping went through the seal");
	if (fcntl(m, F_ADD_SEALS, F_SEAL_GROW) != -1)
		failv("F_SEAL_SEAL does not hold");
	if (write(pfd[1], "g", 1) != 1 || read(qfd[0], &c, 1) != 1)
		fail("talking to the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x (3: the parent's write is not in the child's mapping)", status);
	if (pread(m, buf, 1, 200) != 1 || buf[0] != 'K')
		failv("the child's write through its mapping is not in the memfd");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
