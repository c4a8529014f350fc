// SPDX-License-Identifier: GPL-2.0-only
/*
 * A signal that comes right as the restored task is let go, while it was
 * dumped inside an interruptible syscall, must interrupt that syscall as
 * it would have: pause() (or poll(), or nanosleep(): $SIG_RESTART_CALL)
 * returns EINTR once the SIGUSR1 handler ran. The desc's post-restore
 * action script sends SIGUSR1 while the tree is still held, so it is
 * pending when the task goes. SIGTERM is blocked meanwhile: only SIGUSR1
 * can end the wait, and a syscall that starts again after the handler
 * waits until the runner's timeout (the failure).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

/* One wait in the chosen syscall; its return value. */
static int wait_once(const char *call)
{
	if (!strcmp(call, "poll"))
		return poll(NULL, 0, -1);
	if (!strcmp(call, "nanosleep")) {
		struct timespec ts = { .tv_sec = 3600 };

		return nanosleep(&ts, NULL);
	}
	return pause();
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	const char *call = getenv("SIG_RESTART_CALL") ? : "pause";
	sigset_t term;
	int eintr = 0;

	test_init(argc, argv);
	if (sigaction(SIGUSR1, &sa, NULL))
		test_bug("sigaction");
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL))
		test_bug("sigprocmask");
	test_daemon();

	while (!got_usr1) {
		if (wait_once(call) < 0 && errno == EINTR)
			eintr++;
	}
	if (sigprocmask(SIG_UNBLOCK, &term, NULL))
		fail("sigprocmask");
	test_waitsig();
	if (!eintr)
		fail("%s never returned EINTR", call);
	else
		pass();
	return 0;
}
