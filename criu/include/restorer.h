/*
 * What the restore child hands to the restorer blob. Everything lives in
 * the bootstrap area (the blob, this struct, the arrays it points to, the
 * stack), which no target mapping overlaps, so plain pointers stay valid
 * while everything else is unmapped.
 */
#ifndef CR_RESTORER_H
#define CR_RESTORER_H

#include <stdint.h>

#include "compel/frame.h"
#include "late-fd.h"
#include "parasite.h"

enum rst_vma_kind {
	RST_VMA_ANON = 1,
	RST_VMA_FILE_PRIVATE,
	RST_VMA_FILE_SHARED,
	RST_VMA_SYSVSHM,	/* fd: the shm id, flags: shmat() flags */
};

struct rst_range {
	uint64_t start, len;
};

struct rst_vma {
	uint64_t start, end;
	uint64_t pgoff;
	uint32_t prot;
	uint32_t map_prot;	/* what it is mapped with: writable first if pages go in or it was once */
	uint32_t flags;		/* MAP_* */
	int32_t fd;		/* for file-backed areas */
	uint32_t kind;
	uint64_t madv;		/* bit N: madvise(N); bit 63: mlock */
	uint64_t premap;	/* built already at this address (cow.c): moved, not mapped; 0 if not */
	uint64_t huge_from;	/* its huge runs filled at this address (cow.c), moved in with UFFDIO_MOVE; 0 if none */
	uint64_t shm_size;	/* RST_VMA_SYSVSHM: the segment's size, rounded up to pages */
	struct rst_range *guards;	/* guard regions to install (MADV_GUARD_INSTALL) */
	uint32_t nr_guards;
	uint32_t sealed;	/* mseal() once all is in place */
	uint32_t lazy;		/* --lazy-pages: registered with userfaultfd, filled by the lazy-pages daemon */
	uint32_t pkey;		/* its memory protection key: pkey_mprotect() when not 0 */
};

/*
 * An AIO context: the restorer makes it with io_setup(nr_req), moves its
 * ring to start, and brings the ring to head and tail with the events
 * between them.
 */
struct rst_aio {
	uint64_t start, len;
	uint32_t nr_req;	/* io_setup()'s argument for a ring of len bytes */
	uint32_t nr, head, tail;
	uint64_t events;	/* (tail - head) mod nr struct io_event, in the bootstrap area */
};

struct rst_pagemap {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint64_t off;
	const uint64_t *csum;	/* one per page (csum.h), checked as the pages are read */
	uint32_t file;		/* of the pagemap's pages files (pagemap_head.nr_files): the restorer's are all 0 */
};

/* A part of the vDSO: [vvar], [vvar_vclock] or [vdso]. */
enum { VDSO_PART_VVAR, VDSO_PART_VCLOCK, VDSO_PART_VDSO, VDSO_NR_PARTS };

struct rst_vdso_part {
	uint64_t start, end;	/* 0, 0 when absent */
};

struct rst_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct k_altstack uc_stack;
	struct compel_sigcontext uc_mcontext;	/* as rt_sigreturn reads it */
	uint64_t uc_sigmask;
};

/* rt_sigreturn finds this at %rsp - 8; the XSAVE area follows, 64-aligned. */
struct rst_sigframe {
	uint64_t pretcode;
	struct rst_ucontext uc;
	uint8_t info[128];
};

struct rst_creds {
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
	uint32_t *groups;		/* ngroups of them, up to the kernel's NGROUPS_MAX */
	int32_t ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t secbits;
	int32_t cap_last;
};

struct rst_timer {
	int32_t id, clock;
	struct k_sigevent sev;
	struct k_itimerspec spec;
	int32_t overrun;	/* timer_getoverrun() at dump */
	int32_t made;		/* restorer: made already (with its overrun) */
	int32_t sig_pending;	/* its signal was pending, with sig_overrun overruns so far (timer-pend.h) */
	int32_t sig_overrun;
};

/* Seccomp state of a thread: strict, or filters installed oldest first. */
struct rst_filter {
	uint64_t len;		/* instructions */
	uint64_t insns;		/* struct sock_filter[] */
	uint32_t flags;		/* SECCOMP_FILTER_FLAG_LOG or 0 */
	uint32_t pad;
};

/*
 * The first @shared filters are the same in every thread of the process:
 * one filter for all of them (installed with TSYNC by the leader), so
 * that a later TSYNC install works as it did. Each thread adds its own.
 */
