// SPDX-License-Identifier: GPL-2.0-only
/*
 * connect()s whose SYNs get no answer yet (SYN_SENT): an nftables table
 * of the test's own (in a network namespace of its own) drops what goes
 * to a listener's port. One socket connects without blocking, a thread
 * is blocked in connect() on another. After C/R both are still
 * connecting (the non-blocking one still non-blocking); then the table
 * goes, the SYNs sent again get through: the first becomes writable with
 * no error, the thread's connect() returns 0, the listener accepts both
 * and data flows.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static struct sockaddr_storage to;
static socklen_t to_len;
static volatile int blocked_sk = -1;
static volatile int blocked_ret = 1;

static int state(int sk)
{
	struct tcp_info ti;

	return zdtm_tcp_info(sk, &ti) ? -1 : ti.tcpi_state;
}

static void *blocked(void *arg)
{
	int sk = socket(AF_INET, SOCK_STREAM, 0);

	blocked_sk = sk;
	blocked_ret = connect(sk, (struct sockaddr *)&to, to_len) ? errno : 0;
	return NULL;
}

/* Both connections accepted, in whichever order: each brings what its client wrote. */
static void talk(int lsk, int a_sk, int b_sk)
{
	int got = 0;

	if (write(a_sk, "nonb", 4) != 4 || write(b_sk, "blck", 4) != 4)
		failv("write: %m");
	for (int i = 0; i < 2; i++) {
		char buf[8];
		int a = accept(lsk, NULL, NULL);

		if (a < 0 || read(a, buf, sizeof(buf)) != 4) {
			failv("accept or read: %m");
			return;
		}
		got |= !memcmp(buf, "nonb", 4) ? 1 : !memcmp(buf, "blck", 4) ? 2 : 4;
		close(a);
	}
	if (got != 3)
		failv("the data of the two connections: %#x", got);
}

int main(int argc, char **argv)
{
	struct pollfd pfd;
	pthread_t th;
	int lsk, sk, err = -1;
	socklen_t len = sizeof(err);

	test_init(argc, argv);
	if (zdtm_netns_own())
		test_bug("a network namespace of the test's own");
	lsk = zdtm_tcp_listener(AF_INET, 0, 8);
	if (lsk < 0)
		test_bug("listener");
	to_len = zdtm_loopback(AF_INET, 0, zdtm_port(lsk), &to);
	if (zdtm_run(NULL, "nft add table inet zdtm") ||
	    zdtm_run(NULL, "nft add chain inet zdtm out { type filter hook output priority 0 ; }") ||
	    zdtm_run(NULL, "nft add rule inet zdtm out tcp dport %u drop", zdtm_port(lsk)))
		test_bug("nft");
	sk = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (sk < 0 || !connect(sk, (struct sockaddr *)&to, to_len) || errno != EINPROGRESS)
		test_bug("connect");
	if (pthread_create(&th, NULL, blocked, NULL))
		test_bug("pthread_create");
	while (blocked_sk < 0 || state(blocked_sk) != TCP_SYN_SENT)
		usleep(1000);
	if (state(sk) != TCP_SYN_SENT)
		test_bug("not SYN_SENT: %d", state(sk));

	test_daemon();
	test_waitsig();

	if (state(sk) != TCP_SYN_SENT || state(blocked_sk) != TCP_SYN_SENT || blocked_ret != 1)
		failv("states %d and %d, not SYN_SENT (the thread's connect() said %d)", state(sk), state(blocked_sk),
		      blocked_ret);
	if (!(fcntl(sk, F_GETFL) & O_NONBLOCK))
		failv("the socket lost O_NONBLOCK");
	if (zdtm_run(NULL, "nft delete table inet zdtm"))
		fail("nft delete");
	pfd.fd = sk;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 10000) != 1 || getsockopt(sk, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		failv("the non-blocking connect() did not complete (error %d)", err);
	if (pthread_join(th, NULL) || blocked_ret)
		failv("the thread's connect() said %d", blocked_ret);
	talk(lsk, sk, blocked_sk);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
