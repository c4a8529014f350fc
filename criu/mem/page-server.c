/*
 * The page server and its client (page-server.h). The server writes what
 * a local dump would: pagemap-PID.img with its head and entries, and the
 * data at page-aligned offsets of pages-N.img, in the order they come.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compress.h"
#include "cr_options.h"
#include "csum.h"
#include "image.h"
#include "action-scripts.h"
#include "log.h"
#include "namespaces.h"
#include "page-server.h"
#include "pagechain.h"
#include "proc_parse.h"
#include "inventory.pb-c.h"
#include "pagemap.pb-c.h"
#include "rpc.h"
#include "util.h"

static int send_all(int sk, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(sk, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int msg_send(int sk, uint32_t cmd, uint32_t flags, uint64_t a, uint64_t b, uint64_t c, const void *data,
		    uint64_t len)
{
	struct ps_msg m = { .cmd = cmd, .flags = flags, .a = a, .b = b, .c = c, .len = len };

	if (send_all(sk, &m, sizeof(m)) || (len && send_all(sk, data, len)))
		return -1;
	return 0;
}

static int parse_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV },
			*res;
	char p[16];
	int r;

	snprintf(p, sizeof(p), "%d", port);
	if (!addr)
		hints.ai_flags |= AI_PASSIVE;
	r = getaddrinfo(addr, p, &hints, &res);
	if (r) {
		pr_err("page server address %s port %d: %s\n", addr ? addr : "(any)", port, gai_strerror(r));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A peer that vanishes (a host down, a cable cut) is found within a minute, not never. */