struct rst_seccomp {
	uint32_t mode;
	uint32_t nr;
	uint32_t shared;
	uint32_t pad;
	struct rst_filter *f;
};

/*
 * A thread: what it sets for itself before entering its registers.
 * threads[0] is the leader, which runs the restorer on its own stack;
 * the restorer starts each other one with its tid, on the stack given.
 */
#define RST_CPU_WORDS	16	/* 1024 CPUs */

struct rst_thread {
	int32_t tid;
	uint32_t pad;
	uint64_t fs_base, gs_base;
	uint64_t rseq_ptr;
	uint32_t rseq_size, rseq_sig;
	uint64_t clear_child_tid;
	uint64_t robust_list, robust_len;
	uint64_t cpu_mask[RST_CPU_WORDS];	/* sched_setaffinity(); cpu_mask_len 0: left as it is */
	uint32_t cpu_mask_len;			/* bytes */
	uint32_t ioprio;			/* 0: never set */
	int32_t tsc;				/* PR_SET_TSC, 0: left as it is */
	int32_t cpuid_faulting;			/* ARCH_SET_CPUID 0, last */
	int32_t mce_kill;			/* PR_MCE_KILL_SET policy, or PR_MCE_KILL_DEFAULT */
	int32_t mempolicy;			/* set_mempolicy() mode | flags, 0: MPOL_DEFAULT */
	uint64_t mempolicy_nodes[MEMPOLICY_NODES / 64];
	uint32_t spec[NR_SPEC_CTRL];		/* PR_GET_SPECULATION_CTRL as dumped, by PR_SPEC_*; 0: left as it is */
	int32_t has_sched;			/* a thread but the leader: its own policy and nice */
	int32_t has_own;			/* a thread but the leader: its own slack, pdeath signal, no_new_privs */
	uint64_t timer_slack;
	int32_t pdeath_sig;
	int32_t no_new_privs;
	uint32_t sched_policy, sched_prio;
	int32_t nice;
	char comm[16];
	uint64_t stack, stack_size;
	struct rst_sigframe *sigframe;	/* %rsp for rt_sigreturn is sigframe + 8 */
	struct rst_seccomp seccomp;
	struct rst_creds *creds;	/* its own, or the process's */
};

/*
 * --lazy-pages: what a restorer sends the lazy-pages daemon (lazy.c) over
 * the connection criu made, with two fds: its userfaultfd and one end of
 * a socketpair of its own. The daemon answers on that end (a 32-bit 0
 * once it enabled the userfaultfd and its watchdog holds a copy), the
 * restorer registers its lazy areas and says so (a 32-bit count of them).
 */
#define LAZY_MAGIC_TASK		0x4c5a5401u
#define LAZY_MAGIC_CRIU		0x4c5a4301u	/* criu restore: hello, with its pid */
#define LAZY_MAGIC_DONE		0x4c5a4401u	/* criu restore: the outcome, arg 1 committed, 0 failed */

struct lazy_msg {
	uint32_t magic;
	int32_t arg;		/* the process's pid in the images; criu's pid; the outcome */
};

#define RST_THREAD_STACK	(16 * 1024)

/* A file lock the process takes back (kind as in file-lock.proto). */
#define RST_MAX_LOCKS	256

struct rst_file_lock {
	int32_t fd;
	uint32_t kind;		/* 1 flock, 2 POSIX, 3 OFD, 4 lease */
	uint32_t type;		/* F_RDLCK, F_WRLCK */
	uint32_t pad;
	uint64_t start, len;	/* len 0: to the end of the file */
};

/*
 * A child sharing the process's memory and signal handlers (pstree vm_from):
 * it waits in its own bootstrap area, which the process's restorer keeps,
 * until the memory is back and *ready is set.
 */
#define RST_MAX_VM_KIDS	4

struct rst_vm_kid {
	uint64_t start, len;	/* its bootstrap area */
	int32_t *ready;		/* its restore_args.mm_ready */
};

struct restore_args {
	uint64_t bootstrap_start, bootstrap_len;
	uint64_t task_size;		/* unmap everything below this */

