#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc_parse.h"
#include "cr_options.h"
#include "util.h"
#include "compel/compel.h"

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

ssize_t read_link(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size - 1);

	if (n < 0)
		return -1;
	if ((size_t)n == size - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/*
 * fgets() returns NULL at the end and on an error alike: only the
 * stream's flags tell them apart (an injected fault sets neither, and is
 * not at the end either). A line longer than @buf would come in pieces
 * that look like lines of their own: refused, or with @cut its head kept
 * and the rest skipped.
 */
static int get_line(FILE *f, char *buf, int size, const char *what, bool cut)
{
	size_t len;
	int c;

	errno = 0;
	if (!fgets(buf, size, f)) {
		if (feof(f) && !ferror(f))
			return 0;
		if (!errno)
			errno = EIO;
		pr_perror("can't read %s", what);
		return -1;
	}
	len = strlen(buf);
	if (!len || buf[len - 1] == '\n' || len < (size_t)size - 1)
		return 1;
	if (!cut) {
		if (getc(f) == EOF)
			return 1;
		pr_err("can't read %s: a line is longer than %d bytes\n", what, size - 1);
		return -1;
	}
	while ((c = getc(f)) != EOF && c != '\n')
		;
	if (ferror(f)) {
		pr_perror("can't read %s", what);
		return -1;
	}
	return 1;
}

int read_line(FILE *f, char *buf, int size, const char *what)
{
	return get_line(f, buf, size, what, false);
}

int read_line_head(FILE *f, char *buf, int size, const char *what)
{
	return get_line(f, buf, size, what, true);
}

ssize_t read_text_fd(int fd, char *buf, size_t size, const char *what)
{
	size_t len = 0;
	char extra;
	ssize_t n;

	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_perror("can't read %s", what);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (len == size - 1) {
		/* full: there must be nothing more */
		do {
			n = read(fd, &extra, 1);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			pr_perror("can't read %s", what);
			return -1;
		}
		if (n) {
			pr_err("can't read %s: it is longer than %zu bytes\n", what, size - 1);
			errno = EFBIG;
			return -1;
		}
	}
	return len;
}

int read_num_file(const char *path, long long *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	char buf[64], *end;
	ssize_t n;

	if (fd < 0) {
		if (errno != ENOENT)
			pr_warn("can't open %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0) {
		pr_warn("can't read %s: %s\n", path, strerror(err));
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	*v = strtoll(buf, &end, 10);
	if (end == buf || errno || (*end && *end != '\n')) {
		pr_warn("%s does not hold a number: \"%.*s\"\n", path, (int)strcspn(buf, "\n"), buf);
		return -1;
	}
	return 0;
}

ssize_t read_text_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	n = read_text_fd(fd, buf, size, path);
	err = errno;
	close(fd);
	errno = err;
	return n;
}

void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* All @len bytes, or -1 (errno ECONNRESET at an early end of file or stream). */
int read_full_stall(int fd, void *buf, size_t len, int stall_ms, bool begun)
{
	char *p = buf;

	while (len) {
		ssize_t n;

		if (begun && stall_ms >= 0) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			int r = poll(&pf, 1, stall_ms);

			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				errno = ETIMEDOUT;
			if (r <= 0)
				return -1;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= n;
		begun = true;
	}
	return 0;
}

void wait_group_stopped(pid_t pid)
{
	struct timespec ts = { 0, 100000 };
	char buf[512], *p;

	for (int i = 0; i < 10000; i++) {
		if (compel_read_stat(pid, buf, sizeof(buf), &p) || !p || p[2] == 'T')
			return;
		nanosleep(&ts, NULL);
	}
	pr_warn("%d did not go back into its group stop within a second\n", pid);
}

int read_full(int fd, void *buf, size_t len)
{
	return read_full_stall(fd, buf, len, -1, false);
}

void remove_flat_dir(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	while (d && next_dirent(d, &de, name) == 1)
		if (de->d_name[0] != '.')
			unlinkat(fd, de->d_name, 0);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

int send_fds(int sk, const void *buf, size_t len, const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *ch;

	if (nr < 0 || nr > SEND_FDS_MAX || !len) {
		errno = EINVAL;
		return -1;
	}
	if (nr) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nr);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * nr);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * nr);
	}
	if (sendmsg(sk, &mh, MSG_NOSIGNAL) != (ssize_t)len) {
		if (!errno)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

ssize_t recv_fds(int sk, void *buf, size_t len, int *fds, int max, int *nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	*nr = 0;
	do
		n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch)) {
		int k, got[SEND_FDS_MAX];

		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(got, CMSG_DATA(ch), k * sizeof(int));
		for (int i = 0; i < k; i++) {
			if (*nr < max)
				fds[(*nr)++] = got[i];
			else
				close(got[i]);	/* more than asked for: not ours to keep */
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < *nr; i++)
			close(fds[i]);
		*nr = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

int move_fd(int fd, int to)
{
	if (fd == to)
		return to;
	if (dup2(fd, to) < 0)
		return -1;
	close(fd);
	return to;
}

int check_privileges(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t sys_admin = CAP_CLEAR, cr = CAP_CLEAR, ptrace = CAP_CLEAR;

	if (!caps) {
		pr_perror("can't read our capabilities");
		return -1;
	}
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &sys_admin);
	cap_get_flag(caps, CAP_SYS_PTRACE, CAP_EFFECTIVE, &ptrace);
#ifdef CAP_CHECKPOINT_RESTORE
	cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_EFFECTIVE, &cr);
