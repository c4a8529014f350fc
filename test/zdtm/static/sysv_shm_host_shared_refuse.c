// SPDX-License-Identifier: GPL-2.0-only
/*
 * A SysV shm segment of criu's IPC namespace, marked for removal, that a
 * process outside the tree holds too (a grandchild orphaned to the
 * runner): making it again at restore would part the tree from that
 * process, so the dump must refuse, naming the segment, and leave the
 * test running with the segment attached and its bytes intact.
 */
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define SZ	(2 * 4096)

int main(int argc, char **argv)
{
	struct shmid_ds ds;
	int id, pfd[2], status;
	pid_t kid, outsider = 0, me;
	char *p;

	test_init(argc, argv);
	id = shmget(IPC_PRIVATE, SZ, 0600);
	p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
	if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL))
		test_bug("shm");
	zdtm_fill(p, SZ, 5);
	test_daemon();
	me = getpid();
	if (pipe(pfd))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		pid_t g = fork();

		if (g == 0) {
			close(pfd[0]);
			close(pfd[1]);
			/* orphaned to the runner: outside the tree; it goes when the test goes */
			while (kill(me, 0) == 0)
				usleep(100000);
			_exit(0);
		}
		if (write(pfd[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		_exit(g > 0 ? 0 : 1);
	}
	close(pfd[1]);
	if (read(pfd[0], &outsider, sizeof(outsider)) != sizeof(outsider) || zdtm_reap(kid, &status) || status)
		test_bug("the outside holder");
	close(pfd[0]);
	test_waitsig();
	if (shmctl(id, IPC_STAT, &ds) || ds.shm_nattch != 2)
		failv("segment %d is no longer attached twice", id);
	if (zdtm_check(p, SZ, 5) != (size_t)-1)
		failv("the segment's bytes changed");
	kill(outsider, SIGKILL);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
