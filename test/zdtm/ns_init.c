// SPDX-License-Identifier: GPL-2.0-only
/*
 * zdtm_ns_init: starts a test for the ns and uns flavors of zdtm.py.
 *
 *   zdtm_ns_init [--user] [--root DIR --dev DIR] [--uid N --gid N]
 *                --info FILE -- TEST ARGS...
 *
 * It makes a time namespace with offsets (so that the clocks inside are
 * not the host's), then clones the init of new pid, net, ipc and uts
 * namespaces (and mount with --root, user with --user: ids 0-65535
 * inside are 100000-165535 outside). The init names its host, brings
 * loopback up, with --root bind-mounts --dev on DIR/dev, mounts proc on
 * DIR/proc and pivots into DIR, then starts the test (as --uid/--gid)
 * and stays its parent, reaping whatever comes to it, until it has no
 * children left. This program exits once the test is ready (or failed
 * to start), with the test launcher's exit code, after writing the
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
static const char *opt_root, *opt_dev, *opt_info;
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

static void enter_root(void)
{
	char path[4096], old[4096];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private");
	if (mount(opt_root, opt_root, NULL, MS_BIND | MS_REC, NULL))
		die("bind the root");
	snprintf(path, sizeof(path), "%s/dev", opt_root);
	if (mount(opt_dev, path, NULL, MS_BIND, NULL))
		die("bind /dev");
	snprintf(path, sizeof(path), "%s/proc", opt_root);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		die("mount proc");
	snprintf(old, sizeof(old), "%s/.oldroot", opt_root);
	mkdir(old, 0700);
	if (chdir(opt_root) || syscall(SYS_pivot_root, ".", ".oldroot"))
		die("pivot_root");
	if (chdir("/") || umount2("/.oldroot", MNT_DETACH) || rmdir("/.oldroot"))
		die("drop the old root");
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
		fprintf(stderr, "usage: zdtm_ns_init [--user] [--root DIR --dev DIR] [--uid N --gid N] "
				"--info FILE -- TEST ARGS...\n");
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
