#ifndef CRIU_SK_ITER_H
#define CRIU_SK_ITER_H
/*
 * What a peek at an offset can't see in a datagram queue: a zero-length
 * datagram already marked peeked (the kernel skips those). A BPF socket
 * iterator walks every queue of criu's network namespace, one pass per
 * family per dump, and tells each queue's length and where such
 * datagrams are (sk-iter.c).
 */
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

enum { DGRAM_ITER_UNIX, DGRAM_ITER_UDP, DGRAM_ITER_NR };

/* A zero-length datagram already peeked. */
struct dgram_empty {
	uint32_t idx;			/* its place in the queue, from 0 */
	uint64_t before;		/* bytes of the datagrams before it */
	/* unix */
	int nr_fds;			/* fds in flight with it (can't be put back from here) */
	int has_cred;			/* credentials as a peek gives them (the pid in criu's pid namespace) */
	uint32_t pid, uid, gid;
	struct sockaddr_un src;		/* the sender's address, @srclen 0: none */
	socklen_t srclen;
	/* UDP */
	int has_addr;			/* its headers were read: */
	int v4;				/* an IPv4 packet (a v6 socket sees it v4-mapped) */
	uint8_t saddr[16], daddr[16];
	uint16_t sport;
};

struct dgram_queue {
	uint64_t ino;
	uint32_t nr_skbs;		/* datagrams queued */
	uint64_t bytes;
	uint32_t nr_empty;		/* zero-length ones already peeked, in @empty by place */
	int overflow;			/* more than the iterator could report */
	struct dgram_empty *empty;
};

/*
 * The queue of socket @ino of @kind as the iterator saw it (a queue it saw
 * empty: nr_skbs 0). 1: @*q set; 0: the socket isn't in its namespace's
 * pass (another namespace; UDP-Lite has its own table); -1: no iterator
 * here, @*why says why (logged once).
 */
int dgram_iter_queue(int kind, uint64_t ino, const struct dgram_queue **q, const char **why);
/* The dump is over: the next one makes its passes again. */
void dgram_iter_reset(void);
/* criu check: 1 if a pass works here; @why otherwise. Timings in @load_ms/@run_ms if not NULL. */
int dgram_iter_probe(const char **why, double *load_ms, double *run_ms);

#endif
