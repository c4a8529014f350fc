/*
 * mnthog NPROC NMOUNTS PIDFILE DIR
 *
 * The victim of the benchmark's mounts scenario (see scripts/bench): a
 * tree of NPROC processes in a mount and IPC namespace of its own, with
 * NMOUNTS mounts below DIR/m (besides its root: a bind of the host's "/",
 * /dev and a proc), in groups of four:
 *	i % 4 == 0: a shared tmpfs holding a file "id" (its number) and sub/
 *	i % 4 == 1: a bind of sub/ of that tmpfs
 *	i % 4 == 2: a read-only bind of a host directory (DIR/src)
 *	i % 4 == 3: a bind of the tmpfs, its peer
 * The root (started as a session leader) forks NPROC-1 children, writes
 * PIDFILE and waits for SIGTERM; then it stops its children (each checks
 * its pid and parent) and checks every mount: same count, each tmpfs's
 * file, each bind's, the peers' groups. Prints OK or BAD.
 *
 * mnthog NPROC NMOUNTS PIDFILE DIR ns|userns: a container. The process
 * started forks the tree's root as the init of new pid, network, UTS
 * (and, with userns, user: ids 0-65535 inside are 100000-165535 outside,
 * the root becomes root inside) namespaces, writes the init's pid to
 * PIDFILE and exits; the init makes its mount and IPC namespaces as
 * above, a host name, loopback up, and leads a session of its own. With
 * userns the root is a tmpfs with binds (userns_root()) and the mounts
 * are made in DIR/ct, owned by the namespace's root.
 * Exit status: 0 OK, 1 BAD, 2 setup failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;
static char dir[512], topdir[512];	/* where the mounts go; DIR */
static unsigned nmounts;
static int userns;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	printf("mnthog: %s: %s\n", what, strerror(errno));
	return 2;
}

static int mkdirs(char *path)
{
	for (char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		if (!p)
			return 0;
		*p = '/';
	}
}

/* Directory @what of the host bound at the same path below @root (mounts below it may not be locked). */
static int bind_same(const char *root, const char *what, int file)
{
	char path[1400];
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, what);
	if (file) {
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0 || close(fd))
			return -1;
	} else if (mkdirs(path)) {
		return -1;
	}
	return mount(what, path, NULL, MS_BIND, NULL);
}

/*
 * In a user namespace the root is a tmpfs with binds of /usr, the
 * program's directory, DIR (the launcher's output is there) and /dev/null: a bind of "/" would have to be
 * recursive (it may not reveal what the host's mounts cover), and would
 * bring all the host's mounts in.
 */
static int userns_root(const char *root)
{
	static const char *const links[][2] = { { "usr/bin", "bin" }, { "usr/lib", "lib" },
						{ "usr/lib64", "lib64" }, { "usr/sbin", "sbin" } };
	char exe[512], *slash, path[1400];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0 || mount("root", root, "tmpfs", 0, "mode=0755"))
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, links[i][1]);
		if (symlink(links[i][0], path))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/dev", root);
	if (mkdir(path, 0755) || bind_same(root, "/dev/null", 1) || bind_same(root, "/usr", 0) ||
	    bind_same(root, exe, 0) || bind_same(root, topdir, 0))
		return -1;
	snprintf(path, sizeof(path), "%s/proc", root);
	return mkdir(path, 0555);
}

