/*
 * compel: run code inside another process.
 *
 * The usual sequence for a tool:
 *
 *	compel_stop_task(pid)            seize and stop the task
 *	ctl = compel_prepare(pid)        save registers, FPU state, signal mask
 *	compel_syscall(ctl, ...)         optionally run single syscalls in it
 *	compel_infect(ctl, &blob, size)  load a parasite blob and start its daemon
 *	compel_parasite_args(ctl)        the area shared with the parasite
 *	compel_rpc_call_sync(ctl, cmd)   run commands, pass fds both ways
 *	compel_cure(ctl)                 remove the parasite, restore everything
 *	compel_resume_task(pid, ...)     let the task go (or kill it)
 *
 * Every function returns 0 (or a documented non-negative value) on success
 * and -1 on failure after logging why. After a failure anywhere, calling
 * compel_cure() and compel_resume_task() leaves the task as it was.
 */
#ifndef COMPEL_COMPEL_H
#define COMPEL_COMPEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* A blob as compel-blobgen describes it. */
struct compel_reloc {
	unsigned long off;	/* 8-byte slot in the image */
	unsigned long addend;	/* slot gets load address + addend */
};

struct compel_blob {
	const char *name;
	const unsigned char *image;
	size_t image_size;		/* bytes in image[] */
	size_t mem_size;		/* with bss, page aligned */
	const struct compel_reloc *relocs;
	size_t nr_relocs;
	unsigned long entry;		/* offsets from the load address */
	unsigned long syscall_off;	/* "syscall; ret": the tool's syscalls, healing on the ret */
	unsigned long sigreturn_off;	/* "mov $15, %eax; syscall": rt_sigreturn of the frame at %rsp - 8 */
	unsigned long heal_off;		/* a heal frame's return address: settles the restart, then sigreturn */
	unsigned long trap_off;		/* the int3 reached when blob_main returns without a daemon */
	unsigned long data_off;		/* page aligned: code and read-only data before, data and bss from here */
};

/* Copy @blob into @mem (mem_size bytes) so that it runs at address @base. */
void compel_blob_load(const struct compel_blob *blob, void *mem, unsigned long base);

/* Logging: compel calls @fn for each message; levels as the tool's -v. */
typedef void (*compel_log_fn)(int level, const char *fmt, va_list args);
void compel_set_log(compel_log_fn fn);

/* Fault injection: @fn counts each parasite command as a step and says whether it is to fail. */
typedef int (*compel_fault_fn)(const char *fmt, ...);
void compel_set_fault(compel_fault_fn fn);

/*
 * @fn returns non-zero when the tool wants to give up (it was asked to
 * stop): compel's waits (for a seized task's stop, for the parasite's
 * answer) then fail at once. The caller's cure rolls back as after any
 * failure.
 */
void compel_set_interrupt(int (*fn)(void));
int compel_interrupted(void);
/*
 * A deadline (CLOCK_MONOTONIC, ns) for the stops of seized tasks, from
 * the caller's --timeout of @secs seconds, in place of the per-task
 * default; 0: the default again.
 */
void compel_set_stop_deadline(long long deadline_ns, unsigned int secs);

enum compel_task_state {
	COMPEL_TASK_ALIVE	= 1,	/* was running or sleeping */
	COMPEL_TASK_STOPPED	= 2,	/* was in a group stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) */
	COMPEL_TASK_ZOMBIE	= 3,	/* exited while being seized: not traced any more */
};

/* PTRACE_SEIZE + PTRACE_INTERRUPT; returns an enum compel_task_state or -1. */
int compel_stop_task(pid_t pid);
/*
 * The same in two steps, for tasks that can't reach their stop yet (a
 * frozen cgroup: the interrupt takes effect once it is thawed). Seize:
 * 0 or -1 (left alone). Wait: an enum compel_task_state, or -1 (detached).
 */
