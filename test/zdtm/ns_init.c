// SPDX-License-Identifier: GPL-2.0-only
/*
 * zdtm_ns_init: starts a test for the ns and uns flavors of zdtm.py.
 *
 *   zdtm_ns_init [--user] [--root DIR --dev DIR [--bind PATH]... [--log FILE] [--cwd DIR]]
 *                [--uid N --gid N] --info FILE -- TEST ARGS...
 *
 * It makes a time namespace with offsets (so that the clocks inside are
 * not the host's), then clones the init of new pid, net, ipc and uts
 * namespaces (and mount with --root, user with --user: ids 0-65535
 * inside are 100000-165535 outside). The init names its host, brings
 * loopback up and, with --root, builds the test's root as a container
 * runtime does: DIR bound on itself, each --bind PATH bound read-only at
 * DIR/PATH (the test binary's directory, /usr), --dev (a tmpfs of the
 * runner's with the device nodes: the dump names it an external mount)
 * at DIR/dev with a devpts instance of its own at dev/pts and a tmpfs at
 * dev/shm, proc at DIR/proc, sysfs read-only at DIR/sys; it pivots into DIR and points its stdio
 * inside it (/dev/null, --log). Then it starts the test (as --uid/--gid,
 * in --cwd) and stays its parent, reaping whatever comes to it, until it
 * has no children left. This program exits once the test is ready (or
 * failed to start), with the test launcher's exit code, after writing the
 * init's pid, as the host sees it, to --info FILE.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

#define USERNS_BASE	100000
#define USERNS_SIZE	65536

static int opt_user;
static const char *opt_root, *opt_dev, *opt_info, *opt_log, *opt_cwd;
static const char *opt_bind[8];
static int nr_bind;
static int opt_uid = -1, opt_gid = -1;
static char **test_argv;

static void die(const char *what)
{
	fprintf(stderr, "zdtm_ns_init: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const char *buf)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		die(path);
	close(fd);
}

static void lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr))
		die("lo flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr))
		die("lo up");
	close(sk);
}

static void mount_at(const char *src, const char *rel, const char *type, unsigned long flags,
		     const char *data)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s", opt_root, rel);
	if (mount(src, path, type, flags, data))
		die(path);
}

static void bind_ro(const char *src)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	char path[4096];

	mount_at(src, src, NULL, MS_BIND, NULL);
	/* only the read-only bit: in a user namespace the flags it inherited are locked */
	snprintf(path, sizeof(path), "%s%s", opt_root, src);
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, 0, &attr, sizeof(attr)))
		die("make a bind read-only");
}

static void reopen(int fd, const char *path, int flags)
{
	int n = open(path, flags | O_CLOEXEC);

	if (n < 0 || dup2(n, fd) != fd)
		die(path);
	close(n);
}

