/* Commands and arguments shared by the dumper and the parasite blob. */
#ifndef CR_PARASITE_H
#define CR_PARASITE_H

#include <stdint.h>
#include <sys/uio.h>

#include "compel/rpc.h"

enum {
	PARASITE_CMD_DUMP_MISC = COMPEL_CMD_USER,	/* fill struct parasite_misc */
	PARASITE_CMD_TAKE_PIPES,			/* receive nr_pipes pipe write ends */
	PARASITE_CMD_DUMP_PAGES,			/* vmsplice the iovecs into the pipes */
	PARASITE_CMD_FD_FLAGS,				/* F_GETFD of the fds of struct parasite_fd_flags */
	PARASITE_CMD_NEW_UFFD,				/* a userfaultfd of the task's mm from a /dev/userfaultfd fd */
	PARASITE_CMD_VMA_POLICY,			/* get_mempolicy() of the areas of struct parasite_vma_policy */
};

/*
 * Signal numbers and masks the blobs use: they see no libc headers, the
 * tool sees libc's (the same values).
 */
#ifndef SIGKILL
#define SIGTRAP		5
#define SIGKILL		9
#define SIGSTOP		19
#define SIG_BLOCK	0
#define SIG_UNBLOCK	1
#define SIG_SETMASK	2
#define SIG_DFL		0
#define CLOCK_MONOTONIC	1
#define PRIO_PROCESS	0
#endif
#define SIGMASK_BIT(sig)	(1ULL << ((sig) - 1))

/* prctl(PR_TIMER_CREATE_RESTORE_IDS, ...) (Linux 6.17): timer_create() takes the id it is given */
#define PR_TIMER_CREATE_RESTORE_IDS		77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF		0
#define PR_TIMER_CREATE_RESTORE_IDS_ON		1
#define PR_TIMER_CREATE_RESTORE_IDS_GET		2

/* prctl(PR_SET_MDWE, ...) (Linux 6.3): memory-deny-write-execute, newer than our headers */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE				65
#define PR_GET_MDWE				66
#endif

/* prctl(PR_SET_MEMORY_MERGE, ...) (Linux 6.4): KSM merges any area of the mm (systemd's MemoryKSM=) */
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE			67
#define PR_GET_MEMORY_MERGE			68
#endif

/* seccomp modes of a thread (/proc status "Seccomp:") */
#define SECCOMP_MODE_NONE	0
#define SECCOMP_MODE_STRICT_	1
#define SECCOMP_MODE_FILTER_	2

/* membarrier(2): the registrations a process can have, and how to read them (Linux 6.3) */
#define MEMBARRIER_CMD_GET_REGISTRATIONS	(1 << 9)
#define MEMBARRIER_REGISTRATIONS		((1 << 2) | (1 << 4) | (1 << 6) | (1 << 8))

#define PARASITE_MAX_PIPES	16
#define PARASITE_MAX_FDS	4096	/* fds of one FD_FLAGS round */
#define PARASITE_MAX_IOVS	2048
#define PARASITE_MAX_PAGES	PARASITE_MAX_IOVS	/* pages of one round (the tool sizes rounds so) */
#define NR_SIGNALS		64
#define NR_RLIMITS		16
#define MAX_POSIX_TIMERS	64

/* The kernel's struct sigaction on x86-64. */
struct k_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* stack_t as the kernel lays it out */
struct k_altstack {
	uint64_t sp;
	int32_t flags;
	uint32_t pad;
	uint64_t size;
};

/*
 * The other kernel structures the tool, the parasite (which reads them)
 * and the restorer (which sets them) share, declared here once.
 */
struct k_rlimit {			/* prlimit64() */
	uint64_t cur, max;
};

struct k_itimerval {			/* getitimer(), setitimer() */
	int64_t interval_sec, interval_usec, value_sec, value_usec;
};

