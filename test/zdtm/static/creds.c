// SPDX-License-Identifier: GPL-2.0-only
/*
 * Credentials.  As root the test sets supplementary groups, distinct
 * real/effective/saved gids, drops capabilities from the permitted,
 * effective and bounding sets, raises an inheritable and ambient
 * capability and sets SECBIT_KEEP_CAPS.  As any user it sets
 * no_new_privs.  After C/R all of it (plus uids and the dumpable flag)
 * is the same.
 */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define MAX_CAPS 64

struct creds {
	uid_t uid[3];
	gid_t gid[3];
	int ngroups;
	gid_t groups[64];
	struct __user_cap_data_struct cap[2];
	bool bnd[MAX_CAPS], amb[MAX_CAPS];
	int securebits, nnp, dumpable;
};

static int last_cap(void)
{
	char *buf;
	int last = 40;

	if (zdtm_read_file("/proc/sys/kernel/cap_last_cap", &buf) > 0) {
		last = atoi(buf);
		free(buf);
	}
	return last < MAX_CAPS ? last : MAX_CAPS - 1;
}

static int capget_self(struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capget, &h, d);
}

static int capset_self(struct __user_cap_data_struct *d)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capset, &h, d);
}

static int collect(struct creds *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	if (getresuid(&c->uid[0], &c->uid[1], &c->uid[2]) ||
	    getresgid(&c->gid[0], &c->gid[1], &c->gid[2]))
		return -1;
	c->ngroups = getgroups(64, c->groups);
	if (c->ngroups < 0 || capget_self(c->cap))
		return -1;
	for (i = 0; i <= last_cap(); i++) {
		c->bnd[i] = prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1;
		c->amb[i] = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i,
				  0, 0) == 1;
	}
	c->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	c->nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	c->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

static void compare(const struct creds *a, const struct creds *b)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (a->uid[i] != b->uid[i])
			failv("uid[%d] is %u, expected %u", i, b->uid[i],
			      a->uid[i]);
		if (a->gid[i] != b->gid[i])
			failv("gid[%d] is %u, expected %u", i, b->gid[i],
			      a->gid[i]);
	}
	if (a->ngroups != b->ngroups ||
	    memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)))
		failv("supplementary groups changed (%d -> %d groups)",
		      a->ngroups, b->ngroups);
	for (i = 0; i < 2; i++)
		if (a->cap[i].effective != b->cap[i].effective ||
		    a->cap[i].permitted != b->cap[i].permitted ||
		    a->cap[i].inheritable != b->cap[i].inheritable)
			failv("caps[%d] e/p/i %#x/%#x/%#x, expected %#x/%#x/%#x",
			      i, b->cap[i].effective, b->cap[i].permitted,
			      b->cap[i].inheritable, a->cap[i].effective,
			      a->cap[i].permitted, a->cap[i].inheritable);
	for (i = 0; i < MAX_CAPS; i++) {
		if (a->bnd[i] != b->bnd[i])
			failv("bounding set: cap %d changed", i);
		if (a->amb[i] != b->amb[i])
			failv("ambient set: cap %d changed", i);
	}
	if (a->securebits != b->securebits)
		failv("securebits %#x, expected %#x", b->securebits,
		      a->securebits);
	if (a->nnp != b->nnp)
		failv("no_new_privs %d, expected %d", b->nnp, a->nnp);
	if (a->dumpable != b->dumpable)
		failv("dumpable %d, expected %d", b->dumpable, a->dumpable);
}

static void setup_root(void)
{
	static const gid_t groups[] = { 1, 2, 44, 1000, 65534 };
	struct __user_cap_data_struct d[2];

	if (setgroups(sizeof(groups) / sizeof(groups[0]), groups))
		test_bug("setgroups");
	if (setresgid(100, 101, 102))
		test_bug("setresgid");
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0))
		test_bug("PR_CAPBSET_DROP");
	if (capget_self(d))
		test_bug("capget");
	d[0].permitted &= ~(1U << CAP_NET_RAW | 1U << CAP_SYS_TIME);
	d[0].effective &= ~(1U << CAP_NET_RAW | 1U << CAP_SYS_TIME |
			    1U << CAP_MKNOD);
	d[0].inheritable |= 1U << CAP_CHOWN | 1U << CAP_KILL;
	if (capset_self(d))
		test_bug("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0))
		test_bug("PR_CAP_AMBIENT_RAISE");
	if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0))
		test_bug("PR_SET_SECUREBITS");
	/* Changing gids reset it; the runner needs /proc access anyway. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

int main(int argc, char **argv)
{
	static struct creds before, after;

	test_init(argc, argv);

	if (geteuid() == 0)
		setup_root();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		test_bug("PR_SET_NO_NEW_PRIVS");
	if (collect(&before))
		test_bug("collect credentials");
	if (geteuid() == 0 && (before.gid[1] != 101 || before.ngroups != 5))
		test_bug("credentials were not set up");

	test_daemon();
	test_waitsig();

	if (collect(&after))
		fail("collect credentials");
	else
		compare(&before, &after);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
