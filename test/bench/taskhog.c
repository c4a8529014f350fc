/*
 * taskhog tree NPROC MIB PIDFILE [SEED]
 * taskhog threads NTHREADS MIB PIDFILE [SEED]
 * taskhog maps NMAPS MIB PIDFILE [SEED]
 *
 * The victims of the benchmark's task scenarios (see scripts/bench).
 *
 * tree: the process (started as a session leader) forks NPROC-1 children.
 *	Every process of the tree, root included, fills MIB of its own private
 *	anonymous memory with distinct random data and keeps a hash of every
 *	page. Once every child is filled (a pipe, closed again by everyone
 *	before the pidfile is written: at dump time every process holds only
 *	its stdio), the root writes PIDFILE and all wait for SIGTERM. On
 *	SIGTERM the root sends SIGTERM to every child, each child checks its
 *	memory, its pid and its parent and exits 0 if all is intact; the root
 *	reaps them all by pid, checks its own memory and prints OK or BAD.
 *
 * cow: like tree, but the root fills MIB before forking, and child k
 *	rewrites only slice (k-1) mod 16 of the 16 slices of that memory:
 *	the rest stays shared copy-on-write with the root. Each process
 *	checks the pages as it sees them.
 *
 * threads: one process with NTHREADS threads (main + NTHREADS-1 workers
 *	with small stacks). The main thread fills MIB of memory; each worker
 *	records its tid, puts a small pattern on its own stack and blocks in
 *	pthread_cond_wait (a futex), with SIGTERM blocked. On SIGTERM the main
 *	thread wakes every worker; each checks its tid and stack pattern and
 *	reports in; the main thread joins them all, checks the memory and
 *	prints OK or BAD.
 *
 * maps: one process with NMAPS memory areas of one page each, one unmapped
 *	page apart (so none merge): in turn private anonymous read-write,
 *	private anonymous read-only, a private mapping of a data file written
 *	to, and a shared read-only mapping of it (the data file, 1024 pages of
 *	random data, lies next to PIDFILE). Every page but the shared ones
 *	gets random data of its own; on SIGTERM each area is checked (the
 *	shared ones against the file) and it prints OK or BAD. MIB is unused.
 *
 * The "ready" line on stdout gives the time the process itself needed to
 * fork the children / create the threads (spawn_s) and to fill (fill_s).
 * Exit status: 0 OK, 1 BAD, 2 setup failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fill.h"

#define WORKER_STACK	(32 * 1024)
#define STACK_WORDS	128

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void wait_term(void)
{
	while (!got_term)
		pause();
}

struct region {
	char *mem;
	size_t npages;
	uint64_t *hashes;
	uint64_t table_hash;
};

static int region_fill(struct region *r, size_t mib, uint64_t seed)
{
	r->npages = (mib << 20) / BENCH_PAGE;
	r->hashes = calloc(r->npages ? r->npages : 1, sizeof(*r->hashes));
	r->mem = mmap(NULL, mib << 20 ? mib << 20 : BENCH_PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!r->hashes || r->mem == MAP_FAILED)
		return -1;
	fill_buffer(r->mem, r->npages, FILL_RANDOM, seed, r->hashes);
	r->table_hash = hash_words(r->hashes, r->npages);
	return 0;
}

/* Number of pages that differ (the table itself changing counts as all). */
static size_t region_check(const struct region *r, size_t *first_bad)
{
	size_t bad = 0;

	if (hash_words(r->hashes, r->npages) != r->table_hash) {
		*first_bad = 0;
		return r->npages ? r->npages : 1;
	}
	for (size_t i = 0; i < r->npages; i++)
		if (page_hash(r->mem + i * BENCH_PAGE) != r->hashes[i] && !bad++)
			*first_bad = i;
	return bad;
}

static uint64_t sub_seed(uint64_t seed, unsigned idx)
{
	return (seed ^ (0x9E3779B97F4A7C15ULL * (idx + 1))) | 1;
}

/* ------------------------------------------------------------------ tree */

#define COW_SLICES	16

/* A child of the cow scenario: its slice of the root's memory is its own. */
static void cow_rewrite(struct region *r, unsigned idx, uint64_t seed)
{
	size_t per = r->npages / COW_SLICES, from = ((idx - 1) % COW_SLICES) * per;

	fill_buffer(r->mem + from * BENCH_PAGE, per, FILL_RANDOM, sub_seed(seed, idx), r->hashes + from);
	r->table_hash = hash_words(r->hashes, r->npages);
}

