#ifndef COMPEL_LOG_INTERNAL_H
#define COMPEL_LOG_INTERNAL_H

#include <errno.h>
#include <string.h>

void compel_print(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cpr_err(fmt, ...)	compel_print(1, "Error (compel): " fmt, ##__VA_ARGS__)
#define cpr_perror(fmt, ...)	compel_print(1, "Error (compel): " fmt ": %s\n", ##__VA_ARGS__, strerror(errno))
#define cpr_warn(fmt, ...)	compel_print(2, "Warn  (compel): " fmt, ##__VA_ARGS__)
#define cpr_debug(fmt, ...)	compel_print(4, "compel: " fmt, ##__VA_ARGS__)

#endif
