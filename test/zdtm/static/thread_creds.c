// SPDX-License-Identifier: GPL-2.0-only
/*
 * A thread with credentials of its own. With raw syscalls (glibc's
 * wrappers would change every thread) a worker sets its supplementary
 * groups and effective gid, drops two capabilities from its permitted
 * set, takes effective uid 65534 (which clears its effective set, fsuid
 * following) and raises two capabilities back into its effective set.
 * After C/R the thread's lines of /proc/self/task/TID/status are what
 * they were, the thread itself sees its ids, groups and capabilities
 * through raw syscalls, and the main thread is still plain root.
 */
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define THREAD_EUID	65534
#define THREAD_EGID	2002
#define CAP_BIT(c)	(1ULL << (c))
#define DROPPED		(CAP_BIT(CAP_NET_RAW) | CAP_BIT(CAP_SYS_NICE))
#define RAISED		(CAP_BIT(CAP_KILL) | CAP_BIT(CAP_CHOWN))

static const gid_t thread_groups[] = { 1001, 1002, 1003 };
static volatile int ready, done;
static volatile pid_t thread_tid;
static char thread_err[256];
static uint64_t full_prm;

static int caps_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	for (int i = 0; i < 2; i++) {
		d[i].effective = eff >> (32 * i);
		d[i].permitted = prm >> (32 * i);
		d[i].inheritable = inh >> (32 * i);
	}
	return syscall(SYS_capset, &h, d);
}

static int change_creds(void)
{
	uint64_t eff, prm, inh;

	if (syscall(SYS_setgroups, 3, thread_groups) || syscall(SYS_setresgid, -1, THREAD_EGID, -1))
		return -1;
	if (caps_get(&eff, &prm, &inh) || caps_set(eff & ~DROPPED, prm & ~DROPPED, inh))
		return -1;
	if (syscall(SYS_setresuid, -1, THREAD_EUID, -1))
		return -1;
	return caps_set(RAISED, prm & ~DROPPED, inh);
}

/* What the thread sees of itself; a message in thread_err if wrong. */
static void check_self(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg, groups[16];
	uint64_t eff, prm, inh;
	int n;

	if (syscall(SYS_getresuid, &r, &e, &s) || r != 0 || e != THREAD_EUID || s != 0) {
		snprintf(thread_err, sizeof(thread_err), "uids %u %u %u", r, e, s);
		return;
	}
	if (syscall(SYS_setfsuid, -1) != THREAD_EUID) {
		snprintf(thread_err, sizeof(thread_err), "fsuid %ld", (long)syscall(SYS_setfsuid, -1));
		return;
	}
	if (syscall(SYS_getresgid, &rg, &eg, &sg) || rg != 0 || eg != THREAD_EGID || sg != 0) {
		snprintf(thread_err, sizeof(thread_err), "gids %u %u %u", rg, eg, sg);
		return;
	}
	n = syscall(SYS_getgroups, 16, groups);
	if (n != 3 || memcmp(groups, thread_groups, sizeof(thread_groups))) {
		snprintf(thread_err, sizeof(thread_err), "%d groups, first %u", n, n > 0 ? groups[0] : 0);
		return;
	}
	if (caps_get(&eff, &prm, &inh) || eff != RAISED || prm != (full_prm & ~DROPPED)) {
		snprintf(thread_err, sizeof(thread_err), "caps eff %llx prm %llx", (unsigned long long)eff,
			 (unsigned long long)prm);
		return;
	}
}

static void *worker(void *arg)
{
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	thread_tid = syscall(SYS_gettid);
	if (change_creds()) {
		snprintf(thread_err, sizeof(thread_err), "changing creds: %m");
		ready = -1;
		return NULL;
	}
	ready = 1;
	while (!done)
		usleep(10 * 1000);
	check_self();
	return NULL;
}

/* The credential lines of a thread's status. */
static int creds_lines(pid_t tid, char *out, size_t len)
{
	static const char *keys[] = { "Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
				      "CapAmb:" };
	char path[64], *buf, *line;
	size_t used = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (zdtm_read_file(path, &buf) <= 0)
		return -1;
	out[0] = '\0';
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) && used + strlen(line) + 2 < len)
				used += snprintf(out + used, len - used, "%s\n", line);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	char before[1024], after[1024];
	uint64_t eff, inh;
	pthread_t t;

	test_init(argc, argv);
	if (caps_get(&eff, &full_prm, &inh))
		test_bug("capget");
	if (pthread_create(&t, NULL, worker, NULL))
		test_bug("pthread_create");
	while (!ready)
		usleep(1000);
	if (ready < 0)
		test_bug("the thread failed: %s", thread_err);
	if (creds_lines(thread_tid, before, sizeof(before)))
		test_bug("can't read the thread's status");
	if (!strstr(before, "65534"))
		test_bug("the thread's status shows no uid 65534:\n%s", before);

	test_daemon();
	test_waitsig();

	if (creds_lines(thread_tid, after, sizeof(after)))
		failv("can't read the thread's status after restore");
	else if (strcmp(before, after))
		failv("the thread's creds changed:\n%s---\n%s", before, after);
	done = 1;
	pthread_join(t, NULL);
	if (thread_err[0])
		failv("the thread sees wrong creds: %s", thread_err);
	if (geteuid() != 0 || caps_get(&eff, &inh, &inh) || eff != full_prm)
		failv("the main thread's creds changed: euid %d, eff %llx", geteuid(), (unsigned long long)eff);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
