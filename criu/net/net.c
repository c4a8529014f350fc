/*
 * Per network namespace state (sock_diag tables, the lock) and the network
 * lock: a netfilter table (nftables) or chain (iptables) of our own that
 * drops every packet of the dumped TCP connections, both ways, except
 * those criu sends itself (marked NET_LOCK_MARK). Taken by the dump before
 * the connections are read, kept while the tree is away, dropped by the
 * restore once every task is back (or by the dump if it fails, or by the
 * dump's keeper if criu dies before the tree: see below). A restore's
 * keeper puts it back if criu dies between the unlock and the commit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cr_options.h"
#include "fault.h"
#include "fdkinds.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "net.h"
#include "net.pb-c.h"
#include "sk-inet.h"
#include "sk-iter.h"
#include "util.h"

static struct netns_state *states;
static size_t nr_states;

int sk_fd_ino(pid_t pid, int fd, unsigned long *ino)
{
	char path[64], link[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0 || sscanf(link, "socket:[%lu]", ino) != 1) {
		pr_err("can't read the socket inode of fd %d of %d\n", fd, pid);
		return -1;
	}
	return 0;
}

struct netns_state *netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st)) {
		pr_perror("can't read the network namespace of %d", pid);
		return NULL;
	}
	for (size_t i = 0; i < nr_states; i++)
		if (states[i].ino == st.st_ino)
			return &states[i];
	if (stat("/proc/self/ns/net", &st)) {
		pr_perror("can't read our network namespace");
		return NULL;
	}
	/* sock_diag answers for the asker's namespace only: ours, for now */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	{
		struct stat ts;

		if (stat(path, &ts) || ts.st_ino != st.st_ino) {
			pr_err("task %d is in another network namespace than criu; not supported yet\n", pid);
			return NULL;
		}
	}
	if (!states) {
		states = calloc(1, sizeof(*states));
		if (!states) {
			pr_err("out of memory\n");
			return NULL;
		}
		nr_states = 1;
		states[0].ino = st.st_ino;
	}
	return &states[0];
}

struct unix_diag_table *netns_unix_diag(struct netns_state *ns)
{
	if (!ns->unix_ready) {
		if (unix_diag_collect(&ns->unix_diag))
			return NULL;
		ns->unix_ready = 1;
	}
	return &ns->unix_diag;
}

struct inet_diag_table *netns_inet_diag(struct netns_state *ns, int fresh)
{
	if (ns->inet_ready && fresh) {
		inet_diag_free(&ns->inet_diag);
		ns->inet_ready = 0;
	}
	if (!ns->inet_ready) {
		if (inet_diag_collect(&ns->inet_diag))
			return NULL;
		ns->inet_ready = 1;
	}
	return &ns->inet_diag;
}

struct packet_diag_table *netns_packet_diag(struct netns_state *ns)
{
	if (!ns->packet_ready) {
		if (packet_diag_collect(&ns->packet_diag))
			return NULL;
		ns->packet_ready = 1;
	}
	return &ns->packet_diag;
}

struct netlink_diag_table *netns_netlink_diag(struct netns_state *ns)
{
	if (!ns->netlink_ready) {
		if (netlink_diag_collect(&ns->netlink_diag))
			return NULL;
		ns->netlink_ready = 1;
	}
	return &ns->netlink_diag;
}

void netns_free_all(void)
{
	/*
	 * The dump is over, whatever it decided; but for an agent whose tree's
	 * init criu outside is to kill: should criu outside die first, its tree
	 * runs on and the keeper undoes it all (agent_wait_init_kill()).
	 */
	if (!ns_dump_agent_awaits_kill())
		net_keeper_end();
	for (size_t i = 0; i < nr_states; i++) {
		unix_diag_free(&states[i].unix_diag);
		inet_diag_free(&states[i].inet_diag);
		packet_diag_free(&states[i].packet_diag);
		netlink_diag_free(&states[i].netlink_diag);
		free(states[i].conns);
	}
	free(states);
	states = NULL;
	nr_states = 0;
	dgram_iter_reset();
}

static int keeper_helper(pid_t pid);

/* ---- running nft / iptables-restore with a batch on stdin ---- */

/* In the network namespace @nsfd (-1: criu's). */
static int run_batch(char *const argv[], const char *batch, int quiet, int nsfd)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status, wrote = 0;
	pid_t pid, parent = getpid();
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		pr_perror("pipe");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		goto fail;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		/*
		 * It goes with criu: the keeper (below) undoes the lock once
		 * criu is gone, and must not find a table made after that.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET)) {
			fprintf(stderr, "can't enter the tree's network namespace: %s\n", strerror(errno));
			_exit(127);
		}
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "can't run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* before it has its batch: the keeper must wait for it to end before it undoes the lock */
	if (keeper_helper(pid)) {
		close(in[1]);
		close(out[0]);
		kill_child(pid, argv[0]);
		return -1;
	}
	/* a batch not written whole is a failure whatever the tool says: an empty one succeeds, doing nothing */
	if (batch && write_all(in[1], batch, strlen(batch))) {
		pr_perror("can't write to %s", argv[0]);
		wrote = -1;
	}
	close(in[1]);
	while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(out[0]);
	while (waitpid(pid, &status, 0) != pid) {
		if (errno == EINTR)
			continue;
		pr_perror("waiting for %s", argv[0]);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return wrote;
	if (!quiet)
		pr_err("%s failed (status 0x%x): %s\n", argv[0], status, buf);
	return -1;
fail:
	close_fds(in, 2);
	close_fds(out, 2);
	return -1;
}

static int conn_v6(const struct net_lock_conn *c)
{
	return c->family == AF_INET6;
}

static void addr_str(const struct net_lock_conn *c, const uint8_t *a, char *buf, size_t size)
{
	inet_ntop(c->family, a, buf, size);
}

/* One string, grown as needed; on failure it is NULL. */
struct sbuf {
	char *s;
	size_t len, cap;
	int failed;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->s && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		b->cap = (b->cap + n + 1) * 2;
		char *ns = realloc(b->s, b->cap);

		if (!ns) {
			b->failed = 1;
			return;
		}
		b->s = ns;
	}
}

static char *nft_lock_batch(const char *name, const struct net_lock_conn *c, size_t n)
{
	static const char *const chains[] = { "input", "output" };
	struct sbuf b = { 0 };
	char s[64], d[64];
	int n4 = 0, n6 = 0;

	sb_add(&b, "add table inet %s\n", name);
	sb_add(&b, "add set inet %s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n", name);
	sb_add(&b, "add set inet %s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n", name);
	for (int i = 0; i < 2; i++) {
		sb_add(&b, "add chain inet %s %s { type filter hook %s priority 0; policy accept; }\n", name, chains[i],
		       chains[i]);
		sb_add(&b, "add rule inet %s %s meta mark 0x%x accept\n", name, chains[i], NET_LOCK_MARK);
		sb_add(&b, "add rule inet %s %s ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n", name,
		       chains[i]);
		sb_add(&b, "add rule inet %s %s ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n", name,
		       chains[i]);
	}
	for (int v6 = 0; v6 < 2; v6++) {
		int first = 1;

		for (size_t i = 0; i < n; i++) {
			if (conn_v6(&c[i]) != v6)
				continue;
			addr_str(&c[i], c[i].src, s, sizeof(s));
			addr_str(&c[i], c[i].dst, d, sizeof(d));
			if (first)
				sb_add(&b, "add element inet %s conns%d { ", name, v6 ? 6 : 4);
			/* both directions: what we send and what comes to us */
			sb_add(&b, "%s%s . %u . %s . %u, %s . %u . %s . %u", first ? "" : ", ", s, c[i].sport, d,
			       c[i].dport, d, c[i].dport, s, c[i].sport);
			first = 0;
			v6 ? n6++ : n4++;
		}
		if (!first)
			sb_add(&b, " }\n");
	}
	if (b.failed) {
		free(b.s);
		pr_err("out of memory\n");
		return NULL;
	}
	return b.s;
}