static void enter_root(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private");
	if (mount(opt_root, opt_root, NULL, MS_BIND | MS_REC, NULL))
		die("bind the root");
	for (int i = 0; i < nr_bind; i++)
		bind_ro(opt_bind[i]);
	mount_at(opt_dev, "/dev", NULL, MS_BIND, NULL);
	mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	mount_at("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
	mount_at("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_at("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* the old root stacked under the new one, then dropped: no directory for it needed */
	if (chdir(opt_root) || syscall(SYS_pivot_root, ".", "."))
		die("pivot_root");
	if (umount2(".", MNT_DETACH) || chdir("/"))
		die("drop the old root");
	/* nothing of the tree's may lead outside its root */
	reopen(0, "/dev/null", O_RDONLY);
	if (opt_log) {
		reopen(1, opt_log, O_WRONLY | O_APPEND);
		reopen(2, opt_log, O_WRONLY | O_APPEND);
	}
}

/* The init of the namespaces: set them up, start the test, then reap. */
static int init_main(int go, int report)
{
	int status = 0;
	pid_t launcher;
	char c;

	if (read(go, &c, 1) != 1)
		exit(1);
	close(go);
	/* root inside, as a runtime makes it: ids the user namespace maps */
	if (opt_user && (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0)))
		die("become root in the user namespace");
	/* a container's init leads its own session */
	if (setsid() < 0)
		die("setsid");
	if (sethostname("zdtm-ns", 7) || setdomainname("zdtm.test", 9))
		die("sethostname");
	lo_up();
	if (opt_root)
		enter_root();
	launcher = fork();
	if (launcher < 0)
		die("fork");
	if (launcher == 0) {
		sigset_t none;

		close(report);
		if (opt_cwd && chdir(opt_cwd))
			die(opt_cwd);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (opt_gid >= 0 && (setgroups(0, NULL) || setresgid(opt_gid, opt_gid, opt_gid)))
			die("setgid");
		if (opt_uid >= 0 && setresuid(opt_uid, opt_uid, opt_uid))
			die("setuid");
		execv(test_argv[0], test_argv);
		die(test_argv[0]);
	}
	/* fds the runner passed are the test's (the init is dumped too): keep only the report pipe */
	if (report > 3)
		syscall(SYS_close_range, 3, report - 1, 0);
	syscall(SYS_close_range, report + 1, ~0U, 0);
	/* the test's launcher exits once the test is ready: tell the outside */
	if (waitpid(launcher, &status, 0) != launcher)
		die("waitpid");
	c = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (write(report, &c, 1) != 1)
		exit(1);
	close(report);
	prctl(PR_SET_NAME, "zdtm_ns_init");
	for (;;)
		if (waitpid(-1, NULL, __WALL) < 0 && errno == ECHILD)
			return 0;
}

static void time_ns(void)
{
	/* clocks inside run 1000 s (monotonic) and 2000 s (boottime) ahead */
	if (unshare(CLONE_NEWTIME))
		die("unshare(CLONE_NEWTIME)");
	write_file("/proc/self/timens_offsets", "monotonic 1000 0\nboottime 2000 0\n");
}

int main(int argc, char **argv)
{
	struct clone_args ca = { .flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
				 .exit_signal = SIGCHLD };
	int go[2], report[2], i;
	char buf[64], c = 1;
	pid_t init;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--user"))
			opt_user = 1;
		else if (!strcmp(argv[i], "--root") && i + 1 < argc)
			opt_root = argv[++i];
		else if (!strcmp(argv[i], "--dev") && i + 1 < argc)
			opt_dev = argv[++i];
		else if (!strcmp(argv[i], "--bind") && i + 1 < argc && nr_bind < 8)
			opt_bind[nr_bind++] = argv[++i];
		else if (!strcmp(argv[i], "--log") && i + 1 < argc)
			opt_log = argv[++i];
		else if (!strcmp(argv[i], "--cwd") && i + 1 < argc)
			opt_cwd = argv[++i];
		else if (!strcmp(argv[i], "--info") && i + 1 < argc)
			opt_info = argv[++i];
		else if (!strcmp(argv[i], "--uid") && i + 1 < argc)
			opt_uid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--gid") && i + 1 < argc)
			opt_gid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--"))
			break;
		else
			break;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") || !opt_info || (opt_root && !opt_dev)) {
		fprintf(stderr, "usage: zdtm_ns_init [--user] [--root DIR --dev DIR [--bind PATH]... [--log FILE] "
				"[--cwd DIR]] [--uid N --gid N] --info FILE -- TEST ARGS...\n");
		return 2;
	}
	test_argv = argv + i + 1;
	if (opt_root)
		ca.flags |= CLONE_NEWNS;
	if (opt_user)
		ca.flags |= CLONE_NEWUSER;
	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC))
		die("pipe");
	time_ns();
	init = syscall(SYS_clone3, &ca, sizeof(ca));
	if (init < 0)
		die("clone3");
	if (init == 0) {
		close(go[1]);
		close(report[0]);
		exit(init_main(go[0], report[1]));
	}
	close(go[0]);
	close(report[1]);
	if (opt_user) {
		char map[96];

		/* uids in two extents (the same ids): restore must write maps of several lines */
		snprintf(map, sizeof(map), "0 %d 1000\n1000 %d %d\n", USERNS_BASE, USERNS_BASE + 1000,
			 USERNS_SIZE - 1000);
		snprintf(buf, sizeof(buf), "/proc/%d/uid_map", init);
		write_file(buf, map);
		snprintf(map, sizeof(map), "0 %d %d\n", USERNS_BASE, USERNS_SIZE);
		snprintf(buf, sizeof(buf), "/proc/%d/gid_map", init);
		write_file(buf, map);
	}
	if (write(go[1], "g", 1) != 1)
		die("write");
	close(go[1]);
	f = fopen(opt_info, "w");
	if (!f || fprintf(f, "%d\n", init) < 0 || fclose(f))
		die(opt_info);
	if (read(report[0], &c, 1) != 1)
		c = 1;
	return c;
}
