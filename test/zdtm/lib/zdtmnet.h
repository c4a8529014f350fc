/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Socket helpers for the network tests: loopback listeners and connected
 * pairs of either family (and v4-mapped), patterned byte streams that the
 * receiver can check at any offset, and tcp_info.
 */
#ifndef ZDTM_NET_H
#define ZDTM_NET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Loopback of @family (AF_INET, AF_INET6; mapped: ::ffff:127.0.0.1 on an inet6 socket). */
socklen_t zdtm_loopback(int family, int mapped, uint16_t port, struct sockaddr_storage *ss);
uint16_t zdtm_port(int sk);
/* A TCP listener on loopback, port chosen by the kernel (v6: dual stack unless @v6only). */
int zdtm_tcp_listener(int family, int v6only, int backlog);
/* Connect to @lsk's port from a new socket of @family (@mapped: to ::ffff:127.0.0.1); -1 on error. */
int zdtm_tcp_connect(int lsk, int family, int mapped);
/* A connected pair through a temporary listener; 0 or -1. */
int zdtm_tcp_pair(int family, int mapped, int *cli, int *srv);

/* Byte @off of stream @seed. */
static inline uint8_t zdtm_stream_byte(uint64_t seed, uint64_t off)
{
	uint64_t z = seed + (off / 8 + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z >> ((off % 8) * 8);
}

void zdtm_stream_fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off);
/* The offset in the stream of the first byte that differs, or -1. */
int64_t zdtm_stream_check(const uint8_t *buf, size_t len, uint64_t seed, uint64_t off);
/* Write @len stream bytes from @*off (blocking), advancing it; 0 or -1. */
int zdtm_stream_write(int sk, size_t len, uint64_t seed, uint64_t *off);
/* Write what goes without blocking (the socket is made non-blocking for it); bytes written. */
size_t zdtm_stream_fill_nb(int sk, size_t max, uint64_t seed, uint64_t *off);
/*
 * Read until EOF (or @max bytes), checking every byte against stream @seed
 * from @*off; returns bytes read, or -1 on an error or a wrong byte (with a
 * message).
 */
int64_t zdtm_stream_read(int sk, size_t max, uint64_t seed, uint64_t *off, int timeout_ms);

int zdtm_tcp_info(int sk, struct tcp_info *ti);

/*
 * A network namespace of the test's own: in the h flavor a new one (lo
 * up), in the ns flavors the flavor's, which is the test's already.
 */
int zdtm_netns_own(void);
/*
 * Run a command line (words split at spaces, found on PATH; @input on its
 * stdin if not NULL, its stdout to /dev/null): its exit code, 0 if it
 * went well. The tools a test runs must be in its desc's "tools".
 */
int zdtm_run(const char *input, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* @fn(@arg) in the network namespace @nsfd, then back: its result, or -1. */
int zdtm_in_netns(int nsfd, int (*fn)(void *arg), void *arg);
/*
 * With the runner's ext_veth: a veth @in here (up, $ZDTM_VETH_ADDR/24)
 * whose peer $ZDTM_VETH_OUT is on the runner's bridge; with ext_macvlan:
 * a macvlan @name here on the runner's $ZDTM_MACVLAN_LOWER. 0 or -1.
 * Either closes the runner's namespace fd after (it is no state of the
 * test's to dump): one of them per test.
 */
int zdtm_veth_to_host(const char *in);
int zdtm_macvlan_on_host(const char *name);
/*
 * No IPv6 address of the namespace is tentative any more (waits up to 6 s:
 * 0, or -1). A test whose links' addresses are compared calls it before it
 * is ready: duplicate address detection is not done at the same time
 * before and after a restore.
 */
int zdtm_wait_dad(void);
/* SIOCGIFFLAGS of link @name, or -1. */
int zdtm_link_flags(const char *name);

#endif
