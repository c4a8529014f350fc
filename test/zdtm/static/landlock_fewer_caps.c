// SPDX-License-Identifier: GPL-2.0-only
/*
 * A root task with fewer capabilities than the full set (a container's
 * root: runc and podman drop some) and no landlock domain dumps and
 * comes back with its capabilities: the landlock probe (dump/landlock.c)
 * must not have more than it, or kcmp() about the probe is refused for
 * the missing capabilities and read as a domain.
 */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

static int caps(struct __user_cap_data_struct *d, int set)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(set ? SYS_capset : SYS_capget, &h, d);
}

int main(int argc, char **argv)
{
	struct __user_cap_data_struct d[2], now[2];
	const unsigned int drop = 1u << CAP_SYS_PTRACE;

	test_init(argc, argv);
	if (caps(d, 0))
		test_bug("capget");
	d[0].permitted &= ~drop;
	d[0].effective &= ~drop;
	d[0].inheritable &= ~drop;
	if (caps(d, 1))
		test_bug("capset");

	test_daemon();
	test_waitsig();

	if (caps(now, 0))
		fail("capget");
	else if (now[0].permitted != d[0].permitted || now[1].permitted != d[1].permitted ||
		 now[0].effective != d[0].effective)
		fail("capabilities changed: permitted %08x%08x, was %08x%08x", now[1].permitted, now[0].permitted,
		     d[1].permitted, d[0].permitted);
	else
		pass();
	return 0;
}
