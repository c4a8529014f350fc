// SPDX-License-Identifier: GPL-2.0-only
/*
 * A SysV shm segment attached in criu's own IPC namespace: the attachment
 * would be lost, so the dump must refuse it, naming the pid, the address
 * and the shm id, and leave the task running with the segment attached.
 */
#include <sys/ipc.h>
#include <sys/shm.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	char *p;
	int id;

	test_init(argc, argv);
	id = shmget(IPC_PRIVATE, 2 * 4096, 0600);
	p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	/* marked at once: it goes away with the test, whatever happens */
	if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL))
		test_bug("shm");
	zdtm_fill(p, 2 * 4096, 5);
	test_daemon();
	test_waitsig();
	if (shmctl(id, IPC_STAT, &ds) || ds.shm_nattch != 1)
		failv("segment %d is no longer attached", id);
	if (zdtm_check(p, 2 * 4096, 5) != (size_t)-1)
		failv("the segment's bytes changed");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
