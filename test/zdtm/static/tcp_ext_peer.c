// SPDX-License-Identifier: GPL-2.0-only
/*
 * A TCP connection to a peer outside the dumped tree: the runner (see
 * "tcp_peer" in zdtm.py), which keeps sending a pattern stream every few
 * milliseconds, also while the tree is dumped and restored, and checks
 * the stream the test keeps sending. With the network locked the peer
 * sees no reset and both streams arrive whole: every byte once, in order
 * (checked by both ends), up to a clean EOF each way.
 *
 * With the argument "veth" (netns_veth_ext) the test is in a network
 * namespace of its own, reaching the runner through a veth whose peer is
 * on the runner's bridge ("ext_veth"): restore makes the pair again with
 * --external veth[eth0]:OUT@BRIDGE, and the namespace is locked whole
 * meanwhile. Without that option (netns_veth_ext_refuse) the restore is
 * refused by name.
 *
 * With the argument "reset" (tcp_nolock_reset) the dump runs with
 * --network-lock skip: the peer's packets then reach a closed socket
 * while the tree is away and the connection must have been reset, which
 * the test and the runner both check. That is what the lock prevents.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static int sk;
static uint64_t seed, rx_off, tx_off;
static int reset_seen, loss_seen, want_reset;

/* Read what is there and send a little; 0, or -1 once the connection is gone. */
static int exchange(int timeout_ms)
{
	struct pollfd p = { .fd = sk, .events = POLLIN };
	uint8_t buf[4096];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) > 0) {
		n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			if (errno == ECONNRESET || errno == EPIPE)
				reset_seen = 1;
			else
				fail("recv");
			return -1;
		}
		if (n == 0) {
			test_msg("EOF from the peer at %llu\n", (unsigned long long)rx_off);
			return -1;
		}
		if (n > 0) {
			int64_t bad = zdtm_stream_check(buf, n, seed + 1, rx_off);

			if (bad >= 0) {
				if (want_reset)
					loss_seen = 1;
				else
					failv("a wrong byte from the peer at offset %lld", (long long)bad);
				return -1;
			}
			rx_off += n;
		}
	}
	zdtm_stream_fill(buf, 256, seed, tx_off);
	n = send(sk, buf, 256, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		if (errno == ECONNRESET || errno == EPIPE)
			reset_seen = 1;
		else
			fail("send");
		return -1;
	}
	if (n > 0)
		tx_off += n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *port = getenv("ZDTM_TCP_PEER"), *s = getenv("ZDTM_TCP_SEED");
	struct sockaddr_storage ss;
	int broken = 0;
	socklen_t len;

	test_init(argc, argv);
	want_reset = test_argc > 1 && !strcmp(test_argv[1], "reset");
	if (!port || !s)
		test_bug("no ZDTM_TCP_PEER / ZDTM_TCP_SEED: run with the tcp_peer desc key");
	seed = strtoull(s, NULL, 10);
	len = zdtm_loopback(AF_INET, 0, atoi(port), &ss);
	if (test_argc > 1 && !strcmp(test_argv[1], "veth")) {
		if (zdtm_netns_own() || zdtm_veth_to_host("eth0") || zdtm_wait_dad())
			test_bug("a veth to the runner's bridge");
		if (inet_pton(AF_INET, getenv("ZDTM_BRIDGE_ADDR"), &((struct sockaddr_in *)&ss)->sin_addr) != 1)
			test_bug("bad ZDTM_BRIDGE_ADDR");
	}
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&ss, len))
		test_bug("connect to the runner's port %s", port);
	while (rx_off < 4096)
		if (exchange(1000))
			test_bug("no data from the runner");

	test_daemon();
	while (test_go()) {
		if (broken)
			usleep(10000);
		else if (exchange(10))
			broken = 1;
	}

	if (want_reset) {
		/* the peer's side is gone: at the latest our next segment meets its reset */
		for (int i = 0; i < 500 && !reset_seen && !loss_seen && !broken; i++)
			if (exchange(10))
				break;
		if (!reset_seen && !loss_seen)
			failv("the connection survived without the lock (%llu bytes in, %llu out)",
			      (unsigned long long)rx_off, (unsigned long long)tx_off);
		test_msg("without the lock: reset %d, bytes lost %d\n", reset_seen, loss_seen);
	} else {
		if (broken)
			failv("the connection broke before SIGTERM (reset %d)", reset_seen);
		if (zdtm_stream_write(sk, 10000, seed, &tx_off))
			fail("final write");
		shutdown(sk, SHUT_WR);
		if (zdtm_stream_read(sk, (size_t)-1, seed + 1, &rx_off, 10000) < 0)
			fail("reading up to the peer's EOF");
		test_msg("%llu bytes in, %llu out\n", (unsigned long long)rx_off, (unsigned long long)tx_off);
	}
	close(sk);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
