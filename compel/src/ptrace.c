/* Seizing tasks and moving their register state in and out. */
#include <elf.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compel/compel.h"
#include "internal.h"
#include "log.h"

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK	0x420a
#define PTRACE_SETSIGMASK	0x420b
#endif

#define XSAVE_MAX_SIZE		(64 * 1024)
#define XSAVE_SW_XFEATURES	464	/* XCR0 copy in the software-reserved bytes */

static compel_log_fn log_fn;
static int (*interrupt_fn)(void);

void compel_set_interrupt(int (*fn)(void))
{
	interrupt_fn = fn;
}

int compel_interrupted(void)
{
	return interrupt_fn && interrupt_fn();
}

void compel_set_log(compel_log_fn fn)
{
	log_fn = fn;
}

void compel_print(int level, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (log_fn)
		log_fn(level, fmt, args);
	else if (level <= 1)
		vfprintf(stderr, fmt, args);
	va_end(args);
}

void compel_blob_load(const struct compel_blob *blob, void *mem, unsigned long base)
{
	memcpy(mem, blob->image, blob->image_size);
	memset((char *)mem + blob->image_size, 0, blob->mem_size - blob->image_size);
	for (size_t i = 0; i < blob->nr_relocs; i++)
		*(uint64_t *)((char *)mem + blob->relocs[i].off) = base + blob->relocs[i].addend;
}

pid_t compel_wait(pid_t pid, int *status)
{
	pid_t ret;

	do {
		ret = waitpid(pid, status, __WALL);
	} while (ret < 0 && errno == EINTR);
	return ret;
}

ssize_t compel_read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	/* a failed read is said: the callers take -1 for "gone" or "look again" */
	if (n < 0)
		cpr_warn("can't read %s: %s\n", path, strerror(errno));
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int compel_read_stat(pid_t pid, char *buf, size_t size, char **rest)
{
	if (compel_read_proc(pid, "stat", buf, size) < 0)
		return -1;
	*rest = strrchr(buf, ')');
	return 0;
}

/* State letter of @pid in /proc/PID/stat, or 0 when it can't be read. */
static char task_state(pid_t pid)
{
	char buf[512], *p;

	if (compel_read_stat(pid, buf, sizeof(buf), &p))
		return 0;
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Wait for a traced task to stop (or end). A killed leader whose threads we
 * trace never reports: its end waits for theirs to be collected, so a
 * plain waitpid() on it would wait for ever. Poll instead, and give up
 * when it is a zombie.
 */
static pid_t wait_stop_how(pid_t pid, int *status, int interruptible)
{
	struct timespec pause = { 0, 1000 };

	for (int spins = 0;; spins++) {
		pid_t ret = waitpid(pid, status, __WALL | WNOHANG);

		if (ret > 0 || (ret < 0 && errno != EINTR))
			return ret;
		if (interruptible && compel_interrupted()) {
			errno = EINTR;
			return -1;
		}
		if (ret < 0)
			continue;	/* a signal came: no reason to give up */
		if (spins < 64) {
			sched_yield();
			continue;
		}
		if (task_state(pid) == 'Z' || task_state(pid) == 'X') {
			ret = waitpid(pid, status, __WALL | WNOHANG);
			if (ret)
				return ret;
			cpr_err("task %d died (a zombie whose threads are not collected yet)\n", pid);
			errno = ESRCH;
			return -1;
		}
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 200000)
			pause.tv_nsec *= 2;
	}
}

pid_t compel_wait_stop(pid_t pid, int *status)
{
	return wait_stop_how(pid, status, 1);
}

/*
 * The stops of injected syscalls and of a task being put back come within
 * moments; a rollback after SIGINT/SIGTERM runs these too, and giving up
 * on them then would leave the task half way (our area mapped, our
 * registers loaded).
 */
pid_t compel_wait_stop_nointr(pid_t pid, int *status)
{
	return wait_stop_how(pid, status, 0);
}

/* How long a seized task may take to reach its interrupt stop. */
#define SEIZE_STOP_TIMEOUT_NS	(3 * 1000000000LL)

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long stop_deadline;		/* compel_set_stop_deadline() */
static unsigned int stop_deadline_secs;

void compel_set_stop_deadline(long long deadline_ns, unsigned int secs)
{
	stop_deadline = deadline_ns;
	stop_deadline_secs = secs;
}

/*
 * Why a task doesn't stop: it sleeps where no signal or trap reaches it
 * (state D), e.g. waiting for its vfork child.
 */
static void report_no_stop(pid_t pid)
{
	char path[64], buf[256], *p, state = '?';
	long nr = -1;
	FILE *f;

	if (!compel_read_stat(pid, buf, sizeof(buf), &p) && p)
		state = p[2];
	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	if (stop_deadline)
		cpr_err("can't seize task %d: the tree did not stop within --timeout %u s (state %c, "
			"syscall %ld%s)\n", pid, stop_deadline_secs, state, nr,
			nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3 ? ", waiting in a vfork for its child" : "");
	else if (nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3)
		cpr_err("can't seize task %d: it waits in a vfork for its child (state %c, syscall %ld); "
			"not supported\n", pid, state, nr);
	else
		cpr_err("can't seize task %d: it did not stop within %lld s (state %c, syscall %ld)\n", pid,
			SEIZE_STOP_TIMEOUT_NS / 1000000000LL, state, nr);
}