/* The whole namespace: both hooks drop everything but criu's own (marked) packets. */
static char *nft_whole_batch(const char *name)
{
	static const char *const chains[] = { "input", "output" };
	struct sbuf b = { 0 };

	sb_add(&b, "add table inet %s\n", name);
	for (int i = 0; i < 2; i++) {
		sb_add(&b, "add chain inet %s %s { type filter hook %s priority -1000; policy drop; }\n", name,
		       chains[i], chains[i]);
		sb_add(&b, "add rule inet %s %s meta mark 0x%x accept\n", name, chains[i], NET_LOCK_MARK);
	}
	if (b.failed) {
		free(b.s);
		pr_err("out of memory\n");
		return NULL;
	}
	return b.s;
}

static char *ipt_lock_batch(const char *name, const struct net_lock_conn *c, size_t n, int v6, int whole)
{
	struct sbuf b = { 0 };
	char s[64], d[64];

	sb_add(&b, "*filter\n:%s - [0:0]\n-I INPUT -j %s\n-I OUTPUT -j %s\n", name, name, name);
	/* our own packets (injected segments) go on through the rest of the rules */
	sb_add(&b, "-A %s -m mark --mark 0x%x -j RETURN\n", name, NET_LOCK_MARK);
	if (whole)
		sb_add(&b, "-A %s -j DROP\n", name);
	for (size_t i = 0; i < n && !whole; i++) {
		if (conn_v6(&c[i]) != v6)
			continue;
		addr_str(&c[i], c[i].src, s, sizeof(s));
		addr_str(&c[i], c[i].dst, d, sizeof(d));
		sb_add(&b, "-A %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\n", name, s, c[i].sport, d,
		       c[i].dport);
		sb_add(&b, "-A %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\n", name, d, c[i].dport, s,
		       c[i].sport);
	}
	sb_add(&b, "COMMIT\n");
	if (b.failed) {
		free(b.s);
		pr_err("out of memory\n");
		return NULL;
	}
	return b.s;
}

static const char *method_name(int m)
{
	return m == NET_LOCK_IPTABLES ? "iptables" : m == NET_LOCK_SKIP ? "skip" : "nftables";
}

int net_lock_method(const char *name)
{
	if (!strcmp(name, "nftables"))
		return NET_LOCK_NFTABLES;
	if (!strcmp(name, "iptables"))
		return NET_LOCK_IPTABLES;
	if (!strcmp(name, "skip"))
		return NET_LOCK_SKIP;
	return -1;
}

static int lock_exists(int method, const char *name, int nsfd)
{
	char *nft[] = { "nft", "list", "table", "inet", (char *)name, NULL };
	char *ipt[] = { "iptables", "-w", "-S", (char *)name, NULL };

	return !run_batch(method == NET_LOCK_IPTABLES ? ipt : nft, NULL, 1, nsfd);
}

static int do_lock(int method, const char *name, const struct net_lock_conn *c, size_t n, int whole, int nsfd)
{
	char *nft[] = { "nft", "-f", "-", NULL };
	char *ipt4[] = { "iptables-restore", "-w", "--noflush", NULL };
	char *ipt6[] = { "ip6tables-restore", "-w", "--noflush", NULL };
	char *batch;
	int ret;

	if (method == NET_LOCK_NFTABLES) {
		batch = whole ? nft_whole_batch(name) : nft_lock_batch(name, c, n);
		ret = batch ? run_batch(nft, batch, 0, nsfd) : -1;
		free(batch);
		return ret;
	}
	batch = ipt_lock_batch(name, c, n, 0, whole);
	ret = batch ? run_batch(ipt4, batch, 0, nsfd) : -1;
	free(batch);
	if (ret)
		return -1;
	batch = ipt_lock_batch(name, c, n, 1, whole);
	ret = batch ? run_batch(ipt6, batch, 0, nsfd) : -1;
	free(batch);
	if (ret) {
		char del[256];
		char *argv[] = { "iptables-restore", "-w", "--noflush", NULL };

		snprintf(del, sizeof(del), "*filter\n-D INPUT -j %s\n-D OUTPUT -j %s\n-F %s\n-X %s\nCOMMIT\n", name,
			 name, name, name);
		run_batch(argv, del, 0, nsfd);
	}
	return ret;
}

/* iptables: is chain @name in the filter table of IPv4 (@v6 0) or IPv6? */
static int ipt_chain_exists(const char *name, int v6, int nsfd)
{
	char *argv[] = { v6 ? "ip6tables" : "iptables", "-w", "-S", (char *)name, NULL };

	return !run_batch(argv, NULL, 1, nsfd);
}

/*
 * The lock @name where it is not: 0 if it was all in place, 1 if some
 * was made, -1 on an error. An iptables lock is two chains, made and
 * removed by two runs (IPv4, IPv6): a criu killed between them left one.
 */
static int lock_missing(int method, const char *name, const struct net_lock_conn *c, size_t n, int whole, int nsfd)
{
	int made = 0;

	if (method == NET_LOCK_NFTABLES) {
		if (lock_exists(method, name, nsfd))
			return 0;
		return do_lock(method, name, c, n, whole, nsfd) ? -1 : 1;
	}
	for (int v6 = 0; v6 < 2; v6++) {
		char *argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "-w", "--noflush", NULL };
		char *batch;
		int ret;

		if (ipt_chain_exists(name, v6, nsfd))
			continue;
		batch = ipt_lock_batch(name, c, n, v6, whole);
		ret = batch ? run_batch(argv, batch, 0, nsfd) : -1;
		free(batch);
		if (ret)
			return -1;
		made = 1;
	}
	return made;
}

static int do_unlock(int method, const char *name, int nsfd, int quiet)
{
	char del[256];

	if (method == NET_LOCK_NFTABLES) {
		char *argv[] = { "nft", "-f", "-", NULL };

		snprintf(del, sizeof(del), "delete table inet %s\n", name);
		return run_batch(argv, del, quiet, nsfd);
	}
	snprintf(del, sizeof(del), "*filter\n-D INPUT -j %s\n-D OUTPUT -j %s\n-F %s\n-X %s\nCOMMIT\n", name, name, name,
		 name);
	{
		char *v4[] = { "iptables-restore", "-w", "--noflush", NULL };
		char *v6[] = { "ip6tables-restore", "-w", "--noflush", NULL };
		int r4 = run_batch(v4, del, 1, nsfd), r6 = run_batch(v6, del, 1, nsfd);

		/* a family's chain that is gone is unlocked (see lock_missing()); again, to say why, if it is not */
		if (r4 && ipt_chain_exists(name, 0, nsfd))
			r4 = run_batch(v4, del, quiet, nsfd);
		if (r6 && ipt_chain_exists(name, 1, nsfd))
			r6 = run_batch(v6, del, quiet, nsfd);
		return r4 || r6 ? -1 : 0;
	}
}

/*
 * ---- the keeper: what a dump locked goes if criu dies ----
 *
 * The lock is a netfilter table or chain, and the dump puts the tree's
 * connections in repair mode while it reads them and again once it is
 * about to kill the tree (sk-inet.c): neither goes away by itself when
 * criu dies. Should criu be killed before the tree is (a SIGKILL at any
 * instant, a timeout of its caller's), the tree runs on at once, and its
 * connections would stall for ever: the lock drops every packet, and
 * repair mode makes its recv() fail with EPERM and its send() with EINVAL.
 *
 * So a dump that locks or reads a connection forks a process of its own
 * first, in its own session (a kill of criu's process group, a ^C, miss
 * it), with every signal but SIGKILL blocked. It is told each lock before
 * it is made, each socket (a copy, with what repair mode changes) before
 * it goes into repair mode, and each nft/iptables run before it gets its
 * batch. When criu dies (its pidfd polls readable, or our channel closes)
 * without having said it is done, the keeper waits for those runs to end
 * (they die with criu, PR_SET_PDEATHSIG; one that was sending its batch
 * finishes it), takes each socket out of repair mode, then removes each
 * lock, as a failed dump does (inet_dump_fini()).
 *
 * criu says it is done (net_keeper_end()) once it has undone all that
 * itself (a failed dump, dump -R, --leave-stopped), or once it has sent
 * SIGKILL to every process of the tree. Just before the first kill it
 * names its first victim (net_keeper_commit()) and every process it will
 * kill (net_keeper_victim()), then marks the kills begun in the guard's
 * page (net_keeper_killed()): if criu dies after that, the keeper kills
 * the rest of the tree and keeps the lock for the restore (the images are
 * whole); before it, it undoes it all and the tree runs on.
 *
 * The keeper races the tree, which runs as soon as criu is gone (its
 * tracing thread's exit lets it go). Woken by the close of its channel
 * it lost that race (CI: a recv() of the tree's failed with EPERM, 10 of
 * 205 kills at each getsockopt of a dump), so criu's tracing thread holds
 * a robust mutex in a page shared with the keeper (keeper_guard()): the
 * kernel hands it to a thread of the keeper's at the start of that exit,
 * before criu's memory and files go and well before the tree runs, and
 * that thread takes the connections out of repair mode at once (0 of 615
 * since). Still not covered: a SIGKILL of the keeper itself (criu fails
 * the dump at its next word to it, as for any other failure).
 */
