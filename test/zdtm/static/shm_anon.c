// SPDX-License-Identifier: GPL-2.0-only
/*
 * MAP_SHARED | MAP_ANONYMOUS memory shared by a parent and its child,
 * with a pattern and untouched (hole) pages, plus a second object only the
 * parent maps, mapped twice at different places. After C/R both processes
 * still see each other's writes, the pattern and the holes are intact, and
 * the parent's two views of the second object still alias.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(8 << 20)
#define HALF	(SZ / 2)

int main(int argc, char **argv)
{
	volatile char *shm;
	char *other, *alias;
	int pfd[2], status;
	pid_t kid;
	char c;

	test_init(argc, argv);
	shm = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	other = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED || other == MAP_FAILED || pipe(pfd))
		test_bug("mmap");
	/* a second view of 'other' through mremap with old size 0 */
	alias = mremap(other, 0, 1 << 20, MREMAP_MAYMOVE);
	if (alias == MAP_FAILED)
		test_bug("mremap alias");
	zdtm_fill((char *)shm, HALF, 9);	/* second half: never touched */
	memset(other, 0x5a, 4096);

	kid = fork();
	if (kid == 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		/* the parent wrote a marker after the restore: we see it, and answer */
		if (shm[HALF + 10] != 'P')
			_exit(3);
		shm[HALF + 20] = 'K';
		_exit(zdtm_check((char *)shm, HALF, 9) == (size_t)-1 ? 0 : 4);
	}
	close(pfd[0]);
	test_daemon();
	test_waitsig();

	if (zdtm_check_zero((char *)shm + HALF + 4096, HALF - 4096) != (size_t)-1)
		failv("the untouched half is not zero");
	shm[HALF + 10] = 'P';
	if (write(pfd[1], "g", 1) != 1)
		fail("waking the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	if (shm[HALF + 20] != 'K')
		failv("the child's write is not visible to the parent");
	if (alias[0] != 0x5a)
		failv("the second view lost the data");
	alias[100] = 'A';
	if (other[100] != 'A')
		failv("the two views of one object do not alias any more");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
