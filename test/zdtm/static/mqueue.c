// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX message queues. Queue A has two fds, one O_RDWR|O_NONBLOCK, one
 * O_RDONLY (blocking), mode 0640, and messages of several priorities (an
 * empty one and one of the full size among them); queue B is held by no
 * fd, mode 0604, with one message. In the ns flavor they are queues of
 * the tree's IPC namespace (saved whole, made again); in h, queues of
 * criu's namespace (they stay, reopened by name). After C/R: the fds'
 * flags, each queue's attributes, mode and owner, and the messages come
 * out in the same order with their priorities.
 *
 * With ZDTM_MQ_NAME_FILE=FILE (mqueue_host_gone) the queues' names go to
 * FILE, for the runner to remove them before the restore.
 * With ZDTM_MQ_FAIL_LATER=1 (mqueue_dump_fail) a file of /dev/shm gets more
 * xattrs than a dump takes, which the dump refuses after it has read the
 * queues: the queues must be as they were all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MSGSIZE	128
#define NR(a)	(sizeof(a) / sizeof((a)[0]))

static char name_a[64], name_b[64];
static char big[MSGSIZE];

struct msg {
	unsigned int prio;
	const char *text;	/* NULL: big */
};

/* as sent */
static const struct msg sent[] = {
	{ 1, "a1" }, { 5, "b5" }, { 1, "a2" }, { 0, "" }, { 5, "b5 again" }, { 31000, NULL },
};
/* as mq_receive() must give them */
static const struct msg order[] = {
	{ 31000, NULL }, { 5, "b5" }, { 5, "b5 again" }, { 1, "a1" }, { 1, "a2" }, { 0, "" },
};

static const char *text(const struct msg *m, size_t *len)
{
	*len = m->text ? strlen(m->text) : MSGSIZE;
	return m->text ? m->text : big;
}

static void cleanup(void)
{
	mq_unlink(name_a);
	mq_unlink(name_b);
}

static int check_attr(mqd_t q, const char *what, long flags, long maxmsg, long msgsize, long cur)
{
	struct mq_attr a;

	if (mq_getattr(q, &a)) {
		fail("mq_getattr(%s)", what);
		return -1;
	}
	if (a.mq_flags != flags || a.mq_maxmsg != maxmsg || a.mq_msgsize != msgsize || a.mq_curmsgs != cur) {
		failv("%s: flags %lx, maxmsg %ld, msgsize %ld, %ld messages; expected %lx, %ld, %ld, %ld", what,
		     a.mq_flags, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs, flags, maxmsg, msgsize, cur);
		return -1;
	}
	return 0;
}

