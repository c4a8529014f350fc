/*
 * libFuzzer harness for what comes over the network (page-server.h): the
 * page server's message loop (ps_serve(), what `criu page-server` runs on
 * the connection it accepts) and the lazy-pages daemon's side of `dump
 * --lazy-pages` (ps_lazy_attach(), ps_lazy_take()). The input is the bytes
 * the other end sends, fed through a socket pair by a thread that also
 * takes (and drops) the answers, then shuts its end: a connection closed.
 *
 *   byte 0   bit 0: the lazy-pages daemon; else bit 2: the server of
 *            `dump --lazy-pages`; else bit 3: the daemon fetching the
 *            images of a `page-server --lazy-pages` into ROOT/top/d; else
 *            the page server, bit 1: its own --auto-dedup
 *   page server: the rest is the dump's side of a session (as
 *            test/fuzz/make_ps_corpus.py records them)
 *   lazy:    byte 1 the number N of asks, then N of (u64 vaddr, u16 pages)
 *            the daemon makes in turn, then the dump's answers.
 *   images:  the server's answer to the hello, its PS_IMAGEs and PS_CLOSE.
 *   dump --lazy-pages: the daemon's messages; its lazy pages are LAZY_PAGES
 *            of this process at LAZY_AREA, its id LAZY_ID; a PS_GET for
 *            pid 1 is taken as for this process (whose pid varies).
 *
 * The lazy restore's socket between criu restore and the daemon carries
 * fixed-size messages and fds (lazy.c, read_conn()): not fuzzed here.
 *
 * The page server writes into ROOT/top/d (emptied after each input),
 * next to ROOT/top/pre, the images of a pre-dump: the parent a dump's
 * session may name ("../pre"), replayed at start from $FUZZ_PS_PRE (an
 * input of the corpus: a recorded pre-dump, test/fuzz/ps-corpus/pre-dump). ROOT/canary holds the same images one level
 * further out, where no session may reach: anything changed outside
 * ROOT/top/d but pages freed in ROOT/top/pre (--auto-dedup), and any file
 * made there, is a finding (abort()), as are crashes, leaks, sanitizer
 * reports, timeouts and big allocations.
 *
 * Build: scripts/fuzz (clang, -Dfuzz=true, ASan and UBSan).
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../criu/restore/rst.h"
#include "page-server.h"
#include "pagerange.h"

#define MAX_FILES	256

struct snap {
	char name[NAME_MAX + 1];
	ino_t ino;
	off_t size;
	struct timespec mtime;
	unsigned char *data;		/* the parent's files: put back after --auto-dedup punched them */
};

static struct tree_snap {
	const char *dir;
	struct snap f[MAX_FILES];
	int nr;
} canary = { "canary" }, top = { "top" }, pre = { "top/pre" }, root = { "." };

static char rootdir[64] = "/tmp/fuzz-ps.XXXXXX";
static int root_fd = -1, d_fd = -1;
static char *pagebuf;
static bool verbose;

