#ifndef CR_LOG_H
#define CR_LOG_H

#include <stdint.h>

#include <errno.h>
#include <string.h>

/* Verbosity levels as given by -v N: 0 only fatal messages, 4 debug. */
enum {
	LOG_MSG		= 0,
	LOG_ERROR	= 1,
	LOG_WARN	= 2,
	LOG_INFO	= 3,
	LOG_DEBUG	= 4,
};

#define DEFAULT_LOGLEVEL LOG_WARN

/* path == NULL logs to stderr. Returns 0 or -1 (errno set). */
int log_init(const char *path, int level);
int log_init_in_dir(const char *path, int level, int in_dir);
void log_fini(void);
void log_set_level(int level);
int log_get_level(void);
/* CLOCK_MONOTONIC in microseconds when the log began: what "(SS.UUUUUU)" counts from. */
uint64_t log_start_us(void);
int log_get_fd(void);
void log_set_fd(int fd);
/* From now on keep the first error printed (in this process), for log_first_error(). */
void log_keep_errors(void);
const char *log_first_error(void);

/*
 * A restoring child's stderr is the task's (or closed): its errors go to
 * its log and into a buffer shared with criu, which shows them on its own
 * stderr. log_share_errors() (in criu, before forking) makes the buffer,
 * log_forward_errors() (in the child) sends the errors there,
 * log_forwarded_errors() (in criu) returns what came, "" if nothing.
 */
int log_share_errors(void);
void log_forward_errors(void);
const char *log_forwarded_errors(void);
/* Is the log a file (-o), so that errors must be shown on stderr as well? */
int log_to_file(void);

void print_on_level(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_msg(fmt, ...)	print_on_level(LOG_MSG, fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...)	print_on_level(LOG_ERROR, "Error (%s:%d): " fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	print_on_level(LOG_WARN, "Warn  (%s:%d): " fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_info(fmt, ...)	print_on_level(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	print_on_level(LOG_DEBUG, fmt, ##__VA_ARGS__)

/* Like pr_err, with ": <errno text>" appended; fmt must not end in \n. */
#define pr_perror(fmt, ...)	pr_err(fmt ": %s\n", ##__VA_ARGS__, strerror(errno))
#define pr_pwarn(fmt, ...)	pr_warn(fmt ": %s\n", ##__VA_ARGS__, strerror(errno))

#endif