enum { KEEP_READY = 1, KEEP_WATCH, KEEP_NETNS, KEEP_LOCK, KEEP_SOCKET, KEEP_HELPER, KEEP_COMMIT, KEEP_END,
       KEEP_OPTS, KEEP_OPTS_DONE, KEEP_RESTORE, KEEP_UNDO, KEEP_GUARD, KEEP_VICTIM };

/* A page shared by criu and its keeper (keeper_guard()) */
struct keep_guard {
	pthread_mutex_t mu;
	int killed;		/* the kills have begun (net_keeper_killed()): the tree dies whole */
};

struct keep_msg {
	int type;
	int method;		/* KEEP_LOCK */
	int transient;		/* KEEP_LOCK: for the dump only (the listeners' hold), never kept for a restore */
	int reuseaddr;		/* KEEP_SOCKET: what to put back after repair mode */
	int peek_off;
	char name[64];		/* KEEP_LOCK */
	int handle;		/* KEEP_OPTS, KEEP_OPTS_DONE */
	int nr_opts;		/* KEEP_OPTS: options to put back */
	struct net_keep_opt opts[NET_KEEP_MAX_OPTS];
};

static struct {
	int ch;			/* criu's end of the channel, -1 if there is no keeper */
	pid_t pid;		/* our child's; 0 if criu outside the pid namespace made it */
	int in_keeper;		/* we are it: our nft runs are ours */
	struct keep_guard *guard;	/* its mutex held by our thread while the keeper is on (keeper_guard()) */
} keeper = { .ch = -1 };

static int keep_send(const struct keep_msg *m, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(keeper.ch, &mh, MSG_NOSIGNAL) != sizeof(*m)) {
		pr_perror("can't tell the network lock's keeper (%d)", keeper.pid);
		return -1;
	}
	return 0;
}

struct keep_state {
	struct keep_msg locks[8];
	int nr_locks;
	struct keep_sock {
		int fd, reuseaddr, peek_off;
	} *socks;
	int nr_socks;
	int *helpers;		/* pidfds */
	int nr_helpers;
	struct keep_opts {
		int fd, handle, nr;
		struct net_keep_opt o[NET_KEEP_MAX_OPTS];
	} *optsks;		/* sockets whose options criu has changed for the moment */
	int nr_optsks;
	int committed;
	int undo;		/* KEEP_UNDO: criu lives, but could not undo it all itself */
	int restore;		/* KEEP_RESTORE: a restore's, which locks again (keep_relock()) */
	int victim;		/* KEEP_COMMIT: the pidfd of the first process criu kills, or -1 */
	int *victims;		/* KEEP_VICTIM: pidfds of every process criu kills (keep_kill_tree()) */
	int nr_victims;
	struct keep_guard *guard;	/* KEEP_GUARD, or NULL */
	int victim_outside;	/* KEEP_COMMIT: killed by criu outside the pid namespace, after us */
	int ended;
	int criu;		/* criu's pidfd, to watch */
	int netns;		/* KEEP_NETNS: where the locks are (-1: ours) */
	int socks_off;		/* socks[] and optsks[] put back already (the guard's watcher) */
	int decided;		/* made by criu outside a pid namespace: readable once it has sent its kill or won't */
	int ch;
};

/* Taken by the keeper's main loop and its guard's watcher for any use of the state */
static pthread_mutex_t keep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct keep_state *keep_st;
static void *keep_watch_guard(void *arg);
static void keeper_prio(void);

