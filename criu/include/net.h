/*
 * Network namespaces as the socket code sees them: one state object per
 * namespace (its sock_diag tables, its network lock), and the network lock
 * that keeps the peers of a dumped tree's TCP connections from seeing
 * anything until the restore is done.
 *
 * The dump runs in the tree's network namespace (criu/ns/ns.c enters it),
 * so there is one such object; a tree in a namespace of its own is locked
 * whole, else each connection is.
 */
#ifndef CR_NET_H
#define CR_NET_H

#include <stdint.h>
#include <sys/types.h>

#include "sk-diag.h"

struct rst_files;

enum {
	NET_LOCK_NFTABLES,	/* default */
	NET_LOCK_IPTABLES,
	NET_LOCK_SKIP,		/* the caller locks (or accepts resets) */
};

/* One TCP connection to lock: both directions of it are dropped. */
struct net_lock_conn {
	int family;
	uint8_t src[16], dst[16];	/* network order; 4 bytes used for AF_INET */
	uint16_t sport, dport;		/* host order */
};

struct netns_state {
	uint64_t ino;			/* /proc/PID/ns/net */
	struct unix_diag_table unix_diag;
	int unix_ready;
	struct inet_diag_table inet_diag;
	int inet_ready;
	struct packet_diag_table packet_diag;
	int packet_ready;
	struct netlink_diag_table netlink_diag;
	int netlink_ready;
	/* the lock taken for this namespace's connections, if any */
	int locked;
	int whole;			/* all of it: the tree's own namespace */
	int lock_method;
	char lock_name[64];
	struct net_lock_conn *conns;
	size_t nr_conns;
};

/* The inode of socket fd @fd of @pid (its /proc link): 0, or -1 with a message. */
int sk_fd_ino(pid_t pid, int fd, unsigned long *ino);

/* The namespace of @pid, or NULL with a message. */
struct netns_state *netns_of(pid_t pid);
/* Its sock_diag tables, read on first use (@fresh: read again, e.g. once it is locked). */
struct unix_diag_table *netns_unix_diag(struct netns_state *ns);
struct inet_diag_table *netns_inet_diag(struct netns_state *ns, int fresh);
struct packet_diag_table *netns_packet_diag(struct netns_state *ns);
struct netlink_diag_table *netns_netlink_diag(struct netns_state *ns);
/* Every state object, at the end of a dump or restore (the lock is not touched). */
void netns_free_all(void);

/* "nftables", "iptables", "skip" for --network-lock; -1 for anything else. */
int net_lock_method(const char *name);

/*
 * Dump: block @n connections of @ns (both directions) with the chosen
 * method before their state is read. The lock stays after a successful
 * dump (net_lock_write() records it for restore); net_unlock() drops it.
 */
int net_lock(struct netns_state *ns, const struct net_lock_conn *c, size_t n);
int net_unlock(struct netns_state *ns);
/* Dump of a tree with a network namespace of its own: all of it is locked, not each connection. */
int net_lock_netns(struct netns_state *ns);
int net_lock_write(int dfd);
/* Dump failed or the tree runs on: every lock taken goes. */
int net_unlock_all(void);
/*
 * Dump, before the tree is frozen: new connections to its @n listeners
 * (address and port in src/sport; an address of zeros: any) wait, their
 * SYN dropped (the client sends it again a second later), so that none
 * comes into an accept queue while the tree can't take it. nftables only;
 * 0, or -1 (nothing held). Released by net_release_listeners(), and by
 * net_unlock_all(); never kept for a restore, even by the keeper.
 */
int net_hold_listeners(const struct net_lock_conn *l, size_t n);
int net_release_listeners(void);
/*
 * Dump: a process of criu's (the keeper, net.c) undoes the locks and the
 * repair mode of the connections if criu dies before it is done. Tell
 * it of socket @sk (a copy of the tree's, which it keeps) before it goes
 * into repair mode, with the SO_REUSEADDR to give back after it.
 */
int net_keeper_socket(int sk, int reuseaddr, const char *who);
/*
 * Dump: socket options criu changes for a moment on a socket of the tree's
 * (a queue read at a peek offset of ours, with SO_PASSCRED on, ...): the
 * keeper puts @n values (level, name, value as they are now) back should
 * criu die before net_keeper_sockopts_done(the handle returned). A handle
 * (> 0), or -1 with a message: the options must not be changed then.
 */
struct net_keep_opt {
	int level, name, val;
};
#define NET_KEEP_MAX_OPTS	10
int net_keeper_sockopts(int sk, const struct net_keep_opt *o, int n, const char *who);
void net_keeper_sockopts_done(int handle);
/*
 * The tree is to be killed, @victim (a pid, or 0) first: from its death
 * on, the lock stays for the restore even if criu dies.
 */
void net_keeper_commit(pid_t victim, int outside);
void net_keeper_killed(void);
void net_keeper_victim(pid_t pid);
/* Has the process of @pidfd a SIGKILL pending, or is it exiting or gone? (-1: yes) */
int pidfd_dying(int pidfd);
/*
 * criu has undone it all itself, or sent SIGKILL to every process of the
 * tree (the lock stays for the restore): the keeper goes, with nothing
 * done.
 */
void net_keeper_end(void);
/* What criu could not undo itself (inet_dump_fini()), the keeper undoes now: 0, or -1 said. */
int net_keeper_undo(void);
/* A keeper is on (its channel open) */
int net_keeper_on(void);
/* criu outside the tree's pid namespace, asked by its agent: a keeper for it (its channel), reaped at the end. */
int net_keeper_fork_outside(void);
void net_keeper_reap_outside(void);
void net_keeper_outside_decided(void);

/*
 * Restore: take the lock of net-lock.img again where it is gone (a reboot,
 * another host) before any socket exists, and drop it once every task is
 * restored (net_restore_unlock()). A failed restore leaves it, for the
 * next try.
 */
int net_restore_lock(int dfd, int nsfd);	/* in the namespace @nsfd (-1: criu's), which stays open */
/*
 * A new namespace of criu's, before its links come up: the lock taken now
 * if it is nftables' (a table of its own, which the namespace's netfilter
 * restore leaves alone); an iptables one waits for net_restore_lock(),
 * once the namespace's own iptables tables are in.
 */
int net_restore_lock_first(int dfd, int nsfd);
/* The same for any method, once the namespace's own iptables tables are in. */
int net_restore_lock_new_ns(int dfd, int nsfd);
/* The namespace @nsfd is given up (a failed restore): its lock goes with it. */
void net_restore_lock_forget(int nsfd);
int net_restore_unlock(void);

/*
 * Restore, once every task sits at its final trap, before it runs: unlock,
 * then take every TCP connection of @pids out of repair mode (through
 * copies of their fds) and give it back SO_REUSEADDR.
 */
int net_restore_finish(int dfd, struct rst_files *rf, const pid_t *pids, int nr);
/* After the commit (the keeper goes), or after a failed restore killed its tree (it locks again). */
void net_restore_commit(void);
/* reaper.c: whether criu committed the restore (the tree let go whole), read by the restore's keeper */
int reaper_committed(void);
void net_restore_abort(void);

#endif