/*
 * waitpid() for the interrupt stop, but not for ever: a task asleep
 * where traps don't reach it would hang us. Polls, yielding first, then
 * with a growing pause (the stop usually comes within microseconds). 0 or -1 (reported).
 */
static int wait_stop(pid_t pid, int *status)
{
	/* --timeout: the whole tree's time, however long one task takes of it */
	long long deadline = stop_deadline ? stop_deadline : now_ns() + SEIZE_STOP_TIMEOUT_NS;
	struct timespec pause = { 0, 1000 };
	int spins = 0;

	for (;;) {
		pid_t ret = waitpid(pid, status, __WALL | WNOHANG);

		if (ret == pid)
			return 0;
		if (ret < 0 && errno != EINTR) {
			cpr_perror("waitpid(%d) after PTRACE_INTERRUPT", pid);
			return -1;
		}
		if (now_ns() >= deadline) {
			report_no_stop(pid);
			return -1;
		}
		if (compel_interrupted()) {
			cpr_err("interrupted while seizing task %d\n", pid);
			return -1;
		}
		/* the trap is usually a reschedule away: yield before sleeping */
		if (spins++ < 64) {
			sched_yield();
			continue;
		}
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 10000000)
			pause.tv_nsec *= 2;
	}
}

static int seize_wait(pid_t pid, int *stopsig)
{
	int status;

	while (1) {
		if (wait_stop(pid, &status))
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			/* it was on its way out: a zombie now, and no longer traced */
			cpr_debug("task %d exited while being seized\n", pid);
			return COMPEL_TASK_ZOMBIE;
		}
		if (!WIFSTOPPED(status))
			continue;
		if ((status >> 16) == PTRACE_EVENT_STOP) {
			int sig = WSTOPSIG(status);

			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
				/* the trap of a group stop carries the signal that stopped it */
				*stopsig = sig;
				return COMPEL_TASK_STOPPED;
			}
			return COMPEL_TASK_ALIVE;
		}
		/*
		 * A signal was on its way in. Let it be delivered as it would
		 * have been, and stop the task again after that.
		 */
		cpr_debug("task %d: letting signal %d through before stopping\n", pid, WSTOPSIG(status));
		if (cptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status)) ||
		    cptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
			cpr_perror("re-stopping task %d", pid);
			return -1;
		}
	}
}

/*
 * Seizing a group-stopped task traps it by itself; our PTRACE_INTERRUPT
 * may then be left pending and trap it again the moment we resume it to
 * run injected code. Make that second trap happen now, so none is left:
 * interrupt again (a no-op if one is pending), resume, and take the trap,
 * which comes before the task runs any instruction of its own.
 */
static int drain_stop_trap(pid_t pid)
{
	int status;

	if (cptrace(PTRACE_INTERRUPT, pid, NULL, NULL) || cptrace(PTRACE_CONT, pid, NULL, NULL)) {
		cpr_perror("re-trapping stopped task %d", pid);
		return -1;
	}
	if (compel_wait_stop_nointr(pid, &status) < 0) {
		cpr_perror("waitpid(%d)", pid);
		return -1;
	}
	if (!WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP) {
		cpr_err("stopped task %d did not trap again (status 0x%x)\n", pid, status);
		return -1;
	}
	return 0;
}

/* The task is on its way out (PF_EXITING) or gone: ptrace refuses to attach to it. */
static int task_exiting(pid_t pid)
{
	char buf[1024], *p;
	unsigned long flags = 0;
	char state = 0;

	if (compel_read_stat(pid, buf, sizeof(buf), &p))
		return 1;
	/* state ppid pgrp session tty_nr tpgid flags */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return 0;
	return state == 'Z' || state == 'X' || (flags & 0x4 /* PF_EXITING */);
}

