// SPDX-License-Identifier: GPL-2.0-only
/*
 * Processes blocked on POSIX message queues at the dump: a child waits in
 * mq_receive() on an empty queue, another in mq_send() on a full one
 * (one message of room: mq_maxmsg 1). The freeze interrupts both calls,
 * which restart after the restore: once the parent sends a message, the
 * first child gets it; once the parent takes the full queue's message, the
 * second child's goes in. No message is lost or doubled.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

static char empty[64], full[64];

static void cleanup(void)
{
	mq_unlink(empty);
	mq_unlink(full);
}

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 1, .mq_msgsize = 16 };
	pid_t rcv, snd;
	unsigned int prio;
	char buf[16];
	int status;
	mqd_t e, f;
	ssize_t n;

	test_init(argc, argv);
	snprintf(empty, sizeof(empty), "/zdtm-mqb-%d-e", getpid());
	snprintf(full, sizeof(full), "/zdtm-mqb-%d-f", getpid());
	cleanup();
	e = mq_open(empty, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	f = mq_open(full, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
	if (e == (mqd_t)-1 || f == (mqd_t)-1) {
		cleanup();
		test_bug("mq_open");
	}
	if (mq_send(f, "first", 5, 1)) {
		cleanup();
		test_bug("mq_send");
	}
	rcv = zdtm_fork();
	if (!rcv) {
		n = mq_receive(e, buf, sizeof(buf), &prio);
		_exit(n == 5 && prio == 3 && !memcmp(buf, "hello", 5) ? 0 : 1);
	}
	snd = zdtm_fork();
	if (!snd)
		_exit(mq_send(f, "second", 6, 2) ? 1 : 0);
	/* both children blocked by now */
	usleep(200 * 1000);

	test_daemon();
	test_waitsig();

	if (mq_send(e, "hello", 5, 3))
		fail("mq_send");
	if (waitpid(rcv, &status, 0) != rcv || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the receiver did not get its message (status %#x)", status);
	n = mq_receive(f, buf, sizeof(buf), &prio);
	if (n != 5 || prio != 1 || memcmp(buf, "first", 5))
		failv("the full queue's message: %zd bytes, priority %u", n, prio);
	if (waitpid(snd, &status, 0) != snd || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the sender did not send (status %#x)", status);
	n = mq_receive(f, buf, sizeof(buf), &prio);
	if (n != 6 || prio != 2 || memcmp(buf, "second", 6))
		failv("the sender's message: %zd bytes, priority %u", n, prio);
	if (mq_getattr(e, &attr) || attr.mq_curmsgs || mq_getattr(f, &attr) || attr.mq_curmsgs)
		failv("a queue has messages left");
	cleanup();
	if (test_failures)
		return 1;
	pass();
	return 0;
}
