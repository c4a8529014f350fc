// SPDX-License-Identifier: GPL-2.0-only
/*
 * Resource limits: soft limits of many resources are changed (never
 * above the hard limit, hard limits are never raised).  After C/R
 * getrlimit() reports the same soft and hard values for every
 * resource and the NOFILE limit is enforced.  A descriptor above the
 * lowered NOFILE limit (opened before lowering it) must survive too.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>

#include "zdtmtst.h"

static const char *const names[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = "CPU", [RLIMIT_FSIZE] = "FSIZE",
	[RLIMIT_DATA] = "DATA", [RLIMIT_STACK] = "STACK",
	[RLIMIT_CORE] = "CORE", [RLIMIT_RSS] = "RSS",
	[RLIMIT_NPROC] = "NPROC", [RLIMIT_NOFILE] = "NOFILE",
	[RLIMIT_MEMLOCK] = "MEMLOCK", [RLIMIT_AS] = "AS",
	[RLIMIT_LOCKS] = "LOCKS", [RLIMIT_SIGPENDING] = "SIGPENDING",
	[RLIMIT_MSGQUEUE] = "MSGQUEUE", [RLIMIT_NICE] = "NICE",
	[RLIMIT_RTPRIO] = "RTPRIO", [RLIMIT_RTTIME] = "RTTIME",
};

/* Preferred new soft limits; each is clamped to the hard limit. */
static const rlim_t wanted[RLIM_NLIMITS] = {
	[RLIMIT_CPU] = 1000003,
	[RLIMIT_FSIZE] = (1ULL << 40) + 4096,
	[RLIMIT_DATA] = 32ULL << 30,
	[RLIMIT_STACK] = (6 << 20) + 3 * 4096,
	[RLIMIT_CORE] = 1 << 20,
	[RLIMIT_RSS] = 3ULL << 30,
	[RLIMIT_NPROC] = 4321,
	[RLIMIT_NOFILE] = 777,
	[RLIMIT_MEMLOCK] = 3 << 20,
	[RLIMIT_AS] = 64ULL << 30,
	[RLIMIT_LOCKS] = 5000,
	[RLIMIT_SIGPENDING] = 5003,
	[RLIMIT_MSGQUEUE] = 409600,
	[RLIMIT_NICE] = RLIM_INFINITY,	/* unchanged */
	[RLIMIT_RTPRIO] = RLIM_INFINITY,	/* unchanged */
	[RLIMIT_RTTIME] = 10000003,
};

#define HIGH_FD 900

int main(int argc, char **argv)
{
	struct rlimit before[RLIM_NLIMITS], r;
	int res, changed = 0;
	rlim_t nofile;
	struct stat st;
	int fd;

	test_init(argc, argv);

	/* Opened before NOFILE is lowered below its number. */
	if (getrlimit(RLIMIT_NOFILE, &r))
		test_bug("getrlimit(NOFILE)");
	if (r.rlim_cur <= HIGH_FD && r.rlim_max > HIGH_FD) {
		r.rlim_cur = HIGH_FD + 1;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, HIGH_FD) != HIGH_FD)
		test_bug("can't open fd %d", HIGH_FD);
	close(fd);

	for (res = 0; res < RLIM_NLIMITS; res++) {
		if (getrlimit(res, &r))
			test_bug("getrlimit(%d)", res);
		if (wanted[res] != RLIM_INFINITY) {
			rlim_t soft = wanted[res];

			if (r.rlim_max != RLIM_INFINITY && soft > r.rlim_max)
				soft = r.rlim_max / 2;
			if (soft != r.rlim_cur) {
				r.rlim_cur = soft;
				if (setrlimit(res, &r))
					test_bug("setrlimit(%s, %llu)",
						 names[res],
						 (unsigned long long)soft);
				changed++;
			}
		}
		if (getrlimit(res, &before[res]))
			test_bug("getrlimit(%d)", res);
	}
	if (changed < 8)
		test_bug("only %d limits could be changed", changed);
	nofile = before[RLIMIT_NOFILE].rlim_cur;

	test_daemon();
	test_waitsig();

	for (res = 0; res < RLIM_NLIMITS; res++) {
		if (getrlimit(res, &r)) {
			fail("getrlimit(%s)", names[res]);
			continue;
		}
		if (r.rlim_cur != before[res].rlim_cur ||
		    r.rlim_max != before[res].rlim_max)
			failv("RLIMIT_%s is %llu/%llu, expected %llu/%llu",
			      names[res], (unsigned long long)r.rlim_cur,
			      (unsigned long long)r.rlim_max,
			      (unsigned long long)before[res].rlim_cur,
			      (unsigned long long)before[res].rlim_max);
	}

	if (fstat(HIGH_FD, &st))
		fail("fd %d above the NOFILE limit is gone", HIGH_FD);
	else if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		failv("fd %d is not /dev/null any more", HIGH_FD);

	/* The NOFILE limit is enforced. */
	if (dup2(0, nofile - 1) != (int)nofile - 1)
		fail("dup2 to fd %llu (below the limit)",
		     (unsigned long long)nofile - 1);
	else
		close(nofile - 1);
	if (dup2(0, nofile) != -1 || errno != EBADF)
		failv("dup2 to fd %llu (at the limit) did not fail",
		      (unsigned long long)nofile);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