	struct rst_vma *vmas;
	uint32_t nr_vmas;
	struct rst_pagemap *pms;
	uint32_t nr_pms;
	int32_t pages_fd;
	char pages_name[32];		/* for messages */
	uint32_t csum_isa;		/* csum_restorer_isa(): which build of which page hash to check with */
	uint64_t premap_start, premap_len;	/* the premap region (cow.c), unmapped once moved from */
	struct rst_range *huge_runs;		/* filled in huge pages in the region (cow.c), sorted */
	uint32_t nr_huge_runs;
	int32_t lazy_sk;		/* --lazy-pages: the connection to the lazy-pages daemon, or -1 */
	int32_t uffd_dev;		/* /dev/userfaultfd opened by criu, or -1 (then userfaultfd()) */

	struct rst_vdso_part self_vdso[VDSO_NR_PARTS];	/* the restore child's */
	struct rst_vdso_part tgt_vdso[VDSO_NR_PARTS];	/* where the task had them */
	uint64_t vdso_park;		/* free room in the bootstrap area for moving them */
	/* When the layouts differ: trampolines put where the task's vDSO was. */
	uint64_t proxy_start, proxy_len;
	uint8_t *proxy_image;

	/* struct prctl_mm_map, field for field */
	struct {
		uint64_t start_code, end_code, start_data, end_data;
		uint64_t start_brk, brk, start_stack;
		uint64_t arg_start, arg_end, env_start, env_end;
		uint64_t auxv;
		uint32_t auxv_size;
		uint32_t exe_fd;
	} mm;
	uint64_t auxv[128];

	struct k_sigaction sa[NR_SIGNALS];
	struct k_rlimit rlim[NR_RLIMITS];
	uint32_t nr_rlim;
	struct rst_creds creds;
	int32_t dumpable;
	int32_t pdeath_sig;
	int32_t no_new_privs;
	struct k_itimerval itimer[NR_ITIMERS];
	uint64_t timer_slack;
	int32_t child_subreaper;
	int32_t thp_disabled;
	int32_t memory_merge;		/* PR_SET_MEMORY_MERGE before the areas are mapped */
	uint32_t mlock_future;		/* mlockall() flags for areas made from now on, or 0 */
	uint32_t mdwe;			/* PR_SET_MDWE flags, or 0 */
	uint32_t personality;		/* with READ_IMPLIES_EXEC, set once the memory is back; else 0 (set before) */
	uint32_t membarrier;		/* MEMBARRIER_CMD_REGISTER_* commands to run again */
	uint32_t pkeys;			/* protection keys to allocate again (bit N: key N) */
	int32_t has_sched;
	uint32_t sched_policy, sched_prio;
	int32_t nice;

	uint8_t (*siginfo)[128];	/* queued signals to put back */
	int32_t *siginfo_tid;		/* the thread each is queued to; 0: process-wide */
	uint32_t nr_siginfo;

	struct rst_timer *timers;
	uint32_t nr_timers;
	struct rst_aio *aios;
	uint32_t nr_aios;
	struct late_fd pidfds[MAX_LATE_FDS];	/* pidfds and /proc files, opened once every process exists */
	int32_t nr_pidfds;
	struct rst_file_lock locks[RST_MAX_LOCKS];	/* taken after the service fds are closed */
	uint32_t nr_locks;
	struct rst_thread *threads;	/* threads[0] is the leader */
	uint32_t nr_threads;
	int32_t pid;
	int32_t stop_signo;		/* re-enter a group stop with this signal before queueing signals; 0: none */

	int32_t log_fd;
	int32_t err_fd;			/* criu's stderr, for errors too; -1 if the log is it */
	int32_t log_level;
	uint32_t fault_at;		/* CRIU_FAULT_RESTORER: the checked step to fail; ~0: count them */
	uint32_t fault_steps;
	uint64_t log_start_us;		/* CLOCK_MONOTONIC of criu's first log line */
	int32_t close_from;		/* service fds: everything from here up goes */

	struct rst_vm_kid vm_kids[RST_MAX_VM_KIDS];
	uint32_t nr_vm_kids;
	int32_t shares_mm;		/* the memory and signal handlers are the parent's, restored by it */
	int32_t mm_ready;		/* set by the parent's restorer (a futex) */
	int32_t threads_queued;		/* threads whose pending signals are queued (a futex) */
	int32_t *started;		/* set to started_val and woken once running here (a futex), or NULL */
	int32_t started_val;
	int32_t seccomp_synced;		/* the shared filters are in (a futex the threads wait on) */
};

#endif