#else
	cap_get_flag(caps, 40, CAP_EFFECTIVE, &cr);
#endif
	cap_free(caps);
	if ((sys_admin == CAP_SET || cr == CAP_SET) && ptrace == CAP_SET)
		return 0;
	pr_err("criu must run as root (it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, and CAP_SYS_PTRACE)\n");
	return -1;
}

/* A relative @path is in the work dir (the images dir by default), as for -o; NULL if too long. */
const char *pidfile_path(const char *path, char *full, size_t size)
{
	const char *dir = opts.work_dir ? opts.work_dir : opts.imgs_dir;

	if (path[0] == '/' || !dir)
		return path;
	if (snprintf(full, size, "%s/%s", dir, path) >= (int)size) {
		pr_err("pidfile path %s/%s is too long\n", dir, path);
		return NULL;
	}
	return full;
}

int write_pidfile(const char *path, pid_t pid)
{
	char buf[32], tmp[4096], full[4096];
	int fd, n;

	path = pidfile_path(path, full, sizeof(full));
	if (!path)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d", pid);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		pr_err("pidfile path %s is too long\n", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_perror("can't create pidfile %s", tmp);
		return -1;
	}
	if (write_all(fd, buf, n) || close(fd)) {
		pr_perror("can't write pidfile %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path)) {
		pr_perror("can't rename %s to %s", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The pidfile as it was before the restore: one made since (a new inode: written through a rename) is ours. */
static struct {
	int noted, existed;
	dev_t dev;
	ino_t ino;
} pidfile_before;

void pidfile_note(const char *path)
{
	char full[4096];
	struct stat st;

	path = pidfile_path(path, full, sizeof(full));
	if (!path)
		return;
	pidfile_before.noted = 1;
	pidfile_before.existed = !stat(path, &st);
	if (pidfile_before.existed) {
		pidfile_before.dev = st.st_dev;
		pidfile_before.ino = st.st_ino;
	}
}

void pidfile_drop_new(const char *path)
{
	char full[4096], tmp[4096];
	struct stat st;

	path = pidfile_path(path, full, sizeof(full));
	if (!path || !pidfile_before.noted)
		return;
	if (!stat(path, &st) &&
	    (!pidfile_before.existed || st.st_dev != pidfile_before.dev || st.st_ino != pidfile_before.ino))
		unlink_pidfile(path);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) < (int)sizeof(tmp))
		unlink(tmp);
}

void proc_children(pid_t pid, int (*cb)(pid_t child, void *arg), void *arg)
{
	struct dirent *de;
	char path[64];
	int stop = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && !stop && (de = readdir(d))) {
		char cp[320];
		FILE *f;
		int c;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(cp, "re");
		while (f && !stop && fscanf(f, "%d", &c) == 1)
			stop = cb(c, arg);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

void kill_child(pid_t pid, const char *what)
{
	int status, tries = 0;

	while (kill(pid, SIGKILL) && errno != ESRCH)
		if (++tries == 3) {
			/* waiting for an end that does not come would hang us */
			pr_pwarn("can't kill %s %d: left to end with criu", what, pid);
			return;
		}
	/* ESRCH: reaped already by a wait for every child */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

void unlink_pidfile(const char *path)
{
	char full[4096];

	path = pidfile_path(path, full, sizeof(full));
	if (path && unlink(path) && errno != ENOENT)
		pr_perror("can't remove the pidfile %s", path);
}

/*
 * The pidfd of the task last asked about: a dump asks for the fds of one
 * task after the other, thousands of times (the tree is frozen: no pid is
 * reused meanwhile).
 */
static struct {
	pid_t pid;
	int pidfd;
} pidfd_cache = { 0, -1 };

/* The copy of the fd being collected (task_fd_hold()): further copies are dups of it. */
static struct {
	pid_t pid;
	int fd;
	int copy;
} held = { 0, -1, -1 };

void task_fd_forget(void)
{
	task_fd_release();
	if (pidfd_cache.pidfd >= 0)
		close(pidfd_cache.pidfd);
	pidfd_cache.pid = 0;
	pidfd_cache.pidfd = -1;
}

static int getfd(pid_t pid, int fd, int quiet)
{
	int ret;

	if (pidfd_cache.pid != pid || pidfd_cache.pidfd < 0) {
		int pidfd = syscall(SYS_pidfd_open, pid, 0);

		if (pidfd < 0) {
			pr_perror("pidfd_open(%d)", pid);
			return -1;
		}
		if (pidfd_cache.pidfd >= 0)
			close(pidfd_cache.pidfd);
		pidfd_cache.pid = pid;
		pidfd_cache.pidfd = pidfd;
	}
	ret = syscall(SYS_pidfd_getfd, pidfd_cache.pidfd, fd, 0);
	if (ret < 0 && !quiet)
		pr_perror("pidfd_getfd(%d, %d)", pid, fd);
	return ret;
}

/* A duplicate of fd @fd of task @pid (pidfd_getfd, or a dup of the held copy), or -1. */
int task_fd(pid_t pid, int fd)
{
	int ret;

	if (held.copy >= 0 && held.pid == pid && held.fd == fd) {
		ret = fcntl(held.copy, F_DUPFD_CLOEXEC, 0);
		if (ret < 0)
			pr_perror("dup of fd %d of %d", fd, pid);
		return ret;
	}
	return getfd(pid, fd, 0);
}

int task_fd_hold(pid_t pid, int fd)
{
	if (held.copy >= 0 && held.pid == pid && held.fd == fd)
		return held.copy;
	task_fd_release();
	held.copy = getfd(pid, fd, 1);	/* O_PATH fds have none: the caller copes */
	if (held.copy >= 0) {
		held.pid = pid;
		held.fd = fd;
	}
	return held.copy;
}

int task_fd_held(pid_t pid, int fd)
{
	return held.copy >= 0 && held.pid == pid && held.fd == fd ? held.copy : -1;
}

void task_fd_release(void)
{
	if (held.copy >= 0)
		close(held.copy);
	held.copy = -1;
	held.fd = -1;
	held.pid = 0;
}

/* fs.nr_open: the most fds a process may be allowed; 0 if unreadable. */
static unsigned long nr_open(void)
{
	long long v;

	return read_num_file("/proc/sys/fs/nr_open", &v) || v < 0 ? 0 : (unsigned long)v;
}

long raise_nofile_limit(unsigned long *nr_open_out)
{
	unsigned long most = nr_open();
	struct rlimit r;

	if (nr_open_out)
		*nr_open_out = most;
	if (getrlimit(RLIMIT_NOFILE, &r)) {
		pr_perror("getrlimit(RLIMIT_NOFILE)");
		return -1;
	}
	/* up to fs.nr_open where we may (CAP_SYS_RESOURCE), else to our hard limit */
	if (most > r.rlim_max) {
		struct rlimit up = { most, most };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			r = up;
	}
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r)) {
			pr_perror("can't raise RLIMIT_NOFILE to %lu", (unsigned long)r.rlim_max);
			return -1;
		}
	}
	return r.rlim_cur;
}

