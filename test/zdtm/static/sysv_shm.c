// SPDX-License-Identifier: GPL-2.0-only
/*
 * SysV shared memory in an IPC namespace of the test's own: a segment with
 * a key, a chosen id (shm_next_id), another owner and mode, attached by
 * the parent and its child, a read-only second view of it, and what is
 * left of a third view after its first page was unmapped; plus a private
 * segment already marked for removal (IPC_RMID) that both still hold.
 * After C/R the ids, keys, owner, mode and bytes are the same (untouched
 * pages still zero), every view aliases the others, a write by the parent
 * is seen by the child and the other way round, and the marked segment is
 * still marked and held by both.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define PG	4096
#define SZ	(5 * PG)
#define FILLED	(3 * PG)
#define KEY	0x51f00d
#define WANT_ID	(3 * 32768 + 5)

static void set_next_id(int id)
{
	char buf[16];
	int fd = open("/proc/sys/kernel/shm_next_id", O_WRONLY);

	snprintf(buf, sizeof(buf), "%d", id);
	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		test_bug("shm_next_id");
	close(fd);
}

static int child(int rfd, volatile char *a, volatile char *b)
{
	char c;

	if (read(rfd, &c, 1) != 1)
		return 2;
	if (a[FILLED + 10] != 'P' || b[100] != 'Q')
		return 3;	/* the parent's writes after restore are not visible */
	a[FILLED + 20] = 'K';
	b[200] = 'L';
	if (zdtm_check((char *)a, FILLED - PG, 7) != (size_t)-1)
		return 4;
	return 0;
}

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	char *a, *ro, *piece, *b;
	int id, id2, pfd[2], status;
	pid_t kid;

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	set_next_id(WANT_ID);
	id = shmget(KEY, SZ, IPC_CREAT | IPC_EXCL | 0640);
	id2 = shmget(IPC_PRIVATE, 4 * PG, 0600);
	if (id != WANT_ID || id2 < 0)
		test_bug("shmget: %d %d", id, id2);
	memset(&ds, 0, sizeof(ds));
	ds.shm_perm.uid = 1234;
	ds.shm_perm.gid = 4321;
	ds.shm_perm.mode = 0604;
	if (shmctl(id, IPC_SET, &ds))
		test_bug("IPC_SET");
	a = shmat(id, NULL, 0);
	ro = shmat(id, NULL, SHM_RDONLY);
	piece = shmat(id, NULL, 0);
	b = shmat(id2, NULL, 0);
	if (a == (void *)-1 || ro == (void *)-1 || piece == (void *)-1 || b == (void *)-1)
		test_bug("shmat");
	if (munmap(piece, PG))
		test_bug("munmap");
	zdtm_fill(a, FILLED, 7);
	zdtm_fill(b, 4 * PG, 8);
	if (shmctl(id2, IPC_RMID, NULL) || pipe(pfd))
		test_bug("IPC_RMID");

	kid = zdtm_fork();
	if (kid == 0) {
		close(pfd[1]);
		_exit(child(pfd[0], a, b));
	}
	close(pfd[0]);
	test_daemon();
	test_waitsig();

	if (shmget(KEY, 0, 0) != id)
		failv("key %#x does not find segment %d any more", KEY, id);
	if (shmctl(id, IPC_STAT, &ds))
		failv("segment %d is gone", id);
	else if (ds.shm_perm.__key != KEY || ds.shm_perm.uid != 1234 || ds.shm_perm.gid != 4321 ||
		 (ds.shm_perm.mode & 0777) != 0604 || ds.shm_segsz != SZ || ds.shm_nattch != 6)
		failv("segment %d: key %#x uid %u gid %u mode %o size %zu nattch %lu", id, ds.shm_perm.__key,
		      ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.mode, ds.shm_segsz, (unsigned long)ds.shm_nattch);
	if (zdtm_check(a, FILLED, 7) != (size_t)-1)
		failv("the bytes of segment %d changed", id);
	if (zdtm_check_zero(a + FILLED, SZ - FILLED) != (size_t)-1)
		failv("the untouched pages of segment %d are not zero", id);
	if (memcmp(ro, a, SZ) || memcmp(piece + PG, a + PG, SZ - PG))
		failv("the other views of segment %d differ", id);
	if (shmctl(id2, IPC_STAT, &ds))
		failv("marked segment %d is gone", id2);
	else if (!(ds.shm_perm.mode & SHM_DEST) || ds.shm_nattch != 2)
		failv("segment %d: mode %o, nattch %lu", id2, ds.shm_perm.mode, (unsigned long)ds.shm_nattch);
	if (zdtm_check(b, 4 * PG, 8) != (size_t)-1)
		failv("the bytes of segment %d changed", id2);

	a[FILLED + 10] = 'P';
	b[100] = 'Q';
	if (ro[FILLED + 10] != 'P' || piece[FILLED + 10] != 'P')
		failv("a write through one view is not seen through the others");
	piece[FILLED + 30] = 'Z';
	if (a[FILLED + 30] != 'Z')
		failv("a write through the piece is not seen");
	if (write(pfd[1], "g", 1) != 1)
		fail("waking the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	if (a[FILLED + 20] != 'K' || b[200] != 'L')
		failv("the child's writes are not visible to the parent");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
