// SPDX-License-Identifier: GPL-2.0-only
/*
 * A SysV shm segment of criu's own IPC namespace marked for removal at
 * once (IPC_RMID, the usual way of keeping no segment behind), held by
 * the test and its child and by nothing else: it dies with the dumped
 * tree, so its bytes are saved and it is made again under its id. After
 * C/R the same id is still attached twice (IPC_STAT by id works on a
 * marked segment while it is attached), still marked, 0600, with the
 * same bytes, and the parent and the child still share it.
 */
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(3 * 4096)

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	int id, pfd[2], status;
	volatile char *p;
	pid_t kid;
	char c;

	test_init(argc, argv);
	id = shmget(IPC_PRIVATE, SZ, 0600);
	p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	/* marked at once: it goes away with the test, whatever happens */
	if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL) || pipe(pfd))
		test_bug("shm");
	zdtm_fill((char *)p, SZ - 4096, 5);
	test_daemon();
	kid = zdtm_fork();
	if (kid == 0) {
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (p[SZ - 100] != 'P')
			_exit(3);
		p[SZ - 50] = 'C';
		_exit(0);
	}
	close(pfd[0]);
	test_waitsig();
	if (shmctl(id, IPC_STAT, &ds))
		failv("segment %d is gone", id);
	else if (ds.shm_nattch != 2 || !(ds.shm_perm.mode & SHM_DEST) || (ds.shm_perm.mode & 0777) != 0600 ||
		 ds.shm_segsz != SZ || ds.shm_perm.uid != getuid())
		failv("segment %d: nattch %lu mode %o size %zu uid %u", id, (unsigned long)ds.shm_nattch,
		      ds.shm_perm.mode, ds.shm_segsz, ds.shm_perm.uid);
	if (zdtm_check((char *)p, SZ - 4096, 5) != (size_t)-1)
		failv("the segment's bytes changed");
	if (zdtm_check_zero((char *)p + SZ - 4096, 4096) != (size_t)-1)
		failv("the untouched page is not zero");
	p[SZ - 100] = 'P';
	if (write(pfd[1], "g", 1) != 1)
		fail("waking the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	if (p[SZ - 50] != 'C')
		failv("the child's write is not seen");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