/* The pid tracing @pid (a debugger, strace), 0 if none or unknown. */
static pid_t tracer_of(pid_t pid)
{
	char buf[4096], *p;

	if (compel_read_proc(pid, "status", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "\nTracerPid:");
	return p ? (pid_t)atoi(p + strlen("\nTracerPid:")) : 0;
}

/* 0, or -1 (reported, unless the task is exiting: *@exiting set, when asked). */
static int seize(pid_t pid, int *exiting)
{
	/* seccomp is suspended only once the task is stopped: suspend_seccomp() */
	if (cptrace(PTRACE_SEIZE, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD)) {
		if (exiting && (errno == EPERM || errno == ESRCH) && task_exiting(pid)) {
			/* ptrace refuses a task on its way out */
			cpr_debug("task %d is exiting: not seized\n", pid);
			*exiting = 1;
			return -1;
		}
		if (errno == ESRCH)
			cpr_err("no process with pid %d\n", pid);
		else if (errno == EPERM && tracer_of(pid) > 0)
			cpr_err("can't seize task %d: it is traced by %d (a debugger or strace?): detach it first\n",
				pid, tracer_of(pid));
		else if (errno == EPERM)
			cpr_err("can't seize task %d: it is traced by someone else or we lack permission\n", pid);
		else
			cpr_perror("PTRACE_SEIZE of %d", pid);
		return -1;
	}
	if (cptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		cpr_perror("PTRACE_INTERRUPT of %d", pid);
		cptrace(PTRACE_DETACH, pid, NULL, NULL);
		return -1;
	}
	return 0;
}

int compel_seize_task(pid_t pid)
{
	return seize(pid, NULL);
}

/*
 * The task's seccomp filters must not judge the syscalls we run in it:
 * suspend them while it is ours (needs CAP_SYS_ADMIN; without it, go on
 * and let a filtered task fail later, loudly). Only now that it is
 * stopped: seized with the option, it would run its own code unfiltered
 * until it reached the stop (a signal handler we let through, too).
 */
static int suspend_seccomp(pid_t pid)
{
	if (!cptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(PTRACE_O_SUSPEND_SECCOMP | PTRACE_O_TRACESYSGOOD)))
		return 0;
	if (errno == EPERM)
		return 0;
	cpr_perror("PTRACE_SETOPTIONS of %d", pid);
	return -1;
}

int compel_wait_task_sig(pid_t pid, int *stopsig)
{
	int sig = 0;
	int ret = seize_wait(pid, &sig);

	if (ret < 0)
		goto detach;
	if (ret == COMPEL_TASK_ZOMBIE)
		return ret;
	if (ret == COMPEL_TASK_STOPPED && drain_stop_trap(pid))
		goto detach;
	if (suspend_seccomp(pid))
		goto detach;
	if (stopsig)
		*stopsig = sig;
	return ret;
detach:
	cptrace(PTRACE_DETACH, pid, NULL, NULL);
	return -1;
}

int compel_wait_task(pid_t pid)
{
	return compel_wait_task_sig(pid, NULL);
}

int compel_stop_task_sig(pid_t pid, int *stopsig)
{
	int exiting = 0;

	if (seize(pid, &exiting))
		return exiting ? COMPEL_TASK_ZOMBIE : -1;
	return compel_wait_task_sig(pid, stopsig);
}

int compel_stop_task(pid_t pid)
{
	return compel_stop_task_sig(pid, NULL);
}

int compel_resume_task(pid_t pid, int orig_state)
{
	/*
	 * A task we found group-stopped goes back into that stop by itself:
	 * running our code under ptrace did not end the group stop, only
	 * SIGCONT does, and the kernel re-arms it when we detach.
	 */
	(void)orig_state;
	if (cptrace(PTRACE_DETACH, pid, NULL, NULL)) {
		cpr_perror("PTRACE_DETACH of %d", pid);
		return -1;
	}
	return 0;
}

int compel_get_thread_state(pid_t tid, struct compel_thread_state *st)
{
	struct iovec iov;

	memset(st, 0, sizeof(*st));
	if (cptrace(PTRACE_GETREGS, tid, NULL, &st->regs)) {
		cpr_perror("PTRACE_GETREGS of %d", tid);
		return -1;
	}
	st->xsave = aligned_alloc(64, XSAVE_MAX_SIZE);
	if (!st->xsave) {
		cpr_err("out of memory\n");
		return -1;
	}
	memset(st->xsave, 0, XSAVE_MAX_SIZE);
	iov.iov_base = st->xsave;
	iov.iov_len = XSAVE_MAX_SIZE;
	if (cptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov)) {
		cpr_perror("PTRACE_GETREGSET(NT_X86_XSTATE) of %d", tid);
		goto err;
	}
	st->xsave_size = iov.iov_len;
	if (st->xsave_size > XSAVE_SW_XFEATURES + 8)
		memcpy(&st->xfeatures, st->xsave + XSAVE_SW_XFEATURES, 8);
	if (cptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(st->sigmask), &st->sigmask)) {
		cpr_perror("PTRACE_GETSIGMASK of %d", tid);
		goto err;
	}
	return 0;
err:
	compel_free_thread_state(st);
	return -1;
}

int compel_set_thread_state(pid_t tid, const struct compel_thread_state *st)
{
	struct iovec iov = { .iov_base = st->xsave, .iov_len = st->xsave_size };
	int ret = 0;

	if (cptrace(PTRACE_SETREGS, tid, NULL, &st->regs)) {
		cpr_perror("PTRACE_SETREGS of %d", tid);
		ret = -1;
	}
	if (st->xsave && cptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov)) {
		cpr_perror("PTRACE_SETREGSET(NT_X86_XSTATE) of %d", tid);
		ret = -1;
	}
	if (cptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(st->sigmask), &st->sigmask)) {
		cpr_perror("PTRACE_SETSIGMASK of %d", tid);
		ret = -1;
	}
	return ret;
}

void compel_free_thread_state(struct compel_thread_state *st)
{
	free(st->xsave);
	st->xsave = NULL;
}
