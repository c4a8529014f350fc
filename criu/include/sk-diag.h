/*
 * Socket state from netlink sock_diag, read once per dump (per family)
 * through libnl and looked up by inode. sk_diag_request() is the one
 * request every family's collector makes.
 */
#ifndef CR_SK_DIAG_H
#define CR_SK_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nlmsghdr;

struct unix_diag_info {
	uint32_t ino, type, state;
	uint32_t peer;			/* 0: none */
	uint32_t namelen;		/* 0: unbound; name[0] == 0: abstract */
	char name[108];
	int has_vfs;			/* bound to a path: the file's inode and device */
	uint32_t vfs_ino, vfs_dev;
	uint32_t *icons;		/* a listener's clients not accepted yet */
	uint32_t nr_icons;
	uint32_t rqlen, wqlen;		/* a listener: pending connections and backlog */
	uint32_t shutdown;		/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2 */
};

struct unix_diag_table {
	struct unix_diag_info *s;	/* sorted by inode */
	size_t nr, cap;
	int failed;			/* an answer could not be parsed */
};

/* Called with every answer of a request; 0, or -1 to fail the request. */
typedef int (*sk_diag_cb)(struct nlmsghdr *h, void *arg);
/* One SOCK_DIAG_BY_FAMILY dump (@what names it in messages): 0, -ENOENT (no handler) or -1. */
int sk_diag_request(void *req, size_t len, sk_diag_cb cb, void *arg, const char *what);

/* Fill @u from one SOCK_DIAG_BY_FAMILY answer; 0, or -1 if it is malformed. */
int unix_diag_parse(struct nlmsghdr *h, struct unix_diag_info *u);
/* Ask the kernel about every unix socket of our network namespace. */
int unix_diag_collect(struct unix_diag_table *t);
struct unix_diag_info *unix_diag_find(struct unix_diag_table *t, uint32_t ino);
void unix_diag_free(struct unix_diag_table *t);
/* The unix socket of our network namespace bound to the file @dev:@ino: its inode, 0 if none, -1 on error. */
long unix_diag_bound_to(dev_t dev, ino_t ino);

/* An inet or inet6 TCP, UDP or UDP-Lite socket. */
struct inet_diag_info {
	uint32_t ino;			/* 0: a connection not accepted yet */
	uint8_t family, protocol, state;
	uint8_t shutdown;		/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2 */
	uint16_t sport, dport;		/* host order */
	uint32_t src[4], dst[4];	/* network order, as in inet_diag_sockid */
	uint32_t ifindex;		/* SO_BINDTODEVICE */
	uint32_t rqueue, wqueue;	/* a listener: accept queue length and backlog */
	uint32_t uid;
	uint32_t mark;
	int has_mark;
	int md5, ulp;			/* TCP-MD5 keys, an upper layer protocol (kTLS...) */
};

struct inet_diag_table {
	struct inet_diag_info *s;	/* sorted by inode */
	size_t nr, cap;
	int protocol;			/* of the request being read */
};

/* Fill @i from one answer to a request for @protocol; 0, or -1 if it is malformed. */
int inet_diag_parse(struct nlmsghdr *h, int protocol, struct inet_diag_info *i);
/* Every TCP, UDP and UDP-Lite socket of both families in our network namespace. */
int inet_diag_collect(struct inet_diag_table *t);
struct inet_diag_info *inet_diag_find(struct inet_diag_table *t, uint32_t ino);
void inet_diag_free(struct inet_diag_table *t);

/*
 * Raw and ping sockets, which sock_diag may not know (raw needs
 * CONFIG_INET_RAW_DIAG, ping has no handler): their line of
 * /proc/PID/net/NAME (raw, raw6, icmp, icmp6).
 */
struct proc_net_sk {
	uint32_t src[4], dst[4];	/* network order */
	uint32_t sport, dport;		/* raw: the protocol; ping: the echo id */
	uint32_t state;
};

/* 0 and @out filled, 1 if @ino is not there, -1 on errors. */
int proc_net_find(pid_t pid, const char *name, uint32_t ino, struct proc_net_sk *out);
/* The same from the file's text (header line first); @v6 for raw6 and icmp6. */
int proc_net_parse(const char *text, int v6, uint32_t ino, struct proc_net_sk *out);

/* ---- packet sockets ---- */

#include <linux/packet_diag.h>

struct packet_diag_sk {
	uint32_t ino;
	uint8_t type;
	uint16_t num;			/* the bound protocol, host order */
	int has_info;
	struct packet_diag_info info;
	struct packet_diag_mclist *mc;
	uint32_t nr_mc;
	int has_rx, has_tx;
	struct packet_diag_ring rx, tx;
	int has_fanout;
	uint32_t fanout;		/* id | type << 16, no flags */
};

struct packet_diag_table {
	struct packet_diag_sk *s;	/* sorted by inode */
	size_t nr, cap;
};

/* Fill @p from one answer; 0, or -1 if it is malformed. */
int packet_diag_parse(struct nlmsghdr *h, struct packet_diag_sk *p);
/* Every packet socket of our network namespace. */
int packet_diag_collect(struct packet_diag_table *t);
struct packet_diag_sk *packet_diag_find(struct packet_diag_table *t, uint32_t ino);
void packet_diag_free(struct packet_diag_table *t);

/* ---- netlink sockets: only bound ones are listed ---- */

struct netlink_diag_sk {
	uint32_t ino;
	uint8_t type, protocol, state;
	uint32_t portid, dst_portid, dst_group;
	int has_flags;
	uint32_t flags;			/* NDIAG_FLAG_* */
};

struct netlink_diag_table {
	struct netlink_diag_sk *s;	/* sorted by inode, each once */
	size_t nr, cap;
};

int netlink_diag_parse(struct nlmsghdr *h, struct netlink_diag_sk *n);
int netlink_diag_collect(struct netlink_diag_table *t);
struct netlink_diag_sk *netlink_diag_find(struct netlink_diag_table *t, uint32_t ino);
void netlink_diag_free(struct netlink_diag_table *t);

#endif
