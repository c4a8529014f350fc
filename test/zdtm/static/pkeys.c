// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory protection keys (x86 PKU). An execute-only area takes the mm's
 * execute-only key; then the process allocates three keys and frees the
 * middle one, tags an area with the first (its thread may read
 * but not write it) and one with the third, and a second thread sets
 * other access rights in its own PKRU. After C/R:
 * - the keys are still the mm's: pkey_mprotect() with them works, in the
 *   process and in a child it forks (the child inherits the allocation;
 *   this is how a zygote-forked chromium renderer died after a restore),
 *   and the next pkey_alloc() hands out the freed middle key again;
 * - smaps shows each area's key (the execute-only one's too: restoring it
 *   must not take yet another key), and both threads' PKRU are as they were;
 * - a write into the write-disabled key's area faults with SEGV_PKUERR.
 * Without PKU (pkey_alloc() fails with ENOSPC or EINVAL) it passes empty.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef SEGV_PKUERR
#define SEGV_PKUERR	4
#endif

#define PAGE	4096

static int k1, k2, k3;
static unsigned char *area_a, *area_b, *area_x;
static volatile int restored;
static unsigned int thread_pkru;

static unsigned int rdpkru(void)
{
	unsigned int eax, edx;

	asm volatile(".byte 0x0f, 0x01, 0xee" : "=a"(eax), "=d"(edx) : "c"(0));
	return eax;
}

static void *thread_fn(void *arg)
{
	unsigned int want;

	if (pkey_set(k1, 0) || pkey_set(k3, PKEY_DISABLE_WRITE))
		return (void *)"pkey_set in the thread";
	want = rdpkru();
	__atomic_store_n(&thread_pkru, want, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&restored, __ATOMIC_ACQUIRE))
		usleep(10000);
	if (rdpkru() != want)
		return (void *)"the thread's PKRU changed";
	return NULL;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	_exit(si->si_code == SEGV_PKUERR ? 0 : 10 + si->si_code);
}

/*
 * A forked child: a new area takes the keys, and a write into the area
 * whose key the thread may only read faults as a key fault. 0 or why not.
 */
static const char *child_check(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return "fork";
	if (pid == 0) {
		struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
		void *c = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (c == MAP_FAILED || pkey_mprotect(c, PAGE, PROT_READ | PROT_WRITE, k1) ||
		    pkey_mprotect(c, PAGE, PROT_READ | PROT_WRITE, k3))
			_exit(2);
		if (sigaction(SIGSEGV, &sa, NULL))
			_exit(3);
		area_a[0] = 1;
		_exit(4);
	}
	if (waitpid(pid, &status, 0) != pid)
		return "waitpid";
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		test_msg("child: status %#x\n", status);
		return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? "pkey_mprotect in a forked child" :
		       WIFEXITED(status) && WEXITSTATUS(status) == 4 ? "a write-disabled key let a write through" :
									  "the forked child";
	}
	return NULL;
}

/* The ProtectionKey smaps shows for the area at @addr, or -1. */
static int smaps_pkey(void *addr)
{
	char line[256], want[32];
	int in = 0, key = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = 1;
		else if (in && sscanf(line, "ProtectionKey: %d", &key) == 1)
			break;
	}
	fclose(f);
	return key;
}

int main(int argc, char **argv)
{
	unsigned int pkru;
	const char *why;
	pthread_t t;
	void *ret;
	int k, kx;

	test_init(argc, argv);

	area_x = mmap(NULL, PAGE, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area_x == MAP_FAILED)
		test_bug("mmap");
	kx = smaps_pkey(area_x);
	k1 = pkey_alloc(0, 0);
	if (k1 < 0 && (errno == ENOSPC || errno == EINVAL || errno == ENOSYS)) {
		test_msg("no protection keys here: %m\n");
		test_daemon();
		test_waitsig();
		pass();
		return 0;
	}
	k2 = pkey_alloc(0, 0);
	k3 = pkey_alloc(0, 0);
	if (k1 < 0 || k2 < 0 || k3 < 0 || pkey_free(k2))
		test_bug("pkey_alloc");

	area_a = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	area_b = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area_a == MAP_FAILED || area_b == MAP_FAILED)
		test_bug("mmap");
	memset(area_a, 0x5a, 2 * PAGE);
	memset(area_b, 0xa5, PAGE);
	if (pkey_mprotect(area_a, 2 * PAGE, PROT_READ | PROT_WRITE, k1) ||
	    pkey_mprotect(area_b, PAGE, PROT_READ, k3))
		test_bug("pkey_mprotect");
	if (pkey_set(k1, PKEY_DISABLE_WRITE))
		test_bug("pkey_set");
	pkru = rdpkru();
	if (pthread_create(&t, NULL, thread_fn, NULL))
		test_bug("pthread_create");
	while (!__atomic_load_n(&thread_pkru, __ATOMIC_ACQUIRE))
		usleep(1000);
	why = child_check();
	if (why)
		test_bug("before the dump: %s", why);

	test_daemon();
	test_waitsig();

	if (rdpkru() != pkru)
		failv("PKRU %#x, was %#x", rdpkru(), pkru);
	if (area_a[0] != 0x5a || area_a[2 * PAGE - 1] != 0x5a || area_b[0] != 0xa5)
		fail("the areas' contents changed");
	if (smaps_pkey(area_a) != k1 || smaps_pkey(area_b) != k3 || smaps_pkey(area_x) != kx)
		failv("smaps says keys %d, %d and %d, were %d, %d and %d", smaps_pkey(area_a), smaps_pkey(area_b),
		      smaps_pkey(area_x), k1, k3, kx);
	why = child_check();
	if (why)
		failv("after the restore: %s", why);
	k = pkey_alloc(0, 0);
	if (k != k2)
		failv("pkey_alloc() gives %d, not the freed key %d", k, k2);
	if (k >= 0)
		pkey_free(k);
	__atomic_store_n(&restored, 1, __ATOMIC_RELEASE);
	if (pthread_join(t, &ret))
		fail("pthread_join");
	else if (ret)
		failv("%s", (char *)ret);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
