// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_SHARED mappings of /dev/zero (a shmem object each): 1 MiB shared by
 * the parent and a child, the /dev/zero fd closed, plus a MAP_PRIVATE one
 * (plain anonymous memory). After C/R the contents are back, the shared
 * area still shows as "/dev/zero (deleted)", and parent and child still
 * see each other's writes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(1 << 20)

int main(int argc, char **argv)
{
	volatile char *shr, *priv;
	int z, pfd[2], qfd[2], status;
	char *maps, c;
	pid_t kid;

	test_init(argc, argv);
	z = open("/dev/zero", O_RDWR);
	if (z < 0)
		test_bug("open /dev/zero");
	shr = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	priv = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0);
	if (shr == MAP_FAILED || priv == MAP_FAILED || close(z) || pipe(pfd) || pipe(qfd))
		test_bug("mmap");
	zdtm_fill((char *)shr, SZ / 2, 41);
	zdtm_fill((char *)priv, SZ / 2, 42);

	kid = zdtm_fork();
	if (kid == 0) {
		priv[0] = 'C';	/* the child's own copy */
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (shr[SZ / 2 + 10] != 'P')
			_exit(3);
		shr[SZ / 2 + 20] = 'K';
		_exit(write(qfd[1], "k", 1) == 1 ? 0 : 4);
	}
	test_daemon();
	test_waitsig();

	if (zdtm_check((char *)shr, SZ / 2, 41) != (size_t)-1 || zdtm_check((char *)priv, SZ / 2, 42) != (size_t)-1)
		failv("the contents are lost");
	if (zdtm_read_file("/proc/self/maps", &maps) < 0 || !strstr(maps, "/dev/zero (deleted)"))
		failv("the shared area is no /dev/zero mapping");
	shr[SZ / 2 + 10] = 'P';
	if (write(pfd[1], "g", 1) != 1 || read(qfd[0], &c, 1) != 1)
		fail("talking to the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x (3: the parent's write is not in the child's view)", status);
	if (shr[SZ / 2 + 20] != 'K')
		failv("the child's write is not in the parent's view");
	if (priv[0] == 'C')
		failv("the private mapping is shared");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
