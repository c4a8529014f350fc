/* The dump flow's own declarations, shared by the files of criu/dump/. */
#ifndef CR_DUMP_DUMP_H
#define CR_DUMP_DUMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "action-scripts.h"
#include "cgroup.h"
#include "erestart.h"
#include "compel/compel.h"
#include "core.pb-c.h"
#include "cr_options.h"
#include "creds.h"
#include "crtools.h"
#include "epoll.h"
#include "files.h"
#include "file-lock.h"
#include "external.h"
#include "fileobj.h"
#include "image.h"
#include "inventory.pb-c.h"
#include "ipc-sysv.h"
#include "log.h"
#include "mem.h"
#include "mntns.h"
#include "namespaces.h"
#include "parasite.h"
#include "parasite-blob.h"
#include "pidmap.h"
#include "proc_parse.h"
#include "net.h"
#include "sk-inet.h"
#include "sk-unix.h"
#include "pstree.pb-c.h"
#include "shmem.h"
#include "tty.h"
#include "util.h"
#include "track.h"
#include "vdso.h"

#ifndef PTRACE_PEEKSIGINFO
#define PTRACE_PEEKSIGINFO	0x4209
#endif
#define PTRACE_PEEKSIGINFO_SHARED	1

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION	0x420f
#endif