/* One message from criu into @st: 1, 0 at the end of the channel (or none now, @nonblock), -1 on an error. */
static int keep_recv(int ch, struct keep_state *st, int nonblock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct keep_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	n = recvmsg(ch, &mh, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	if (n < 0)
		return nonblock && errno == EAGAIN ? 0 : -1;
	if (n == 0)
		return 0;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (n != sizeof(m))
		goto bad;
	switch (m.type) {
	case KEEP_LOCK:
		if (st->nr_locks == (int)ARRAY_SIZE(st->locks))
			goto bad;
		m.name[sizeof(m.name) - 1] = '\0';
		st->locks[st->nr_locks++] = m;
		break;
	case KEEP_SOCKET: {
		struct keep_sock *ns = realloc(st->socks, (st->nr_socks + 1) * sizeof(*ns));

		if (fd < 0 || !ns)
			goto bad;
		st->socks = ns;
		ns[st->nr_socks++] = (struct keep_sock){ .fd = fd, .reuseaddr = m.reuseaddr, .peek_off = m.peek_off };
		break;
	}
	case KEEP_OPTS: {
		struct keep_opts *no = realloc(st->optsks, (st->nr_optsks + 1) * sizeof(*no));

		if (fd < 0 || !no || m.nr_opts < 0 || m.nr_opts > NET_KEEP_MAX_OPTS)
			goto bad;
		st->optsks = no;
		no[st->nr_optsks] = (struct keep_opts){ .fd = fd, .handle = m.handle, .nr = m.nr_opts };
		memcpy(no[st->nr_optsks++].o, m.opts, sizeof(m.opts));
		break;
	}
	case KEEP_OPTS_DONE:
		for (int i = 0; i < st->nr_optsks; i++)
			if (st->optsks[i].handle == m.handle) {
				close(st->optsks[i].fd);
				st->optsks[i] = st->optsks[--st->nr_optsks];
				break;
			}
		break;
	case KEEP_HELPER: {
		int *nh = realloc(st->helpers, (st->nr_helpers + 1) * sizeof(*nh));

		if (fd < 0 || !nh)
			goto bad;
		st->helpers = nh;
		nh[st->nr_helpers++] = fd;
		break;
	}
	case KEEP_VICTIM: {
		int *nv = realloc(st->victims, (st->nr_victims + 1) * sizeof(*nv));

		if (fd < 0 || !nv)
			goto bad;
		st->victims = nv;
		nv[st->nr_victims++] = fd;
		break;
	}
	case KEEP_WATCH:
	case KEEP_NETNS:
		if (fd < 0)
			goto bad;
		if (m.type == KEEP_WATCH)
			st->criu = fd;
		else
			st->netns = fd;
		break;
	case KEEP_RESTORE:
		st->restore = 1;
		break;
	case KEEP_COMMIT:
		st->committed = 1;
		st->victim = fd;
		st->victim_outside = m.method;
		break;
	case KEEP_END:
		st->ended = 1;
		break;
	case KEEP_UNDO:
		st->undo = 1;
		break;
	case KEEP_GUARD: {
		struct keep_guard *g = fd < 0 ? MAP_FAILED :
			mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		pthread_t th;

		if (fd >= 0)
			close(fd);
		fd = -1;
		if (g != MAP_FAILED)
			st->guard = g;
		if (g == MAP_FAILED || pthread_create(&th, NULL, keep_watch_guard, g))
			pr_warn("network lock keeper: no watcher of criu's guard: it wakes on criu's exit only\n");
		break;
	}
	default:
		goto bad;
	}
	return 1;
bad:
	pr_err("network lock keeper: a bad message (type %d, %zd bytes)\n", m.type, n);
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Has the process of @pidfd a SIGKILL pending, or is it exiting or gone?
 * criu's last act, if any, was that kill: its tracing thread is exiting.
 */
int pidfd_dying(int pidfd)
{
	char path[64], line[256];
	int pid = 0, dying = 0;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	FILE *f;

	if (pidfd < 0 || poll(&p, 1, 0) == 1)
		return 1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	if (f)
		fclose(f);
	if (pid <= 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;

		/* SIGKILL goes to each thread's own set; dequeued, the task is exiting (State X/Z soon) */
		if ((sscanf(line, "SigPnd: %llx", &mask) == 1 || sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
		    (mask & (1ULL << (SIGKILL - 1))))
			dying = 1;
	}
	fclose(f);
	if (!dying) {
		unsigned long flags = 0;

		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			return 1;
		if (fgets(line, sizeof(line), f)) {
			char *e = strrchr(line, ')');

			/* field 9, flags: PF_EXITING */
			if (e && sscanf(e + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x4))
				dying = 1;
		}
		fclose(f);
	}
	return dying;
}

/* Had criu begun to kill the tree (net_keeper_killed())? */
static int keep_killing(struct keep_state *st)
{
	return st->guard && __atomic_load_n(&st->guard->killed, __ATOMIC_ACQUIRE);
}

/*
 * criu died among its kills: the images are whole and the first processes
 * dying, so the others die too, before they run on with their connections
 * in repair mode (its own exit kills them too, PTRACE_O_EXITKILL, but
 * only those it had marked, and later in its exit than our wake-up).
 */
static void keep_kill_tree(struct keep_state *st)
{
	int n = 0;

	for (int i = 0; i < st->nr_victims; i++)
		if (!syscall(SYS_pidfd_send_signal, st->victims[i], SIGKILL, NULL, 0))
			n++;
		else if (errno != ESRCH)
			pr_perror("network lock keeper: can't kill process #%d of the tree", i);
	if (n)
		pr_info("network lock keeper: criu died among its kills; %d more processes of the tree killed\n", n);
}

/* The tree's connections out of repair mode, its sockets' options back: the part that can't wait. */
static void keep_socks_back(struct keep_state *st)
{
	for (int i = st->socks_off; i < st->nr_socks; i++) {
		struct keep_sock *k = &st->socks[i];
		char who[64];

		snprintf(who, sizeof(who), "a connection of the tree (#%d)", i);
		/* the task's own calls fail while it is in repair mode */
		if (tcp_repair_off(k->fd, k->reuseaddr, 0, who) ||
		    setsockopt(k->fd, SOL_SOCKET, SO_PEEK_OFF, &k->peek_off, sizeof(k->peek_off)))
			pr_err("network lock keeper: %s may be left in repair mode\n", who);
	}
	st->socks_off = st->nr_socks;
	for (int i = 0; i < st->nr_optsks; i++) {
		struct keep_opts *k = &st->optsks[i];

		/* the values as they were: the task's peeks start at its own offset again, ... */
		for (int j = 0; j < k->nr; j++)
			if (setsockopt(k->fd, k->o[j].level, k->o[j].name, &k->o[j].val, sizeof(int)) &&
			    setsockopt(k->fd, k->o[j].level, k->o[j].name, &k->o[j].val, sizeof(int)))
				pr_err("network lock keeper: can't put option %d:%d of a socket of the tree's back: %s\n",
				       k->o[j].level, k->o[j].name, strerror(errno));
	}
	if (st->nr_optsks)
		pr_info("network lock keeper: criu died; the options of %d sockets put back\n", st->nr_optsks);
	/* put back once: the watcher's closed, the main loop's may find others */
	for (int i = 0; i < st->nr_optsks; i++)
		close(st->optsks[i].fd);
	st->nr_optsks = 0;
}

/*
 * criu's guard (keeper_guard()): a robust mutex criu's tracing thread
 * holds, which the kernel hands over to our watcher as soon as that thread
 * dies, in the first steps of its exit: well before its files are closed
 * (our channel) and its tracees let go, a moment later. The watcher takes
 * the connections out of repair mode (and the options back) then; the
 * main loop, woken by the channel, does the rest. Nothing if criu ended
 * well (it said so before it let the guard go), a restore's keeper, or a
 * dump that had begun to kill the tree (keep_tree_dies() decides then).
 */
static void *keep_watch_guard(void *arg)
{
	struct keep_guard *g = arg;
	struct keep_state *st = keep_st;

	keeper_prio();
	if (pthread_mutex_lock(&g->mu) != EOWNERDEAD)
		return NULL;
	pthread_mutex_lock(&keep_mu);
	while (!st->ended && keep_recv(st->ch, st, 1) > 0)
		;
	if (st->ended || st->restore || st->undo)
		goto out;
	if (st->committed) {
		/* the kills had begun: the connections die in repair mode, for the restore */
		if (keep_killing(st)) {
			keep_kill_tree(st);
			goto out;
		}
		if (st->victim_outside || pidfd_dying(st->victim))
			goto out;
		/* criu died between its commit and its first kill: the tree runs on */
		st->committed = 0;
		keep_socks_back(st);
		pr_warn("network lock keeper: criu died before it killed the tree; its connections are out of repair mode\n");
		goto out;
	}
	keep_socks_back(st);
out:
	pthread_mutex_unlock(&keep_mu);
	return NULL;
}

/* criu is gone without a word: undo what it did, as a failed dump does (inet_dump_fini()). */
static void keep_undo(struct keep_state *st)
{
	/* first: the tree runs from criu's death on, and a call on a connection in repair mode fails */
	keep_socks_back(st);
	/* its nft/iptables runs die with it; one that sent its batch has made its table */
	for (int i = 0; i < st->nr_helpers; i++) {
		struct pollfd p = { .fd = st->helpers[i], .events = POLLIN };

		if (poll(&p, 1, 10000) != 1)
			pr_warn("network lock keeper: an nft/iptables run of criu's is not over in 10 s\n");
	}
	for (int i = 0; i < st->nr_locks; i++)
		/* quiet: criu may have died before it was made, or after it removed it */
		if (!do_unlock(st->locks[i].method, st->locks[i].name, st->netns, 1))
			pr_info("network lock keeper: criu died; the lock %s is removed\n", st->locks[i].name);
	pr_info("network lock keeper: criu died; %d connections out of repair mode, the locks gone\n",
		st->nr_socks);
}

static int relock(int nsfd);

/*
 * A restore's keeper (net_restore_finish()): criu died, or failed, after
 * the unlock and before its commit, and the tree dies with it. Its
 * connections live on in our copies: back into repair mode, so that
 * their close sends nothing, then the lock again, as a killed restore
 * leaves it before its unlock, for the next restore of the images.
 */
static void keep_relock(struct keep_state *st)
{
	int on = 1;

	for (int i = 0; i < st->nr_helpers; i++) {
		struct pollfd p = { .fd = st->helpers[i], .events = POLLIN };

		if (poll(&p, 1, 10000) != 1)
			pr_warn("network lock keeper: an nft/iptables run of criu's is not over in 10 s\n");
	}
	for (int i = 0; i < st->nr_socks; i++)
		if (setsockopt(st->socks[i].fd, SOL_TCP, TCP_REPAIR, &on, sizeof(on)))
			pr_perror("network lock keeper: can't put connection #%d back into repair mode", i);
	if (relock(st->netns))
		pr_err("network lock keeper: the lock of the images is gone; remove nothing, restore again soon\n");
	for (int i = 0; i < st->nr_socks; i++)
		close(st->socks[i].fd);
	pr_info("network lock keeper: the restore ended before its commit; %d connections closed in repair mode, "
		"the lock kept\n", st->nr_socks);
}

/*
 * criu died as it began to kill the tree (KEEP_COMMIT, then the kills):
 * if they had begun (its guard says so, or its first victim is dying),
 * the images are whole and the lock stays for the restore, as if criu
 * had lived. A victim that lives on means criu died before the kills,
 * and the tree runs on: decided at once, since the tree runs meanwhile
 * (and the guard's watcher waits for us). Only an init criu outside
 * kills is waited for.
 */
static int keep_tree_dies(struct keep_state *st)
{
	struct pollfd p[2] = { { .fd = st->victim, .events = POLLIN },
			       { .fd = st->victim_outside ? st->decided : -1, .events = POLLIN } };

	if (keep_killing(st)) {
		keep_kill_tree(st);
		pr_info("network lock keeper: criu died while it killed the tree; the lock stays\n");
		return 1;
	}
	if (st->victim < 0)
		return 1;
	if (!st->victim_outside) {
		struct pollfd c = { .fd = st->criu, .events = POLLIN };

		/* woken by the channel's close: what criu's exit sends (PTRACE_O_EXITKILL) is sent once it is over */
		if (c.fd >= 0)
			poll(&c, 1, 1000);
		if (pidfd_dying(st->victim)) {
			pr_info("network lock keeper: criu died while it killed the tree; the lock stays\n");
			return 1;
		}
		pr_warn("network lock keeper: criu died before it killed the tree; the lock goes\n");
		return 0;
	}
	/* an init criu outside kills: it says when it has sent the kill or won't (it had no report) */
	if (poll(p, 2, 10000) > 0 && (p[0].revents || pidfd_dying(st->victim))) {
		pr_info("network lock keeper: the tree's init was killed by criu outside its pid namespace; the lock "
			"stays\n");
		return 1;
	}
	pr_warn("network lock keeper: criu outside the pid namespace did not kill the tree's init; the lock goes\n");
	return 0;
}

/*
 * Woken when criu's end of the channel closes, a moment before the tree is
 * let go (its ptrace ends later in criu's exit): ahead of the tree's tasks,
 * it takes the connections out of repair mode before they look. The nft
 * and iptables runs it forks run at the usual priority.
 */
static void keeper_prio(void)
{
	struct sched_param sp = { .sched_priority = sched_get_priority_max(SCHED_FIFO) };

	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		pr_debug("network lock keeper: no real-time priority (%s): it may wake after the tree\n",
			 strerror(errno));
}

static void keeper_main(int ch, int pidfd, int decided)
{
	struct keep_state st = { .victim = -1, .criu = pidfd, .netns = -1, .ch = ch, .decided = decided };
	struct keep_msg ready = { .type = KEEP_READY };
	int keep[4] = { ch, pidfd, log_get_fd(), decided }, from = 3;
	sigset_t all;

	keeper.in_keeper = 1;
	keeper.ch = -1;
	/* its own calls are no steps of the dump's (fault injection kills or fails them) */
	fault_off();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	setsid();
	name_undoer("netlock-keeper");
	keeper_prio();
	/* nothing of the tree's (criu's copies of its files) may live on in us: criu's channel and pidfd, the log */
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];

				keep[i] = keep[j];
				keep[j] = t;
			}
	for (int i = 0; i < 4; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
	keep_st = &st;
	if (write(ch, &ready, sizeof(ready)) != sizeof(ready))
		_exit(1);
	for (;;) {
		struct pollfd p[2] = { { .fd = ch, .events = POLLIN }, { .fd = st.criu, .events = POLLIN } };
		int r;

		if (poll(p, 2, -1) < 0)
			continue;
		/*
		 * Held from here on but for the next round: the guard's watcher
		 * reads the channel too, only once criu is dead (an empty read
		 * here means that then, as the end of the channel does)
		 */
		pthread_mutex_lock(&keep_mu);
		if (p[0].revents) {
			r = keep_recv(ch, &st, 1);
			if (st.ended)
				_exit(0);
			if (st.undo) {
				/* as if criu had died; it waits for our word, the tree still frozen */
				keep_undo(&st);
				if (write(ch, &ready, sizeof(ready)) != sizeof(ready))
					_exit(1);
				_exit(0);
			}
			if (r > 0) {
				pthread_mutex_unlock(&keep_mu);
				continue;
			}
		} else if (!p[1].revents) {
			pthread_mutex_unlock(&keep_mu);
			continue;
		}
		/* criu is gone, or its channel: what it told us before is all there is */
		while (keep_recv(ch, &st, 1) > 0 && !st.ended)
			;
		if (st.ended)
			_exit(0);
		if (st.committed && keep_tree_dies(&st)) {
			/* the connections' lock stays for the restore; the listeners' hold was the dump's only */
			for (int i = 0; i < st.nr_locks; i++)
				if (st.locks[i].transient && !do_unlock(st.locks[i].method, st.locks[i].name, st.netns, 1))
					pr_info("network lock keeper: criu died; the hold %s is removed\n",
						st.locks[i].name);
			_exit(0);
		}
		/* a restore's commit made (one store, reaper.c) but its end message not sent: the tree runs */
		if (st.restore && reaper_committed()) {
			pr_info("network lock keeper: criu died right after the restore's commit; the tree runs unlocked\n");
			_exit(0);
		}
		if (st.restore)
			keep_relock(&st);
		else
			keep_undo(&st);
		_exit(0);
	}
}

/* A new keeper: its channel (its pid in @pid), or -1 with a message. @self: criu's pidfd, or -1. */
static int keeper_fork(int self, int decided, pid_t *pid)
{
	int sk[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't make a channel for the network lock's keeper");
		return -1;
	}
	*pid = fork();
	if (*pid < 0) {
		pr_perror("can't fork the network lock's keeper");
		close_fds(sk, 2);
		return -1;
	}
	if (*pid == 0) {
		close(sk[0]);
		keeper_main(sk[1], self, decided);
		_exit(1);
	}
	close(sk[1]);
	return sk[0];
}

static pid_t outside_keepers[4];

static int outside_decided[4] = { -1, -1, -1, -1 };

/* criu outside has sent the init its kill, or won't: its keepers stop waiting for that */
void net_keeper_outside_decided(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(outside_decided); i++)
		if (outside_decided[i] >= 0) {
			close(outside_decided[i]);
			outside_decided[i] = -1;
		}
}

int net_keeper_fork_outside(void)
{
	pid_t pid;
	int p[2], ch;

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("can't make a pipe for the network lock's keeper");
		return -1;
	}
	ch = keeper_fork(-1, p[0], &pid);
	close(p[0]);
	for (size_t i = 0; ch >= 0 && i < ARRAY_SIZE(outside_keepers); i++)
		if (!outside_keepers[i]) {
			outside_keepers[i] = pid;
			outside_decided[i] = p[1];
			return ch;
		}
	close(p[1]);
	if (ch >= 0) {
		/* it ends at the channel's close, with nothing told */
		close(ch);
		waitpid(pid, NULL, 0);
		pr_err("too many network lock keepers\n");
	}
	return -1;
}

