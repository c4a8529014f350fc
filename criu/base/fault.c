/* Fault injection: the step counter (fault.h). */
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

/* Shared with every process we fork: steps are numbered across them all. */
struct fault_state {
	unsigned long step;
	unsigned long target;	/* 0: count only */
	int list;		/* CRIU_FAULT=list: count, and name every step on stderr */
	pid_t main;
};

static struct fault_state *fs;
static const char *only;	/* CRIU_FAULT_CALLS: the calls that count as steps, or NULL for all */

/* Is the call @fmt names ("read(fd %d)") one of CRIU_FAULT_CALLS's comma-separated names? */
static int counted(const char *fmt)
{
	size_t len = strcspn(fmt, "( ");

	if (!only)
		return 1;
	for (const char *p = only; *p;) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, fmt, len) && fmt[len] == '(')
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

void fault_init(void)
{
	const char *env = getenv("CRIU_FAULT");
	char *end;

	if (!env || !*env)
		return;
	only = getenv("CRIU_FAULT_CALLS");
	if (only && !*only)
		only = NULL;
	fs = mmap(NULL, sizeof(*fs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fs == MAP_FAILED) {
		fs = NULL;
		pr_perror("fault injection: can't map its counter");
		return;
	}
	fs->main = getpid();
	atexit(fault_fini);
	if (!strcmp(env, "count"))
		return;
	if (!strcmp(env, "list")) {
		fs->list = 1;
		return;
	}
	fs->target = strtoul(env, &end, 10);
	if (*end || !fs->target) {
		pr_err("fault injection: CRIU_FAULT=%s is neither a step number nor \"count\" or \"list\"\n", env);
		fs->target = 0;
	}
}

void fault_off(void)
{
	fs = NULL;
}

void fault_fini(void)
{
	if (fs && getpid() == fs->main && !fs->target)
		fprintf(stderr, "fault injection: %lu steps\n", __atomic_load_n(&fs->step, __ATOMIC_SEQ_CST));
}

unsigned int fault_restorer_step(void)
{
	const char *env = getenv("CRIU_FAULT_RESTORER");

	if (!env || !*env)
		return 0;
	if (!strcmp(env, "count"))
		return ~0U;
	return strtoul(env, NULL, 10);
}

int fault_hit(const char *fmt, ...)
{
	char what[256];
	unsigned long n;
	va_list ap;

	if (!fs || !counted(fmt))
		return 0;
	n = __atomic_add_fetch(&fs->step, 1, __ATOMIC_SEQ_CST);
	if (n != fs->target && !fs->list)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (fs->list) {
		fprintf(stderr, "fault injection: step %lu: %s\n", n, what);
		return 0;
	}
	pr_err("fault injection: step %lu: %s fails\n", n, what);
	if (getenv("CRIU_FAULT_BACKTRACE")) {
		void *bt[32];

		backtrace_symbols_fd(bt, backtrace(bt, 32), log_get_fd());
	}
	if (getenv("CRIU_FAULT_KILL")) {
		/* die here instead of failing: what a SIGKILL at this instant leaves */
		kill(getpid(), SIGKILL);
	}
	return 1;
}
