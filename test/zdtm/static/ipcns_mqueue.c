// SPDX-License-Identifier: GPL-2.0-only
/*
 * A POSIX message queue in an IPC namespace the test makes for itself
 * (the h flavor's way to a namespace of the tree's own), held by no fd:
 * the namespace's queues are found by listing them, not through fds.
 * After C/R the queue is there, with its size, mode and its messages in
 * order with their priorities; an fd opened on another queue still works.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 }, a;
	static const char *const texts[] = { "high", "hello", "world" };
	static const unsigned int prios[] = { 9, 1, 1 };
	unsigned int prio;
	struct stat st;
	char buf[64];
	mqd_t q, held;

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	umask(0);
	q = mq_open("/zdtm-queue", O_CREAT | O_RDWR, 0620, &attr);
	held = mq_open("/zdtm-held", O_CREAT | O_RDWR | O_NONBLOCK, 0600, &attr);
	if (q == (mqd_t)-1 || held == (mqd_t)-1)
		test_bug("mq_open");
	/* only the name keeps it: the namespace's queues must be found without an fd */
	if (mq_send(q, "hello", 5, 1) || mq_send(q, "high", 4, 9) || mq_send(q, "world", 5, 1) || mq_close(q))
		test_bug("mq_send");
	test_daemon();
	test_waitsig();
	q = mq_open("/zdtm-queue", O_RDONLY | O_NONBLOCK);
	if (q == (mqd_t)-1) {
		fail("the queue is gone");
		return 1;
	}
	if (mq_getattr(q, &a) || a.mq_maxmsg != 4 || a.mq_msgsize != 64 || a.mq_curmsgs != 3)
		failv("the queue's attributes: %ld, %ld, %ld", a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
	if (fstat(q, &st) || (st.st_mode & 07777) != 0620)
		failv("the queue's mode is %o", st.st_mode & 07777);
	for (int i = 0; i < 3; i++) {
		ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);

		if (n != (ssize_t)strlen(texts[i]) || prio != prios[i] || memcmp(buf, texts[i], n))
			failv("message %d: %zd bytes, priority %u", i, n, prio);
	}
	if (mq_send(held, "x", 1, 3) || mq_receive(held, buf, sizeof(buf), &prio) != 1 || prio != 3)
		fail("the held queue does not work");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