void net_keeper_reap_outside(void)
{
	net_keeper_outside_decided();
	for (size_t i = 0; i < ARRAY_SIZE(outside_keepers); i++)
		if (outside_keepers[i]) {
			while (waitpid(outside_keepers[i], NULL, 0) < 0 && errno == EINTR)
				;
			outside_keepers[i] = 0;
		}
}

/*
 * The keeper, if there is none yet: 0, or -1 (with a message) and the
 * dump can't lock.
 *
 * A dump from inside the tree's pid namespace (its agent, ns/pid.c) has
 * criu outside make it (ns_dump_keeper_fork()): a child of the agent's
 * would be the namespace's (and its init's, the tree's, once the agent
 * died; the namespace's end would wait for its reaping too). We tell it
 * whom to watch and where the locks are then.
 */
/*
 * The keeper's guard: a robust, shared mutex this thread (the one that
 * traces the tree) holds until criu has told the keeper it is done. The
 * kernel gives it to the keeper's watcher (keep_watch_guard()) early in this
 * thread's exit, before the tree is let go. Without it (no memfd, ...) the
 * keeper wakes at the close of its channel, later, and may lose the race.
 */
static void keeper_guard(void)
{
	struct keep_msg m = { .type = KEEP_GUARD };
	pthread_mutexattr_t a;
	struct keep_guard *g;
	int fd;

	fd = syscall(SYS_memfd_create, "criu-netlock-guard", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, sizeof(*g))) {
		pr_warn("no guard for the network lock's keeper: %s\n", strerror(errno));
		goto out;
	}
	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (g == MAP_FAILED) {
		pr_warn("no guard for the network lock's keeper: mmap: %s\n", strerror(errno));
		goto out;
	}
	if (pthread_mutexattr_init(&a) || pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) || pthread_mutex_init(&g->mu, &a) ||
	    pthread_mutex_lock(&g->mu)) {
		pr_warn("no guard for the network lock's keeper: can't make a robust mutex\n");
		munmap(g, sizeof(*g));
		goto out;
	}
	pthread_mutexattr_destroy(&a);
	if (keep_send(&m, fd)) {
		pthread_mutex_unlock(&g->mu);
		munmap(g, sizeof(*g));
		goto out;
	}
	keeper.guard = g;
out:
	if (fd >= 0)
		close(fd);
}

