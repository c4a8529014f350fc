/*
 * timerfd: clock, time left, interval and expirations not read yet, from
 * fdinfo. The time left is relative, so it is set back relative; ticks go
 * back with TFD_IOC_SET_TICKS.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include "fdkinds.h"
#include "log.h"
#include "util.h"
#include <unistd.h>

static int parse_timerfd(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe);

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET	(1 << 1)
#endif

/* Clocks no time namespace shifts: an absolute time on them means the same everywhere. */
static bool wall_clock(int clockid)
{
	return clockid == CLOCK_REALTIME || clockid == CLOCK_REALTIME_ALARM;
}

/*
 * An absolute timer (TFD_TIMER_ABSTIME, maybe TFD_TIMER_CANCEL_ON_SET) is
 * armed absolute again, so that it keeps its flags (a clock change still
 * cancels it) and, on a wall clock, fires when it was to fire, however
 * long the task was away. On the other clocks the time left is kept.
 */
static int arm_timerfd(int fd, const TimerfdEntry *e, struct itimerspec *its)
{
	int flags = e->settime_flags & (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	struct timespec now;

	if (!(flags & TFD_TIMER_ABSTIME))
		return timerfd_settime(fd, 0, its, NULL);
	if (e->has_deadline_ns && wall_clock(e->clockid)) {
		its->it_value.tv_sec = e->deadline_ns / 1000000000ULL;
		its->it_value.tv_nsec = e->deadline_ns % 1000000000ULL;
	} else {
		if (clock_gettime(e->clockid, &now))
			return -1;
		its->it_value.tv_sec += now.tv_sec;
		its->it_value.tv_nsec += now.tv_nsec;
		if (its->it_value.tv_nsec >= 1000000000) {
			its->it_value.tv_sec++;
			its->it_value.tv_nsec -= 1000000000;
		}
	}
	return timerfd_settime(fd, flags, its, NULL);
}

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif

/* fdinfo of @fd of @pid parsed into @fe->tfd; -1 with a message. */
static int read_timerfd(pid_t pid, int fd, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char name[64], *info;
	int ret;

	free(fe->tfd);
	fe->tfd = NULL;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	info = read_proc_file(pid, name, NULL);
	if (!info) {
		pr_perror("can't read /proc/%d/fdinfo/%d", pid, fd);
		return -1;
	}
	ret = parse_timerfd(pid, fd, info, fi, fe);
	free(info);
	return ret;
}

static bool no_time_left(const TimerfdEntry *e)
{
	return !e->value_sec && !e->value_nsec;
}

/*
 * No time left and an interval: a timer disarmed with an interval set,
 * or a periodic one that fired again since it was re-armed (or had so
 * little left that it showed none). The periodic one fires once more
 * within its interval: its ticks grow. Intervals above 100 ms can't show
 * none just after a re-arm (that takes microseconds).
 */
static int periodic_armed(int dup, pid_t pid, int fd, const struct proc_fdinfo *fi, FileEntry *fe)
{
	uint64_t before = fe->tfd->ticks;
	uint64_t ns = fe->tfd->interval_sec * 1000000000ULL + fe->tfd->interval_nsec;
	struct itimerspec its;
	struct timespec ts;

	if (ns > 100000000ULL)
		return 0;
	if (timerfd_gettime(dup, &its)) {
		pr_perror("timerfd_gettime on fd %d of %d", fd, pid);
		return -1;
	}
	ns = 2 * ns + 1000000;
	ts.tv_sec = ns / 1000000000ULL;
	ts.tv_nsec = ns % 1000000000ULL;
	nanosleep(&ts, NULL);
	if (read_timerfd(pid, fd, fi, fe))
		return -1;
	return fe->tfd->ticks > before || !no_time_left(fe->tfd);
}

/*
 * A periodic timer that fired and was not read is not re-armed until
 * someone looks: fdinfo would show no time left and too few ticks.
 * timerfd_gettime() on a duplicate brings both up to date (the count a
 * read() would return does not change), so ask it first, then fdinfo.
 * A fast one may fire again in between and show no time left: restored
 * so, it would never fire again (zdtm timerfd hung once in 700 runs;
 * timerfd_fast, 50 us, most of the time). Asked again, and if it keeps
 * showing none, it is overdue: it fires at once after the restore.
 */
static int dump_timerfd(struct file_table *ft, pid_t pid, int fd, const char *stale, const struct proc_fdinfo *fi, FileEntry *fe)
{
	struct itimerspec its;
	int dup = task_fd(pid, fd), ret = -1;

	if (dup < 0)
		return -1;
	for (int tries = 0; tries < 4; tries++) {
		if (timerfd_gettime(dup, &its)) {
			pr_perror("timerfd_gettime on fd %d of %d", fd, pid);
			goto out;
		}
		if (read_timerfd(pid, fd, fi, fe))
			goto out;
		if (!no_time_left(fe->tfd) || !(fe->tfd->interval_sec || fe->tfd->interval_nsec)) {
			ret = 0;
			goto out;
		}
	}
	ret = periodic_armed(dup, pid, fd, fi, fe);
	if (ret > 0 && no_time_left(fe->tfd)) {
		pr_debug("timerfd fd %d of %d: periodic, fires faster than it is read: due at once\n", fd, pid);
		fe->tfd->value_nsec = 1;
	}
	ret = ret < 0 ? -1 : 0;
out:
	close(dup);
	return ret;
}

static int parse_timerfd(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	const char *clk = fdinfo_field(info, "clockid"), *ticks = fdinfo_field(info, "ticks"),
		   *sf = fdinfo_field(info, "settime flags"), *val = fdinfo_field(info, "it_value"),
		   *intv = fdinfo_field(info, "it_interval");
	TimerfdEntry *e = malloc(sizeof(*e));
	unsigned long long a, b, c, d;

	if (!e || !clk || !ticks || !sf || !val || !intv || sscanf(val, "(%llu, %llu)", &a, &b) != 2 ||
	    sscanf(intv, "(%llu, %llu)", &c, &d) != 2) {
		free(e);
		pr_err("can't read the timerfd fd %d of %d\n", fd, pid);
		return -1;
	}
	timerfd_entry__init(e);
	e->clockid = atoi(clk);
	e->ticks = strtoull(ticks, NULL, 10);
	e->settime_flags = strtoul(sf, NULL, 8);
	e->value_sec = a;
	e->value_nsec = b;
	e->interval_sec = c;
	e->interval_nsec = d;
	e->flags = fi->flags & O_NONBLOCK;
	fe->tfd = e;
	if ((e->settime_flags & TFD_TIMER_ABSTIME) && (a || b) && wall_clock(e->clockid)) {
		struct timespec now;

		if (clock_gettime(e->clockid, &now)) {
			pr_perror("clock_gettime(%d) for the timerfd fd %d of %d", e->clockid, fd, pid);
			return -1;
		}
		e->has_deadline_ns = true;
		e->deadline_ns = (now.tv_sec + a) * 1000000000ULL + now.tv_nsec + b;
	}
	return 0;
}

static int open_timerfd(struct fd_rst *c, FileEntry *fe)
{
	TimerfdEntry *e = fe->tfd;
	struct itimerspec its;
	int fd;

	if (!e || e->value_nsec >= 1000000000 || e->interval_nsec >= 1000000000) {
		pr_err("file %u: a bad timerfd record\n", fe->id);
		return -1;
	}
	fd = timerfd_create(e->clockid, TFD_CLOEXEC | (e->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
	if (fd < 0) {
		pr_perror("timerfd_create(%d)", e->clockid);
		return -1;
	}
	its.it_value.tv_sec = e->value_sec;
	its.it_value.tv_nsec = e->value_nsec;
	its.it_interval.tv_sec = e->interval_sec;
	its.it_interval.tv_nsec = e->interval_nsec;
	/* disarmed, it keeps its interval (timerfd_gettime() shows it) */
	if ((its.it_value.tv_sec || its.it_value.tv_nsec) ? arm_timerfd(fd, e, &its) :
	    (its.it_interval.tv_sec || its.it_interval.tv_nsec) && timerfd_settime(fd, 0, &its, NULL)) {
		pr_perror("timerfd_settime(clock %d, flags %#x)", e->clockid, e->settime_flags);
		close(fd);
		return -1;
	}
	if (e->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &e->ticks)) {
		pr_perror("can't give a timerfd its %llu expirations", (unsigned long long)e->ticks);
		close(fd);
		return -1;
	}
	return fd;
}

static void free_timerfd(FileEntry *fe)
{
	free(fe->tfd);
	fe->tfd = NULL;
}

const struct fd_kind timerfd_kind = {
	.link = "anon_inode:[timerfd]",
	.type = FILE_TYPE__FT_TIMERFD,
	.dump = dump_timerfd,
	.open = open_timerfd,
	.free = free_timerfd,
};
