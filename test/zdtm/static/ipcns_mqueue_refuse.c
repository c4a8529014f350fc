// SPDX-License-Identifier: GPL-2.0-only
/*
 * A POSIX message queue in the IPC namespace the test has to itself:
 * POSIX queues are not dumped yet, so the dump must refuse by the queue's
 * name and leave the task running; afterwards the queue still holds its
 * message.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <string.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
	char buf[64];
	mqd_t q;

	test_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	q = mq_open("/zdtm-queue", O_CREAT | O_RDWR, 0600, &attr);
	if (q == (mqd_t)-1)
		test_bug("mq_open");
	/* only the name keeps it: the namespace's queues must be found without an fd */
	if (mq_send(q, "hello", 5, 1) || mq_close(q))
		test_bug("mq_send");
	test_daemon();
	test_waitsig();
	q = mq_open("/zdtm-queue", O_RDONLY | O_NONBLOCK);
	if (q == (mqd_t)-1 || mq_receive(q, buf, sizeof(buf), NULL) != 5 || memcmp(buf, "hello", 5))
		failv("the queue lost its message");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