static int keeper_start(void)
{
	struct keep_msg m;
	int self, ret = 0;

	if (keeper.ch >= 0)
		return 0;
	if (keeper.in_keeper)
		return -1;
	/* the keeper's view of us: we may be gone before it looks */
	self = syscall(SYS_pidfd_open, getpid(), 0);
	if (self < 0) {
		pr_perror("pidfd_open(self)");
		return -1;
	}
	if (ns_dump_in_agent()) {
		keeper.pid = 0;
		keeper.ch = ns_dump_keeper_fork();
	} else {
		keeper.ch = keeper_fork(self, -1, &keeper.pid);
	}
	if (keeper.ch < 0) {
		close(self);
		return -1;
	}
	if (read(keeper.ch, &m, sizeof(m)) != sizeof(m) || m.type != KEEP_READY) {
		pr_err("the network lock's keeper did not start\n");
		ret = -1;
	} else if (!keeper.pid) {
		struct keep_msg w = { .type = KEEP_WATCH }, n = { .type = KEEP_NETNS };
		int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

		ret = ns < 0 || keep_send(&w, self) || keep_send(&n, ns) ? -1 : 0;
		if (ns < 0)
			pr_perror("can't open our network namespace");
		else
			close(ns);
	}
	close(self);
	if (!ret)
		keeper_guard();
	if (ret) {
		net_keeper_end();
		return -1;
	}
	pr_debug("network lock keeper %d started\n", keeper.pid);
	return 0;
}

static int keeper_helper(pid_t pid)
{
	struct keep_msg m = { .type = KEEP_HELPER };
	int pidfd, ret;

	if (keeper.ch < 0)
		return 0;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		pr_perror("pidfd_open(%d)", pid);
		return -1;
	}
	ret = keep_send(&m, pidfd);
	close(pidfd);
	return ret;
}

static int keeper_lock_as(int method, const char *name, int transient)
{
	struct keep_msg m = { .type = KEEP_LOCK, .method = method, .transient = transient };

	if (keeper_start())
		return -1;
	snprintf(m.name, sizeof(m.name), "%s", name);
	return keep_send(&m, -1);
}

static int keeper_lock(int method, const char *name)
{
	return keeper_lock_as(method, name, 0);
}

int net_keeper_socket(int sk, int reuseaddr, const char *who)
{
	struct keep_msg m = { .type = KEEP_SOCKET, .reuseaddr = reuseaddr };
	socklen_t len = sizeof(m.peek_off);

	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &m.peek_off, &len)) {
		pr_perror("can't read SO_PEEK_OFF of %s", who);
		return -1;
	}
	if (keeper_start())
		return -1;
	return keep_send(&m, sk);
}

int net_keeper_sockopts(int sk, const struct net_keep_opt *o, int n, const char *who)
{
	static int last_handle;
	struct keep_msg m = { .type = KEEP_OPTS, .nr_opts = n };

	if (n < 0 || n > NET_KEEP_MAX_OPTS) {
		pr_err("%s: %d socket options for the keeper, %d at most\n", who, n, NET_KEEP_MAX_OPTS);
		return -1;
	}
	if (keeper_start()) {
		pr_err("%s: no keeper to put its options back should criu die: not read\n", who);
		return -1;
	}
	m.handle = ++last_handle;
	memcpy(m.opts, o, n * sizeof(*o));
	return keep_send(&m, sk) ? -1 : m.handle;
}

void net_keeper_sockopts_done(int handle)
{
	struct keep_msg m = { .type = KEEP_OPTS_DONE, .handle = handle };

	/* one not told keeps a copy of the socket until the end, and puts values back only if criu dies */
	if (handle > 0 && keeper.ch >= 0)
		keep_send(&m, -1);
}

/*
 * The kills begin (the keeper knows each victim, net_keeper_victim()): a
 * keeper woken by our death from here on leaves the repair mode alone and
 * kills the rest of the tree.
 */
void net_keeper_killed(void)
{
	if (keeper.guard)
		__atomic_store_n(&keeper.guard->killed, 1, __ATOMIC_RELEASE);
}

/*
 * A tree of more than one process and no connections has no keeper, and
 * its kills need one all the same: PTRACE_O_EXITKILL is set on one
 * process at a time (exit_kill_tree()), and a criu killed among those
 * calls would take with it only those it had marked, the others running
 * on beside images that hold them dead. The keeper, told every victim
 * and that the kills began, kills them all then.
 */
void net_keeper_for_kills(void)
{
	if (keeper.ch < 0 && keeper_start())
		pr_warn("no keeper for the tree's kills: should we die among them, a part of the tree may run on\n");
}

/* Before the kills: a process criu will kill, which the keeper kills if criu dies among them. */
void net_keeper_victim(pid_t pid)
{
	struct keep_msg m = { .type = KEEP_VICTIM };
	int pidfd;

	if (keeper.ch < 0)
		return;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		pr_perror("pidfd_open(%d)", pid);
		return;
	}
	keep_send(&m, pidfd);
	close(pidfd);
}

void net_keeper_commit(pid_t victim, int outside)
{
	struct keep_msg m = { .type = KEEP_COMMIT, .method = outside };
	int pidfd = -1;

	if (keeper.ch < 0)
		return;
	if (victim > 0) {
		pidfd = syscall(SYS_pidfd_open, victim, 0);
		if (pidfd < 0)
			pr_perror("pidfd_open(%d)", victim);
	}
	/* a keeper that can't be told undoes nothing that way: the lock stays, as for the dump it is */
	keep_send(&m, pidfd);
	if (pidfd >= 0)
		close(pidfd);
}

/* After our last word to the keeper: its watcher, given the guard unlocked, does nothing. */
static void keeper_guard_drop(void)
{
	if (!keeper.guard)
		return;
	pthread_mutex_unlock(&keeper.guard->mu);
	munmap(keeper.guard, sizeof(*keeper.guard));
	keeper.guard = NULL;
}

void net_keeper_end(void)
{
	struct keep_msg m = { .type = KEEP_END };
	int status;

	if (keeper.ch < 0)
		return;
	keep_send(&m, -1);
	keeper_guard_drop();
	close(keeper.ch);
	keeper.ch = -1;
	/* one criu outside made is its to reap */
	while (keeper.pid && waitpid(keeper.pid, &status, 0) < 0 && errno == EINTR)
		;
	pr_debug("network lock keeper %d ended\n", keeper.pid);
}

int net_keeper_on(void)
{
	return keeper.ch >= 0;
}

/*
 * criu could not take every connection out of repair mode or remove every
 * lock itself (a failed nft run, say): the keeper does it all, as for a
 * criu that died, with its own runs, and says when it is done (the tree
 * must not run before). 0 once it did (its own failures are in the log).
 */
