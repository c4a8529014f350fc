// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mounts of each kind in the test's own mount (and IPC) namespace:
 * - a proc of its own with hidepid=invisible: made anew, for the
 *   restored task's pid namespace (its /proc/self is the task);
 * - a devpts instance (newinstance, ptmxmode, mode) holding a pty whose
 *   master and slave the test keeps open, and a bind of its /dev/pts/0 on
 *   a file (runc's /dev/console), opened too: after restore all three are
 *   one pty again, and its ptmx gives the next index;
 * - mqueue: the IPC namespace's (a queue made after restore shows in it);
 * - sysfs read-only, cgroup2, a named cgroup v1 hierarchy of its own.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <termios.h>

#include "zdtmtst.h"

static char dir[512];

static const char *P(const char *rel)
{
	static char buf[8][600];
	static int n;

	n = (n + 1) % 8;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, rel);
	return buf[n];
}

static struct zdtm_mnt get(const char *rel)
{
	struct zdtm_mnt m = { 0 };

	if (zdtm_mountinfo(P(rel), &m))
		fail("no mount at %s", rel);
	return m;
}

/* bytes written at @from come out at @to */
static int carries(int from, int to, const char *what)
{
	char buf[16] = "";
	ssize_t n = strlen(what);

	return write(from, what, n) == n && read(to, buf, sizeof(buf)) == n && !memcmp(buf, what, n);
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = { "proc2", "pts", "mq", "sys", "cg1", "cg2" };
	char cgname[64], opt[96], link[64], self[16];
	struct zdtm_mnt m;
	struct termios t;
	struct statvfs sv;
	int ptm, pts, con, fd, unlock = 0;
	unsigned int idx;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s", test_dir());
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(P(dirs[i]), 0755))
			test_bug("mkdir");
	if ((fd = open(P("console"), O_CREAT | O_WRONLY, 0600)) < 0 || close(fd))
		test_bug("console");
	if (unshare(CLONE_NEWIPC))
		test_bug("unshare(CLONE_NEWIPC)");
	zdtm_mntns();
	snprintf(cgname, sizeof(cgname), "zdtm-%d", getpid());
	snprintf(opt, sizeof(opt), "none,name=%s", cgname);
	if (mount("proc", P("proc2"), "proc", 0, "hidepid=invisible") ||
	    mount("devpts", P("pts"), "devpts", 0, "newinstance,ptmxmode=0666,mode=620") ||
	    mount("mqueue", P("mq"), "mqueue", 0, NULL) || mount("sysfs", P("sys"), "sysfs", MS_RDONLY, NULL) ||
	    mount("cgroup", P("cg1"), "cgroup", 0, opt) || mount("cgroup2", P("cg2"), "cgroup2", 0, NULL))
		test_bug("mounts");
	ptm = open(P("pts/ptmx"), O_RDWR | O_NOCTTY);
	if (ptm < 0 || ioctl(ptm, TIOCSPTLCK, &unlock) || ioctl(ptm, TIOCGPTN, &idx) || idx != 0)
		test_bug("ptmx");
	pts = open(P("pts/0"), O_RDWR | O_NOCTTY);
	if (pts < 0 || tcgetattr(pts, &t))
		test_bug("pts/0");
	cfmakeraw(&t);
	if (tcsetattr(pts, TCSANOW, &t) || mount(P("pts/0"), P("console"), NULL, MS_BIND, NULL))
		test_bug("console bind");
	con = open(P("console"), O_RDWR | O_NOCTTY);
	if (con < 0)
		test_bug("open console");

	test_daemon();
	test_waitsig();

	m = get("proc2");
	snprintf(self, sizeof(self), "%d", getpid());
	ssize_t n = readlink(P("proc2/self"), link, sizeof(link) - 1);

	if (strcmp(m.fstype, "proc") || !strstr(m.sbopts, "hidepid=invisible") || n <= 0 ||
	    (link[n] = '\0', strcmp(link, self)))
		failv("proc2: %s %s, self -> %s", m.fstype, m.sbopts, n > 0 ? link : "?");
	m = get("pts");
	if (strcmp(m.fstype, "devpts") || !strstr(m.sbopts, "mode=620") || !strstr(m.sbopts, "ptmxmode=666"))
		failv("pts: %s %s", m.fstype, m.sbopts);
	m = get("console");
	if (strcmp(m.fstype, "devpts") || strcmp(m.root, "/0"))
		failv("console is %s %s, not a bind of pts/0", m.fstype, m.root);
	if (!carries(ptm, pts, "ping") || !carries(con, ptm, "pong") || !carries(ptm, con, "pang"))
		fail("master, slave and console are not one pty");
	fd = open(P("pts/ptmx"), O_RDWR | O_NOCTTY);
	if (fd < 0 || ioctl(fd, TIOCGPTN, &idx) || idx != 1)
		failv("the next pty is %u, not 1", idx);
	mqd_t q = mq_open("/zdtm-kinds", O_CREAT | O_RDWR, 0600, NULL);

	if (q == (mqd_t)-1 || access(P("mq/zdtm-kinds"), F_OK) || mq_unlink("/zdtm-kinds"))
		fail("mq is not the IPC namespace's mqueue");
	m = get("sys");
	if (strcmp(m.fstype, "sysfs") || statvfs(P("sys"), &sv) || !(sv.f_flag & ST_RDONLY) ||
	    access(P("sys/kernel"), F_OK))
		failv("sys: %s, not a read-only sysfs", m.fstype);
	m = get("cg1");
	snprintf(opt, sizeof(opt), "name=%s", cgname);
	if (strcmp(m.fstype, "cgroup") || !strstr(m.sbopts, opt) || access(P("cg1/cgroup.procs"), F_OK))
		failv("cg1: %s %s", m.fstype, m.sbopts);
	m = get("cg2");
	if (strcmp(m.fstype, "cgroup2") || access(P("cg2/cgroup.procs"), F_OK))
		failv("cg2: %s", m.fstype);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