static int check_mode(mqd_t q, const char *what, mode_t mode)
{
	struct stat st;

	if (fstat(q, &st)) {
		fail("fstat(%s)", what);
		return -1;
	}
	if ((st.st_mode & 07777) != mode || st.st_uid != getuid() || st.st_gid != getgid()) {
		failv("%s: mode %o, owner %u:%u; expected %o, %u:%u", what, st.st_mode & 07777, st.st_uid, st.st_gid,
		     mode, getuid(), getgid());
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct mq_attr attr_a = { .mq_maxmsg = 8, .mq_msgsize = MSGSIZE };
	struct mq_attr attr_b = { .mq_maxmsg = 3, .mq_msgsize = 16 };
	char buf[MSGSIZE + 1];
	mqd_t rw, ro, b;
	unsigned int prio;
	ssize_t n;
	int fl;

	test_init(argc, argv);
	/* the h flavor's queues are criu's namespace's: named after us, gone at the end */
	snprintf(name_a, sizeof(name_a), "/zdtm-mq-%d-a", getpid());
	snprintf(name_b, sizeof(name_b), "/zdtm-mq-%d-b", getpid());
	cleanup();
	memset(big, 'x', sizeof(big));
	umask(0);

	rw = mq_open(name_a, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0640, &attr_a);
	ro = mq_open(name_a, O_RDONLY);
	b = mq_open(name_b, O_CREAT | O_EXCL | O_WRONLY, 0604, &attr_b);
	if (rw == (mqd_t)-1 || ro == (mqd_t)-1 || b == (mqd_t)-1) {
		cleanup();
		test_bug("mq_open");
	}
	for (size_t i = 0; i < NR(sent); i++) {
		size_t len;
		const char *t = text(&sent[i], &len);

		if (mq_send(rw, t, len, sent[i].prio)) {
			cleanup();
			test_bug("mq_send");
		}
	}
	if (mq_send(b, "only", 4, 7) || mq_close(b)) {
		cleanup();
		test_bug("mq_send(b)");
	}

	/* for mqueue_host_gone's before_restore */
	if (getenv("ZDTM_MQ_NAME_FILE")) {
		FILE *f = fopen(getenv("ZDTM_MQ_NAME_FILE"), "w");

		if (!f || fprintf(f, "%s\n%s\n", name_a, name_b) < 0 || fclose(f)) {
			cleanup();
			test_bug("writing the queue's name");
		}
	}
	if (getenv("ZDTM_MQ_FAIL_LATER")) {
		int fd = open("/dev/shm/zdtm-mq-xattrs", O_CREAT | O_RDWR, 0600);

		for (int i = 0; fd >= 0 && i < 65; i++) {
			char name[32];

			snprintf(name, sizeof(name), "user.x%d", i);
			if (fsetxattr(fd, name, "v", 1, 0)) {
				cleanup();
				test_bug("fsetxattr");
			}
		}
		if (fd < 0) {
			cleanup();
			test_bug("/dev/shm/zdtm-mq-xattrs");
		}
		close(fd);
	}

	test_daemon();
	test_waitsig();
	unlink("/dev/shm/zdtm-mq-xattrs");

	fl = fcntl(rw, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR || !(fl & O_NONBLOCK))
		fail("the O_RDWR|O_NONBLOCK fd has flags %#x", fl);
	fl = fcntl(ro, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY || (fl & O_NONBLOCK))
		fail("the O_RDONLY fd has flags %#x", fl);
	check_attr(rw, "queue a (rw)", O_NONBLOCK, 8, MSGSIZE, NR(sent));
	check_attr(ro, "queue a (ro)", 0, 8, MSGSIZE, NR(sent));
	check_mode(rw, "queue a", 0640);
	if (mq_send(ro, "x", 1, 0) == 0 || errno != EBADF)
		fail("the O_RDONLY fd can send");
	for (size_t i = 0; i < NR(order); i++) {
		size_t len;
		const char *t = text(&order[i], &len);

		/* both fds of the one queue */
		n = mq_receive(i % 2 ? ro : rw, buf, sizeof(buf), &prio);
		if (n < 0 || (size_t)n != len || prio != order[i].prio || memcmp(buf, t, len)) {
			failv("message %zu: %zd bytes, priority %u; expected %zu bytes, priority %u", i, n, prio, len,
			     order[i].prio);
			break;
		}
	}
	if (mq_receive(rw, buf, sizeof(buf), NULL) >= 0 || errno != EAGAIN)
		fail("queue a has more messages");

	b = mq_open(name_b, O_RDONLY | O_NONBLOCK);
	if (b == (mqd_t)-1) {
		fail("queue b is gone: %s", strerror(errno));
	} else {
		check_attr(b, "queue b", O_NONBLOCK, 3, 16, 1);
		check_mode(b, "queue b", 0604);
		n = mq_receive(b, buf, sizeof(buf), &prio);
		if (n != 4 || prio != 7 || memcmp(buf, "only", 4))
			failv("queue b: %zd bytes, priority %u", n, prio);
	}
	cleanup();
	if (test_failures)
		return 1;
	pass();
	return 0;
}
