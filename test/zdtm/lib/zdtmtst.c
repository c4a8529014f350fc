// SPDX-License-Identifier: GPL-2.0-only
/*
 * zdtm test helper library: daemonizing, readiness reporting to the
 * runner, SIGTERM handling, messages and a few memory/procfs helpers.
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int test_argc;
char **test_argv;
volatile sig_atomic_t test_sigterm;
int test_failures;

static char *pidfile_path;
static char *outfile_path;
static char *outdir_path;
static int ready_fd = -1;
static void (*sigterm_hook)(void);

static void sigterm_handler(int sig)
{
	int saved_errno = errno;

	test_sigterm = 1;
	if (sigterm_hook)
		sigterm_hook();
	errno = saved_errno;
}

void test_set_sigterm_hook(void (*hook)(void))
{
	sigterm_hook = hook;
}

/* Makes path absolute so that a later chdir() of the test is harmless. */
static char *abs_path(const char *path)
{
	char cwd[4096];
	char *res;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&res, "%s/%s", cwd, path) < 0)
		return NULL;
	return res;
}

static void usage(const char *prog)
{
	fprintf(stderr, "Usage: %s --pidfile=PATH --outfile=PATH [test args]\n",
		prog);
	exit(1);
}

static void parse_args(int argc, char **argv)
{
	int i;

	test_argv = calloc(argc + 1, sizeof(char *));
	if (!test_argv) {
		perror("calloc");
		exit(1);
	}
	test_argv[test_argc++] = argv[0];

	for (i = 1; i < argc; i++) {
		char **dst = NULL;
		const char *val = NULL;

		if (!strncmp(argv[i], "--pidfile=", 10)) {
			dst = &pidfile_path;
			val = argv[i] + 10;
		} else if (!strncmp(argv[i], "--outfile=", 10)) {
			dst = &outfile_path;
			val = argv[i] + 10;
		} else if (!strcmp(argv[i], "--pidfile") ||
			   !strcmp(argv[i], "--outfile")) {
			dst = argv[i][2] == 'p' ? &pidfile_path : &outfile_path;
			if (i + 1 >= argc)
				usage(argv[0]);
			val = argv[++i];
		}

		if (!dst) {
			test_argv[test_argc++] = argv[i];
			continue;
		}
		if (!*val)
			usage(argv[0]);
		*dst = abs_path(val);
		if (!*dst) {
			perror("abs_path");
			exit(1);
		}
	}
	test_argv[test_argc] = NULL;

	if (!pidfile_path || !outfile_path)
		usage(argv[0]);

	outdir_path = strdup(outfile_path);
	if (!outdir_path) {
		perror("strdup");
		exit(1);
	}
	*strrchr(outdir_path, '/') = '\0';
	if (!*outdir_path)
		strcpy(outdir_path, "/");
}

/* The parent's side: wait for readiness or for the child's death. */
static void __attribute__((noreturn)) wait_ready(pid_t child, int fd)
{
	char c, buf[4096];
	ssize_t ret;
	int status, ofd;

	do {
		ret = read(fd, &c, 1);
	} while (ret < 0 && errno == EINTR);

	if (ret == 1) {
		/*
		 * Ready: once the test has closed its end too (EOF), or the
		 * runner could look at the test before it did. 10 s at most,
		 * should a child made before test_daemon() still hold it.
		 */
		struct pollfd p = { .fd = fd, .events = POLLIN };

		while (poll(&p, 1, 10000) < 0 && errno == EINTR)
			;
		_exit(0);
	}

	if (waitpid(child, &status, 0) < 0)
		perror("waitpid");
	else if (WIFEXITED(status))
		fprintf(stderr, "test exited with %d before being ready\n",
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "test killed by signal %d before being ready\n",
			WTERMSIG(status));

	ofd = open(outfile_path, O_RDONLY);
	if (ofd >= 0) {
		while ((ret = read(ofd, buf, sizeof(buf))) > 0)
			if (write(STDERR_FILENO, buf, ret) != ret)
				break;
		close(ofd);
	}
	_exit(1);
}

static void drop_ready_fd(void)
{
	if (ready_fd >= 0)
		close(ready_fd);
	ready_fd = -1;
}

