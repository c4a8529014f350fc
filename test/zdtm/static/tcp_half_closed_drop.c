// SPDX-License-Identifier: GPL-2.0-only
/*
 * The half-closed TCP states that need a lost segment (root: an nftables
 * table of the test's own drops one direction of a connection):
 *  P: B->A dropped. A sends 1000 bytes and shuts its side: B gets them
 *     and the FIN (CLOSE_WAIT), its ACK is lost: A stays in FIN_WAIT1.
 *     B sends 500 bytes and shuts its side: lost too, B is in LAST_ACK.
 *  Q: A->B dropped. A sends 700 bytes and shuts its side, all lost: A is
 *     in FIN_WAIT1; B shuts its side, A gets that FIN: A is in CLOSING
 *     (our FIN not acknowledged), B in FIN_WAIT1.
 * After restore the four states are the same; then the table goes, the
 * lost segments are sent again and every byte arrives, then EOF, on each
 * side.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "zdtmnet.h"
#include "zdtmtst.h"

static char table[64];

static int nft(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int nft(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int n;

	n = snprintf(cmd, sizeof(cmd), "nft ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void drop_table(void)
{
	if (table[0])
		nft("delete table inet %s 2>/dev/null", table);
	table[0] = 0;
}

static int state(int sk)
{
	struct tcp_info ti;

	return zdtm_tcp_info(sk, &ti) ? -1 : ti.tcpi_state;
}

static void check(int sk, int want, const char *what)
{
	if (state(sk) != want)
		failv("%s is in state %d, not %d", what, state(sk), want);
}

int main(int argc, char **argv)
{
	uint64_t seed = zdtm_random(), o = 0, r;
	int pa, pb, qa, qb;

	test_init(argc, argv);
	if (zdtm_tcp_pair(AF_INET, 0, &pa, &pb) || zdtm_tcp_pair(AF_INET, 0, &qa, &qb))
		test_bug("pairs");
	snprintf(table, sizeof(table), "zdtm-%d", getpid());
	atexit(drop_table);
	if (nft("add table inet %s", table) ||
	    nft("'add chain inet %s out { type filter hook output priority -10; }'", table) ||
	    nft("add rule inet %s out tcp sport %u tcp dport %u drop", table, zdtm_port(pb), zdtm_port(pa)) ||
	    nft("add rule inet %s out tcp sport %u tcp dport %u drop", table, zdtm_port(qa), zdtm_port(qb)))
		test_bug("nft");

	if (zdtm_stream_write(pa, 1000, seed, &o))
		test_bug("write");
	shutdown(pa, SHUT_WR);
	usleep(50000);
	o = 0;
	if (zdtm_stream_write(pb, 500, seed + 1, &o))
		test_bug("write");
	shutdown(pb, SHUT_WR);
	o = 0;
	if (zdtm_stream_write(qa, 700, seed + 2, &o))
		test_bug("write");
	shutdown(qa, SHUT_WR);
	usleep(50000);
	shutdown(qb, SHUT_WR);
	usleep(100000);
	check(pa, TCP_FIN_WAIT1, "P.A");
	check(pb, TCP_LAST_ACK, "P.B");
	check(qa, TCP_CLOSING, "Q.A");
	check(qb, TCP_FIN_WAIT1, "Q.B");
	if (test_failures)
		test_bug("the states to dump are not there");

	test_daemon();
	test_waitsig();

	check(pa, TCP_FIN_WAIT1, "P.A");
	check(pb, TCP_LAST_ACK, "P.B");
	check(qa, TCP_CLOSING, "Q.A");
	check(qb, TCP_FIN_WAIT1, "Q.B");
	drop_table();
	r = 0;
	if (zdtm_stream_read(pb, (size_t)-1, seed, &r, 10000) != 1000)
		failv("P.B got %llu bytes before EOF", (unsigned long long)r);
	r = 0;
	if (zdtm_stream_read(pa, (size_t)-1, seed + 1, &r, 10000) != 500)
		failv("P.A got %llu bytes before EOF", (unsigned long long)r);
	r = 0;
	if (zdtm_stream_read(qb, (size_t)-1, seed + 2, &r, 10000) != 700)
		failv("Q.B got %llu bytes before EOF", (unsigned long long)r);
	r = 0;
	if (zdtm_stream_read(qa, (size_t)-1, seed + 3, &r, 10000) != 0)
		failv("Q.A got %llu bytes before EOF", (unsigned long long)r);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