/* A root of its own, as a runtime makes it: a bind of "/", /dev, a proc; DIR bound in if elsewhere. */
static int enter_ns(void)
{
	char root[700], path[1400];
	struct stat sr, sd;

	snprintf(root, sizeof(root), "%s/root", dir);
	if (mkdir(root, 0755) || unshare(CLONE_NEWNS | CLONE_NEWIPC) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return die("a root");
	if (userns ? userns_root(root) : mount("/", root, NULL, MS_BIND, NULL))
		return die("a root");
	snprintf(path, sizeof(path), "%s/dev", root);
	if (!userns && mount("/dev", path, NULL, MS_BIND, NULL))
		return die("/dev");
	snprintf(path, sizeof(path), "%s/proc", root);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return die("proc");
	snprintf(path, sizeof(path), "%s%s", root, dir);
	if (stat("/", &sr) || stat(dir, &sd) || (!userns && sr.st_dev != sd.st_dev && mount(dir, path, NULL, MS_BIND, NULL)))
		return die("bind DIR");
	if (chdir(root) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/"))
		return die("pivot_root");
	return 0;
}

static void mpath(char *buf, size_t size, unsigned i, const char *rest)
{
	snprintf(buf, size, "%s/m/%u%s", dir, i, rest);
}

static int make_mounts(void)
{
	char p[700], q[700];

	snprintf(p, sizeof(p), "%s/m", dir);
	if (mkdir(p, 0755))
		return die("mkdir m");
	snprintf(p, sizeof(p), "%s/src", dir);
	if (mkdir(p, 0755))
		return die("mkdir src");
	for (unsigned i = 0; i < nmounts; i++) {
		mpath(p, sizeof(p), i, "");
		if (mkdir(p, 0755))
			return die("mkdir");
		switch (i % 4) {
		case 0: {
			char id[16];
			int fd, n = snprintf(id, sizeof(id), "%u", i);

			if (mount("mnthog", p, "tmpfs", 0, "size=64k") || mount(NULL, p, NULL, MS_SHARED, NULL))
				return die("tmpfs");
			mpath(q, sizeof(q), i, "/id");
			fd = open(q, O_CREAT | O_WRONLY, 0644);
			if (fd < 0 || write(fd, id, n) != n || close(fd))
				return die("id");
			mpath(q, sizeof(q), i, "/sub");
			if (mkdir(q, 0755))
				return die("sub");
			break;
		}
		case 1:
			mpath(q, sizeof(q), i - 1, "/sub");
			if (mount(q, p, NULL, MS_BIND, NULL))
				return die("bind sub");
			break;
		case 2:
			snprintf(q, sizeof(q), "%s/src", dir);
			if (mount(q, p, NULL, MS_BIND, NULL) || mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
				return die("bind src");
			break;
		default:
			mpath(q, sizeof(q), i - 3, "");
			if (mount(q, p, NULL, MS_BIND, NULL))
				return die("bind peer");
		}
	}
	return 0;
}

/* mountinfo's peer group of the mount at @p (0: not shared), -1 if not mounted */
static int group_of(char *const *lines, int n, const char *p)
{
	int g = -1;

	for (int i = 0; i < n; i++) {
		char point[700], *s;

		if (sscanf(lines[i], "%*d %*d %*s %*s %699s", point) == 1 && !strcmp(point, p))
			g = (s = strstr(lines[i], "shared:")) ? atoi(s + 7) : 0;
	}
	return g;
}

static int check_mounts(void)
{
	static char buf[1 << 22];
	char *lines[65536], p[700], want[16], got[16];
	int fd = open("/proc/self/mountinfo", O_RDONLY), n = 0, bad = 0;
	ssize_t len = 0, r;

	while (fd >= 0 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	if (fd < 0 || r < 0)
		return die("mountinfo");
	close(fd);
	buf[len] = '\0';
	for (char *l = strtok(buf, "\n"); l && n < 65536; l = strtok(NULL, "\n"))
		lines[n++] = l;
	for (unsigned i = 0; i < nmounts; i++) {
		unsigned src = i % 4 == 1 || i % 4 == 3 ? i - i % 4 : i;

		mpath(p, sizeof(p), i, "");
		if (group_of(lines, n, p) < 0) {
			printf("mnthog: BAD: mount %u is gone\n", i);
			bad++;
			continue;
		}
		if (i % 4 == 2)
			continue;
		if (i % 4 == 1) {
			struct stat a, b;
			char bp[700];

			mpath(p, sizeof(p), src, "/sub");
			mpath(bp, sizeof(bp), i, "");
			if (stat(p, &a) || stat(bp, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
				printf("mnthog: BAD: mount %u is not a bind of %u/sub\n", i, src);
				bad++;
			}
			continue;
		}
		mpath(p, sizeof(p), i, "/id");
		snprintf(want, sizeof(want), "%u", src);
		fd = open(p, O_RDONLY);
		memset(got, 0, sizeof(got));
		if (fd < 0 || read(fd, got, sizeof(got) - 1) <= 0 || strcmp(got, want)) {
			printf("mnthog: BAD: mount %u holds '%s', not '%s'\n", i, got, want);
			bad++;
		}
		if (fd >= 0)
			close(fd);
		if (i % 4 == 3) {
			char q[700];

			mpath(p, sizeof(p), i, "");
			mpath(q, sizeof(q), src, "");
			if (group_of(lines, n, p) <= 0 || group_of(lines, n, p) != group_of(lines, n, q)) {
				printf("mnthog: BAD: mounts %u and %u are not peers\n", i, src);
				bad++;
			}
		}
	}
	return bad ? 1 : 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), n = strlen(text);

	if (fd < 0 || write(fd, text, n) != n) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * The container's namespaces (but mount and IPC, which enter_ns() makes):
 * the init is forked here; the launcher writes its pid once the init says
 * it is ready (@ready: the init's end) and exits. Returns 0 in the init,
 * else the launcher's exit status + 1.
 */
static int make_container(const char *pidfile, int *ready_fd)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | (userns ? CLONE_NEWUSER : 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	int go[2], ready[2], sk;
	char c, path[64];
	pid_t init;
	FILE *f;

	if (pipe(go) || pipe(ready))
		return die("pipe") + 1;
	/* the user namespace's root makes its mounts in DIR/ct (DIR holds the images: root's, see trust.c) */
	if (userns) {
		strncat(dir, "/ct", sizeof(dir) - strlen(dir) - 1);
		if (mkdir(dir, 0755) || chown(dir, 100000, 100000))
			return die("DIR/ct") + 1;
	}
	init = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (init < 0)
		return die("clone") + 1;
	if (init) {
		close(go[0]);
		close(ready[1]);
		if (userns) {
			snprintf(path, sizeof(path), "/proc/%d/uid_map", init);
			if (write_file(path, "0 100000 65536"))
				return die("uid_map") + 1;
			snprintf(path, sizeof(path), "/proc/%d/setgroups", init);
			if (write_file(path, "deny"))
				return die("setgroups") + 1;
			snprintf(path, sizeof(path), "/proc/%d/gid_map", init);
			if (write_file(path, "0 100000 65536"))
				return die("gid_map") + 1;
		}
		close(go[1]);
		if (read(ready[0], &c, 1) != 1)
			return 3;	/* the init said why */
		f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%d\n", init) < 0 || fclose(f))
			return die("pidfile") + 1;
		return 1;
	}
	close(go[1]);
	close(ready[0]);
	if (read(go[0], &c, 1) != 0)
		_exit(die("waiting for the maps"));
	close(go[0]);
	if (userns && (setresgid(0, 0, 0) || setresuid(0, 0, 0)))
		_exit(die("root in the user namespace"));
	if (setsid() < 0 || sethostname("mnthog", 6))
		_exit(die("session, host name"));
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(sk, SIOCSIFFLAGS, &ifr)))
		_exit(die("loopback up"));
	close(sk);
	*ready_fd = ready[1];
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	unsigned nkids, ok = 0;
	int ready_fd = -1;
	pid_t root, *kids;
	double t0, spawn_s, mount_s;
	int p[2], ret;
	char c;
	FILE *f;

	if (argc != 5 && !(argc == 6 && (!strcmp(argv[5], "ns") || !strcmp(argv[5], "userns")))) {
		fprintf(stderr, "usage: %s NPROC NMOUNTS PIDFILE DIR [ns|userns]\n", argv[0]);
		return 2;
	}
	userns = argc == 6 && !strcmp(argv[5], "userns");
	nkids = strtoul(argv[1], NULL, 0) - 1;
	nmounts = strtoul(argv[2], NULL, 0);
	snprintf(dir, sizeof(dir), "%s", argv[4]);
	snprintf(topdir, sizeof(topdir), "%s", argv[4]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (nkids > 10000 || nmounts > 10000 || sigaction(SIGTERM, &sa, NULL))
		return 2;
	if (argc == 6 && (ret = make_container(argv[3], &ready_fd)))
		return ret - 1;
	root = getpid();
	t0 = now_s();
	if (enter_ns() || make_mounts())
		return 2;
	mount_s = now_s() - t0;
	kids = calloc(nkids + 1, sizeof(*kids));
	if (!kids || pipe(p))
		return die("setup");
	t0 = now_s();
	for (unsigned i = 0; i < nkids; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			return die("fork");
		if (kids[i] == 0) {
			pid_t me = getpid();

			close(p[0]);
			close(p[1]);
			if (ready_fd >= 0)
				close(ready_fd);
			while (!got_term)
				pause();
			_exit(getpid() == me && getppid() == root ? 0 : 1);
		}
	}
	close(p[1]);
	/* every child closed its end: all are waiting, holding only stdio */
	if (read(p[0], &c, 1) != 0)
		return die("children");
	close(p[0]);
	spawn_s = now_s() - t0;
	printf("mnthog: pid %d scenario mounts tasks %u mounts %u spawn_s %.4f fill_s %.4f ready\n", root, nkids + 1,
	       nmounts, spawn_s, mount_s);
	if (ready_fd >= 0) {
		if (write(ready_fd, "r", 1) != 1)
			return die("ready");
		close(ready_fd);
	} else {
		f = fopen(argv[3], "w");
		if (!f || fprintf(f, "%d\n", root) < 0 || fclose(f))
			return die("pidfile");
	}
	while (!got_term)
		pause();
	for (unsigned i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	for (unsigned i = 0; i < nkids; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) && !WEXITSTATUS(st))
			ok++;
	}
	ret = check_mounts();
	if (ok != nkids || ret || getpid() != root) {
		printf("mnthog: BAD: %u of %u children OK, mounts %s\n", ok, nkids, ret ? "differ" : "OK");
		return 1;
	}
	printf("mnthog: OK tree pid %d: %u processes, %u mounts checked\n", root, nkids + 1, nmounts);
	return 0;
}
