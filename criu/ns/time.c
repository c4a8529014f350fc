/*
 * The time namespace: the offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME.
 * Dump saves the clocks as the tasks read them; restore makes a new time
 * namespace for criu's children whose offsets make the clocks go on from
 * those values (the time the tree spent dumped does not count), before
 * the first task enters it: after that the kernel refuses new offsets.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdbool.h>

#include "log.h"
#include "namespaces.h"
#include "nsfs.h"
#include "util.h"

#define NSEC	1000000000LL

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

int time_ns_dump(pid_t pid, NsEntry *e)
{
	char path[64], name[32], line[128];
	long long sec, nsec;
	int64_t mono = 0, boot = 0;
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("can't open %s", path);
		return -1;
	}
	while ((ret = read_line(f, line, sizeof(line), path)) > 0) {
		if (sscanf(line, "%31s %lld %lld", name, &sec, &nsec) != 3) {
			pr_err("can't parse %s: \"%.*s\"\n", path, (int)strcspn(line, "\n"), line);
			ret = -1;
			break;
		}
		if (!strcmp(name, "monotonic") || !strcmp(name, "1"))
			mono = sec * NSEC + nsec;
		else if (!strcmp(name, "boottime") || !strcmp(name, "7"))
			boot = sec * NSEC + nsec;
	}
	fclose(f);
	if (ret < 0)
		return -1;
	e->has_monotonic_ns = e->has_boottime_ns = true;
	e->monotonic_ns = clock_ns(CLOCK_MONOTONIC) + mono;
	e->boottime_ns = clock_ns(CLOCK_BOOTTIME) + boot;
	pr_info("time namespace: monotonic %lld ns, boottime %lld ns inside\n", (long long)e->monotonic_ns,
		(long long)e->boottime_ns);
	return 0;
}

static int fmt_offset(char *buf, size_t size, const char *clk, int64_t off)
{
	int64_t sec = off / NSEC, nsec = off % NSEC;

	if (nsec < 0) {
		nsec += NSEC;
		sec--;
	}
	return snprintf(buf, size, "%s %lld %lld\n", clk, (long long)sec, (long long)nsec);
}

int time_ns_prepare(const NsEntry *e)
{
	char buf[128];
	int fd, n;

	if (unshare(CLONE_NEWTIME)) {
		pr_perror("can't make a time namespace");
		return -1;
	}
	n = fmt_offset(buf, sizeof(buf), "monotonic", e->monotonic_ns - clock_ns(CLOCK_MONOTONIC));
	n += fmt_offset(buf + n, sizeof(buf) - n, "boottime", e->boottime_ns - clock_ns(CLOCK_BOOTTIME));
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("can't set the time namespace's offsets");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	pr_info("time namespace made with offsets: %.*s\n", n, buf);
	return 0;
}
