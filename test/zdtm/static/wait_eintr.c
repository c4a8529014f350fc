// SPDX-License-Identifier: GPL-2.0-only
/*
 * The waits that end with EINTR when their task only stops (signal(7)):
 * sigwaitinfo(), epoll_wait(), semop() ($WAIT_EINTR_CALL). The task waits
 * in one through C/R with nothing to wake it but the runner's SIGTERM,
 * whose handler ends the wait with EINTR. Any other return is one the
 * wait would not have made without the dump: the dump's ptrace stop
 * returned EINTR from it and the restored task went on with that.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/sem.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	const char *call = getenv("WAIT_EINTR_CALL") ? : "epoll_wait";
	struct sembuf down = { .sem_num = 0, .sem_op = -1 };
	struct epoll_event ev;
	int ep, sem, r, early = 0, early_r = 0, early_errno = 0;
	sigset_t usr2;

	test_init(argc, argv);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &usr2, NULL))
		test_bug("sigprocmask");
	ep = epoll_create1(0);
	/* the host's ipc namespace in flavor h: made only when used, removed at the end */
	sem = strcmp(call, "semop") ? -1 : semget(IPC_PRIVATE, 1, 0600);
	if (ep < 0 || (sem < 0 && !strcmp(call, "semop")))
		test_bug("epoll_create1 or semget");
	test_daemon();

	while (test_go()) {
		if (!strcmp(call, "sigwaitinfo"))
			r = sigwaitinfo(&usr2, NULL);
		else if (!strcmp(call, "semop"))
			r = semop(sem, &down, 1);
		else
			r = epoll_wait(ep, &ev, 1, -1);
		if (r < 0 && errno == EINTR && !test_go())
			break;	/* the SIGTERM handler ran */
		/* said at the end: output now would change the fd's position, which the runner compares */
		early++;
		early_r = r;
		early_errno = r < 0 ? errno : 0;
	}
	if (sem >= 0)
		semctl(sem, 0, IPC_RMID);
	if (early)
		failv("%s returned %d times before the SIGTERM, the last %d (%s)", call, early, early_r,
		      strerror(early_errno));
	else
		pass();
	return 0;
}