int compel_seize_task(pid_t pid);
int compel_wait_task(pid_t pid);
/* The same; for a task in a group stop, *@stopsig (may be NULL) is the signal that stopped it, else 0. */
int compel_wait_task_sig(pid_t pid, int *stopsig);
/* The same; for a task in a group stop, *@stopsig (may be NULL) is the signal that stopped it, else 0. */
int compel_stop_task_sig(pid_t pid, int *stopsig);
/* Detach; a task that was in a group stop is left stopped. 0 or -1. */
int compel_resume_task(pid_t pid, int orig_state);
/* waitpid() that retries on EINTR; returns pid or -1. */
pid_t compel_wait(pid_t pid, int *status);
/* waitpid() for a stop of a traced task, which does not wait for ever on one killed meanwhile (-1, ESRCH). */
pid_t compel_wait_stop(pid_t pid, int *status);

/*
 * /proc/PID/NAME of @pid into @buf (at most @size - 1 bytes, NUL added): its
 * length, or -1 if it can't be read (the task is gone).
 */
ssize_t compel_read_proc(pid_t pid, const char *name, char *buf, size_t size);
/*
 * /proc/PID/stat the same way: 0 with *@rest at the ")" that ends the
 * command name (the fields from the state letter on follow, after a space;
 * NULL if there is none), or -1 if it can't be read.
 */
int compel_read_stat(pid_t pid, char *buf, size_t size, char **rest);

/* The saved state of a stopped thread. */
struct compel_thread_state {
	struct user_regs_struct regs;
	uint8_t *xsave;			/* NT_X86_XSTATE area */
	size_t xsave_size;
	uint64_t xfeatures;		/* XCR0 as the kernel reports it */
	uint64_t sigmask;		/* blocked signals */
};

int compel_get_thread_state(pid_t tid, struct compel_thread_state *st);
int compel_set_thread_state(pid_t tid, const struct compel_thread_state *st);
void compel_free_thread_state(struct compel_thread_state *st);

struct parasite_ctl;

struct parasite_ctl *compel_prepare(pid_t pid);
const struct compel_thread_state *compel_orig_state(struct parasite_ctl *ctl);

/*
 * Prepare another thread of a process whose leader @leader is infected:
 * its syscalls run from the leader's blob (no code poked, no maps read).
 * compel_cure() of it restores the thread and leaves the blob alone.
 */
struct parasite_ctl *compel_prepare_thread(struct parasite_ctl *leader, pid_t tid);

/* Run one syscall in the task; its return value goes to *ret. 0 or -1. */
int compel_syscall(struct parasite_ctl *ctl, long nr, long *ret,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5, unsigned long a6);

/* Map @blob with @args_size bytes of arguments into the task and start its daemon. */
int compel_infect(struct parasite_ctl *ctl, const struct compel_blob *blob, size_t args_size);
/* The parasite's argument area, in the tool's address space. */
void *compel_parasite_args(struct parasite_ctl *ctl);
/* Translate an address inside the shared area to the task's view. */
unsigned long compel_remote_addr(struct parasite_ctl *ctl, const void *local);

/* Send @cmd, wait for the reply; returns the handler's result (>= 0) or -1 with errno. */
int compel_rpc_call_sync(struct parasite_ctl *ctl, unsigned int cmd);
int compel_rpc_call(struct parasite_ctl *ctl, unsigned int cmd);
int compel_rpc_sync(struct parasite_ctl *ctl, unsigned int cmd);
int compel_send_fds(struct parasite_ctl *ctl, const int *fds, int nr);
int compel_recv_fds(struct parasite_ctl *ctl, int *fds, int nr);

/*
 * Stop the parasite, unmap it, put back registers, FPU state and signal
 * mask, and free @ctl. The task stays seized and stopped. 0 or -1 (the
 * task's state is restored as far as possible either way).
 */
int compel_cure(struct parasite_ctl *ctl);

#endif
