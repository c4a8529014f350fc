// SPDX-License-Identifier: GPL-2.0-only
/*
 * SysV shared memory in criu's own IPC namespace, as postgres uses it: a
 * keyed segment (not marked for removal) attached by the parent and by
 * its child, plus a read-only view. The segment outlives the dumped tree
 * and must be attached again in place: after C/R the key still finds the
 * same id, nattch is 4 again (two views in each process), the bytes are intact (untouched pages zero),
 * the views alias each other and a write by the parent is seen by the
 * child and the other way round. In sysv_shm_host_gone the runner removes
 * the segment before the restore, which must then fail.
 *
 * The segment is removed at the end; one left by a killed earlier run
 * (same key: one per uid) is removed first.
 */
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define PG	4096
#define SZ	(4 * PG)
#define FILLED	(2 * PG)

static int child(int rfd, volatile char *a)
{
	char c;

	if (read(rfd, &c, 1) != 1)
		return 2;
	if (a[FILLED + 10] != 'P')
		return 3;	/* the parent's write after restore is not visible */
	a[FILLED + 20] = 'K';
	if (zdtm_check((char *)a, FILLED, 7) != (size_t)-1)
		return 4;
	return 0;
}

int main(int argc, char **argv)
{
	key_t key;
	struct shmid_ds ds;
	char *a, *ro;
	int id, old, pfd[2], status;
	pid_t kid;
	FILE *f;

	test_init(argc, argv);
	key = 0x5c4e0000 + getuid() % 0x10000;
	old = shmget(key, 0, 0);
	if (old >= 0)
		shmctl(old, IPC_RMID, NULL);
	id = shmget(key, SZ, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0)
		test_bug("shmget");
	a = shmat(id, NULL, 0);
	ro = shmat(id, NULL, SHM_RDONLY);
	if (a == (void *)-1 || ro == (void *)-1 || pipe(pfd)) {
		shmctl(id, IPC_RMID, NULL);
		test_bug("shmat");
	}
	zdtm_fill(a, FILLED, 7);
	/* for the runner's before_restore of sysv_shm_host_gone */
	f = fopen("shmid", "w");
	if (!f || fprintf(f, "%d\n", id) < 0 || fclose(f))
		test_bug("writing shmid");

	test_daemon();
	kid = zdtm_fork();
	if (kid == 0) {
		close(pfd[1]);
		_exit(child(pfd[0], a));
	}
	close(pfd[0]);
	test_waitsig();

	if (shmget(key, 0, 0) != id)
		failv("key %#x does not find segment %d any more", key, id);
	if (shmctl(id, IPC_STAT, &ds))
		failv("segment %d is gone", id);
	else if (ds.shm_perm.__key != key || ds.shm_segsz != SZ || ds.shm_nattch != 4 ||
		 (ds.shm_perm.mode & 0777) != 0600 || ds.shm_cpid != getpid())
		failv("segment %d: key %#x size %zu nattch %lu mode %o creator %d", id, ds.shm_perm.__key,
		      ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_perm.mode, ds.shm_cpid);
	if (zdtm_check(a, FILLED, 7) != (size_t)-1)
		failv("the bytes of segment %d changed", id);
	if (zdtm_check_zero(a + FILLED, SZ - FILLED) != (size_t)-1)
		failv("the untouched pages of segment %d are not zero", id);
	a[FILLED + 10] = 'P';
	if (ro[FILLED + 10] != 'P')
		failv("a write is not seen through the read-only view");
	if (write(pfd[1], "g", 1) != 1)
		fail("waking the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	if (a[FILLED + 20] != 'K')
		failv("the child's write is not visible to the parent");
	shmctl(id, IPC_RMID, NULL);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
