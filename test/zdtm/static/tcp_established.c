// SPDX-License-Identifier: GPL-2.0-only
/*
 * Established TCP connections with both ends in the tree (the test holds
 * the clients, its child the servers): IPv4, IPv6 and v4-mapped IPv6 over
 * loopback. Before the dump each client has written until its send buffer
 * took no more (the server's receive queue full, the rest queued and not
 * sent) and each server wrote 1000 bytes nobody read. Afterwards: same
 * addresses, ports and negotiated options (SACK, timestamps, window
 * scaling, MSS), then both sides send more and every byte arrives once,
 * in order, at the other end (checked against a pattern), up to EOF.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

#ifndef NCONN_BIG
#define NCONN_BIG	(256 << 10)	/* written by each client before the dump, at most */
#endif
#define S2C_BEFORE	1000
#define C2S_AFTER	(100 << 10)
#define S2C_AFTER	5000

static const struct {
	int family, mapped;
	const char *name;
} kinds[] = {
	{ AF_INET, 0, "IPv4" },
	{ AF_INET6, 0, "IPv6" },
	{ AF_INET6, 1, "v4-mapped" },
};
#define NCONN	(int)(sizeof(kinds) / sizeof(kinds[0]))

struct conn {
	int cli, srv;
	uint64_t c2s_seed, s2c_seed;
	uint64_t c2s_off, s2c_off;	/* written so far */
	struct tcp_info ci, si;
	uint16_t cport, sport;
};

static struct conn c[NCONN];

/* The child: the server ends. Told how much to expect, it checks it all and answers. */
static int server(int ctl)
{
	uint64_t want[NCONN];
	int bad = 0;

	if (read(ctl, want, sizeof(want)) != sizeof(want)) {
		fail("control pipe");
		return 1;
	}
	for (int i = 0; i < NCONN; i++) {
		uint64_t off = 0;
		int64_t n = zdtm_stream_read(c[i].srv, (size_t)-1, c[i].c2s_seed, &off, 10000);

		if (n < 0 || off != want[i]) {
			failv("%s: the server got %lld bytes, %llu were sent", kinds[i].name, (long long)n,
			      (unsigned long long)want[i]);
			bad = 1;
		}
	}
	for (int i = 0; i < NCONN; i++) {
		if (zdtm_stream_write(c[i].srv, S2C_AFTER, c[i].s2c_seed, &c[i].s2c_off)) {
			fail("%s: server write", kinds[i].name);
			bad = 1;
		}
		close(c[i].srv);
	}
	return bad;
}

static void check_same(int i)
{
	struct tcp_info ci, si;

	if (zdtm_tcp_info(c[i].cli, &ci))
		fail("%s: TCP_INFO", kinds[i].name);
	if (ci.tcpi_state != TCP_ESTABLISHED)
		failv("%s: client in state %u", kinds[i].name, ci.tcpi_state);
	if (ci.tcpi_options != c[i].ci.tcpi_options || ci.tcpi_snd_wscale != c[i].ci.tcpi_snd_wscale ||
	    ci.tcpi_rcv_wscale != c[i].ci.tcpi_rcv_wscale)
		failv("%s: options %#x wscale %u/%u, were %#x %u/%u", kinds[i].name, ci.tcpi_options,
		      ci.tcpi_snd_wscale, ci.tcpi_rcv_wscale, c[i].ci.tcpi_options, c[i].ci.tcpi_snd_wscale,
		      c[i].ci.tcpi_rcv_wscale);
	/* the MSS in use follows the window; a connection that fell back to the 536 default lost it */
	if (ci.tcpi_snd_mss < 16384)
		failv("%s: MSS %u, was %u", kinds[i].name, ci.tcpi_snd_mss, c[i].ci.tcpi_snd_mss);
	if (zdtm_port(c[i].cli) != c[i].cport)
		failv("%s: client port %u, was %u", kinds[i].name, zdtm_port(c[i].cli), c[i].cport);
	(void)si;
}

int main(int argc, char **argv)
{
	int ctl[2], status;
	uint64_t seed, want[NCONN];
	pid_t pid;

	test_init(argc, argv);
	seed = zdtm_random();
	for (int i = 0; i < NCONN; i++) {
		if (zdtm_tcp_pair(kinds[i].family, kinds[i].mapped, &c[i].cli, &c[i].srv))
			test_bug("%s connection", kinds[i].name);
		c[i].c2s_seed = seed + 2 * i;
		c[i].s2c_seed = seed + 2 * i + 1;
		c[i].cport = zdtm_port(c[i].cli);
		c[i].sport = zdtm_port(c[i].srv);
		if (zdtm_stream_write(c[i].srv, S2C_BEFORE, c[i].s2c_seed, &c[i].s2c_off))
			test_bug("server write");
		if (!zdtm_stream_fill_nb(c[i].cli, NCONN_BIG, c[i].c2s_seed, &c[i].c2s_off))
			test_bug("client write");
		usleep(10000);
		if (zdtm_tcp_info(c[i].cli, &c[i].ci) || zdtm_tcp_info(c[i].srv, &c[i].si))
			test_bug("TCP_INFO");
	}
	if (pipe(ctl))
		test_bug("pipe");
	pid = zdtm_fork();
	if (pid == 0) {
		close(ctl[1]);
		for (int i = 0; i < NCONN; i++)
			close(c[i].cli);
		_exit(server(ctl[0]));
	}
	close(ctl[0]);
	for (int i = 0; i < NCONN; i++)
		close(c[i].srv);

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NCONN; i++) {
		check_same(i);
		want[i] = c[i].c2s_off + C2S_AFTER;
	}
	if (write(ctl[1], want, sizeof(want)) != sizeof(want))
		fail("control pipe");
	for (int i = 0; i < NCONN; i++) {
		if (zdtm_stream_write(c[i].cli, C2S_AFTER, c[i].c2s_seed, &c[i].c2s_off))
			fail("%s: client write", kinds[i].name);
		shutdown(c[i].cli, SHUT_WR);
	}
	for (int i = 0; i < NCONN; i++) {
		uint64_t off = 0;
		int64_t n = zdtm_stream_read(c[i].cli, (size_t)-1, c[i].s2c_seed, &off, 10000);

		if (n != S2C_BEFORE + S2C_AFTER)
			failv("%s: the client got %lld bytes, %d were sent", kinds[i].name, (long long)n,
			      S2C_BEFORE + S2C_AFTER);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		failv("the server side failed (status %#x)", status);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