struct rseq_conf {
	uint64_t ptr;
	uint32_t size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

/* What is per thread; th[0] is the leader. */
struct dump_thread {
	pid_t tid;
	int state;
	int stopsig;			/* the signal of its group stop, if in one */
	struct compel_thread_state regs;
	struct rseq_conf rseq;
	SiginfoEntry *sig;
	size_t nr_sig;
	uint8_t (*sigbuf)[128];
	struct k_altstack altstack;
	uint64_t clear_child_tid;
	uint64_t robust_list, robust_len;
	char comm[64];
	int seccomp_mode;
	ProtobufCBinaryData *filters;	/* oldest first */
	uint32_t *filter_flags;		/* of each filter */
	size_t nr_filters;
	struct proc_status status;	/* task/TID/status: its creds */
	uint32_t secbits;
	uint64_t cpu_mask[16];		/* its affinity, when narrower than every online CPU */
	size_t cpu_words;		/* 0: it may run on every CPU */
	uint32_t ioprio;
	int tsc;			/* PR_GET_TSC */
	int cpuid;			/* ARCH_GET_CPUID: 0 if cpuid faults, < 0 unknown */
	int mce_kill;			/* PR_MCE_KILL_GET: PR_MCE_KILL_EARLY, _LATE or _DEFAULT */
	int mempolicy;			/* get_mempolicy(): mode | flags; MPOL_DEFAULT 0, < 0 unknown */
	uint64_t mempolicy_nodes[MEMPOLICY_NODES / 64];
	int32_t spec[NR_SPEC_CTRL];	/* PR_GET_SPECULATION_CTRL, per PR_SPEC_*; < 0: none */
	int sched_policy, sched_prio, nice;	/* policy and nice are per thread */
	uint64_t timer_slack;		/* a thread's but the leader's (whose the parasite reads) */
	int pdeath_sig;
};

struct dump_ctx {
	pid_t pid;
	pid_t ppid;		/* parent in the dump, 0 for the root */
	int zombie;
	int exit_code;		/* of a zombie, as wait() would report it */
	int pgid_gone;		/* its group's leader has exited */
	pid_t fs_from;		/* the parent whose fs it shares (CLONE_FS), or 0 */
	pid_t files_from;	/* the parent whose fd table it shares (CLONE_FILES), or 0 */
	pid_t session_from;	/* the zombie sibling whose session it is in, or 0 */
	pid_t session_gone;	/* its session, whose leader is gone (a daemon's double fork), or 0; or the one it left */
	pid_t landlock_probe;	/* the probe with its real ids (dump/landlock.c), 0: none */
	pid_t vm_from;		/* the parent whose memory and signal handlers it shares, or 0 */
	uint32_t pages_id;
	int dfd;
	int state;
	int stopsig;		/* in a group stop: the signal that stopped it */
	struct dump_thread *th;
	int nr_th;
	uint32_t mlock_future;	/* MCL_FUTURE [| MCL_ONFAULT] in effect for new areas, or 0 */
	struct proc_pid_stat stat;
	struct proc_status status;
	struct proc_vma *pvmas;		/* from smaps, with their VmFlags */
	int nr_pvmas;
	char *smaps;			/* the text they point into */
	struct file_table *files;	/* shared by the whole dump */
	struct fd_list fds;
	struct mm_dump md;
	struct parasite_misc misc;
	struct vdso_symtab vdso;
	VdsoSymEntry vdso_syms[VDSO_MAX_SYMS], *vdso_sym_ptrs[VDSO_MAX_SYMS];
	struct {
		int id, clock, signo, notify, tid;
		uint64_t value;
		int pending;	/* its own signal is pending (match_timer_signals()) */
	} timers[MAX_POSIX_TIMERS];
	int nr_timers;
	SiginfoEntry *sig_shared;
	size_t nr_sig_shared;
	uint8_t (*shared_buf)[128];
	struct dump_stats *st;
	struct mm_parent parent;	/* whose pages it may share (cow.c); md NULL for the root */
	struct track_task *tt;		/* its dirty tracking (track.c), or NULL */
	struct dump_tree *tree;
};

/* One process's areas read before the freeze (preread.c). */
struct preread_proc {
	pid_t pid;
	uint64_t start_time;
	int nr_th;
	pid_t *tids;			/* sorted, into preread.tids */
	int *cfd;			/* each thread's syscall counter, into preread.cfd */
	bool quiet;			/* while frozen: nothing can have changed its areas */
	struct proc_vma *pvmas;
	int nr_pvmas;
	char *smaps;
};

struct preread {
	struct preread_proc *p;
	int nr;
	pid_t *tids;
	int *cfd;
	int nr_th;
	int said;
	pthread_t closer;	/* closes the counters once read (close_counters_behind()) */
	bool closing;
};

/* The tree being dumped. */
struct dump_tree {
	struct dump_ctx *p;
	int nr, cap;
	int dfd;
	struct file_table files;
	struct dump_stats st;
	int prev_dfd;			/* --prev-images-dir, or -1 */
	struct track_state track;
	struct pidmap idx;		/* pid -> index in p[] */
	bool deduped;			/* --auto-dedup done (dedup_chain()) */
	struct prev_cover *covers;	/* the previous images' pages per pid, read before freezing */
	int nr_covers;
	struct preread preread;		/* areas read before freezing */
	struct snapshot *snap;		/* dump --snapshot (snapshot.c), or NULL */
};

/* What the previous images hold for a pid (chain_cover()), read while the tree still runs. */
struct prev_cover {
	pid_t pid;
	struct page_list l;
};

int write_core(struct dump_ctx *dc, struct dump_thread *t);

/* dump.c, for pre-dump (predump.c) */
int check_task(struct dump_ctx *dc);
int freeze_tree(struct dump_tree *t, pid_t root);
int freeze_all(struct dump_tree *t, pid_t root);
int mark_vm_children(struct dump_tree *t);
int check_ipc(struct dump_tree *t);
/* The mount namespace of the tree (criu/mount/): before its areas are read. */
int check_mntns(struct dump_tree *t);
int finish_tree(struct dump_tree *t, int ok, uint64_t t_frozen);
/* A fresh id for the images of a dump (or pre-dump) about to be written (image.h). */
uint64_t new_dump_id(void);
void free_ctx(struct dump_ctx *dc);
struct dump_ctx *tree_find(struct dump_tree *t, pid_t pid);
int write_inventory(int dfd, pid_t root, bool pre_dump, const struct dump_ctx *rc);
/* --prev-images-dir: opened, linked as DIR/parent; tracking found (track.c). 0 or -1. */
int open_prev_images(struct dump_tree *t);
/* Before freezing: what the previous images hold, per pid, for track_process(). */
void preload_covers(struct dump_tree *t);
void free_covers(struct dump_tree *t);
/* --auto-dedup: free in the previous images what these replace. */
void dedup_chain(struct dump_tree *t);
/* Before freezing: pre-dump rounds while much is written since the previous images (predump.c). */
int dump_live_rounds(pid_t pid);
/* Tracking of one seized process, its parent's coverage for in_prev. 0 or -1. */
int track_process(struct dump_tree *t, struct dump_ctx *dc, struct parasite_ctl *ctl, bool protect);

/*
 * preread.c: the areas (smaps) of the tree read before freezing, with a
 * syscall counter on every thread; checked once the tree is frozen
 * (preread_verify()), and taken by collect_process() (1) where nothing
 * can have changed them, else 0: read them now.
 */
void preread_tree(struct preread *pr, pid_t root);
void preread_verify(struct preread *pr, struct dump_tree *t);
int preread_take(struct preread *pr, struct dump_ctx *dc);
void preread_free(struct preread *pr);

/* landlock.c: a task restricted by a landlock domain is refused */
pid_t landlock_probe(pid_t pid, const struct proc_status *st);
int landlock_check(pid_t pid, pid_t tid, pid_t probe, long kcmp_ret);
void landlock_probes_stop(void);

#endif