static void keepalive(int sk)
{
	int on = 1, idle = 20, intvl = 5, cnt = 6;

	setsockopt(sk, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(sk, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(sk, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(sk, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* ---- the server ---- */

struct ps_server {
	int top, dfd, sk;		/* the -D dir; the current dump's (top or a live round's subdir) */
	char round[32];			/* the current live round's subdir, "" for the dump's own images */
	bool open, finished;		/* a HELLO came; its FINISH too */
	struct cr_img *pagemap, *pages;
	uint64_t off;
	pid_t pid;
	char *buf;
	size_t cap;
	pid_t *pids;		/* every PS_OPEN's, for --auto-dedup */
	size_t nr_pids;
	bool inventory;		/* the images here are whole */
	bool compress;		/* the last PS_OPEN's pages come compressed */
	uint64_t parent_id;	/* the parent dump id its inventory names (0: none) */
	int stall_ms;		/* how long a message begun may stall */
};

/*
 * A message begun must come whole: the dump sends each in one go, so a
 * part of one and then silence is a peer that will never finish it
 * (TCP keepalive finds only a peer gone): the server fails rather than
 * wait for ever. Between messages the dump may be busy for long
 * (freezing, collecting a big tree): no limit there.
 * $CRIU_PS_STALL_S changes it (for tests).
 */
#define PS_STALL_SECS	60

static int srv_read(struct ps_server *s, void *buf, size_t len, bool begun)
{
	if (!read_full_stall(s->sk, buf, len, s->stall_ms, begun))
		return 0;
	if (errno == ETIMEDOUT)
		pr_err("page server: a message stalled half-way for %d s: the other end is stuck, or "
		       "no criu dump\n", s->stall_ms / 1000);
	return -1;
}

/* The highest user address there is (57-bit virtual addresses): what an entry may cover. */
#define PS_ADDR_END	(1ULL << 57)

/* [@vaddr, +@nr pages): page aligned, not empty, within any address space. */
static bool srv_range_ok(uint64_t vaddr, uint64_t nr)
{
	return nr && !(vaddr & (PAGE_SIZE - 1)) && vaddr < PS_ADDR_END && nr <= (PS_ADDR_END - vaddr) / PAGE_SIZE;
}

/* The images of the last PS_OPEN: sealed (@ok) or dropped unsealed, as a failed dump's are. */
static int srv_close_images(struct ps_server *s, int ok)
{
	int ret = ok ? 0 : -1;

	if (s->pagemap)
		ret = finish_image(s->pagemap, ret);
	if (s->pages)
		ret = finish_image(s->pages, ret);
	s->pages = s->pagemap = NULL;
	if (ok && ret)
		pr_err("page server: can't write the images of %d\n", s->pid);
	return ok ? ret : 0;
}

static int srv_open(struct ps_server *s, struct ps_msg *m)
{
	PagemapHead ph = PAGEMAP_HEAD__INIT;

	pid_t *pids;

	if (srv_close_images(s, 1))
		return -1;
	pids = realloc(s->pids, (s->nr_pids + 1) * sizeof(*pids));
	if (!pids) {
		pr_err("out of memory\n");
		return -1;
	}
	s->pids = pids;
	s->pids[s->nr_pids++] = m->a;
	s->pid = m->a;
	s->off = 0;
	s->pagemap = open_image_at(s->dfd, CR_FD_PAGEMAP, O_DUMP, (int)m->a);
	s->pages = open_image_at(s->dfd, CR_FD_PAGES, O_DUMP, (unsigned)m->b);
	if (!s->pagemap || !s->pages)
		return -1;
	ph.pages_id = m->b;
	s->compress = m->flags & PS_F_COMPRESS;
	if (s->compress) {
		ph.has_compress = true;
		ph.compress = COMP_ZSTD;
	}
	/* the images keep the kind of checksums the dump took; one kind a run, as a chain's levels here */
	if (m->flags & PS_F_CSUM_AES) {
		ph.has_csum_kind = true;
		ph.csum_kind = CSUM_KIND_AES;
	}
	if (csum_take_kind(ph.has_csum_kind ? CSUM_KIND_AES : CSUM_KIND_XXH3, "page server: the dump's pages"))
		return -1;
	return pb_write_one(s->pagemap, &ph);
}

/*
 * The payload: the pages' checksums (b of them, of the uncompressed bytes,
 * as the dumping side took them), then the data. They go into the pagemap
 * entry as a local dump writes it; data that is not compressed is checked
 * against them here, so what the network spoilt is not written as good.
 */
static int srv_pages(struct ps_server *s, struct ps_msg *m)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	uint64_t data = m->c ? m->c : m->b * PAGE_SIZE, want = data + m->b * sizeof(uint64_t);
	uint64_t *csum;
	char *d;

	/* bounded: what one message may make the server hold (the dump sends far less, ps_send_pages()) */
	if (!s->pagemap || !srv_range_ok(m->a, m->b) || m->b > PS_PAGES_MAX || m->len != want ||
	    (m->c && (!s->compress || m->c > m->b * PAGE_SIZE))) {
		pr_err("page server: a bad pages message (%lx, %lu pages, %lu bytes)\n", (unsigned long)m->a,
		       (unsigned long)m->b, (unsigned long)m->len);
		return -1;
	}
	if (m->len > s->cap) {
		char *n = realloc(s->buf, m->len);

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		s->buf = n;
		s->cap = m->len;
	}
	if (srv_read(s, s->buf, m->len, true)) {
		pr_perror("page server: the dump went away in the middle of %lu pages", (unsigned long)m->b);
		return -1;
	}
	csum = (uint64_t *)s->buf;
	d = s->buf + m->b * sizeof(uint64_t);
	if (!m->c) {
		size_t bad = csum_check_pages(d, m->b, csum);

		if (bad < m->b) {
			pr_err("page server: the page of %d at %lx came with a wrong checksum\n", s->pid,
			       (unsigned long)(m->a + bad * PAGE_SIZE));
			return -1;
		}
	}
	pe.vaddr = m->a;
	pe.nr_pages = m->b;
	pe.off = s->off;
	pe.n_csum = m->b;
	pe.csum = csum;
	if (m->c) {
		pe.has_clen = true;
		pe.clen = m->c;
	}
	if (pb_write_one(s->pagemap, &pe) || pwrite(s->pages->fd, d, data, s->off) != (ssize_t)data) {
		pr_perror("page server: writing the pages of %d", s->pid);
		return -1;
	}
	s->off += PAGE_ALIGN(data);
	return 0;
}

static int srv_dataless(struct ps_server *s, struct ps_msg *m)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	if (!s->pagemap || !srv_range_ok(m->a, m->b)) {
		pr_err("page server: a bad message\n");
		return -1;
	}
	pe.vaddr = m->a;
	pe.nr_pages = m->b;
	if (m->flags & PS_F_IN_PREV)
		pe.has_in_prev = pe.in_prev = true;
	else
		pe.has_in_parent = pe.in_parent = true;
	return pb_write_one(s->pagemap, &pe);
}

static int srv_cover(struct ps_server *s, struct ps_msg *m)
{
	struct page_list l;
	int up = chain_open_parent(s->dfd), ret;

	page_list_init(&l);
	if (up >= 0) {
		ret = chain_cover(up, m->a, &l);
		close(up);
		if (ret)
			page_list_init(&l);	/* the dumping side dumps it whole */
	}
	ret = msg_send(s->sk, PS_REPLY, 0, 0, l.nr, 0, l.r, l.nr * sizeof(*l.r));
	page_list_free(&l);
	return ret;
}

/*
 * The dump's inventory, written here as it is there: with it this dir is
 * a whole parent for a later dump's chain (its dump id, chain_dump_id()).
 * It must name the dump that said HELLO.
 */
static int srv_inventory(struct ps_server *s, struct ps_msg *m)
{
	InventoryEntry *ie;
	struct cr_img *img;
	int ret;

	if (m->len > (1 << 20)) {
		pr_err("page server: a bad inventory message (%lu bytes)\n", (unsigned long)m->len);
		return -1;
	}
	if (m->len > s->cap) {
		char *n = realloc(s->buf, m->len);

		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		s->buf = n;
		s->cap = m->len;
	}
	if (srv_read(s, s->buf, m->len, true)) {
		pr_perror("page server: the dump went away in the middle of its inventory");
		return -1;
	}
	ie = inventory_entry__unpack(NULL, m->len, (uint8_t *)s->buf);
	if (!ie || !ie->has_dump_id || ie->dump_id != img_get_dump_id()) {
		pr_err("page server: the inventory is malformed or of another dump\n");
		if (ie)
			inventory_entry__free_unpacked(ie, NULL);
		return -1;
	}
	s->parent_id = ie->has_parent_dump_id ? ie->parent_dump_id : 0;
	img = open_image_at(s->dfd, CR_FD_INVENTORY, O_DUMP);
	ret = img ? finish_image(img, pb_write_one(img, ie)) : -1;
	inventory_entry__free_unpacked(ie, NULL);
	s->inventory = !ret;
	return ret;
}

/*
 * --auto-dedup of a dump through the page server (the dump's flag or the
 * server's own option): the previous images are here, so it is done here,
 * once the new images are whole (their inventory came), as a local dump
 * does. A failure only leaves the chain bigger than it could be.
 */
static void srv_dedup(struct ps_server *s, bool asked)
{
	uint64_t punched = 0;
	int up;

	if (!(asked || opts.auto_dedup) || !s->inventory)
		return;
	/*
	 * It writes (punches) the previous images: only those the dump
	 * proved it was made on, by their dump id (chain_open_parent() checks
	 * it then). Without it, anyone reaching the server could have it free
	 * the pages of another dump next to this one.
	 */
	if (!s->parent_id) {
		pr_warn("--auto-dedup: the dump names no parent dump id: nothing freed\n");
		return;
	}
	up = chain_open_parent(s->dfd);
	if (up < 0) {
		pr_info("--auto-dedup: no previous images here\n");
		return;
	}
	close(up);
	for (size_t i = 0; i < s->nr_pids; i++)
		if (chain_dedup(s->dfd, s->pids[i], &punched))
			pr_warn("--auto-dedup of %d failed: the previous images keep pages they need no more\n",
				s->pids[i]);
	pr_info("--auto-dedup: %lu pages freed in the previous images\n", (unsigned long)punched);
}

/* The images of a live round whose dump went on without it: not a parent of anything, removed. */
static void srv_drop_round(struct ps_server *s)
{
	pr_info("page server: the live round %s was given up: its images are removed\n", s->round);
	remove_flat_dir(s->top, s->round);
}

/* A live round's subdir: .live-N, made here as the dump made its own. */
static int srv_round_dir(const char *name)
{
	const char *p = name + 6;

	if (strncmp(name, ".live-", 6) || !*p)
		return -1;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return 0;
}

static int srv_payload(struct ps_server *s, struct ps_msg *m, char *buf, size_t max);

/*
 * The previous images' dir, as the dump names it (relative to the
 * server's -D, as its own --prev-images-dir is to its own): the server
 * links its parent there, reads it (COVER) and, with --auto-dedup,
 * punches holes in it. Anyone reaching the port may send it, so it must
 * stay where a dump's chain lives: in -D or next to it. Taken: a
 * relative path, some ".." first (one, or two from a live round's
 * subdir: up to the dir holding -D), then plain names; no absolute path,
 * no ".." after a name, no "." or empty part. Plain names may go through
 * the links already there: the operator's, or parent links the server
 * made by this same rule. What the dump makes is of this form ("../pre",
 * "../../pre", ".live-N", "../.live-N"); ps_connect() refuses other.
 */
bool ps_parent_ok(const char *path, int depth)
{
	int up = 0, names = 0;

	if (!*path || *path == '/')
		return false;
	while (*path) {
		const char *e = strchrnul(path, '/');
		size_t n = e - path;

		if (!n || (n == 1 && path[0] == '.'))
			return false;
		if (n == 2 && !strncmp(path, "..", 2)) {
			if (names || ++up > depth + 1)
				return false;
		} else {
			names++;
		}
		path = *e ? e + 1 : e;
	}
	return names > 0;
}

static int srv_parent(struct ps_server *s, struct ps_msg *m)
{
	char path[PATH_MAX];

	if (srv_payload(s, m, path, sizeof(path)) || memchr(path, '\0', m->len)) {
		pr_err("page server: a bad parent message\n");
		return -1;
	}
	if (!ps_parent_ok(path, s->round[0] ? 1 : 0)) {
		pr_err("page server: the dump's previous images %s are not in %s or next to it: refused\n", path,
		       s->round[0] ? "its live round's dir" : "the images dir");
		return -1;
	}
	return chain_link(s->dfd, path);
}

/*
 * A dump (or one of its live rounds) begins: its dump id, and where its
 * images go. A round that began and never finished was given up by the
 * dump, which goes on from the images it had: the round's are removed.
 */
static int srv_hello(struct ps_server *s, struct ps_msg *m)
{
	char dir[32];

	if (m->a != PS_MAGIC || !m->b) {
		pr_err("page server: not a criu dump of this version on the other end\n");
		return -1;
	}
	if (srv_payload(s, m, dir, sizeof(dir)) || (dir[0] && srv_round_dir(dir))) {
		pr_err("page server: a bad subdir for a live round\n");
		return -1;
	}
	if (s->open && !s->finished) {
		srv_close_images(s, 0);
		if (!s->round[0]) {
			pr_err("page server: a new dump began before the last one finished\n");
			return -1;
		}
		srv_drop_round(s);
	}
	if (s->dfd != s->top)
		close(s->dfd);
	s->dfd = s->top;
	if (dir[0]) {
		if (mkdirat(s->top, dir, 0700) && errno != EEXIST) {
			pr_perror("page server: can't make %s", dir);
			return -1;
		}
		s->dfd = openat(s->top, dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
		if (s->dfd < 0) {
			pr_perror("page server: can't open %s", dir);
			s->dfd = s->top;
			return -1;
		}
		pr_info("page server: a live round of the dump into %s\n", dir);
	}
	strcpy(s->round, dir);
	s->open = true;
	s->finished = false;
	s->inventory = false;
	s->nr_pids = 0;
	/* the images written here carry the id of the dump that sends them (image.h) */
	img_set_dump_id(m->b);
	return msg_send(s->sk, PS_REPLY, 0, 0, 0, 0, NULL, 0);
}

static int srv_payload(struct ps_server *s, struct ps_msg *m, char *buf, size_t max)
{
	if (m->len >= max || srv_read(s, buf, m->len, true))
		return -1;
	buf[m->len] = '\0';
	return 0;
}

/* Messages that carry no payload: one that does would leave its bytes to be read as the next message. */
static bool srv_no_payload(uint32_t cmd)
{
	return cmd == PS_OPEN || cmd == PS_DATALESS || cmd == PS_CLOSE || cmd == PS_COVER || cmd == PS_FINISH;
}

static int serve(struct ps_server *s)
{
	for (;;) {
		struct ps_msg m;
		int ret = 0;

		if (srv_read(s, &m, sizeof(m), false)) {
			pr_perror("page server: the dump went away before it was whole");
			return -1;
		}
		if (!s->open && m.cmd != PS_HELLO) {
			pr_err("page server: message %u before the dump said hello\n", m.cmd);
			return -1;
		}
		if (m.len && srv_no_payload(m.cmd)) {
			pr_err("page server: message %u with a payload it does not take\n", m.cmd);
			return -1;
		}
		switch (m.cmd) {
		case PS_HELLO:
			ret = srv_hello(s, &m);
			break;
		case PS_PARENT:
			ret = srv_parent(s, &m);
			break;
		case PS_OPEN:
			ret = srv_open(s, &m);
			break;
		case PS_PAGES:
			ret = srv_pages(s, &m);
			break;
		case PS_DATALESS:
			ret = srv_dataless(s, &m);
			break;
		case PS_CLOSE:
			ret = srv_close_images(s, 1);
			break;
		case PS_COVER:
			ret = srv_cover(s, &m);
			break;
		case PS_INVENTORY:
			ret = srv_inventory(s, &m);
			break;
		case PS_FINISH:
			ret = srv_close_images(s, 1);
			if (!ret)
				srv_dedup(s, m.flags & PS_F_DEDUP);
			s->finished = !ret;
			msg_send(s->sk, PS_REPLY, 0, ret ? EIO : 0, 0, 0, NULL, 0);
			/* a live round's: the next round, or the dump, comes on this connection */
			if (!ret && (m.flags & PS_F_MORE) && s->round[0]) {
				pr_info("page server: the live round %s is whole\n", s->round);
				break;
			}
			return ret;
		default:
			pr_err("page server: unknown message %u\n", m.cmd);
			ret = -1;
		}
		if (ret)
			return -1;
	}
}

int ps_serve(int sk, int top)
{
	struct ps_server s = { .sk = sk, .dfd = top, .top = top, .stall_ms = PS_STALL_SECS * 1000 };
	const char *stall = getenv("CRIU_PS_STALL_S");
	int ret;

	if (stall && atoi(stall) > 0)
		s.stall_ms = atoi(stall) * 1000;
	ret = serve(&s);

	if (ret)
		srv_close_images(&s, 0);
	if (ret && s.open && !s.finished && s.round[0])
		srv_drop_round(&s);
	pr_info("page server: %s\n", ret ? "the dump failed" : "done");
	free(s.buf);
	free(s.pids);
	if (s.dfd != s.top)
		close(s.dfd);
	return ret;
}

int cr_page_server(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lsk = -1, sk = -1, top, one = 1, ret = -1;

	signal(SIGPIPE, SIG_IGN);
	top = open(opts.imgs_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (top < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return -1;
	}
	/* --port 0: bound as 0, the kernel picks */
	if (parse_addr(opts.address, opts.port_any ? 0 : opts.port ? opts.port : PS_DEFAULT_PORT, &ss, &len))
		goto out;
	lsk = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || setsockopt(lsk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lsk, (struct sockaddr *)&ss, len) || listen(lsk, 1)) {
		pr_perror("page server: can't listen on %s port %d", opts.address ? opts.address : "(any)",
			  opts.port ? opts.port : PS_DEFAULT_PORT);
		goto out;
	}
	/* --port 0: the kernel chose; the port is what the caller needs to know */
	if (opts.port_any) {
		struct sockaddr_storage got;
		socklen_t glen = sizeof(got);

		if (getsockname(lsk, (struct sockaddr *)&got, &glen)) {
			pr_perror("page server: getsockname");
			goto out;
		}
		opts.port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port :
							     ((struct sockaddr_in *)&got)->sin_port);
		/* at any log level: whoever started it has no other way to learn the port */
		pr_msg("page server: listening on port %d (--port 0)\n", opts.port);
	}
	pr_info("page server: listening on port %d, images into %s\n", opts.port ? opts.port : PS_DEFAULT_PORT,
		opts.imgs_dir);
	if (opts.status_fd >= 0) {
		/* ready: as the lazy-pages daemon and runtimes expect, one byte */
		if (write(opts.status_fd, "\0", 1) != 1)
			pr_pwarn("can't write --status-fd");
		/* swrk's own pipe (rpc/service.c): then the port, which its reply says */
		if (opts.status_port && write(opts.status_fd, &opts.port, sizeof(opts.port)) != sizeof(opts.port))
			pr_pwarn("can't write the port to swrk");
		close(opts.status_fd);
	}
	sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0) {
		pr_perror("page server: accept");
		goto out;
	}
	setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = ps_serve(sk, top);
out:
	if (sk >= 0)
		close(sk);
	if (lsk >= 0)
		close(lsk);
	close(top);
	return ret;
}

/* ---- the dumping side ---- */

static int ps_sk = -1;
static void ps_close_now(void);
static bool ps_lost;		/* a message went half-way: nothing more may follow on this connection */
static bool ps_kept;		/* live rounds: the connection goes on to the next round and the dump */
static char ps_subdir[32];	/* the current live round's subdir at the server */

void ps_round(const char *subdir)
{
	ps_kept = true;
	snprintf(ps_subdir, sizeof(ps_subdir), "%s", subdir);
}

void ps_rounds_end(void)
{
	ps_kept = false;
	ps_subdir[0] = '\0';
}

bool ps_active(void)
{
	return ps_sk >= 0;
}

/*
 * A send or a read that failed may have left a message half-way: the
 * server would take what comes next for the rest of it. The connection
 * is shut down (the server sees the dump go away and drops what is not
 * whole) but stays open, so that the dump goes on failing, never writing
 * pages locally instead; a live round's failure so fails the dump too.
 */
static int ps_broke(void)
{
	if (ps_sk >= 0 && !ps_lost)
		shutdown(ps_sk, SHUT_RDWR);
	ps_lost = true;
	return -1;
}

static int ps_reply(struct ps_msg *m, const char *what)
{
	if (read_full(ps_sk, m, sizeof(*m)) || m->cmd != PS_REPLY) {
		pr_perror("the page server did not answer %s", what);
		return ps_broke();
	}
	return 0;
}

int ps_connect(void)
{
	struct sockaddr_storage ss;
	struct ps_msg m;
	socklen_t len;
	int one = 1;

	if (!opts.page_server)
		return 0;
	if (!opts.address) {
		pr_err("--page-server needs --address of the page server\n");
		return -1;
	}
	if (opts.prev_images_dir && !ps_parent_ok(opts.prev_images_dir, ps_subdir[0] ? 1 : 0)) {
		pr_err("--prev-images-dir %s: with --page-server it must be relative to -D, in it or next to it "
		       "(NAME or ../NAME): the page server takes no other\n", opts.prev_images_dir);
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (ps_lost) {
		pr_err("the connection to the page server broke during a live round: the dump can't go on\n");
		return -1;
	}
	/* kept from a live round: the same connection, a new hello */
	if (ps_sk < 0) {
		if (parse_addr(opts.address, opts.port ? opts.port : PS_DEFAULT_PORT, &ss, &len))
			return -1;
		ps_sk = ns_criu_net_socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (ps_sk < 0 || connect(ps_sk, (struct sockaddr *)&ss, len)) {
			pr_perror("can't reach the page server at %s port %d", opts.address,
				  opts.port ? opts.port : PS_DEFAULT_PORT);
			ps_close_now();
			return -1;
		}
		setsockopt(ps_sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		keepalive(ps_sk);
	}
	if (msg_send(ps_sk, PS_HELLO, 0, PS_MAGIC, img_get_dump_id(), 0, ps_subdir, strlen(ps_subdir)) ||
	    ps_reply(&m, "hello")) {
		ps_broke();
		ps_close_now();
		return -1;
	}
	if (opts.prev_images_dir &&
	    ps_send(PS_PARENT, 0, 0, 0, 0, opts.prev_images_dir, strlen(opts.prev_images_dir))) {
		ps_close_now();	/* ps_send() marked it lost */
		return -1;
	}
	pr_info("pages go to the page server at %s port %d\n", opts.address, opts.port ? opts.port : PS_DEFAULT_PORT);
	return 0;
}

int ps_send(uint32_t cmd, uint32_t flags, uint64_t a, uint64_t b, uint64_t c, const void *data, uint64_t len)
{
	if (msg_send(ps_sk, cmd, flags, a, b, c, data, len)) {
		pr_perror("sending pages to the page server");
		return ps_broke();
	}
	return 0;
}

int ps_send_pages(uint64_t vaddr, uint64_t nr, uint64_t clen, const uint64_t *csum, const void *data, uint64_t len)
{
	struct ps_msg m = { .cmd = PS_PAGES, .c = clen };

	/* the server takes up to PS_PAGES_MAX a message; frames (clen) are far smaller */
	while (!clen && nr > PS_PAGES_MAX) {
		if (ps_send_pages(vaddr, PS_PAGES_MAX, 0, csum, data, PS_PAGES_MAX * PAGE_SIZE))
			return -1;
		vaddr += PS_PAGES_MAX * PAGE_SIZE;
		nr -= PS_PAGES_MAX;
		csum += PS_PAGES_MAX;
		data = (const char *)data + PS_PAGES_MAX * PAGE_SIZE;
		len -= PS_PAGES_MAX * PAGE_SIZE;
	}
	m.a = vaddr;
	m.b = nr;
	m.len = nr * sizeof(*csum) + len;

	if (send_all(ps_sk, &m, sizeof(m)) || send_all(ps_sk, csum, nr * sizeof(*csum)) || send_all(ps_sk, data, len)) {
		pr_perror("sending pages to the page server");
		return ps_broke();
	}
	return 0;
}

#define PS_COVER_MAX (1ULL << 24)

int ps_cover(pid_t pid, struct page_list *out)
{
	struct page_range *r;
	struct ps_msg m;
	int ret = -1;

	page_list_init(out);
	if (ps_send(PS_COVER, 0, pid, 0, 0, NULL, 0) || ps_reply(&m, "which pages it has"))
		return -1;
	/*
	 * Ranges are disjoint with a gap between them: 2^24 of them span at
	 * least 128 GiB of scattered pages. More is a broken or hostile
	 * server, not a reason to allocate gigabytes.
	 */
	if (m.b > PS_COVER_MAX || m.len != m.b * sizeof(*r)) {
		pr_err("the page server's answer about the pages it has is malformed (%llu ranges, %llu bytes)\n",
		       (unsigned long long)m.b, (unsigned long long)m.len);
		return ps_broke();
	}
	r = malloc(m.len ? m.len : 1);
	if (!r || read_full(ps_sk, r, m.len)) {
		pr_perror("reading the page server's answer");
		free(r);
		return ps_broke();
	}
	ret = page_list_normalize(r, m.b, out);
	free(r);
	return ret;
}

int ps_send_inventory(const InventoryEntry *ie)
{
	size_t len = inventory_entry__get_packed_size(ie);
	uint8_t *buf = malloc(len ? len : 1);
	int ret;

	if (!buf) {
		pr_err("out of memory\n");
		return -1;
	}
	inventory_entry__pack(ie, buf);
	ret = ps_send(PS_INVENTORY, 0, 0, 0, 0, buf, len);
	free(buf);
	return ret;
}

int ps_finish(void)
{
	struct ps_msg m;

	if (ps_sk < 0)
		return 0;
	if (ps_send(PS_FINISH, (opts.auto_dedup ? PS_F_DEDUP : 0) | (ps_subdir[0] ? PS_F_MORE : 0), 0, 0, 0, NULL, 0) ||
	    ps_reply(&m, "the end of the dump"))
		return -1;
	if (m.a) {
		pr_err("the page server could not write the images (%s)\n", strerror(m.a));
		return -1;
	}
	return 0;
}

static void ps_close_now(void)
{
	if (ps_sk >= 0)
		close(ps_sk);
	ps_sk = -1;
}

/* At the end of a dump; a live round's leaves it to the next round and the dump. */
void ps_close(void)
{
	if (!ps_kept)
		ps_close_now();
}

/*
 * ---- dump --lazy-pages: the frozen tree's lazy pages, served ----
 *
 * The dump leaves the private anonymous pages out of the images (pagemap
 * entries marked lazy) and, once the images are whole, serves them to the
 * destination's `criu lazy-pages --page-server` from the tree's memory,
 * which stays frozen (seized) all along: what it reads is what the tree
 * had. Each reply carries the pages' checksums, taken here as they are
 * read, and the daemon checks them. The destination saying every page is
 * in lets the dump end as any other (the tree is killed); a destination
 * gone before that fails the dump, and the tree runs on where it was.
 */

struct lazy_task {
	pid_t pid;
	int mem;
	struct page_list l;
	uint64_t served;
};

struct lazy_kept {
	pid_t pid;
	uint64_t start;
};

static struct {
	int lsk;
	struct lazy_task *t;
	int nr;
	char *buf;
	struct lazy_kept *kept;
	size_t nr_kept;
	bool kept_sorted;
	const struct lazy_source *from;	/* page-server --lazy-pages: images, not a frozen tree */
} ld = { .lsk = -1 };

void lazy_dump_from(const struct lazy_source *src)
{
	ld.from = src;
}

int lazy_send_image(int sk, const char *name, int fd, uint64_t size)
{
	size_t len = strlen(name);
	off_t off = 0;

	if (msg_send(sk, PS_IMAGE, 0, len, size, 0, name, len))
		return -1;
	while ((uint64_t)off < size) {
		ssize_t n = sendfile(sk, fd, &off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_perror("page-server --lazy-pages: can't send %s", name);
			return -1;
		}
	}
	return 0;
}

int lazy_send_images_end(int sk)
{
	return msg_send(sk, PS_CLOSE, 0, 0, 0, 0, NULL, 0);
}

/* Who we are, for messages: the dump serving its tree, or the page server serving images. */
static const char *ld_who(void)
{
	return ld.from ? "page-server --lazy-pages" : "dump --lazy-pages";
}

int lazy_dump_keep(pid_t pid, uint64_t start)
{
	struct lazy_kept *n = realloc(ld.kept, (ld.nr_kept + 1) * sizeof(*n));

	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	ld.kept = n;
	n[ld.nr_kept++] = (struct lazy_kept){ pid, start };
	ld.kept_sorted = false;
	return 0;
}

static int kept_cmp(const void *a, const void *b)
{
	const struct lazy_kept *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

bool lazy_dump_kept(pid_t pid, uint64_t start)
{
	struct lazy_kept k = { pid, start };

	if (!ld.nr_kept)
		return false;
	if (!ld.kept_sorted) {
		qsort(ld.kept, ld.nr_kept, sizeof(*ld.kept), kept_cmp);
		ld.kept_sorted = true;
	}
	return bsearch(&k, ld.kept, ld.nr_kept, sizeof(*ld.kept), kept_cmp) != NULL;
}

int lazy_dump_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, port = opts.port ? opts.port : PS_DEFAULT_PORT;

	if (!ld.from && (opts.page_server || opts.leave_running || opts.leave_stopped)) {
		pr_err("dump --lazy-pages serves the tree's memory and then kills it: it can't go with %s\n",
		       opts.page_server ? "--page-server" : opts.leave_running ? "--leave-running" : "--leave-stopped");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (parse_addr(opts.address, port, &ss, &len))
		return -1;
	ld.lsk = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ld.lsk < 0 || setsockopt(ld.lsk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ld.lsk, (struct sockaddr *)&ss, len) || listen(ld.lsk, 1)) {
		pr_perror("%s: can't listen on %s port %d", ld_who(), opts.address ? opts.address : "(any)", port);
		lazy_dump_fini();
		return -1;
	}
	pr_info("%s: will serve the lazy pages on %s port %d\n", ld_who(), opts.address ? opts.address : "(any)",
		port);
	return 0;
}

int lazy_dump_add(pid_t pid, struct page_list *l)
{
	struct lazy_task *n;

	if (!l->nr)
		return 0;
	n = realloc(ld.t, (ld.nr + 1) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	ld.t = n;
	n[ld.nr].pid = pid;
	n[ld.nr].mem = -1;
	n[ld.nr].l = *l;
	n[ld.nr++].served = 0;
	page_list_init(l);
	return 0;
}

static struct lazy_task *lazy_task_of(pid_t pid)
{
	for (int i = 0; i < ld.nr; i++)
		if (ld.t[i].pid == pid)
			return &ld.t[i];
	return NULL;
}

/* [vaddr, +nr pages) lies in one of the lazy ranges of @t (they are sorted). */
static bool lazy_covered(struct lazy_task *t, uint64_t vaddr, uint64_t nr)
{
	size_t lo = 0, hi = t->l.nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->l.r[mid].start + t->l.r[mid].nr_pages * PAGE_SIZE <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->l.nr && t->l.r[lo].start <= vaddr &&
	       vaddr + nr * PAGE_SIZE <= t->l.r[lo].start + t->l.r[lo].nr_pages * PAGE_SIZE;
}

/*
 * @nr pages at @vaddr of @t into @data: one copy, straight from the tree's
 * pages (/proc/PID/mem copies each page twice, through a page of its own);
 * /proc/PID/mem only for what process_vm_readv() can't read. 0 or -1.
 */
static int lazy_read(struct lazy_task *t, uint64_t vaddr, uint64_t nr, void *data)
{
	struct iovec lv = { data, nr * PAGE_SIZE }, rv = { (void *)(uintptr_t)vaddr, nr * PAGE_SIZE };
	ssize_t n = process_vm_readv(t->pid, &lv, 1, &rv, 1, 0);

	if (n == (ssize_t)(nr * PAGE_SIZE))
		return 0;
	if (t->mem < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
		t->mem = open(path, O_RDONLY | O_CLOEXEC);
		if (t->mem < 0) {
			pr_perror("dump --lazy-pages: can't open %s", path);
			return -1;
		}
	}
	if (pread(t->mem, data, nr * PAGE_SIZE, vaddr) == (ssize_t)(nr * PAGE_SIZE))
		return 0;
	pr_perror("dump --lazy-pages: reading %lu pages at %lx of process %d", (unsigned long)nr,
		  (unsigned long)vaddr, t->pid);
	return -1;
}

/*
 * Tell the destination a page can't be had (it fails, and kills its tree,
 * saying why), and let it read that: closing with its further asks unread
 * would reset the connection, and the reset could overtake the answer.
 */
static void lazy_refuse(int sk)
{
	char junk[4096];

	if (msg_send(sk, PS_REPLY, 0, EBADMSG, 0, 0, NULL, 0))
		return;
	shutdown(sk, SHUT_WR);
	for (int i = 0; i < 50; i++) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			return;
		n = recv(sk, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;	/* the destination closed: it has the answer */
	}
}

/*
 * A PS_GET: answered in parts of up to PS_LAZY_PART pages, each read,
 * checksummed and sent while its bytes are in the cache (one pass over the
 * tree's memory, not three). ld.buf: the part's message, checksums, data.
 */
static int lazy_get(int sk, struct ps_msg *m)
{
	struct lazy_task *t = lazy_task_of(m->a);
	struct ps_msg *h = (struct ps_msg *)ld.buf;
	uint64_t *csum = (uint64_t *)(h + 1);

	if (!t || !m->c || m->c > PS_LAZY_MAX || m->b & (PAGE_SIZE - 1) || !lazy_covered(t, m->b, m->c)) {
		pr_err("%s: asked for %lu pages at %lx of process %d, which are not its lazy pages\n", ld_who(),
		       (unsigned long)m->c, (unsigned long)m->b, (int)m->a);
		return msg_send(sk, PS_REPLY, 0, EINVAL, 0, 0, NULL, 0) ? -2 : 0;
	}
	for (uint64_t done = 0; done < m->c;) {
		uint64_t nr = m->c - done < PS_LAZY_PART ? m->c - done : PS_LAZY_PART, vaddr = m->b + done * PAGE_SIZE;
		char *data = (char *)(csum + nr);

		if (ld.from) {
			/*
			 * From the images: read and checked against their checksums,
			 * which go along. A damaged page is refused, and said so to the
			 * destination too, which then fails (its tree is killed).
			 */
			if (ld.from->read(t->pid, vaddr, nr, data, csum)) {
				lazy_refuse(sk);
				return -1;
			}
		} else {
			if (lazy_read(t, vaddr, nr, data))
				return -1;
			csum_pages(data, nr, csum);
		}
		*h = (struct ps_msg){ .cmd = PS_PAGES, .flags = csum_kind() == CSUM_KIND_AES ? PS_F_CSUM_AES : 0,
				      .a = vaddr, .b = nr, .len = nr * (sizeof(uint64_t) + PAGE_SIZE) };
		/* -2: the destination is gone */
		if (send_all(sk, h, sizeof(*h) + h->len))
			return -2;
		t->served += nr;
		done += nr;
	}
	return 0;
}

static uint64_t lazy_total(bool served)
{
	uint64_t n = 0;

	for (int i = 0; i < ld.nr; i++)
		n += served ? ld.t[i].served : ld.t[i].l.total_pages;
	return n;
}

/*
 * Wait for @fd to be readable, a second at a time. What ends the wait: a ^C
 * (check_interrupted()), the swrk client going away (closed its socket or
 * died: nobody is left to hear the result), and, in a pid namespace's dump
 * agent, criu outside dying (a killed swrk): the tree must not stay frozen
 * for a destination nobody will tell about it.
 */
static int lazy_wait(int fd)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = rpc_client_fd(), .events = POLLRDHUP },
			{ .fd = ns_dump_agent_fd(), .events = POLLRDHUP },
		};
		int r = poll(p, 3, 1000);

		if (check_interrupted())
			return -1;
		if (r < 0 && errno != EINTR) {
			pr_perror("poll");
			return -1;
		}
		if (r > 0 && (p[1].revents | p[2].revents)) {
			pr_err("dump --lazy-pages: %s went away: the tree resumes here\n",
			       p[1].revents ? "the swrk client" : "criu (outside the pid namespace)");
			return -1;
		}
		if (r > 0)
			return 0;
	}
}

static int lazy_gone(void)
{
	pr_err("%s: the destination went away before it had every page (%lu of %lu lazy pages sent)%s\n", ld_who(),
	       (unsigned long)lazy_total(true), (unsigned long)lazy_total(false),
	       ld.from ? "" : ": the tree resumes here");
	return -1;
}

int lazy_dump_session(int sk)
{
	bool hello = false;
	struct ps_msg m;
	int ret;

	/* a PS_GET's answer is built here: its parts' headers, checksums and data */
	if (!ld.buf)
		ld.buf = malloc(sizeof(struct ps_msg) + PS_LAZY_PART * (sizeof(uint64_t) + PAGE_SIZE));
	if (!ld.buf) {
		pr_err("out of memory\n");
		return -1;
	}
	for (;;) {
		if (lazy_wait(sk))
			return -1;
		if (read_full(sk, &m, sizeof(m)))
			return lazy_gone();
		/*
		 * Only the daemon that named this dump's id may take pages or end
		 * it (the tree is killed then): anyone can reach the port.
		 */
		if (m.cmd != PS_HELLO && !hello) {
			pr_err("%s: message %u before a hello from the destination\n", ld_who(), m.cmd);
			return -1;
		}
		if (m.len) {
			pr_err("%s: message %u with a payload: not a criu lazy-pages on the other end\n", ld_who(),
			       m.cmd);
			return -1;
		}
		switch (m.cmd) {
		case PS_HELLO:
			/* the image server also sends the images themselves (PS_F_IMAGES) */
			if (hello || m.a != PS_MAGIC || !(m.flags & PS_F_LAZY) ||
			    ((m.flags & PS_F_IMAGES) ? !ld.from || m.b : m.b != img_get_dump_id())) {
				pr_err("%s: the other end is not a criu lazy-pages restoring these images\n", ld_who());
				msg_send(sk, PS_REPLY, 0, EINVAL, 0, 0, NULL, 0);
				return -1;
			}
			if (msg_send(sk, PS_REPLY, 0, 0, 0, 0, NULL, 0))
				return lazy_gone();
			hello = true;
			pr_info("%s: the destination's lazy-pages daemon is here\n", ld_who());
			if ((m.flags & PS_F_IMAGES) && ld.from->send_images(sk))
				return lazy_gone();
			break;
		case PS_GET:
			ret = lazy_get(sk, &m);
			if (ret)
				return ret == -2 ? lazy_gone() : -1;
			break;
		case PS_FINISH:
			pr_info("%s: the destination has every page (%lu sent of %lu lazy pages)%s\n", ld_who(),
				(unsigned long)lazy_total(true), (unsigned long)lazy_total(false),
				ld.from ? "" : ": the tree goes");
			msg_send(sk, PS_REPLY, 0, 0, 0, 0, NULL, 0);
			return 0;
		default:
			pr_err("%s: unknown message %u from the destination\n", ld_who(), m.cmd);
			return -1;
		}
	}
}

int lazy_dump_serve(void)
{
	int sk, one = 1, ret;

	if (ld.lsk < 0)
		return 0;
	pr_info("%s: %lu lazy pages of %d processes to serve\n", ld_who(), (unsigned long)lazy_total(false), ld.nr);
	if (opts.status_fd >= 0) {
		if (write(opts.status_fd, "\0", 1) != 1)
			pr_pwarn("can't write --status-fd");
		close(opts.status_fd);
		opts.status_fd = -1;
	}
	/* runc (with criu >= 3.15) waits for this notification rather than passing status_fd */
	if (run_hook(HOOK_STATUS_READY, 0, -1))
		return -1;
	if (lazy_wait(ld.lsk))
		return -1;
	sk = accept4(ld.lsk, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0) {
		pr_perror("%s: accept", ld_who());
		return -1;
	}
	setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	keepalive(sk);
	ret = lazy_dump_session(sk);
	close(sk);
	return ret;
}

void lazy_dump_fini(void)
{
	if (ld.lsk >= 0)
		close(ld.lsk);
	ld.lsk = -1;
	for (int i = 0; i < ld.nr; i++) {
		if (ld.t[i].mem >= 0)
			close(ld.t[i].mem);
		page_list_free(&ld.t[i].l);
	}
	free(ld.t);
	ld.t = NULL;
	ld.nr = 0;
	free(ld.buf);
	ld.buf = NULL;
	free(ld.kept);
	ld.kept = NULL;
	ld.nr_kept = 0;
}

/* ---- criu lazy-pages --page-server: pages from the dumping host ---- */

/*
 * The daemon asks (ps_lazy_ask) as far ahead as it likes and takes the
 * answers (ps_lazy_take) in the order it asked: the dump answers in order.
 */
static uint64_t *lz_csum;

/*
 * The images an image server sends (PS_F_IMAGES), into @dfd: each a PS_IMAGE
 * (its name, then its bytes), then PS_CLOSE. Only plain names, new files.
 */
static int lazy_recv_images(int dfd)
{
	size_t bsz = 1 << 20;
	char *buf = malloc(bsz), name[128], (*names)[128] = NULL;
	uint64_t total = 0;
	int nr = 0, ret = -1;

	if (!buf) {
		pr_err("out of memory\n");
		return -1;
	}
	for (;;) {
		struct ps_msg m;
		int fd;

		if (read_full(ps_sk, &m, sizeof(m)))
			goto gone;
		if (m.cmd == PS_CLOSE && !m.len)
			break;
		if (m.cmd != PS_IMAGE || !m.len || m.len >= sizeof(name) || m.a != m.len) {
			pr_err("lazy pages: a malformed image from the page server\n");
			goto out;
		}
		if (read_full(ps_sk, name, m.len))
			goto gone;
		name[m.len] = 0;
		if (strchr(name, '/') || name[0] == '.' || strlen(name) != m.len) {
			pr_err("lazy pages: the page server sent an image named %.40s: refused\n", name);
			goto out;
		}
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			pr_perror("lazy pages: can't create %s/%s for the page server's image", opts.imgs_dir, name);
			goto out;
		}
		/* remembered, to be removed if the images don't all come */
		if (!(nr % 64)) {
			void *n = realloc(names, (nr + 64) * sizeof(*names));

			if (!n) {
				pr_err("out of memory\n");
				close(fd);
				unlinkat(dfd, name, 0);
				goto out;
			}
			names = n;
		}
		memcpy(names[nr++], name, sizeof(name));
		for (uint64_t left = m.b; left;) {
			size_t n = left < bsz ? left : bsz;

			if (read_full(ps_sk, buf, n)) {
				close(fd);
				goto gone;
			}
			if (write(fd, buf, n) != (ssize_t)n) {
				pr_perror("lazy pages: can't write %s/%s", opts.imgs_dir, name);
				close(fd);
				goto out;
			}
			left -= n;
		}
		close(fd);
		total += m.b;
	}
	pr_info("lazy pages: %d images (%lu KiB) came from the page server\n", nr, (unsigned long)(total >> 10));
	ret = 0;
	goto out;
gone:
	pr_perror("lazy pages: the page server (%s) went away while it sent the images", opts.address);
out:
	if (ret) {
		for (int i = 0; i < nr; i++)
			unlinkat(dfd, names[i], 0);
		if (nr)
			pr_err("lazy pages: the %d images that came are removed from %s\n", nr, opts.imgs_dir);
	}
	free(names);
	free(buf);
	return ret;
}