static void die(const char *what)
{
	fprintf(stderr, "fuzz-ps: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void take(struct tree_snap *t, bool data)
{
	int fd = openat(root_fd, t->dir, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d)
		die(t->dir);
	t->nr = 0;
	while ((de = readdir(d))) {
		struct snap *s = &t->f[t->nr];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || t->nr == MAX_FILES)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			die(de->d_name);
		snprintf(s->name, sizeof(s->name), "%s", de->d_name);
		s->ino = st.st_ino;
		s->size = st.st_size;
		s->mtime = st.st_mtim;
		s->data = NULL;
		if (data && S_ISREG(st.st_mode)) {
			int f = openat(dirfd(d), de->d_name, O_RDONLY);

			s->data = malloc(st.st_size + 1);
			if (f < 0 || !s->data || read(f, s->data, st.st_size) != st.st_size)
				die(de->d_name);
			close(f);
		}
		t->nr++;
	}
	closedir(d);
}

static struct snap *find(struct tree_snap *t, const char *name)
{
	for (int i = 0; i < t->nr; i++)
		if (!strcmp(t->f[i].name, name))
			return &t->f[i];
	return NULL;
}

/*
 * @t as it was: no entry more or less, none replaced; with @content also
 * unchanged (else put back: --auto-dedup's holes in the parent).
 */
static void check(struct tree_snap *t, bool content)
{
	int fd = openat(root_fd, t->dir, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int n = 0;

	if (!d)
		die(t->dir);
	while ((de = readdir(d))) {
		struct snap *s;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		s = find(t, de->d_name);
		if (!s || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_ino != s->ino) {
			fprintf(stderr, "fuzz-ps: FINDING: %s/%s was made or replaced outside the server's dir\n",
				t->dir, de->d_name);
			abort();
		}
		n++;
		if (S_ISDIR(st.st_mode))
			continue;	/* its entries are checked on their own (or are the server's) */
		if (st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec &&
		    st.st_size == s->size)
			continue;
		if (content || !s->data) {
			fprintf(stderr, "fuzz-ps: FINDING: %s/%s was written, outside the server's dir\n", t->dir,
				de->d_name);
			abort();
		}
		int f = openat(dirfd(d), de->d_name, O_WRONLY | O_TRUNC);

		if (f < 0 || write(f, s->data, s->size) != s->size || fstat(f, &st))
			die(de->d_name);
		close(f);
		s->mtime = st.st_mtim;
	}
	closedir(d);
	if (n != t->nr) {
		fprintf(stderr, "fuzz-ps: FINDING: an entry of %s was removed\n", t->dir);
		abort();
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level)
		remove(path);
	return 0;
}

/* The server's dir emptied for the next input (its live rounds' subdirs too). */
static void clean_d(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/top/d", rootdir);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct feed {
	int sk;
	const uint8_t *data;
	size_t len;
};

/* The other end: the input sent, the answers drained, until the tool closes its end. */
static void *feeder(void *arg)
{
	struct feed *f = arg;
	char buf[65536];
	size_t off = 0;

	while (off < f->len) {
		ssize_t n = send(f->sk, f->data + off, f->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	shutdown(f->sk, SHUT_WR);
	while (read(f->sk, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int run(const uint8_t *data, size_t len, int (*fn)(int sk, const uint8_t *data, size_t len),
	       const uint8_t *arg, size_t alen)
{
	struct feed f = { .data = data, .len = len };
	pthread_t th;
	int sk[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk))
		die("socketpair");
	f.sk = sk[1];
	if (pthread_create(&th, NULL, feeder, &f))
		die("pthread_create");
	ret = fn(sk[0], arg, alen);
	close(sk[0]);
	pthread_join(th, NULL);
	close(sk[1]);
	return ret;
}

static int serve_d(int sk, const uint8_t *arg, size_t alen)
{
	return ps_serve(sk, d_fd);
}

#define LAZY_ID		0x6c617a79ULL
#define LAZY_AREA	0x200000000000ULL
#define LAZY_PAGES	64

/* The daemon's messages to `dump --lazy-pages` (a PS_GET for pid 1: ours), until it ends or fails. */
static int lazy_dump_side(int sk, const uint8_t *a, size_t alen)
{
	img_set_dump_id(LAZY_ID);
	return lazy_dump_session(sk);
}

/* Its pids in PS_GETs: 1 is ours. A copy, fed as it is otherwise. */
static uint8_t *our_pid(const uint8_t *data, size_t len)
{
	uint8_t *out = malloc(len + 1);
	size_t off = 0;

	if (!out)
		die("malloc");
	memcpy(out, data, len);
	while (len - off >= sizeof(struct ps_msg)) {
		struct ps_msg m;

		memcpy(&m, out + off, sizeof(m));
		if (m.cmd == PS_GET && m.a == 1) {
			m.a = getpid();
			memcpy(out + off, &m, sizeof(m));
		}
		if (m.len > len - off - sizeof(m))
			break;
		off += sizeof(m) + m.len;
	}
	return out;
}

/* The daemon: its asks in turn, each answered in parts. */
static int lazy_asks(int sk, const uint8_t *a, size_t alen)
{
	int ret = ps_lazy_attach(sk, LAZY_ID);

	for (size_t i = 0; !ret && i + 10 <= alen; i += 10) {
		uint64_t vaddr, max, nr;
		uint16_t n;

		memcpy(&vaddr, a + i, 8);
		memcpy(&n, a + i + 8, 2);
		vaddr = le64toh(vaddr);
		max = le16toh(n);
		if (ps_lazy_ask(1, vaddr, max))
			break;
		while (max && !(ret = ps_lazy_take(1, vaddr, max, pagebuf, &nr))) {
			vaddr += nr * PAGE_SIZE;
			max -= nr;
		}
	}
	if (!ret)
		ps_lazy_finish();
	ps_lazy_detach();
	return ret;
}

/* The daemon with an empty images dir: the images of a page-server --lazy-pages into top/d. */
static int lazy_images(int sk, const uint8_t *a, size_t alen)
{
	int ret = ps_lazy_attach_images(sk, d_fd);

	ps_lazy_detach();
	return ret;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	if (fd < 0 || fstat(fd, &st))
		die(path);
	buf = malloc(st.st_size + 1);
	if (!buf || read(fd, buf, st.st_size) != st.st_size)
		die(path);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", rootdir);
	if (system(cmd))
		fprintf(stderr, "fuzz-ps: can't remove %s\n", rootdir);
}

static int serve_into;
static int serve_into_fn(int sk, const uint8_t *a, size_t alen)
{
	return ps_serve(sk, serve_into);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *path = getenv("FUZZ_PS_PRE");
	const char *dirs[] = { "top/pre", "canary" };
	uint8_t *sess;
	size_t len;

	if (!path) {
		fprintf(stderr, "fuzz-ps: set FUZZ_PS_PRE to a recorded pre-dump (scripts/fuzz does)\n");
		exit(1);
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(rootdir))
		die(rootdir);
	root_fd = open(rootdir, O_RDONLY | O_DIRECTORY);
	if (root_fd < 0 || mkdirat(root_fd, "top", 0700) || mkdirat(root_fd, "top/d", 0700))
		die(rootdir);
	atexit(cleanup);
	/* $FUZZ_PS_LOG: the tool's log there (to see what an input does), and each input's outcome on stderr */
	verbose = getenv("FUZZ_PS_LOG") != NULL;
	log_init(verbose ? getenv("FUZZ_PS_LOG") : "/dev/null", LOG_DEBUG);
	kerndat_init();
	pagebuf = malloc(PS_LAZY_PART * PAGE_SIZE);
	if (!pagebuf)
		die("malloc");
	sess = slurp(path, &len);
	if (!len || sess[0]) {
		fprintf(stderr, "fuzz-ps: %s is not a page server input (its byte 0 must be 0)\n", path);
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		if (mkdirat(root_fd, dirs[i], 0700))
			die(dirs[i]);
		serve_into = openat(root_fd, dirs[i], O_PATH | O_DIRECTORY);
		img_set_dump_id(0);
		if (serve_into < 0 || run(sess + 1, len - 1, serve_into_fn, NULL, 0)) {
			fprintf(stderr, "fuzz-ps: the pre-dump session %s does not serve whole\n", path);
			exit(1);
		}
		close(serve_into);
	}
	free(sess);
	img_set_dump_id(0);
	d_fd = openat(root_fd, "top/d", O_PATH | O_DIRECTORY);
	if (d_fd < 0)
		die("top/d");
	/* dump --lazy-pages: a lazy area of ours, at an address the corpus can name */
	{
		struct page_list l;
		char *area = mmap((void *)LAZY_AREA, LAZY_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (area != (void *)LAZY_AREA)
			die("mmap");
		for (size_t i = 0; i < LAZY_PAGES * PAGE_SIZE; i++)
			area[i] = i * 7 + (i >> 12);
		page_list_init(&l);
		if (page_list_add(&l, LAZY_AREA, LAZY_PAGES) || lazy_dump_add(getpid(), &l))
			die("lazy_dump_add");
	}
	take(&canary, false);
	take(&pre, true);
	take(&top, false);
	take(&root, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (size < 1)
		return 0;
	img_set_dump_id(0);
	if (data[0] & 1) {
		size_t asks = size > 1 ? data[1] * 10 : 0;

		if (size < 2 + asks)
			return 0;
		ret = run(data + 2 + asks, size - 2 - asks, lazy_asks, data + 2, asks);
		if (verbose)
			fprintf(stderr, "fuzz-ps: lazy-pages daemon: %d\n", ret);
		return 0;
	}
	if (data[0] & 4) {
		uint8_t *in = our_pid(data + 1, size - 1);

		ret = run(in, size - 1, lazy_dump_side, NULL, 0);
		/* 0: the dump kills its tree, which only the daemon restoring it may make it do */
		if (!ret) {
			struct ps_msg m = {};

			memcpy(&m, in, size - 1 < sizeof(m) ? size - 1 : sizeof(m));
			if (m.cmd != PS_HELLO || !(m.flags & PS_F_LAZY) || m.a != PS_MAGIC || m.b != LAZY_ID) {
				fprintf(stderr, "fuzz-ps: FINDING: dump --lazy-pages ended (the tree killed) "
					"without the daemon's hello\n");
				abort();
			}
		}
		free(in);
		if (verbose)
			fprintf(stderr, "fuzz-ps: dump --lazy-pages: %d\n", ret);
		img_set_dump_id(0);
		return 0;
	}
	opts.auto_dedup = data[0] & 2;
	ret = run(data + 1, size - 1, data[0] & 8 ? lazy_images : serve_d, NULL, 0);
	if (verbose)
		fprintf(stderr, "fuzz-ps: %s: %d\n", data[0] & 8 ? "lazy-pages images" : "page server", ret);
	opts.auto_dedup = false;
	img_set_dump_id(0);
	check(&canary, true);
	check(&root, true);
	check(&top, true);
	check(&pre, false);
	clean_d();
	return 0;
}
