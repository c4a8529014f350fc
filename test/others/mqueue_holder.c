// SPDX-License-Identifier: GPL-2.0-only
/*
 * For mqueue_kill.py: a process in an IPC namespace of its own holding
 * two POSIX message queues, /held (an fd, messages of three priorities)
 * and /named (no fd, a few messages). It writes "ready" to OUT; on
 * SIGUSR1 it takes every message of both, checks their order, bytes and
 * priorities, puts them back, and writes "ok" or "bad: why" to OUT.
 *
 *   mqueue_holder OUT
 */
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MSGSIZE		8192
#define NR_HELD		10
#define NR_NAMED	3

static volatile sig_atomic_t asked;

static void on_usr1(int sig)
{
	(void)sig;
	asked = 1;
}

static void report(const char *out, const char *text)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n", text);
	fclose(f);
	rename(tmp, out);
}

/*
 * Message i of queue @q: its bytes (in @buf, MSGSIZE), its length and
 * priority. Those of /held fill more than a pipe holds (80 KiB): the
 * reader must have put them back before it hands them over.
 */
static unsigned int msg(const char *q, int i, char *buf, size_t *len)
{
	int n = snprintf(buf, MSGSIZE, "%s-%d-", q, i);

	*len = strcmp(q, "/held") ? (size_t)n : MSGSIZE - 200 + i;
	memset(buf + n, 'a' + i, *len - n);
	return (i * 7) % 3;
}

/* Every message out, checked against the order mq_receive() owes us, all back. */
static int check(mqd_t q, const char *name, int n, char *why, size_t size)
{
	static char got[16][MSGSIZE], want[MSGSIZE];
	unsigned int prio[16];
	ssize_t len[16];
	size_t wlen;
	int k = 0, bad = 0;

	while (k < 16 && (len[k] = mq_receive(q, got[k], MSGSIZE, &prio[k])) >= 0)
		k++;
	if (k != n) {
		snprintf(why, size, "%s has %d messages, not %d", name, k, n);
		bad = 1;
	}
	for (int p = 2, j = 0; !bad && p >= 0; p--)
		for (int i = 0; i < n; i++) {
			if (msg(name, i, want, &wlen) != (unsigned int)p)
				continue;
			if (prio[j] != (unsigned int)p || len[j] != (ssize_t)wlen || memcmp(got[j], want, wlen)) {
				snprintf(why, size, "%s: message %d is not message %d (priority %d)", name, j, i, p);
				bad = 1;
				break;
			}
			j++;
		}
	for (int j = 0; j < k; j++)
		mq_send(q, got[j], len[j], prio[j]);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = MSGSIZE };
	static char buf[MSGSIZE];
	char why[256];
	mqd_t held, named;
	size_t len;

	if (argc != 2 || unshare(CLONE_NEWIPC))
		return 1;
	held = mq_open("/held", O_CREAT | O_RDWR | O_NONBLOCK, 0600, &attr);
	named = mq_open("/named", O_CREAT | O_RDWR | O_NONBLOCK, 0644, &attr);
	if (held == (mqd_t)-1 || named == (mqd_t)-1)
		return 1;
	for (int i = 0; i < NR_HELD; i++) {
		unsigned int p = msg("/held", i, buf, &len);

		if (mq_send(held, buf, len, p))
			return 1;
	}
	for (int i = 0; i < NR_NAMED; i++) {
		unsigned int p = msg("/named", i, buf, &len);

		if (mq_send(named, buf, len, p))
			return 1;
	}
	mq_close(named);
	signal(SIGUSR1, on_usr1);
	report(argv[1], "ready");
	while (1) {
		pause();
		if (!asked)
			continue;
		asked = 0;
		why[0] = '\0';
		named = mq_open("/named", O_RDWR | O_NONBLOCK);
		if (named == (mqd_t)-1)
			snprintf(why, sizeof(why), "/named is gone");
		else if (!check(held, "/held", NR_HELD, why, sizeof(why)))
			check(named, "/named", NR_NAMED, why, sizeof(why));
		if (named != (mqd_t)-1)
			mq_close(named);
		report(argv[1], why[0] ? why : "ok");
	}
}
