// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: an fd so close to the hard RLIMIT_NOFILE (20 below it)
 * that a restore on this machine could not put its own fds above the
 * task's, criu being unable to raise its hard limit further (no
 * CAP_SYS_RESOURCE here; as root with it, fs.nr_open is the bound and the
 * test raises its own hard limit to that first). The dump must fail
 * naming the fd and the limits, before the task is touched; afterwards
 * the fd still reads its pipe.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct rlimit r;
	unsigned long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	char buf[8];
	int p[2], hi;

	test_init(argc, argv);
	if (!f || fscanf(f, "%lu", &nr_open) != 1)
		test_bug("fs.nr_open");
	fclose(f);
	if (getrlimit(RLIMIT_NOFILE, &r))
		test_bug("getrlimit");
	/* where criu may go higher (CAP_SYS_RESOURCE), so may we: the same bound for both */
	r.rlim_max = nr_open;
	if (setrlimit(RLIMIT_NOFILE, &r) && getrlimit(RLIMIT_NOFILE, &r))
		test_bug("getrlimit");
	r.rlim_cur = r.rlim_max;
	hi = r.rlim_max - 20;
	if (setrlimit(RLIMIT_NOFILE, &r) || pipe(p) || dup2(p[0], hi) != hi || write(p[1], "x", 1) != 1)
		test_bug("an fd near the limit");
	test_msg("fd %d, hard limit %lu\n", hi, (unsigned long)r.rlim_max);

	test_daemon();
	test_waitsig();

	if (read(hi, buf, sizeof(buf)) != 1 || buf[0] != 'x')
		failv("fd %d no longer reads its pipe", hi);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