static int lazy_attach(int sk, uint64_t dump_id, int images_dfd)
{
	struct ps_msg m;

	ps_sk = sk;
	lz_csum = malloc(PS_LAZY_PART * sizeof(uint64_t));
	if (!lz_csum) {
		pr_err("out of memory\n");
		return -1;
	}
	if (msg_send(ps_sk, PS_HELLO, PS_F_LAZY | (images_dfd >= 0 ? PS_F_IMAGES : 0), PS_MAGIC, dump_id, 0, NULL,
		     0) || ps_reply(&m, "hello"))
		return -1;
	if (m.a || m.len) {
		if (images_dfd >= 0)
			pr_err("lazy pages: the server at %s port %d has no images to send (it is a dump --lazy-pages: "
			       "copy its images here)\n", opts.address, opts.port ? opts.port : PS_DEFAULT_PORT);
		else
			pr_err("lazy pages: the dump at %s port %d is not the one these images are of\n", opts.address,
			       opts.port ? opts.port : PS_DEFAULT_PORT);
		return -1;
	}
	return images_dfd >= 0 ? lazy_recv_images(images_dfd) : 0;
}

int ps_lazy_attach(int sk, uint64_t dump_id)
{
	return lazy_attach(sk, dump_id, -1);
}

int ps_lazy_attach_images(int sk, int dfd)
{
	return lazy_attach(sk, 0, dfd);
}

