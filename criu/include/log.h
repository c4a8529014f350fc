#ifndef CR_LOG_H
#define CR_LOG_H

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
void log_fini(void);
void log_set_level(int level);
int log_get_level(void);
int log_get_fd(void);
void log_set_fd(int fd);
/* From now on keep the first error printed (in this process), for log_first_error(). */
void log_keep_errors(void);
const char *log_first_error(void);

void print_on_level(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_msg(fmt, ...)	print_on_level(LOG_MSG, fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...)	print_on_level(LOG_ERROR, "Error (%s:%d): " fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_warn(fmt, ...)	print_on_level(LOG_WARN, "Warn  (%s:%d): " fmt, __FILE__, __LINE__, ##__VA_ARGS__)
#define pr_info(fmt, ...)	print_on_level(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)	print_on_level(LOG_DEBUG, fmt, ##__VA_ARGS__)

/* Like pr_err, with ": <errno text>" appended; fmt must not end in \n. */
#define pr_perror(fmt, ...)	pr_err(fmt ": %s\n", ##__VA_ARGS__, strerror(errno))

#endif