void test_init(int argc, char **argv)
{
	struct sigaction sa = {};
	int pfd[2], fd;
	pid_t pid;

	parse_args(argc, argv);

	/* Output from now on goes through the outfile; keep stdio clean. */
	fflush(NULL);

	if (pipe2(pfd, O_CLOEXEC)) {
		perror("pipe");
		exit(1);
	}

	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid > 0) {
		close(pfd[1]);
		wait_ready(pid, pfd[0]);
	}

	close(pfd[0]);
	ready_fd = pfd[1];
	/* children forked while the test builds its state must not hold the readiness pipe */
	if (pthread_atfork(NULL, NULL, drop_ready_fd)) {
		perror("pthread_atfork");
		exit(1);
	}

	if (setsid() < 0) {
		perror("setsid");
		exit(1);
	}

	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
		perror("/dev/null");
		exit(1);
	}
	if (fd != STDIN_FILENO)
		close(fd);

	fd = open(outfile_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		perror(outfile_path);
		exit(1);
	}
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("dup2");
		exit(1);
	}
	if (fd > STDERR_FILENO)
		close(fd);

	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);

	/* SA_RESTART: a read() blocked in a test is restarted after it. */
	sa.sa_handler = sigterm_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		fail("sigaction(SIGTERM)");
		exit(1);
	}
}

int test_daemon_prepare(void)
{
	char tmp[4096], buf[32];
	int fd, len;

	if (ready_fd < 0)
		test_bug("test_daemon() called twice or before test_init()");

	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("can't create %s", tmp);
	len = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (write(fd, buf, len) != len)
		test_bug("can't write %s", tmp);
	if (close(fd))
		test_bug("can't close %s", tmp);
	if (rename(tmp, pidfile_path))
		test_bug("can't rename %s to %s", tmp, pidfile_path);

	fd = ready_fd;
	ready_fd = -1;
	return fd;
}

void test_daemon(void)
{
	int fd = test_daemon_prepare();

	if (write(fd, "R", 1) != 1)
		test_bug("can't report readiness");
	close(fd);
}

void test_waitsig(void)
{
	sigset_t block, old, wait;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);

	/* Wait with the test's own mask, only SIGTERM let through. */
	wait = old;
	sigdelset(&wait, SIGTERM);
	while (!test_sigterm)
		sigsuspend(&wait);

	sigprocmask(SIG_SETMASK, &old, NULL);
}

const char *test_dir(void)
{
	return outdir_path;
}

void test_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", outdir_path, name);
}

static void vmsg(const char *prefix, const char *fmt, va_list args,
		 int err)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf), "%s", prefix);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, args);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (err)
		n += snprintf(buf + n, sizeof(buf) - n, " (%s)", strerror(err));
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	if (n == 0 || buf[n - 1] != '\n')
		buf[n++] = '\n';
	buf[n] = '\0';

	fflush(stdout);
	fputs(buf, stdout);
	fflush(stdout);
}

void test_msg(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;

	va_start(args, fmt);
	vmsg("", fmt, args, 0);
	va_end(args);
	errno = saved_errno;
}

void pass(void)
{
	fflush(stdout);
	fputs("PASS\n", stdout);
	fflush(stdout);
}

void __test_fail(const char *file, int line, const char *fmt, ...)
{
	int saved_errno = errno;
	char prefix[256];
	va_list args;

	test_failures++;
	snprintf(prefix, sizeof(prefix), "FAIL: %s:%d: ", file, line);
	va_start(args, fmt);
	vmsg(prefix, fmt, args, saved_errno);
	va_end(args);
	errno = saved_errno;
}

void zdtm_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *p = buf;
	size_t i, n = len / 8;

	for (i = 0; i < n; i++)
		p[i] = zdtm_pattern(seed, i);
	if (len % 8) {
		uint64_t v = zdtm_pattern(seed, n);

		memcpy(p + n, &v, len % 8);
	}
}

size_t zdtm_check(const void *buf, size_t len, uint64_t seed)
{
	const uint64_t *p = buf;
	size_t i, n = len / 8;

	for (i = 0; i < n; i++)
		if (p[i] != zdtm_pattern(seed, i))
			goto bad;
	if (len % 8) {
		uint64_t v = zdtm_pattern(seed, n);

		if (memcmp(p + n, &v, len % 8))
			goto bad;
	}
	return (size_t)-1;
bad:
	{
		const unsigned char *b = buf;
		uint64_t v = zdtm_pattern(seed, i);
		const unsigned char *e = (const unsigned char *)&v;
		size_t j;

		for (j = 0; j < 8 && i * 8 + j < len; j++)
			if (b[i * 8 + j] != e[j])
				return i * 8 + j;
		return i * 8;
	}
}

size_t zdtm_check_zero(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	const uint64_t *p = buf;
	size_t i, n = len / 8;

	for (i = 0; i < n; i++)
		if (p[i])
			break;
	for (i *= 8; i < len; i++)
		if (b[i])
			return i;
	return (size_t)-1;
}

