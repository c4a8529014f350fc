/*
 * memhog MODE SIZE_MIB PIDFILE [SEED]
 *
 * The benchmark's victim. Maps SIZE_MIB of private anonymous memory, fills
 * it according to MODE (random: every page distinct PRNG data; sparse: one
 * page in 16 random, the rest never touched; zeroed: all of it memset to 0),
 * records a hash of every page with data, writes its pid to PIDFILE (atomic
 * rename) and waits for SIGTERM. Then it checks every page against what it
 * recorded (pages without data must read as zeroes), prints OK or BAD on
 * stdout and exits 0 only if the memory is intact.
 *
 * With MEMHOG_WRITE_MIBPS=N in the environment it keeps writing while it
 * waits: N MiB a second of fresh random data into pages picked at random
 * among those with data (in 10 ms steps), each page's hash updated after
 * its write, so the check covers what it wrote last.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fill.h"

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	enum fill_mode mode;
	size_t size, npages, with_data, bad = 0, first_bad = 0;
	uint64_t seed, *hashes, table_hash;
	double t0, fill_s, check_s;
	char *mem;
	pid_t pid0;

	if (argc < 4 || argc > 5 || fill_mode_parse(argv[1], &mode)) {
		fprintf(stderr, "usage: %s random|sparse|zeroed SIZE_MIB PIDFILE [SEED]\n", argv[0]);
		return 2;
	}
	size = strtoull(argv[2], NULL, 0) << 20;
	if (!size) {
		fprintf(stderr, "memhog: bad size %s\n", argv[2]);
		return 2;
	}
	seed = argc == 5 ? strtoull(argv[4], NULL, 0) : seed_from_clock();
	npages = size / BENCH_PAGE;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (sigaction(SIGTERM, &sa, NULL)) {
		perror("memhog: sigaction");
		return 2;
	}
	hashes = calloc(npages, sizeof(*hashes));
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!hashes || mem == MAP_FAILED) {
		perror("memhog: allocating memory");
		return 2;
	}

	t0 = now_s();
	with_data = fill_buffer(mem, npages, mode, seed, hashes);
	fill_s = now_s() - t0;
	table_hash = hash_words(hashes, npages);
	pid0 = getpid();

	printf("memhog: pid %d mode %s size_mib %zu pages %zu data_pages %zu seed %#" PRIx64
	       " fill_s %.3f at %p ready\n",
	       pid0, fill_mode_name(mode), size >> 20, npages, with_data, seed, fill_s, (void *)mem);
	if (write_pidfile(argv[3])) {
		perror("memhog: pidfile");
		return 2;
	}

	if (getenv("MEMHOG_WRITE_MIBPS") && mode != FILL_ZEROED) {
		double rate = strtod(getenv("MEMHOG_WRITE_MIBPS"), NULL);
		uint64_t x = seed | 1, budget_pages = 0;
		double start = now_s();

		/* pages to write by now, at the rate, minus those written */
		while (!got_term) {
			uint64_t due = (uint64_t)((now_s() - start) * rate * (1 << 20) / BENCH_PAGE);

			while (budget_pages < due && !got_term) {
				size_t i;

				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				i = x % npages;
				if (!fill_page_has_data(mode, i))
					i -= i % SPARSE_STRIDE;
				fill_buffer(mem + i * BENCH_PAGE, 1, FILL_RANDOM, x, &hashes[i]);
				budget_pages++;
			}
			table_hash = hash_words(hashes, npages);
			usleep(10000);
		}
	} else {
		while (!got_term)
			pause();
	}

	t0 = now_s();
	if (hash_words(hashes, npages) != table_hash) {
		printf("memhog: BAD pid %d: the table of page hashes itself changed\n", getpid());
		return 1;
	}
	for (size_t i = 0; i < npages; i++) {
		const char *p = mem + i * BENCH_PAGE;
		int ok = fill_page_has_data(mode, i) ? page_hash(p) == hashes[i] : page_is_zero(p);

		if (!ok && !bad++)
			first_bad = i;
	}
	check_s = now_s() - t0;
	if (getpid() != pid0)
		printf("memhog: note: pid was %d at fill time, is %d now\n", pid0, getpid());
	if (bad) {
		printf("memhog: BAD pid %d mode %s: %zu of %zu pages differ, first: page %zu (address %p)\n",
		       getpid(), fill_mode_name(mode), bad, npages, first_bad,
		       (void *)(mem + first_bad * BENCH_PAGE));
		return 1;
	}
	printf("memhog: OK pid %d mode %s: %zu pages checked (%zu with data, %zu zero) in %.3f s\n", getpid(),
	       fill_mode_name(mode), npages, with_data, npages - with_data, check_s);
	return 0;
}