static int child_main(unsigned idx, size_t mib, uint64_t seed, pid_t root, int rfd, int wfd, struct region *cow)
{
	struct region r;
	pid_t pid0 = getpid();
	size_t bad, first_bad = 0;

	close(rfd);
	if (cow) {
		r = *cow;
		cow_rewrite(&r, idx, seed);
	} else if (region_fill(&r, mib, sub_seed(seed, idx))) {
		printf("taskhog: child %u (pid %d): cannot allocate %zu MiB\n", idx, getpid(), mib);
		return 2;
	}
	if (write(wfd, "r", 1) != 1)
		return 2;
	close(wfd);

	wait_term();
	bad = region_check(&r, &first_bad);
	if (bad) {
		printf("taskhog: BAD child %u pid %d: %zu of %zu pages differ, first: page %zu\n", idx, getpid(), bad,
		       r.npages, first_bad);
		return 1;
	}
	if (getpid() != pid0 || getppid() != root) {
		printf("taskhog: BAD child %u: pid %d (was %d), parent %d (was %d)\n", idx, getpid(), pid0,
		       getppid(), root);
		return 3;
	}
	return 0;
}

static int tree_main(unsigned n, size_t mib, const char *pidfile, uint64_t seed, int cow)
{
	pid_t root = getpid(), *kids;
	struct region r;
	unsigned nkids = n - 1, ready = 0, ok = 0, bad = 0, lost = 0;
	size_t badpages, first_bad = 0;
	double t0, spawn_s, fill_s, check_s;
	int p[2];
	char buf[256];

	kids = calloc(n, sizeof(*kids));
	if (!kids || pipe(p)) {
		perror("taskhog: setup");
		return 2;
	}
	t0 = now_s();
	if (cow && region_fill(&r, mib, sub_seed(seed, 0))) {
		perror("taskhog: allocating memory");
		return 2;
	}
	fill_s = now_s() - t0;
	t0 = now_s();
	for (unsigned i = 0; i < nkids; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("taskhog: fork");
			for (unsigned j = 0; j < i; j++)
				kill(kids[j], SIGKILL);
			return 2;
		}
		if (kids[i] == 0) {
			free(kids);
			_exit(child_main(i + 1, mib, seed, root, p[0], p[1], cow ? &r : NULL));
		}
	}
	spawn_s = now_s() - t0;
	close(p[1]);
	while (ready < nkids) {
		ssize_t got = read(p[0], buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		ready += got;
	}
	close(p[0]);
	if (ready < nkids) {
		printf("taskhog: only %u of %u children got ready\n", ready, nkids);
		for (unsigned i = 0; i < nkids; i++)
			kill(kids[i], SIGKILL);
		return 2;
	}
	if (!cow) {
		if (region_fill(&r, mib, sub_seed(seed, 0))) {
			perror("taskhog: allocating memory");
			return 2;
		}
		fill_s = now_s() - t0 - spawn_s;
	}
	printf("taskhog: pid %d scenario tree tasks %u processes %u threads 1 mib_per_process %zu seed %#" PRIx64
	       " spawn_s %.4f fill_s %.4f ready\n", root, n, n, mib, seed, spawn_s, fill_s);
	if (write_pidfile(pidfile)) {
		perror("taskhog: pidfile");
		return 2;
	}

	wait_term();
	t0 = now_s();
	for (unsigned i = 0; i < nkids; i++)
		if (kill(kids[i], SIGTERM))
			printf("taskhog: kill(%d): %s\n", kids[i], strerror(errno));
	for (unsigned i = 0; i < nkids; i++) {
		int st;
		pid_t w;

		do
			w = waitpid(kids[i], &st, 0);
		while (w < 0 && errno == EINTR);
		if (w != kids[i]) {
			printf("taskhog: BAD: child %u (pid %d) cannot be waited for: %s\n", i + 1, kids[i],
			       strerror(errno));
			lost++;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			ok++;
		} else {
			printf("taskhog: BAD: child %u (pid %d) %s %d\n", i + 1, kids[i],
			       WIFEXITED(st) ? "exited with" : "killed by signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			bad++;
		}
	}
	badpages = region_check(&r, &first_bad);
	check_s = now_s() - t0;
	if (bad || lost || badpages || getpid() != root) {
		printf("taskhog: BAD tree pid %d (was %d): %u of %u children OK, %u bad, %u lost; root memory: %zu of"
		       " %zu pages differ\n", getpid(), root, ok, nkids, bad, lost, badpages, r.npages);
		return 1;
	}
	printf("taskhog: OK tree pid %d: %u processes, all %u children exited 0 after checking their memory;"
	       " %zu pages each checked, in %.3f s\n", root, n, nkids, r.npages, check_s);
	return 0;
}

/* --------------------------------------------------------------- threads */

struct worker {
	pthread_t t;
	unsigned idx;
	uint64_t seed;
	pid_t tid;
	int ok;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;	/* workers -> main */
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;	/* main -> workers */
static unsigned nready, nreported;
static int stop;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t pattern[STACK_WORDS], s = w->seed, h;

	w->tid = syscall(SYS_gettid);
	for (int i = 0; i < STACK_WORDS; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		pattern[i] = s;
	}
	h = hash_words(pattern, STACK_WORDS);

	pthread_mutex_lock(&lock);
	nready++;
	pthread_cond_signal(&ready_cv);
	while (!stop)
		pthread_cond_wait(&stop_cv, &lock);
	pthread_mutex_unlock(&lock);

	w->ok = syscall(SYS_gettid) == w->tid && hash_words(pattern, STACK_WORDS) == h;
	if (!w->ok)
		printf("taskhog: BAD thread %u: tid %ld (was %d), stack pattern %s\n", w->idx,
		       (long)syscall(SYS_gettid), w->tid, hash_words(pattern, STACK_WORDS) == h ? "intact" : "changed");
	pthread_mutex_lock(&lock);
	nreported++;
	pthread_mutex_unlock(&lock);
	return w;
}

static int threads_main(unsigned n, size_t mib, const char *pidfile, uint64_t seed)
{
	unsigned nw = n - 1, ok = 0, joined = 0;
	struct worker *ws = calloc(n, sizeof(*ws));
	pid_t pid0 = getpid();
	struct region r;
	pthread_attr_t a;
	sigset_t term;
	size_t badpages, first_bad = 0;
	double t0, spawn_s, fill_s, check_s;

	t0 = now_s();
	if (!ws || region_fill(&r, mib, seed)) {
		perror("taskhog: allocating memory");
		return 2;
	}
	fill_s = now_s() - t0;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	/* only the main thread takes SIGTERM: the workers inherit it blocked */
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	pthread_attr_init(&a);
	if (pthread_attr_setstacksize(&a, WORKER_STACK)) {
		fprintf(stderr, "taskhog: stack size %d refused\n", WORKER_STACK);
		return 2;
	}
	t0 = now_s();
	for (unsigned i = 0; i < nw; i++) {
		int e;

		ws[i].idx = i + 1;
		ws[i].seed = sub_seed(seed, i + 1);
		e = pthread_create(&ws[i].t, &a, worker_main, &ws[i]);
		if (e) {
			fprintf(stderr, "taskhog: pthread_create %u: %s\n", i + 1, strerror(e));
			return 2;
		}
	}
	spawn_s = now_s() - t0;
	pthread_mutex_lock(&lock);
	while (nready < nw)
		pthread_cond_wait(&ready_cv, &lock);
	pthread_mutex_unlock(&lock);
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	printf("taskhog: pid %d scenario threads tasks %u processes 1 threads %u mib_per_process %zu seed %#" PRIx64
	       " spawn_s %.4f fill_s %.4f ready\n", pid0, n, n, mib, seed, spawn_s, fill_s);
	if (write_pidfile(pidfile)) {
		perror("taskhog: pidfile");
		return 2;
	}

	wait_term();
	t0 = now_s();
	pthread_mutex_lock(&lock);
	stop = 1;
	pthread_cond_broadcast(&stop_cv);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < nw; i++) {
		void *ret;

		if (pthread_join(ws[i].t, &ret) == 0 && ret == &ws[i]) {
			joined++;
			ok += ws[i].ok;
		}
	}
	badpages = region_check(&r, &first_bad);
	check_s = now_s() - t0;
	if (ok != nw || joined != nw || nreported != nw || badpages || getpid() != pid0 ||
	    syscall(SYS_gettid) != pid0) {
		printf("taskhog: BAD threads pid %d (was %d): %u of %u workers joined, %u reported in, %u intact;"
		       " memory: %zu of %zu pages differ\n", getpid(), pid0, joined, nw, nreported, ok, badpages,
		       r.npages);
		return 1;
	}
	printf("taskhog: OK threads pid %d: %u threads, all %u workers reported in intact; %zu pages checked,"
	       " in %.3f s\n", pid0, n, nw, r.npages, check_s);
	return 0;
}