uint64_t zdtm_random(void)
{
	struct timespec ts;
	uint64_t v;

	if (getrandom(&v, sizeof(v), 0) == sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return zdtm_pattern(ts.tv_nsec ^ ((uint64_t)getpid() << 32),
			    ts.tv_sec);
}

int zdtm_find_vma(const void *addr, unsigned long *start, unsigned long *end,
		  char prot[5])
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[4096], p[5];
	int ret = -1;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &s, &e, p) != 3)
			continue;
		if (a < s || a >= e)
			continue;
		if (start)
			*start = s;
		if (end)
			*end = e;
		if (prot)
			memcpy(prot, p, 5);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

ssize_t zdtm_read_file(const char *path, char **bufp)
{
	size_t size = 4096, len = 0;
	char *buf, *nbuf;
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	buf = malloc(size);
	if (!buf)
		goto err;
	for (;;) {
		/* room for the NUL the text is terminated with */
		if (len + 1 >= size) {
			size *= 2;
			nbuf = realloc(buf, size);
			if (!nbuf)
				goto err;
			buf = nbuf;
		}
		ret = read(fd, buf + len, size - len);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		if (ret == 0)
			break;
		len += ret;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	return len;
err:
	free(buf);
	close(fd);
	return -1;
}

void zdtm_block_usr1(bool block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL))
		test_bug("sigprocmask(SIGUSR1)");
}

int zdtm_wait_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return sigwait(&set, &sig) ? -1 : 0;
}

int zdtm_reap(pid_t pid, int *status)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		st = -1;
	if (status)
		*status = st;
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int zdtm_wake_and_reap(pid_t pid, int *status)
{
	if (kill(pid, SIGUSR1)) {
		if (status)
			*status = -1;
		return -1;
	}
	return zdtm_reap(pid, status);
}

int zdtm_wait_ready(int p[2])
{
	char c;
	ssize_t n;

	close(p[1]);
	n = read(p[0], &c, 1);
	close(p[0]);
	return n == 0 ? 0 : -1;
}

bool zdtm_fd_is_path(int fd, const char *path, nlink_t nlink)
{
	struct stat sf, sp;

	return !fstat(fd, &sf) && !stat(path, &sp) && sf.st_dev == sp.st_dev && sf.st_ino == sp.st_ino &&
	       sf.st_nlink == nlink;
}

int zdtm_fd_at(int fd, int to)
{
	if (fd < 0)
		return -1;
	if (fd == to)
		return to;
	if (dup2(fd, to) != to) {
		close(fd);
		return -1;
	}
	close(fd);
	return to;
}

#define ZDTM_CLONE_STACK	(256 << 10)

struct clone_start {
	int (*fn)(void *);
	void *arg;
	int flags;
	int ready_fd;		/* the readiness pipe when the child was made */
};

/*
 * What fork() does through drop_ready_fd(), for a clone() child with a
 * table of its own. The fd is the one of the clone() time: with CLONE_VM
 * the parent may have reported readiness (ready_fd = -1 in the memory
 * they share) before the child runs, and the child's copy would be left
 * open (the launcher waited its 10 s for EOF).
 */
static int clone_start(void *p)
{
	struct clone_start *cs = p;

	if (!(cs->flags & CLONE_FILES) && cs->ready_fd >= 0) {
		close(cs->ready_fd);
		if (!(cs->flags & CLONE_VM))
			ready_fd = -1;
	}
	return cs->fn(cs->arg);
}

pid_t zdtm_clone(int (*fn)(void *), int flags, void *arg)
{
	char *stack = malloc(ZDTM_CLONE_STACK);
	struct clone_start *cs = malloc(sizeof(*cs));	/* the child may read it at any time: kept */

	if (!stack || !cs)
		return -1;
	*cs = (struct clone_start){ fn, arg, flags, ready_fd };
	return clone(clone_start, stack + ZDTM_CLONE_STACK, flags, cs);
}

void zdtm_wait_step(volatile int *step, int want)
{
	while (*step < want && *step >= 0)
		usleep(1000);
}

int zdtm_dir_count(const char *dir, const char *part, char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strstr(de->d_name, part))
			continue;
		n++;
		if (path)
			snprintf(path, len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	return n;
}

pid_t zdtm_fork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		test_bug("fork");
	/* a child made before test_daemon() drops the readiness pipe: drop_ready_fd() */
	return pid;
}

