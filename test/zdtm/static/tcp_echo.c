// SPDX-License-Identifier: GPL-2.0-only
/*
 * A long-running TCP echo pair, dumped and restored several times (the
 * desc asks for 3 iterations): the child echoes whatever comes on two
 * connections (IPv4 and IPv6); the test keeps sending a pattern stream on
 * each and reads the echo back, checking every byte against the stream
 * and a running checksum (FNV-1a) of all it sent against all it got
 * back. At the end it stops, shuts its side, reads up to EOF: the echo
 * must be exactly what was sent, no byte lost or duplicated.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#define NC 2

struct c {
	int sk;
	uint64_t seed, sent, got;
	uint64_t sum_sent, sum_got;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void echo(int *sk)
{
	struct pollfd p[NC];
	uint8_t buf[65536];
	int open = NC;

	for (int i = 0; i < NC; i++)
		p[i] = (struct pollfd){ .fd = sk[i], .events = POLLIN };
	while (open) {
		if (poll(p, NC, -1) < 0)
			continue;
		for (int i = 0; i < NC; i++) {
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(sk[i], buf, sizeof(buf));
			if (n <= 0) {
				shutdown(sk[i], SHUT_WR);
				p[i].fd = -1;
				open--;
				continue;
			}
			if (write(sk[i], buf, n) != n)
				_exit(2);
		}
	}
	_exit(0);
}

/* Send some, read what came back; -1 on a wrong byte. */
static int step(struct c *c, int sending)
{
	uint8_t buf[16384];
	ssize_t n;

	if (sending) {
		zdtm_stream_fill(buf, 4096, c->seed, c->sent);
		n = send(c->sk, buf, 4096, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			c->sum_sent = fnv(c->sum_sent, buf, n);
			c->sent += n;
		}
	}
	n = recv(c->sk, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0)
		return 1;
	if (n > 0) {
		int64_t bad = zdtm_stream_check(buf, n, c->seed, c->got);

		if (bad >= 0) {
			failv("a wrong byte in the echo at offset %lld", (long long)bad);
			return -1;
		}
		c->sum_got = fnv(c->sum_got, buf, n);
		c->got += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int fam[NC] = { AF_INET, AF_INET6 };
	struct c c[NC];
	int srv[NC], status, done = 0;
	uint64_t seed;
	pid_t pid;

	test_init(argc, argv);
	seed = zdtm_random();
	for (int i = 0; i < NC; i++) {
		c[i] = (struct c){ .seed = seed + i, .sum_sent = 0xcbf29ce484222325ULL, .sum_got = 0xcbf29ce484222325ULL };
		if (zdtm_tcp_pair(fam[i], 0, &c[i].sk, &srv[i]))
			test_bug("pair");
	}
	pid = zdtm_fork();
	if (pid == 0) {
		for (int i = 0; i < NC; i++)
			close(c[i].sk);
		echo(srv);
	}
	for (int i = 0; i < NC; i++)
		close(srv[i]);

	test_daemon();
	while (test_go()) {
		struct pollfd p[NC];

		for (int i = 0; i < NC; i++) {
			if (step(&c[i], c[i].sent - c[i].got < (1 << 20)) < 0)
				goto out;
			p[i] = (struct pollfd){ .fd = c[i].sk, .events = POLLIN };
		}
		poll(p, NC, 1);
	}
	for (int i = 0; i < NC; i++)
		shutdown(c[i].sk, SHUT_WR);
	for (int t = 0; t < 10000 && done < NC; t++) {
		done = 0;
		for (int i = 0; i < NC; i++) {
			int r = step(&c[i], 0);

			if (r < 0)
				goto out;
			done += r == 1 || c[i].got == c[i].sent;
		}
		usleep(1000);
	}
	for (int i = 0; i < NC; i++) {
		test_msg("connection %d: %llu bytes sent, %llu echoed\n", i, (unsigned long long)c[i].sent,
			 (unsigned long long)c[i].got);
		if (c[i].got != c[i].sent || c[i].sum_got != c[i].sum_sent)
			failv("connection %d: %llu bytes echoed of %llu (checksums %llx, %llx)", i,
			      (unsigned long long)c[i].got, (unsigned long long)c[i].sent,
			      (unsigned long long)c[i].sum_got, (unsigned long long)c[i].sum_sent);
		if (c[i].sent < (1 << 20))
			failv("connection %d: only %llu bytes went through", i, (unsigned long long)c[i].sent);
	}
out:
	for (int i = 0; i < NC; i++)
		close(c[i].sk);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the echo side failed (status %#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
