// SPDX-License-Identifier: GPL-2.0-only
/*
 * A SysV semaphore operation with SEM_UNDO leaves an adjustment the
 * kernel applies when the task exits, and no interface reads it back:
 * with a semaphore set in the (test's own) ipc namespace, the dump must
 * refuse the task holding an undo list, by pid, and leave it running, its
 * adjustment still pending (checked through the value its exit restores).
 */
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct sembuf up = { .sem_num = 0, .sem_op = 3, .sem_flg = SEM_UNDO };
	int id, status;
	pid_t kid;

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	id = semget(IPC_PRIVATE, 1, 0600);
	if (id < 0)
		test_bug("semget");
	kid = fork();
	if (kid == 0) {
		if (semop(id, &up, 1))
			_exit(2);
		test_waitsig();
		_exit(0);
	}
	test_daemon();
	test_waitsig();
	kill(kid, SIGTERM);
	if (zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	else if (semctl(id, 0, GETVAL) != 0)
		failv("the child's SEM_UNDO adjustment was not applied at its exit (value %d)", semctl(id, 0, GETVAL));
	if (test_failures)
		return 1;
	pass();
	return 0;
}