struct k_itimerspec {			/* timer_gettime(), timer_settime() */
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

struct k_sigevent {			/* timer_create() */
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;			/* SIGEV_THREAD_ID */
	int32_t pad[11];
};

#define NR_ITIMERS	3		/* ITIMER_REAL, _VIRTUAL, _PROF */
#define MEMPOLICY_NODES	1024		/* NUMA nodes a memory policy's mask may name (the kernels' MAX_NUMNODES) */
#define NR_SPEC_CTRL	3		/* PR_SPEC_STORE_BYPASS, _INDIRECT_BRANCH, _L1D_FLUSH */

struct parasite_timer {
	int32_t id;			/* in */
	int32_t clock, signo;		/* in */
	int32_t pending;		/* in: its signal is pending (a periodic one: sig_overrun read) */
	int32_t overrun;
	int32_t sig_overrun;		/* the pending signal's overruns so far */
	struct k_itimerspec spec;
};

struct parasite_misc {
	struct k_sigaction sa[NR_SIGNALS];	/* index sig - 1 */
	struct k_altstack altstack;
	struct k_rlimit rlim[NR_RLIMITS];
	uint64_t brk;
	int32_t dumpable;
	int32_t secbits;
	int32_t umask;
	int32_t pdeath_sig;
	int32_t tsc;				/* PR_GET_TSC of the thread it runs in */
	int32_t cpuid;				/* ARCH_GET_CPUID of the thread it runs in: 0 if it faults */
	int32_t mce_kill;			/* PR_MCE_KILL_GET of the thread it runs in */
	uint64_t xcomp_perm;			/* ARCH_GET_XCOMP_PERM: the XSAVE features the process may use */
	int32_t mempolicy;			/* get_mempolicy() of the thread it runs in: mode | flags, < 0 unknown */
	uint64_t mempolicy_nodes[MEMPOLICY_NODES / 64];
	int32_t mdwe;				/* PR_GET_MDWE */
	int32_t spec[NR_SPEC_CTRL];		/* PR_GET_SPECULATION_CTRL of the thread it runs in */
	int32_t err_where;
	uint64_t tid_address;		/* clear_child_tid of the thread it runs in */
	struct k_itimerval itimer[NR_ITIMERS];
	uint64_t timer_slack;
	int32_t child_subreaper;
	int32_t thp_disabled;
	int32_t memory_merge;			/* PR_GET_MEMORY_MERGE: the mm's KSM merge-any, < 0 none */
	int32_t membarrier;			/* MEMBARRIER_CMD_GET_REGISTRATIONS: the mm's, -1 unknown */
	uint32_t pkeys;				/* the mm's allocated protection keys, bit N for key N (not 0) */
	uint64_t sa_skip;			/* in: signals whose action is not read (SIGMASK_BIT) */
	int32_t nr_timers;			/* in: ids to read */
	int32_t landlock_probe;			/* in: a pid to ask kcmp() about (dump/landlock.c), 0: none */
	int32_t landlock_kcmp;			/* what kcmp() said */
	struct parasite_timer timers[MAX_POSIX_TIMERS];		/* which step failed, for messages */
};

/*
 * One round of the page path: iovs[] are task addresses, grouped by pipe.
 * With skip_zero (anonymous memory only) the parasite drops all-zero
 * pages; out[] says what went into each pipe. The parasite never reads
 * the pages themselves beyond that test: the tool checksums them as it
 * copies them out of the pipes.
 */
struct parasite_pages {
	uint32_t nr_pipes;
	uint32_t first_pipe;			/* pipe i of the round is pipe first_pipe + i of TAKE_PIPES */
	uint32_t skip_zero;
	uint32_t nr_iovs[PARASITE_MAX_PIPES];	/* iovs for pipe i follow those of pipe i-1 */
	uint32_t nr_out[PARASITE_MAX_PIPES];	/* out: iovs spliced into pipe i, in out[] likewise */
	uint64_t nr_bytes[PARASITE_MAX_PIPES];	/* out: bytes spliced into pipe i */
	uint64_t zero_pages;			/* out: pages dropped as all-zero */
	struct iovec iovs[PARASITE_MAX_IOVS];
	struct iovec out[PARASITE_MAX_IOVS];
};

/*
 * The fd flags (close-on-exec) of fd[0..nr), as the task has them: the
 * dumper looks at each fd through a copy of its own, which has its own.
 */
struct parasite_fd_flags {
	uint32_t nr;
	int32_t fd[PARASITE_MAX_FDS];
	int32_t flags[PARASITE_MAX_FDS];	/* out: F_GETFD's answer, or -errno */
};

/* The NUMA policy of each area at addr[0..nr) of its own (mbind()), MPOL_DEFAULT for none. */
#define PARASITE_MAX_VMAS	2048	/* areas of one VMA_POLICY round */
struct parasite_vma_policy {
	uint32_t nr;
	uint64_t addr[PARASITE_MAX_VMAS];
	int32_t mode[PARASITE_MAX_VMAS];	/* out: mode | flags, or -errno */
};

union parasite_args {
	struct parasite_misc misc;
	struct parasite_pages pages;
	struct parasite_fd_flags fd_flags;
	struct parasite_vma_policy vma_policy;
	int32_t nr_pipes;
	uint32_t uffd_flags;			/* PARASITE_CMD_NEW_UFFD: USERFAULTFD_IOC_NEW's flags */
};

#endif