void ps_lazy_detach(void)
{
	ps_sk = -1;
	ps_lost = false;
	free(lz_csum);
	lz_csum = NULL;
}

int ps_lazy_connect(uint64_t dump_id, int images_dfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int sk, one = 1, port = opts.port ? opts.port : PS_DEFAULT_PORT;

	if (!opts.address) {
		pr_err("lazy-pages --page-server needs --address of the dumping host\n");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (parse_addr(opts.address, port, &ss, &len))
		return -1;
	sk = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&ss, len)) {
		pr_perror("lazy pages: can't reach the page server (dump --lazy-pages or page-server --lazy-pages) at "
			  "%s port %d", opts.address, port);
		if (sk >= 0)
			close(sk);
		return -1;
	}
	setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	keepalive(sk);
	if (lazy_attach(sk, dump_id, images_dfd)) {
		ps_close_now();
		ps_lazy_detach();
		return -1;
	}
	pr_info("lazy pages: the lazy pages come from the dump at %s port %d\n", opts.address, port);
	return 0;
}

static int lazy_gone_there(void)
{
	pr_perror("lazy pages: the dumping host (%s) went away with pages still to come", opts.address);
	return -1;
}

int ps_lazy_ask(pid_t pid, uint64_t vaddr, uint64_t nr)
{
	if (!nr || nr > PS_LAZY_MAX) {
		pr_err("lazy pages: %lu pages asked for at once\n", (unsigned long)nr);
		return -1;
	}
	if (msg_send(ps_sk, PS_GET, 0, pid, vaddr, nr, NULL, 0))
		return lazy_gone_there();
	return 0;
}