/* ------------------------------------------------------------------ maps */

#define MAPS_FILE_PAGES	1024

static char *maps_file_path(const char *pidfile)
{
	const char *slash = strrchr(pidfile, '/');
	size_t dir = slash ? (size_t)(slash - pidfile) + 1 : 0;
	char *p = malloc(dir + 32);

	if (p) {
		memcpy(p, pidfile, dir);
		strcpy(p + dir, "taskhog-maps.data");
	}
	return p;
}

static int maps_main(unsigned n, const char *pidfile, uint64_t seed)
{
	char *path = maps_file_path(pidfile), *base, *file;
	uint64_t *hashes = calloc(n, sizeof(*hashes)), fhash[MAPS_FILE_PAGES];
	size_t bad = 0, first_bad = 0;
	double t0, spawn_s, fill_s = 0, check_s;
	int fd;

	if (!path || !hashes) {
		perror("taskhog: setup");
		return 2;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	file = fd < 0 ? MAP_FAILED : mmap(NULL, MAPS_FILE_PAGES * BENCH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd < 0 || ftruncate(fd, MAPS_FILE_PAGES * BENCH_PAGE) || file == MAP_FAILED) {
		perror("taskhog: data file");
		return 2;
	}
	fill_buffer(file, MAPS_FILE_PAGES, FILL_RANDOM, sub_seed(seed, 0), fhash);
	munmap(file, MAPS_FILE_PAGES * BENCH_PAGE);
	t0 = now_s();
	base = mmap(NULL, 2UL * n * BENCH_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("taskhog: reserving");
		return 2;
	}
	for (unsigned i = 0; i < n; i++) {
		char *a = base + 2UL * i * BENCH_PAGE, *m;
		off_t off = (off_t)(i % MAPS_FILE_PAGES) * BENCH_PAGE;

		switch (i % 4) {
		case 0:
		case 1:
			m = mmap(a, BENCH_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 2:
			m = mmap(a, BENCH_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, off);
			break;
		default:
			m = mmap(a, BENCH_PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, off);
			break;
		}
		if (m != a || munmap(a + BENCH_PAGE, BENCH_PAGE)) {
			printf("taskhog: mapping area %u: %s (vm.max_map_count?)\n", i, strerror(errno));
			return 2;
		}
		if (i % 4 != 3) {
			double f0 = now_s();

			fill_buffer(a, 1, FILL_RANDOM, sub_seed(seed, i + 1), &hashes[i]);
			fill_s += now_s() - f0;
		}
		if (i % 4 == 1 && mprotect(a, BENCH_PAGE, PROT_READ)) {
			perror("taskhog: mprotect");
			return 2;
		}
	}
	spawn_s = now_s() - t0 - fill_s;
	close(fd);
	printf("taskhog: pid %d scenario maps tasks %u processes 1 threads 1 maps %u seed %#" PRIx64
	       " spawn_s %.4f fill_s %.4f ready\n", getpid(), n, n, seed, spawn_s, fill_s);
	if (write_pidfile(pidfile)) {
		perror("taskhog: pidfile");
		return 2;
	}

	wait_term();
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		char *a = base + 2UL * i * BENCH_PAGE;
		uint64_t want = i % 4 == 3 ? fhash[i % MAPS_FILE_PAGES] : hashes[i];

		if (page_hash(a) != want && !bad++)
			first_bad = i;
	}
	check_s = now_s() - t0;
	unlink(path);
	if (bad) {
		printf("taskhog: BAD maps pid %d: %zu of %u areas differ, first: area %zu (kind %zu)\n", getpid(), bad, n,
		       first_bad, first_bad % 4);
		return 1;
	}
	printf("taskhog: OK maps pid %d: %u areas checked in %.3f s\n", getpid(), n, check_s);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	unsigned long n;
	size_t mib;
	uint64_t seed;

	if (argc < 5 || argc > 6 || (strcmp(argv[1], "tree") && strcmp(argv[1], "cow") && strcmp(argv[1], "threads") &&
				     strcmp(argv[1], "maps"))) {
		fprintf(stderr, "usage: %s tree|cow NPROC MIB PIDFILE [SEED] | %s threads NTHREADS MIB PIDFILE [SEED] | "
			"%s maps NMAPS MIB PIDFILE [SEED]\n", argv[0], argv[0], argv[0]);
		return 2;
	}
	n = strtoul(argv[2], NULL, 0);
	mib = strtoull(argv[3], NULL, 0);
	if (n < 1 || n > 100000) {
		fprintf(stderr, "taskhog: bad count %s\n", argv[2]);
		return 2;
	}
	seed = argc == 6 ? strtoull(argv[5], NULL, 0) : seed_from_clock();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sigaction(SIGTERM, &sa, NULL)) {
		perror("taskhog: sigaction");
		return 2;
	}
	if (!strcmp(argv[1], "tree") || !strcmp(argv[1], "cow"))
		return tree_main(n, mib, argv[4], seed, !strcmp(argv[1], "cow"));
	if (!strcmp(argv[1], "maps"))
		return maps_main(n, argv[4], seed);
	return threads_main(n, mib, argv[4], seed);
}