void zdtm_mntns(void)
{
	zdtm_mntns_keep(NULL);
}

static const char *exe_dir(void);

/* The id of the mount @path is on (statx), 0 if unknown. */
static uint64_t mount_id_of(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &sx) || !(sx.stx_mask & STATX_MNT_ID))
		return 0;
	return sx.stx_mnt_id;
}

/* The top directory of the mount @path is on, in @out. */
static void mount_top(const char *path, char *out, size_t size)
{
	uint64_t id = mount_id_of(path);
	char *s;

	snprintf(out, size, "%s", path);
	while ((s = strrchr(out, '/')) && s != out) {
		*s = '\0';
		if (mount_id_of(out) != id) {
			*s = '/';
			return;
		}
	}
}

void zdtm_mntns_keep(const char *shared)
{
	char root[2048], path[4096];
	struct stat sr, st;
	int keep = -1;

	if (unshare(CLONE_NEWNS))
		test_bug("a mount namespace of its own");
	/* a detached clone of a shared mount is in its peer group, whatever happens to the tree */
	if (shared && (keep = open_tree(AT_FDCWD, shared, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
		test_bug("clone %s", shared);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		test_bug("a mount namespace of its own");
	snprintf(root, sizeof(root), "%s/.zdtm-root", test_dir());
	if (mkdir(root, 0755) && errno != EEXIST)
		test_bug("mkdir %s", root);
	if (mount("/", root, NULL, MS_BIND, NULL))
		test_bug("bind / at %s", root);
	snprintf(path, sizeof(path), "%s/dev", root);
	if (mount("/dev", path, NULL, MS_BIND, NULL))
		test_bug("bind /dev");
	snprintf(path, sizeof(path), "%s/proc", root);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		test_bug("mount proc");
	/* the test directory is on another mount than "/": bring it in too */
	if (stat("/", &sr) || stat(test_dir(), &st))
		test_bug("stat");
	snprintf(path, sizeof(path), "%s%s", root, test_dir());
	if (st.st_dev != sr.st_dev && mount(test_dir(), path, NULL, MS_BIND, NULL))
		test_bug("bind %s", test_dir());
	/* the ns flavors' root has /usr and the tests' directory bound in: ours too (the libraries, the exe) */
	for (int i = 0; i < 2; i++) {
		char what[1024];

		mount_top(i ? exe_dir() : "/usr", what, sizeof(what));
		snprintf(path, sizeof(path), "%s%s", root, what);
		if (mount_id_of(what) != mount_id_of("/") && mount_id_of(what) != mount_id_of(test_dir()) &&
		    mount(what, path, NULL, MS_BIND, NULL))
			test_bug("bind %s", what);
	}
	if (chdir(root) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir(test_dir()))
		test_bug("pivot into %s", root);
	if (keep >= 0 && (move_mount(keep, "", AT_FDCWD, shared, MOVE_MOUNT_F_EMPTY_PATH) || close(keep)))
		test_bug("mount the peer of %s", shared);
}

int zdtm_fd_mnt_id(int fd)
{
	char path[64], *buf, *l;
	int id = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	l = strstr(buf, "mnt_id:");
	if (l)
		id = atoi(l + 7);
	free(buf);
	return id;
}

int zdtm_mountinfo(const char *point, struct zdtm_mnt *m)
{
	return zdtm_mountinfo_src(point, NULL, m);
}

int zdtm_mountinfo_src(const char *point, const char *source, struct zdtm_mnt *m)
{
	return zdtm_mountinfo_find(point, source, -1, m);
}

int zdtm_mountinfo_id(int id, struct zdtm_mnt *m)
{
	return zdtm_mountinfo_find(NULL, NULL, id, m);
}

int zdtm_mountinfo_find(const char *point, const char *source, int id, struct zdtm_mnt *m)
{
	char *buf, *line, *save = NULL;
	int found = -1;

	if (zdtm_read_file("/proc/self/mountinfo", &buf) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct zdtm_mnt x = { 0 };
		char *tok, *s2 = NULL, *sep = strstr(line, " - ");
		int n = 0;

		if (!sep || sscanf(line, "%d %d %*u:%*u %255s %255s %255s", &x.id, &x.parent, x.root, x.point,
				   x.opts) != 5)
			continue;
		*sep = '\0';
		/* optional fields: after the 6th */
		for (tok = strtok_r(line, " ", &s2); tok; tok = strtok_r(NULL, " ", &s2), n++) {
			if (n < 6)
				continue;
			sscanf(tok, "shared:%d", &x.shared);
			sscanf(tok, "master:%d", &x.master);
			if (!strcmp(tok, "unbindable"))
				x.unbindable = true;
		}
		if (sscanf(sep + 3, "%31s %63s %255s", x.fstype, x.source, x.sbopts) < 2)
			continue;
		if ((!point || !strcmp(x.point, point)) && (!source || !strcmp(x.source, source)) &&
		    (id < 0 || x.id == id)) {
			*m = x;		/* the last one listed at a point is the one on top */
			found = 0;
		}
	}
	free(buf);
	return found;
}

static void mkdir_p(const char *path)
{
	char buf[1024], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			test_bug("mkdir %s", buf);
		*s = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		test_bug("mkdir %s", buf);
}

static const char *exe_dir(void)
{
	static char dir[512];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0)
		test_bug("readlink /proc/self/exe");
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	return dir;
}

void zdtm_rootfs(const char *name)
{
	static const char *const sub[] = { "usr", "dev", "proc", "sys", "tmp" };
	static const char *const links[][2] = { { "usr/lib", "lib" }, { "usr/lib64", "lib64" },
						{ "usr/bin", "bin" }, { "usr/sbin", "sbin" } };
	char root[600], path[1200];
	int fd;

	snprintf(root, sizeof(root), "%s/%s", test_dir(), name);
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, sub[i]);
		mkdir_p(path);
	}
	snprintf(path, sizeof(path), "%s%s", root, test_dir());
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s%s", root, exe_dir());
	mkdir_p(path);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, links[i][1]);
		if (symlink(links[i][0], path))
			test_bug("symlink %s", path);
	}
	snprintf(path, sizeof(path), "%s/marker", root);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, name, strlen(name)) != (ssize_t)strlen(name) || close(fd))
		test_bug("marker");
}

