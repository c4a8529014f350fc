/*
 * Per network namespace state (sock_diag tables, the lock) and the network
 * lock: a netfilter table (nftables) or chain (iptables) of our own that
 * drops every packet of the dumped TCP connections, both ways, except
 * those criu sends itself (marked NET_LOCK_MARK). Taken by the dump before
 * the connections are read, kept while the tree is away, dropped by the
 * restore once every task is back (or by the dump if it fails).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cr_options.h"
#include "fdkinds.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "net.h"
#include "net.pb-c.h"
#include "sk-inet.h"
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
}

/* ---- running nft / iptables-restore with a batch on stdin ---- */

/* In the network namespace @nsfd (-1: criu's). */
static int run_batch(char *const argv[], const char *batch, int quiet, int nsfd)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status;
	char buf[4096];
	size_t got = 0;
	ssize_t n;
	pid_t pid;

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
	if (batch && write_all(in[1], batch, strlen(batch)))
		pr_perror("can't write to %s", argv[0]);
	close(in[1]);
	while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(out[0]);
	if (waitpid(pid, &status, 0) != pid) {
		pr_perror("waiting for %s", argv[0]);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
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

static int do_unlock(int method, const char *name, int nsfd)
{
	char del[256];

	if (method == NET_LOCK_NFTABLES) {
		char *argv[] = { "nft", "-f", "-", NULL };

		snprintf(del, sizeof(del), "delete table inet %s\n", name);
		return run_batch(argv, del, 0, nsfd);
	}
	snprintf(del, sizeof(del), "*filter\n-D INPUT -j %s\n-D OUTPUT -j %s\n-F %s\n-X %s\nCOMMIT\n", name, name, name,
		 name);
	{
		char *v4[] = { "iptables-restore", "-w", "--noflush", NULL };
		char *v6[] = { "ip6tables-restore", "-w", "--noflush", NULL };
		int r4 = run_batch(v4, del, 0, nsfd), r6 = run_batch(v6, del, 0, nsfd);

		return r4 || r6 ? -1 : 0;
	}
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
	if (do_unlock(ns->lock_method, ns->lock_name, -1)) {
		pr_err("can't remove the network lock %s (%s); remove it by hand\n", ns->lock_name,
		       method_name(ns->lock_method));
		return -1;
	}
	pr_info("network unlocked (%s)\n", ns->lock_name);
	return 0;
}

void net_unlock_all(void)
{
	for (size_t i = 0; i < nr_states; i++)
		net_unlock(&states[i]);
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
	rst_lock.method = method;
	rst_lock.nsfd = nsfd;
	strcpy(rst_lock.name, e->name);
	rst_lock.locked = 1;
	/* a namespace criu just made has none (asking would run the tool once more) */
	if (!(how & LOCK_NEW_NS) && lock_exists(method, e->name, nsfd)) {
		pr_info("the network lock %s is still in place\n", e->name);
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
	/* the lock is gone (another boot or host): nothing may reach the connections before they are whole */
	ret = do_lock(method, e->name, c, e->n_conns, e->has_whole && e->whole, nsfd);
	if (ret) {
		rst_lock.locked = 0;
		pr_err("can't lock the network again for the restore\n");
	} else {
		pr_info("network locked again with %s (%s)\n", method_name(method), e->name);
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
	if (do_unlock(rst_lock.method, rst_lock.name, rst_lock.nsfd)) {
		pr_err("can't remove the network lock %s; remove it by hand\n", rst_lock.name);
		return -1;
	}
	pr_info("network unlocked (%s)\n", rst_lock.name);
	return 0;
}

int net_restore_finish(int dfd, struct rst_files *rf, const pid_t *pids, int nr)
{
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
	/* the peers may talk again: the window probes of repair-off must reach them */
	if (net_restore_unlock())
		return -1;
	if (!any)
		return 0;
	done = calloc(max_id + 1, 1);
	if (!done)
		return -1;
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
				done[fd->id] = 1;
				r = inet_repair_off(pids[i], fd->fd, fe);
			} else if (fe && fe->type == FILE_TYPE__FT_TUN) {
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
	ret = 0;
out:
	free(done);
	return ret;
}
