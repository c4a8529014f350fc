// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory areas whose flags and layout keep changing while they are
 * dumped. The dump reads the areas (smaps) before it freezes the tree and
 * must see when they changed in between (criu/dump/preread.c). A thread
 * keeps changing one area after the other and changing it back: flags
 * maps does not show (madvise DONTFORK, DONTDUMP, WIPEONFORK, mlock) and
 * what it shows (protection, the area unmapped and mapped again). After
 * every change it checks that /proc/self/smaps shows what it did, and the
 * contents: restored from a read of the areas older than its last change,
 * the next check fails. It changes areas in bursts of 40 ms with 80 ms
 * of quiet between them (every area as it began): a dump freezes the
 * tree within a burst about one time in three, and areas change often
 * within the time criu takes from reading them to freezing; the runner's
 * snapshots, which must agree before and after, fall in the quiet (with
 * the areas changing all the time they agreed only by chance, and under
 * load not within the runner's patience).
 * 72 MiB of ballast make the tree big enough for criu to read its areas
 * ahead at all (it does from 64 MiB resident on); not zeroes, which the
 * dump leaves out, and the restored tree would be small.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define PAGE	ZDTM_PAGE_SIZE
#define AREA	(4 * PAGE)
#define STRIDE	(AREA + PAGE)		/* a hole between two areas: they never merge */
#define BALLAST	(72UL << 20)
#define BURST_MS	40
#define QUIET_MS	80

enum { DONTFORK, DONTDUMP, WIPE, LOCK, PROT, REMAP, NR };

static const char *flag[NR] = { "dc", "dd", "wf", "lo", NULL, NULL };

static unsigned char *base;
static int on[NR];			/* the change of each area is in force */
static volatile int stop;
static char why[256];			/* the first check that failed */
static unsigned long steps;

static unsigned char *area(int i)
{
	return base + i * STRIDE;
}

static void fill(int i)
{
	for (int k = 0; k < AREA / PAGE; k++)
		memset(area(i) + k * PAGE, 'a' + i + k, PAGE);
}

static int change(int i, int set)
{
	unsigned char *a = area(i);

	switch (i) {
	case DONTFORK:
		return madvise(a, AREA, set ? MADV_DONTFORK : MADV_DOFORK);
	case DONTDUMP:
		return madvise(a, AREA, set ? MADV_DONTDUMP : MADV_DODUMP);
	case WIPE:
		return madvise(a, AREA, set ? MADV_WIPEONFORK : MADV_KEEPONFORK);
	case LOCK:
		return set ? mlock(a, AREA) : munlock(a, AREA);
	case PROT:
		return mprotect(a, AREA, set ? PROT_READ : PROT_READ | PROT_WRITE);
	case REMAP:
		if (set)
			return munmap(a, AREA);
		if (mmap(a, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != a)
			return -1;
		fill(i);
		return 0;
	}
	return -1;
}

/* Does smaps show every area as the thread left it? 0, or -1 with why[] set. */
static int check(void)
{
	char *buf, hdr[48];
	int ret = 0;

	if (zdtm_read_file("/proc/self/smaps", &buf) < 0) {
		snprintf(why, sizeof(why), "can't read /proc/self/smaps");
		return -1;
	}
	for (int i = 0; i < NR && !ret; i++) {
		char *p, *fl, *eol, perms[5] = "";
		int present = !(i == REMAP && on[i]);

		snprintf(hdr, sizeof(hdr), "\n%lx-%lx ", (unsigned long)area(i), (unsigned long)(area(i) + AREA));
		p = strstr(buf, hdr);
		if (!p != !present) {
			snprintf(why, sizeof(why), "area %d at %p is %s after %lu steps", i, area(i),
				 present ? "gone" : "there", steps);
			ret = -1;
			break;
		}
		if (!present)
			continue;
		sscanf(p + strlen(hdr), "%4s", perms);
		if (strcmp(perms, i == PROT && on[i] ? "r--p" : "rw-p")) {
			snprintf(why, sizeof(why), "area %d at %p is %s after %lu steps (changed: %d)", i, area(i),
				 perms, steps, on[i]);
			ret = -1;
			break;
		}
		fl = strstr(p + 1, "\nVmFlags:");
		if (!fl) {
			snprintf(why, sizeof(why), "no VmFlags for area %d", i);
			ret = -1;
			break;
		}
		eol = strchr(fl + 1, '\n');
		if (eol)
			*eol = '\0';
		if (flag[i] && (strstr(fl, flag[i]) != NULL) != on[i]) {
			snprintf(why, sizeof(why), "area %d at %p: VmFlags \"%s\" %s %s after %lu steps", i, area(i),
				 fl + 10, on[i] ? "lacks" : "has", flag[i], steps);
			ret = -1;
		}
		if (eol)
			*eol = '\n';
		for (int k = 0; k < AREA / PAGE && !ret; k++)
			if (area(i)[k * PAGE] != 'a' + i + k || area(i)[k * PAGE + PAGE - 1] != 'a' + i + k) {
				snprintf(why, sizeof(why), "area %d page %d lost its contents", i, k);
				ret = -1;
			}
	}
	free(buf);
	return ret;
}

/*
 * The areas maps does not tell apart come round most: a change of
 * protection or a remap between criu's read and its freeze shows in maps,
 * and criu reads everything again then whatever else it would miss.
 */
static int next_area(unsigned long step)
{
	if (step % 16 == 7)
		return PROT;
	if (step % 16 == 15)
		return REMAP;
	return step % (LOCK + 1);	/* DONTFORK, DONTDUMP, WIPE, LOCK */
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *churn(void *arg)
{
	long burst = now_ms();

	while (!stop) {
		int i = next_area(steps);

		/*
		 * Bursts of BURST_MS, then QUIET_MS with every area as it
		 * began and smaps closed: the runner's snapshots of the task
		 * (before the dump, after the restore) agree in those.
		 */
		if (now_ms() - burst > BURST_MS) {
			usleep(QUIET_MS * 1000);
			burst = now_ms();
		}

		for (int set = 1; set >= 0; set--) {
			if (change(i, set)) {
				snprintf(why, sizeof(why), "change %d of area %d failed: %m", set, i);
				return NULL;
			}
			on[i] = set;
			if (check())
				return NULL;
			usleep(50);
		}
		steps++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned char *ballast;
	pthread_t t;

	test_init(argc, argv);

	base = mmap(NULL, NR * STRIDE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		test_bug("mmap");
	for (int i = 0; i < NR; i++) {
		if (munmap(area(i) + AREA, PAGE))
			test_bug("munmap");
		fill(i);
	}
	if (check())
		test_bug("%s", why);
	ballast = mmap(NULL, BALLAST, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ballast == MAP_FAILED)
		test_bug("mmap");
	/* in huge pages where it can: the thread's reads of smaps walk it too */
	madvise(ballast, BALLAST, MADV_HUGEPAGE);
	memset(ballast, 1, BALLAST);
	if (pthread_create(&t, NULL, churn, NULL))
		test_bug("pthread_create");

	test_daemon();
	test_waitsig();

	stop = 1;
	pthread_join(t, NULL);
	if (why[0]) {
		failv("%s", why);
		return 1;
	}
	if (check()) {
		failv("%s", why);
		return 1;
	}
	test_msg("%lu steps\n", steps);
	pass();
	return 0;
}