static void bind_in(const char *root, const char *what)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s%s", root, what);
	if (mount(what, path, NULL, MS_BIND, NULL))
		test_bug("bind %s", what);
}

void zdtm_mntns_rootfs(const char *name, bool host_dev)
{
	char root[600];

	snprintf(root, sizeof(root), "%s/%s", test_dir(), name);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(root, root, NULL, MS_BIND, NULL))
		test_bug("the root %s", root);
	bind_in(root, "/usr");
	bind_in(root, test_dir());
	bind_in(root, exe_dir());
	if (host_dev)
		bind_in(root, "/dev");
	if (chdir(root) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir(test_dir()))
		test_bug("pivot into %s", root);
}

/* ---- cgroups ---- */

const char *zdtm_cg(const char *name)
{
	char var[64];
	const char *v;
	size_t i;

	snprintf(var, sizeof(var), "ZDTM_CG_%s", name);
	for (i = 8; var[i]; i++)
		var[i] = isalnum((unsigned char)var[i]) ? toupper((unsigned char)var[i]) : '_';
	v = getenv(var);
	if (!v)
		test_bug("no $%s: the desc must list \"%s\" in \"cgroups\"", var, name);
	return v;
}

void zdtm_cg_mkdir(const char *dir, const char *sub, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, sub);
	if (mkdir(out, 0755))
		test_bug("mkdir %s", out);
}

int zdtm_cg_write(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, err;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	errno = err;
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

char *zdtm_cg_read(const char *dir, const char *file)
{
	char path[PATH_MAX], *buf;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	n = zdtm_read_file(path, &buf);
	if (n < 0)
		return NULL;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

int zdtm_cg_enter(const char *dir, pid_t tid, bool thread)
{
	char num[16], path[PATH_MAX];
	const char *file = "cgroup.procs";

	if (thread) {
		snprintf(path, sizeof(path), "%s/tasks", dir);
		file = access(path, F_OK) ? "cgroup.threads" : "tasks";
	}
	snprintf(num, sizeof(num), "%d", tid);
	return zdtm_cg_write(dir, file, num);
}

int zdtm_cg_of(pid_t tid, const char *ctrl, char *out, size_t len)
{
	char path[64], *buf, *save = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/cgroup", tid ? tid : (pid_t)syscall(SYS_gettid));
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *p;
		size_t n = strlen(ctrl);

		if (!c2)
			continue;
		*c2 = '\0';
		for (p = c1 + 1; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
			if ((!n && !c1[1]) || (n && !strncmp(p, ctrl, n) && (p[n] == ',' || p[n] == '\0')))
				break;
		if (p) {
			snprintf(out, len, "%s", c2 + 1);
			ret = 0;
			break;
		}
	}
	free(buf);
	return ret;
}
