/*
 * The workload of snapshot_kill.py: sweeps over MB MiB, sweep g writing g
 * into the first and last word of every page after checking the page holds
 * g - 1 (a lost or reverted write shows), every eighth last word written by
 * the kernel (read() from a pipe: a kernel-mode write into a page that may
 * be write-protected must wait, not fail). After each sweep "GEN BAD KFAIL"
 * goes to STATUS (a file, rewritten in place).
 *
 *	snapshot_writer MB STATUS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE	4096
#define WORDS	(PAGE / 8)

int main(int argc, char **argv)
{
	size_t npages = (argc > 1 ? strtoul(argv[1], NULL, 0) : 64) << 8;
	int sfd = open(argc > 2 ? argv[2] : "/dev/null", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	uint64_t *mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t bad = 0, kfail = 0;
	int pfd[2];

	if (sfd < 0 || mem == MAP_FAILED || pipe(pfd))
		return 1;
	for (uint64_t gen = 1;; gen++) {
		char line[96];
		int n;

		for (size_t pg = 0; pg < npages; pg++) {
			uint64_t *w = mem + pg * WORDS;

			if (w[0] != gen - 1 || w[WORDS - 1] != gen - 1)
				bad++;
			w[0] = gen;
			if (pg % 8 == 0) {
				if (write(pfd[1], &gen, 8) != 8 || read(pfd[0], &w[WORDS - 1], 8) != 8) {
					kfail++;
					w[WORDS - 1] = gen;
				}
			} else {
				w[WORDS - 1] = gen;
			}
			if (pg % 256 == 255)
				usleep(50);
		}
		n = snprintf(line, sizeof(line), "%lu %lu %lu\n", (unsigned long)gen, (unsigned long)bad,
			     (unsigned long)kfail);
		if (pwrite(sfd, line, n, 0) != n)
			return 1;
	}
}
