/*
 * inet and inet6 sockets (sk-inet.c): TCP, UDP, UDP-Lite, ICMP ping and raw;
 * TCP connections are taken apart and rebuilt in repair mode (sk-tcp.c);
 * segments and datagrams criu makes up itself go out through raw sockets
 * (sk-inject.c).
 */
#ifndef CR_SK_INET_H
#define CR_SK_INET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/tcp.h>

#include "files.h"
#include "files.pb-c.h"
#include "sk-inet.pb-c.h"

/* Packets criu sends itself carry this mark: the network lock lets them through. */
#define NET_LOCK_MARK	0xC114

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif

/* tcp_info as far as we read it (glibc's stops at tcpi_total_retrans). */
struct tcp_info_ext {
	struct tcp_info base;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
};

/* An address of either family; port in host order. */
struct inet_ep {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

/* A sockaddr for @ep; its length. */
socklen_t inet_ep_sockaddr(const struct inet_ep *ep, struct sockaddr_storage *ss);
/* The endpoint in a sockaddr (AF_INET or AF_INET6). */
void inet_ep_from(struct inet_ep *ep, const struct sockaddr_storage *ss);
/* "127.0.0.1:80" or "[::1]:80" */
const char *inet_ep_str(const struct inet_ep *ep, char *buf, size_t size);
/* A v4-mapped inet6 address as the AF_INET address packets carry; others unchanged. */
void inet_ep_unmap(struct inet_ep *ep);

/*
 * Dump, after every fd of the tree is collected: refuse listeners with
 * connections not accepted yet (or drop them with --skip-in-flight), lock
 * the network for the TCP connections, then read each in repair mode
 * (and take it out again: a tree criu leaves by dying runs at once).
 */
int inet_dump_streams(struct file_table *ft);
/* Dump, before the freeze: new connections to the tree's listeners wait, those queued are taken (net.c). */
void inet_dump_hold_listeners(pid_t root);
/* The images are whole and the tree is to be killed: its connections go into repair mode again. */
int inet_dump_commit(void);
/*
 * Dump, at the end. @keep: the dump succeeded and the tree dies, so the
 * connections stay in repair (their sockets close silently) and the lock
 * stays for the restore; otherwise repair goes off and the lock goes.
 */
void inet_dump_fini(int keep);

/* Restore: a TCP connection left in repair mode for net_restore_finish(). */
int inet_in_repair(const FileEntry *fe);
/* Take socket @sk of file @fe out of repair mode before it goes in flight on a unix socket. */
int inet_inflight_repair_off(int sk, const FileEntry *fe);

/* ---- sk-tcp.c ---- */
/* TCP options (SOL_TCP). */
int tcp_dump_opts(int sk, InetSkEntry *e, const char *who);
int tcp_restore_opts(int sk, const InetSkEntry *e, int stage, const char *who);
/* Put @sk in repair and read its connection into e->stream (the lock is on). */
int tcp_dump_stream(int sk, InetSkEntry *e, const char *who);
/* Repair off again with the task's SO_REUSEADDR, for a dump that let the tree go on. */
int tcp_repair_off(int sk, int reuseaddr, int probe, const char *who);
/* Make the connection again on new socket @sk (bound to nothing yet); it stays in repair. */
int tcp_restore_stream(int sk, const InetSkEntry *e, const char *who);
int tcp_connection_state(int state);

/* ---- sk-inject.c ---- */
/* A bare TCP segment from @from to @to (ACK with @flags), marked to pass the lock. */
int inject_tcp(const struct inet_ep *from, const struct inet_ep *to, uint32_t seq, uint32_t ack, uint8_t flags,
	       uint16_t win);
/* A UDP or UDP-Lite datagram from @from to @to with @data, as if the peer sent it. */
int inject_udp(int protocol, const struct inet_ep *from, const struct inet_ep *to, const void *data, size_t len,
	       int cscov);

extern const struct fd_kind inetsk_kind;

#endif
