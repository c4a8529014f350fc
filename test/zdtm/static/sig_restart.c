// SPDX-License-Identifier: GPL-2.0-only
/*
 * A signal that comes right as the restored task is let go, while it was
 * dumped inside an interruptible syscall, must interrupt that syscall as
 * it would have: pause() (or poll(), nanosleep(), read() of a pipe,
 * wait4() on a child, accept(), msgrcv(), mq_receive(), an absolute
 * clock_nanosleep(), a futex wait with a timeout: $SIG_RESTART_CALL)
 * returns EINTR once the SIGUSR1 handler ran. The masked waits
 * (sigsuspend(), ppoll(), pselect(), epoll_pwait()) sleep with a mask of
 * their own, that lets SIGUSR1 through: the task's own mask, which blocks
 * it, must be back once they return. The desc's post-restore
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
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/select.h>
#include <unistd.h>

#include "zdtmtst.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static int msq = -1;		/* msgrcv's queue: removed at the end */
static sigset_t waitmask;	/* the mask the masked waits put in place: SIGTERM only */

/* One wait in the chosen syscall; its return value. */
static int wait_once(const char *call)
{
	if (!strcmp(call, "read")) {
		static int p[2] = { -1, -1 };
		char c;

		if (p[0] < 0 && pipe(p))
			return -2;
		return read(p[0], &c, 1);
	}
	if (!strcmp(call, "wait4")) {
		static pid_t child;

		if (!child) {
			child = fork();
			if (!child) {
				for (;;)
					pause();
			}
		}
		return wait4(child, NULL, 0, NULL);
	}
	if (!strcmp(call, "accept")) {
		static int sk = -1;

		if (sk < 0) {
			sk = socket(AF_INET, SOCK_STREAM, 0);
			if (listen(sk, 1))
				return -2;
		}
		return accept(sk, NULL, NULL);
	}
	if (!strcmp(call, "msgrcv")) {
		struct { long t; char b[8]; } m;

		return msgrcv(msq, &m, sizeof(m.b), 0, 0);
	}
	if (!strcmp(call, "mq_receive")) {
		static mqd_t q = -1;
		char b[8192];

		/* removed at the end (one unlinked while open can't be dumped) */
		if (q < 0) {
			mq_unlink("/sig_restart");
			q = mq_open("/sig_restart", O_RDONLY | O_CREAT, 0600, NULL);
		}
		return mq_receive(q, b, sizeof(b), NULL);
	}
	if (!strcmp(call, "clock_abs")) {
		struct timespec ts;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 3600;
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (r)
			errno = r;
		return r ? -1 : 0;
	}
	if (!strcmp(call, "futex")) {
		static int word;
		struct timespec ts = { .tv_sec = 3600 };

		return syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
	}
	if (!strcmp(call, "sigsuspend"))
		return sigsuspend(&waitmask);
	if (!strcmp(call, "ppoll"))
		return ppoll(NULL, 0, NULL, &waitmask);
	if (!strcmp(call, "pselect"))
		return pselect(0, NULL, NULL, NULL, NULL, &waitmask);
	if (!strcmp(call, "epoll_pwait")) {
		static int ep = -1;
		struct epoll_event ev;

		if (ep < 0)
			ep = epoll_create1(0);
		return epoll_pwait(ep, &ev, 1, -1, &waitmask);
	}
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
	sigset_t term, before, after;
	int eintr = 0, masked, sig;

	test_init(argc, argv);
	if (sigaction(SIGUSR1, &sa, NULL))
		test_bug("sigaction");
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	waitmask = term;
	/*
	 * The masked waits run with SIGUSR1 and SIGUSR2 blocked but for the
	 * wait: the mask in place while they sleep is not the task's own,
	 * which must be back once they return.
	 */
	masked = !strcmp(call, "sigsuspend") || !strcmp(call, "ppoll") || !strcmp(call, "pselect") ||
		 !strcmp(call, "epoll_pwait");
	if (masked) {
		sigaddset(&term, SIGUSR1);
		sigaddset(&term, SIGUSR2);
	}
	if (sigprocmask(SIG_BLOCK, &term, NULL))
		test_bug("sigprocmask");
	sigprocmask(SIG_BLOCK, NULL, &before);
	if (!strcmp(call, "msgrcv") && (msq = msgget(IPC_PRIVATE, 0600)) < 0)
		test_bug("msgget");
	test_daemon();

	while (!got_usr1) {
		if (wait_once(call) < 0 && errno == EINTR)
			eintr++;
	}
	sigprocmask(SIG_BLOCK, NULL, &after);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&before, sig) != sigismember(&after, sig))
			fail("%s returned with signal %d %sblocked, was %sblocked before it", call, sig,
			     sigismember(&after, sig) ? "" : "un", sigismember(&before, sig) ? "" : "un");
	sigdelset(&term, SIGUSR2);
	if (sigprocmask(SIG_UNBLOCK, &term, NULL))
		fail("sigprocmask");
	test_waitsig();
	if (msq >= 0)
		msgctl(msq, IPC_RMID, NULL);
	if (!strcmp(call, "mq_receive"))
		mq_unlink("/sig_restart");
	if (!eintr)
		fail("%s never returned EINTR", call);
	else if (!test_failures)
		pass();
	return 0;
}