int ps_lazy_take(pid_t pid, uint64_t vaddr, uint64_t max, void *buf, uint64_t *nr)
{
	struct ps_msg m;
	size_t bad;

	if (read_full(ps_sk, &m, sizeof(m)))
		return lazy_gone_there();
	if (m.cmd == PS_REPLY) {
		pr_err("lazy pages: the dumping host can't give the pages at %lx of process %d (%s)\n",
		       (unsigned long)vaddr, pid, strerror(m.a));
		return -1;
	}
	if (m.cmd != PS_PAGES || m.a != vaddr || !m.b || m.b > max || m.b > PS_LAZY_PART || m.c ||
	    m.len != m.b * (sizeof(uint64_t) + PAGE_SIZE)) {
		pr_err("lazy pages: a malformed answer from the dumping host\n");
		return -1;
	}
	if (read_full(ps_sk, lz_csum, m.b * sizeof(uint64_t)) || read_full(ps_sk, buf, m.b * PAGE_SIZE))
		return lazy_gone_there();
	/* checked while the bytes are still in the cache they were just read into */
	bad = csum_check_pages_kind(m.flags & PS_F_CSUM_AES ? CSUM_KIND_AES : CSUM_KIND_XXH3, buf, m.b, lz_csum);
	if (bad < m.b) {
		pr_err("lazy pages: the page at %lx of process %d came from the dumping host with a wrong checksum: "
		       "the restored tree is killed\n", (unsigned long)(vaddr + bad * PAGE_SIZE), pid);
		return -1;
	}
	*nr = m.b;
	return 0;
}

int ps_lazy_finish(void)
{
	struct ps_msg m;

	if (ps_sk < 0)
		return 0;
	if (ps_send(PS_FINISH, 0, 0, 0, 0, NULL, 0) || ps_reply(&m, "the end of the lazy pages")) {
		pr_warn("lazy pages: every page is in, but the dumping host did not hear it: it may resume its tree "
			"(there would then be two)\n");
		return -1;
	}
	ps_close();
	free(lz_csum);
	lz_csum = NULL;
	return 0;
}
