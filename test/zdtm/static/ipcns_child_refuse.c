// SPDX-License-Identifier: GPL-2.0-only
/*
 * The root has an IPC namespace of its own and its child yet another one:
 * only one namespace, the root's, is dumped, so the dump must refuse the
 * child by pid and leave both running, each in its namespace (a segment
 * only the child's namespace has is still there).
 */
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define KEY	0x4242

int main(int argc, char **argv)
{
	int pfd[2], rfd[2], ready, status;
	struct stat before, after;
	pid_t kid;
	char c;

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC) || stat("/proc/self/ns/ipc", &before))
		test_bug("unshare(CLONE_NEWIPC)");
	/* ready for the dump only once the child is in its namespace */
	ready = test_daemon_prepare();
	if (pipe(pfd) || pipe(rfd))
		test_bug("pipe");
	kid = fork();
	if (kid == 0) {
		close(ready);
		close(pfd[1]);
		close(rfd[0]);
		if (unshare(CLONE_NEWIPC) || shmget(KEY, 4096, IPC_CREAT | 0600) < 0)
			_exit(2);
		close(rfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(3);
		_exit(shmget(KEY, 0, 0) < 0 ? 4 : 0);
	}
	close(pfd[0]);
	close(rfd[1]);
	if (read(rfd[0], &c, 1) != 0)
		test_bug("the child did not get ready");
	close(rfd[0]);
	if (write(ready, "R", 1) != 1)
		test_bug("can't report readiness");
	close(ready);
	test_waitsig();
	if (stat("/proc/self/ns/ipc", &after) || after.st_ino != before.st_ino)
		failv("the root's ipc namespace changed");
	if (write(pfd[1], "g", 1) != 1 || zdtm_reap(kid, &status))
		failv("child: status %#x", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