int net_keeper_undo(void)
{
	struct keep_msg m = { .type = KEEP_UNDO };
	ssize_t n = -1;
	int status;

	if (keeper.ch < 0)
		return -1;
	if (!keep_send(&m, -1))
		do
			n = read(keeper.ch, &m, sizeof(m));
		while (n < 0 && errno == EINTR);
	keeper_guard_drop();
	close(keeper.ch);
	keeper.ch = -1;
	while (keeper.pid && waitpid(keeper.pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(m) || m.type != KEEP_READY) {
		pr_err("the network lock's keeper %d did not say it undid the lock\n", keeper.pid);
		return -1;
	}
	pr_info("network lock keeper %d undid what criu could not\n", keeper.pid);
	return 0;
}

int net_lock(struct netns_state *ns, const struct net_lock_conn *c, size_t n)
{
	uint64_t t0 = now_us();

	if (!n || opts.network_lock == NET_LOCK_SKIP || (ns->locked && ns->whole))
		return 0;
	if (ns->locked) {
		pr_err("the network of namespace %lu is locked already\n", (unsigned long)ns->ino);
		return -1;
	}
	snprintf(ns->lock_name, sizeof(ns->lock_name), "CRIU-%d-%lx", opts.pid, (unsigned long)time(NULL));
	ns->lock_method = opts.network_lock;
	ns->conns = malloc(n * sizeof(*c));
	if (!ns->conns)
		return -1;
	memcpy(ns->conns, c, n * sizeof(*c));
	ns->nr_conns = n;
	if (keeper_lock(ns->lock_method, ns->lock_name))
		return -1;
	if (do_lock(ns->lock_method, ns->lock_name, c, n, 0, -1)) {
		pr_err("can't lock the network (%s) for %zu TCP connections\n", method_name(ns->lock_method), n);
		return -1;
	}
	ns->locked = 1;
	pr_info("network locked with %s (%s) for %zu TCP connections in %lu us\n", method_name(ns->lock_method),
		ns->lock_name, n, (unsigned long)(now_us() - t0));
	return 0;
}

int net_lock_netns(struct netns_state *ns)
{
	uint64_t t0 = now_us();

	if (!ns)
		return -1;
	if (opts.network_lock == NET_LOCK_SKIP)
		return 0;
	snprintf(ns->lock_name, sizeof(ns->lock_name), "CRIU-%d-%lx", opts.pid, (unsigned long)time(NULL));
	ns->lock_method = opts.network_lock;
	if (keeper_lock(ns->lock_method, ns->lock_name))
		return -1;
	if (do_lock(ns->lock_method, ns->lock_name, NULL, 0, 1, -1)) {
		pr_err("can't lock the network namespace (%s)\n", method_name(ns->lock_method));
		return -1;
	}
	ns->locked = ns->whole = 1;
	pr_info("network namespace locked whole with %s (%s) in %lu us\n", method_name(ns->lock_method),
		ns->lock_name, (unsigned long)(now_us() - t0));
	return 0;
}

int net_unlock(struct netns_state *ns)
{
	if (!ns->locked)
		return 0;
	ns->locked = 0;
	if (do_unlock(ns->lock_method, ns->lock_name, -1, 0)) {
		pr_err("can't remove the network lock %s (%s)\n", ns->lock_name,
		       method_name(ns->lock_method));
		return -1;
	}
	pr_info("network unlocked (%s)\n", ns->lock_name);
	return 0;
}

int net_unlock_all(void)
{
	int ret = net_release_listeners();

	for (size_t i = 0; i < nr_states; i++)
		if (net_unlock(&states[i]))
			ret = -1;
	return ret;
}

/*
 * The hold on the tree's listeners (net_hold_listeners()): a table of its
 * own, apart from the connections' lock, which may outlive the dump.
 */
static struct {
	int on;
	char name[64];
} hold;

int net_hold_listeners(const struct net_lock_conn *l, size_t n)
{
	char *nft[] = { "nft", "-f", "-", NULL };
	static const uint8_t any[16];
	struct sbuf b = { 0 };
	char a[64];
	int ret;

	if (!n || hold.on || opts.network_lock != NET_LOCK_NFTABLES)
		return 0;
	/* named as the lock is (CRIU-PID-TIME, tools look for it), and apart from it */
	snprintf(hold.name, sizeof(hold.name), "CRIU-%d-%lx-hold", opts.pid, (unsigned long)time(NULL));
	sb_add(&b, "add table inet %s\n", hold.name);
	sb_add(&b, "add chain inet %s input { type filter hook input priority 0; policy accept; }\n", hold.name);
	for (size_t i = 0; i < n; i++) {
		/* a connection's first segment only: the rest of the port's traffic goes on */
		const char *syn = "tcp flags & (syn | ack) == syn drop";

		if (!memcmp(l[i].src, any, sizeof(any))) {
			/* a wildcard IPv6 listener takes IPv4 connections too */
			sb_add(&b, "add rule inet %s input %stcp dport %u %s\n", hold.name,
			       l[i].family == AF_INET ? "meta nfproto ipv4 " : "", l[i].sport, syn);
			continue;
		}
		addr_str(&l[i], l[i].src, a, sizeof(a));
		sb_add(&b, "add rule inet %s input %s daddr %s tcp dport %u %s\n", hold.name,
		       conn_v6(&l[i]) ? "ip6" : "ip", a, l[i].sport, syn);
	}
	if (b.failed) {
		free(b.s);
		pr_err("out of memory\n");
		return -1;
	}
	if (keeper_lock_as(NET_LOCK_NFTABLES, hold.name, 1)) {
		free(b.s);
		return -1;
	}
	ret = run_batch(nft, b.s, 0, -1);
	free(b.s);
	if (ret)
		return -1;
	hold.on = 1;
	pr_info("new connections to %zu listeners of the tree wait (%s)\n", n, hold.name);
	return 0;
}

int net_release_listeners(void)
{
	if (!hold.on)
		return 0;
	hold.on = 0;
	if (do_unlock(NET_LOCK_NFTABLES, hold.name, -1, 0)) {
		pr_err("can't remove the hold on the tree's listeners (nft delete table inet %s)\n", hold.name);
		return -1;
	}
	pr_info("new connections to the tree's listeners go again (%s removed)\n", hold.name);
	return 0;
}

int net_lock_write(int dfd)
{
	struct cr_img *img;
	int ret = 0;

	for (size_t i = 0; i < nr_states; i++) {
		struct netns_state *ns = &states[i];
		NetLockConn *cs, **pc;
		NetLockEntry e = NET_LOCK_ENTRY__INIT;

		if (!ns->locked)
			continue;
		cs = calloc(ns->nr_conns + 1, sizeof(*cs));
		pc = calloc(ns->nr_conns + 1, sizeof(*pc));
		if (!cs || !pc) {
			free(cs);
			free(pc);
			return -1;
		}
		for (size_t j = 0; j < ns->nr_conns; j++) {
			struct net_lock_conn *c = &ns->conns[j];
			size_t len = c->family == AF_INET6 ? 16 : 4;

			net_lock_conn__init(&cs[j]);
			cs[j].family = c->family;
			cs[j].src_addr.data = c->src;
			cs[j].src_addr.len = len;
			cs[j].dst_addr.data = c->dst;
			cs[j].dst_addr.len = len;
			cs[j].src_port = c->sport;
			cs[j].dst_port = c->dport;
			pc[j] = &cs[j];
		}
		e.method = (char *)method_name(ns->lock_method);
		e.name = ns->lock_name;
		e.conns = pc;
		e.n_conns = ns->nr_conns;
		e.has_whole = ns->whole;
		e.whole = ns->whole;
		img = open_image_at(dfd, CR_FD_NET_LOCK, O_DUMP);
		ret = finish_image(img, img ? pb_write_one(img, &e) : -1);
		free(cs);
		free(pc);
		if (ret)
			return -1;
	}
	return 0;
}

/* ---- restore ---- */

static struct {
	int locked, method;
	int nsfd;		/* where it is: the tree's network namespace (-1: criu's) */
	char name[64];
	struct net_lock_conn *conns;	/* what it locks, for the keeper to lock again */
	size_t nr_conns;
	int whole;
} rst_lock;

enum { LOCK_ONLY_NFT = 1, LOCK_NEW_NS = 2 };

static int restore_lock(int dfd, int nsfd, int how)
{
	struct net_lock_conn *c = NULL;
	NetLockEntry *e;
	struct cr_img *img;
	int ret = -1, method;

	if (rst_lock.locked || !image_exists(dfd, CR_FD_NET_LOCK))
		return 0;
	img = open_image_at(dfd, CR_FD_NET_LOCK, O_RDONLY);
	if (!img)
		return -1;
	if (pb_read_one_required(img, (void **)&e))
		goto out;
	method = net_lock_method(e->method);
	if (method < 0 || method == NET_LOCK_SKIP || strlen(e->name) >= sizeof(rst_lock.name) ||
	    strspn(e->name, "CRIU-0123456789abcdef") != strlen(e->name)) {
		pr_err("%s: a bad network lock (%s, %s)\n", img->path, e->method, e->name);
		goto free;
	}
	if ((how & LOCK_ONLY_NFT) && method != NET_LOCK_NFTABLES) {
		ret = 0;
		goto free;
	}
	c = calloc(e->n_conns + 1, sizeof(*c));
	if (!c)
		goto free;
	for (size_t i = 0; i < e->n_conns; i++) {
		NetLockConn *nc = e->conns[i];
		size_t len = nc->family == AF_INET6 ? 16 : 4;

		if ((nc->family != AF_INET && nc->family != AF_INET6) || nc->src_addr.len != len ||
		    nc->dst_addr.len != len || nc->src_port > 65535 || nc->dst_port > 65535) {
			pr_err("%s: a bad connection #%zu\n", img->path, i);
			goto free;
		}
		c[i].family = nc->family;
		memcpy(c[i].src, nc->src_addr.data, len);
		memcpy(c[i].dst, nc->dst_addr.data, len);
		c[i].sport = nc->src_port;
		c[i].dport = nc->dst_port;
	}
	rst_lock.method = method;
	rst_lock.nsfd = nsfd;
	strcpy(rst_lock.name, e->name);
	free(rst_lock.conns);
	rst_lock.conns = c;
	rst_lock.nr_conns = e->n_conns;
	rst_lock.whole = e->has_whole && e->whole;
	c = NULL;
	rst_lock.locked = 1;
	/*
	 * The lock is gone (another boot or host), or part of it (iptables):
	 * nothing may reach the connections before they are whole. A
	 * namespace criu just made has none (asking would run the tool once more).
	 */
	if (how & LOCK_NEW_NS)
		ret = do_lock(method, e->name, rst_lock.conns, rst_lock.nr_conns, rst_lock.whole, nsfd) ? -1 : 1;
	else
		ret = lock_missing(method, e->name, rst_lock.conns, rst_lock.nr_conns, rst_lock.whole, nsfd);
	if (ret == 0) {
		pr_info("the network lock %s is still in place\n", e->name);
	} else if (ret < 0) {
		rst_lock.locked = 0;
		pr_err("can't lock the network again for the restore\n");
	} else {
		pr_info("network locked again with %s (%s)\n", method_name(method), e->name);
		ret = 0;
	}
free:
	free(c);
	pb_free(img, e);
out:
	close_image(img);
	return ret;
}

int net_restore_lock(int dfd, int nsfd)
{
	return restore_lock(dfd, nsfd, 0);
}

int net_restore_lock_first(int dfd, int nsfd)
{
	return restore_lock(dfd, nsfd, LOCK_ONLY_NFT | LOCK_NEW_NS);
}

int net_restore_lock_new_ns(int dfd, int nsfd)
{
	return restore_lock(dfd, nsfd, LOCK_NEW_NS);
}

void net_restore_lock_forget(int nsfd)
{
	if (rst_lock.locked && rst_lock.nsfd == nsfd)
		rst_lock.locked = 0;
}

int net_restore_unlock(void)
{
	if (!rst_lock.locked)
		return 0;
	rst_lock.locked = 0;
	if (do_unlock(rst_lock.method, rst_lock.name, rst_lock.nsfd, 0)) {
		pr_err("can't remove the network lock %s; remove it by hand\n", rst_lock.name);
		return -1;
	}
	pr_info("network unlocked (%s)\n", rst_lock.name);
	return 0;
}

/* In a restore's keeper (criu's memory as it forked it): the images' lock again, unless it is there. */
static int relock(int nsfd)
{
	int r = rst_lock.name[0] ? lock_missing(rst_lock.method, rst_lock.name, rst_lock.conns, rst_lock.nr_conns,
						 rst_lock.whole, nsfd) : 0;

	if (r > 0)
		pr_info("network lock keeper: %s is in place again\n", rst_lock.name);
	return r < 0 ? -1 : 0;
}

/*
 * The keeper, for a restore about to unlock: it gets a copy of each
 * connection, so that they outlive the tree should criu die (or fail)
 * before its commit and the tree with it (EXITKILL). It puts them back
 * into repair mode and locks again (keep_relock()): a connection the
 * tree took along unlocked would have sent its peer a FIN or a reset,
 * and a peer that sent to it after would get a reset, which no restore
 * undoes. What the kernel acknowledged for it between the unlock and the
 * kill is lost: the window is kept short (finish_restore()).
 */
static int rst_keeper_start(const int *sks, int n)
{
	struct keep_msg m = { .type = KEEP_RESTORE, .method = rst_lock.method };

	if (keeper_start())
		return -1;
	snprintf(m.name, sizeof(m.name), "%s", rst_lock.name);
	if (keep_send(&m, -1))
		return -1;
	if (rst_lock.nsfd >= 0) {
		struct keep_msg ns = { .type = KEEP_NETNS };

		if (keep_send(&ns, rst_lock.nsfd))
			return -1;
	}
	for (int i = 0; i < n; i++) {
		struct keep_msg k = { .type = KEEP_SOCKET };

		if (keep_send(&k, sks[i]))
			return -1;
	}
	return 0;
}

int net_restore_finish(int dfd, struct rst_files *rf, const pid_t *pids, int nr)
{
	struct rst_conn {
		int sk;
		const FileEntry *fe;
		char who[96];
	} *conns = NULL;
	int nr_conns = 0, *sks = NULL;
	uint8_t *done = NULL;
	uint32_t max_id = 0;
	int ret = -1, any = 0;

	for (size_t i = 0; i < rf->nr; i++) {
		if (rf->fe[i]->id > max_id)
			max_id = rf->fe[i]->id;
		if ((rf->fe[i]->type == FILE_TYPE__FT_INETSK && inet_in_repair(rf->fe[i])) ||
		    rf->fe[i]->type == FILE_TYPE__FT_TUN)
			any = 1;
	}
	if (!any)
		return net_restore_unlock();
	done = calloc(max_id + 1, 1);
	if (!done)
		return -1;
	/* each connection's socket first: from the unlock to the commit, nothing but what must be */
	for (int i = 0; i < nr; i++) {
		struct cr_img *img = open_image_at(dfd, CR_FD_FDINFO, O_RDONLY, pids[i]);
		void *msg;
		int r;

		if (!img)
			goto out;
		while ((r = pb_read_one(img, &msg)) == 1) {
			FdinfoEntry *fd = msg;
			FileEntry *fe = fd->id <= max_id && !done[fd->id] ? find_file(rf, fd->id) : NULL;

			if (fe && fe->type == FILE_TYPE__FT_INETSK && inet_in_repair(fe)) {
				struct rst_conn *nc = realloc(conns, (nr_conns + 1) * sizeof(*nc));

				done[fd->id] = 1;
				r = -1;
				if (nc) {
					conns = nc;
					nc[nr_conns].fe = fe;
					nc[nr_conns].sk = task_fd(pids[i], fd->fd);
					snprintf(nc[nr_conns].who, sizeof(nc->who), "fd %d of %d (TCP socket %lu)", fd->fd,
						 pids[i], (unsigned long)fe->isk->ino);
					if (nc[nr_conns].sk >= 0) {
						nr_conns++;
						r = 0;
					}
				}
			} else if (fe && fe->type == FILE_TYPE__FT_TUN) {
				/* not the lock's: before it goes */
				done[fd->id] = 1;
				r = tun_restore_persist(pids[i], fd->fd, fe);
			}
			pb_free(img, msg);
			if (r < 0)
				break;
		}
		close_image(img);
		if (r < 0)
			goto out;
	}
	sks = calloc(nr_conns + 1, sizeof(*sks));
	if (!sks)
		goto out;
	for (int i = 0; i < nr_conns; i++)
		sks[i] = conns[i].sk;
	if (rst_lock.locked && nr_conns && rst_keeper_start(sks, nr_conns)) {
		pr_err("no keeper for the network lock should the restore die after the unlock: not unlocked\n");
		goto out;
	}
	/* the peers may talk again: the window probes of repair-off must reach them */
	if (net_restore_unlock())
		goto out;
	for (int i = 0; i < nr_conns; i++)
		if (tcp_repair_off(conns[i].sk, conns[i].fe->isk->opts && conns[i].fe->isk->opts->reuseaddr, 1,
				   conns[i].who))
			goto out;
	ret = 0;
out:
	for (int i = 0; i < nr_conns; i++)
		close(conns[i].sk);
	free(conns);
	free(sks);
	free(done);
	return ret;
}

/* The tree is committed: it runs on whatever becomes of criu, and the restore's keeper goes. */
void net_restore_commit(void)
{
	net_keeper_end();
}

/*
 * The restore failed, its tree killed: a keeper of its, if any, puts the
 * connections back into repair mode and locks again, as if criu had died.
 */
void net_restore_abort(void)
{
	int status;

	if (keeper.ch < 0)
		return;
	close(keeper.ch);
	keeper.ch = -1;
	/* a restore's keeper: its watcher does nothing either way */
	keeper_guard_drop();
	while (keeper.pid && waitpid(keeper.pid, &status, 0) < 0 && errno == EINTR)
		;
}