int times_save(const char *path, struct file_times *t)
{
	struct stat st;

	t->valid = !lstat(path, &st);
	if (t->valid) {
		t->ts[0] = st.st_atim;
		t->ts[1] = st.st_mtim;
	}
	return t->valid ? 0 : -1;
}

void times_put_back(const char *path, const struct file_times *t)
{
	if (t->valid && utimensat(AT_FDCWD, path, t->ts, AT_SYMLINK_NOFOLLOW))
		pr_warn("can't give %s its times back: %s\n", path, strerror(errno));
}

int parent_dir(const char *path, char *buf, size_t size)
{
	char *slash;

	if (snprintf(buf, size, "%s", path) >= (int)size)
		return -1;
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	slash[slash == buf] = '\0';
	return 0;
}

int has_cap_sys_resource(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32)));
}

static volatile sig_atomic_t interrupt_sig;
static int interrupt_told;

static void on_interrupt(int sig)
{
	if (!interrupt_sig)
		interrupt_sig = sig;
}

void interrupt_setup(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };	/* no SA_RESTART: blocking calls return */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void interrupt_reset(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

int interrupted(void)
{
	return interrupt_sig;
}

int check_interrupted(void)
{
	if (!interrupt_sig)
		return 0;
	if (!interrupt_told) {
		interrupt_told = 1;
		pr_err("interrupted by signal %d (%s): rolling back\n", interrupt_sig, strsignal(interrupt_sig));
	}
	return -1;
}

static int proc_fd = -1;

int proc_dir(void)
{
	if (proc_fd < 0)
		proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		pr_perror("can't open /proc");
	return proc_fd;
}

void proc_set_dir(int fd)
{
	proc_fd = fd;
}

int proc_open(int flags, const char *fmt, ...)
{
	char path[256];
	va_list args;
	int dir = proc_dir();

	va_start(args, fmt);
	vsnprintf(path, sizeof(path), fmt, args);
	va_end(args);
	if (dir < 0)
		return -1;
	return openat(dir, path, flags | O_CLOEXEC);
}

/*
 * A helper of criu's that undoes what criu did should criu die (the
 * network lock's keeper, a queue's finisher, the lazy daemon's watchdog)
 * is named without "criu": `killall criu` or `pkill criu` meant for a
 * criu that hangs would kill it along, and leave the harm it is there to
 * undo. (`pkill -f criu` still matches its command line, criu's.)
 */
void name_undoer(const char *name)
{
	if (prctl(PR_SET_NAME, name, 0, 0, 0))
		pr_debug("can't name %d %s: %s\n", getpid(), name, strerror(errno));
}

/*
 * A child that finishes what it starts even if criu dies: no parent-death
 * signal (fork clears it), every signal but SIGKILL blocked, and with
 * @own_group a process group of its own (a kill of criu's group misses
 * it), named @name (name_undoer()). Its pid, 0 in the child, -1 with a
 * message.
 */
pid_t fork_finisher(int own_group, const char *name)
{
	sigset_t all;
	pid_t pid = fork();

	if (pid < 0)
		pr_perror("fork");
	if (pid)
		return pid;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (own_group)
		setpgid(0, 0);
	name_undoer(name);
	return 0;
}
