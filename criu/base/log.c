#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_fd = STDERR_FILENO;
static int log_is_file;		/* -o: errors are shown on stderr too */
static int forwarding;		/* a restoring child: errors go to the shared buffer, not stderr */

#define SHARED_ERRORS_SIZE	(64 * 1024)
struct shared_errors {
	unsigned int used;
	char text[SHARED_ERRORS_SIZE - sizeof(unsigned int)];
};
static struct shared_errors *shared_errors;
static int log_level = DEFAULT_LOGLEVEL;
static struct timespec log_start;
static char first_error[1024];	/* since log_keep_errors(): a swrk reply's cr_errmsg */
static int keep_errors;
static off_t keep_from;		/* where this request's lines start in the log file (swrk keep_open) */

uint64_t log_start_us(void)
{
	return log_start.tv_sec * 1000000ULL + log_start.tv_nsec / 1000;
}

int log_init(const char *path, int level)
{
	return log_init_in_dir(path, level, 0);
}

/*
 * in_dir: the log goes in the work dir, whose other files may be anyone's
 * (a swrk client's with fewer rights than criu, an attacker's in /tmp): a
 * symbolic or hard link there would have us truncate and write the file
 * it points to. Such a link (or anything but a regular file of one link)
 * is replaced by a log of our own, not written through. A path the user
 * gave whole is taken as it is (-o /dev/stderr).
 */
int log_init_in_dir(const char *path, int level, int in_dir)
{
	struct stat st;
	int fd;

	log_level = level;
	clock_gettime(CLOCK_MONOTONIC, &log_start);
	if (!path || !strcmp(path, "-"))
		return 0;

	if (!in_dir) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	} else {
		if (!lstat(path, &st) && (!S_ISREG(st.st_mode) || st.st_nlink != 1) && unlink(path) &&
		    errno != ENOENT) {
			pr_perror("log file %s is not a regular file of its own and can't be replaced", path);
			return -1;
		}
		fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
		/* made again under our feet: refused rather than written through */
		if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1 || ftruncate(fd, 0))) {
			pr_err("log file %s is not a regular file of its own (a link?): not written\n", path);
			close(fd);
			return -1;
		}
	}
	if (fd < 0) {
		pr_err("can't open log file %s: %s\n", path,
		       in_dir && errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return -1;
	}
	log_fd = fd;
	log_is_file = 1;
	keep_from = 0;
	return 0;
}

int log_to_file(void)
{
	return log_is_file;
}

int log_share_errors(void)
{
	if (shared_errors)
		return 0;
	shared_errors = mmap(NULL, sizeof(*shared_errors), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_errors == MAP_FAILED) {
		shared_errors = NULL;
		return -1;
	}
	return 0;
}

void log_forward_errors(void)
{
	forwarding = 1;
}

const char *log_forwarded_errors(void)
{
	return shared_errors ? shared_errors->text : "";
}

/* Append a line; processes append at once, each to its own claimed range. */
static void forward_error(const char *msg, size_t len)
{
	unsigned int at;

	if (!shared_errors)
		return;
	at = __atomic_fetch_add(&shared_errors->used, (unsigned int)len, __ATOMIC_RELAXED);
	if (at >= sizeof(shared_errors->text) - 1)
		return;
	if (len > sizeof(shared_errors->text) - 1 - at)
		len = sizeof(shared_errors->text) - 1 - at;
	memcpy(shared_errors->text + at, msg, len);
}

void log_fini(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
}

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

int log_get_fd(void)
{
	return log_fd;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

/* "Error (file.c:12): text\n" is kept as "text" */
static void keep_error(const char *msg, int len)
{
	const char *p = msg;

	if (!strncmp(p, "Error (", 7)) {
		const char *e = memchr(p, ')', len);

		if (e && e[1] == ':' && e[2] == ' ')
			p = e + 3;
	}
	len -= p - msg;
	while (len > 0 && p[len - 1] == '\n')
		len--;
	if (len >= (int)sizeof(first_error))
		len = sizeof(first_error) - 1;
	memcpy(first_error, p, len);
	first_error[len] = '\0';
}

void log_keep_errors(void)
{
	struct stat st;

	keep_errors = 1;
	first_error[0] = '\0';
	/* a session's later request has the same log: its first error is after what is there */
	keep_from = log_fd != STDERR_FILENO && !fstat(log_fd, &st) && S_ISREG(st.st_mode) ? st.st_size : 0;
}

/*
 * Processes we forked (the restore's) log their errors to the same file
 * but not to our memory: the first error line of the file is the cause.
 */
static void first_error_in_file(void)
{
	char buf[65536], *p;
	struct stat st;
	ssize_t n;

	if (log_fd == STDERR_FILENO || fstat(log_fd, &st) || !S_ISREG(st.st_mode))
		return;
	n = pread(log_fd, buf, sizeof(buf) - 1, keep_from);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "Error (");
	if (p) {
		char *e = strchr(p, '\n');

		keep_error(p, e ? e - p : (int)strlen(p));
	}
}

const char *log_first_error(void)
{
	if (keep_errors)
		first_error_in_file();
	return first_error[0] ? first_error : NULL;
}

void print_on_level(int level, const char *fmt, ...)
{
	char buf[4096];
	int save_errno = errno;
	int off = 0, n;
	va_list args;
	/*
	 * -v0 writes no errors, but a swrk client is still told in cr_errmsg
	 * what failed, rather than pointed at a log with nothing in it.
	 */
	int keep = level <= LOG_ERROR && keep_errors && !first_error[0];

	if (level > log_level && !keep)
		return;

	if (log_fd != STDERR_FILENO || log_level >= LOG_INFO) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		long us = (now.tv_sec - log_start.tv_sec) * 1000000L +
			  (now.tv_nsec - log_start.tv_nsec) / 1000;
		off = snprintf(buf, sizeof(buf), "(%02ld.%06ld) %5d: ", us / 1000000, us % 1000000, getpid());
	}

	va_start(args, fmt);
	n = vsnprintf(buf + off, sizeof(buf) - off, fmt, args);
	va_end(args);
	if (n < 0)
		goto out;
	n += off;
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;

	if (keep)
		keep_error(buf + off, n - off);
	if (level > log_level)
		goto out;
	write_all(log_fd, buf, n);
	/* Errors also reach the person at the terminal when logging to a file. */
	if (level <= LOG_ERROR && forwarding)
		forward_error(buf + off, n - off);
	else if (level <= LOG_ERROR && log_fd != STDERR_FILENO)
		write_all(STDERR_FILENO, buf + off, n - off);
out:
	errno = save_errno;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}
