/* The restore flow's own declarations, shared by the files of criu/restore/. */
#ifndef CR_RESTORE_RST_H
#define CR_RESTORE_RST_H


#include "action-scripts.h"
#include "cgroup.h"
#include "compel/compel.h"
#include "core.pb-c.h"
#include "clone-vm.h"
#include "cow.h"
#include "cr_options.h"
#include "csum.h"
#include "fault.h"
#include "creds.h"
#include "crtools.h"
#include "files.h"
#include "file-lock.h"
#include "fsnotify.h"
#include "external.h"
#include "image.h"
#include "inventory.pb-c.h"
#include "lazy.h"
#include "ipc-sysv.h"
#include "log.h"
#include "mm.pb-c.h"
#include "mntns.h"
#include "net.h"
#include "pagemap.pb-c.h"
#include "pagerange.h"
#include "pgrp.h"
#include "pidmap.h"
#include "pipes.h"
#include "proc_parse.h"
#include "pstree.pb-c.h"
#include "restorer.h"
#include "restorer-blob.h"
#include "shmem.h"
#include "tty.h"
#include "fileobj.h"
#include "util.h"
#include "vdso.h"


#define RESTORER_STACK	(64 * 1024)
#define XSTATE_MAGIC1	0x46505853u
#define XSTATE_MAGIC2	0x46505845u
#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4


struct rst_tree;
struct rst_ctx;

struct self_vdso {
	struct rst_vdso_part part[VDSO_NR_PARTS];
};


/* One process to restore; the tree's tasks share files and inventory. */
struct rst_ctx {
	struct rst_tree *tree;
	int dfd;
	pid_t pid;
	int zombie, exit_code;
	int *children;			/* indices in tree->t */
	int nr_children;
	uint8_t *uses, *need;		/* file ids it uses; shared ids its descendants use */
	uint8_t *uses_shared;		/* the ids it uses that other tasks use too */
	int max_fd;
	FdinfoEntry **fds;		/* fdinfo-PID.img */
	size_t nr_fds;
	struct late_fd late[MAX_LATE_FDS];	/* pidfds and /proc files, for the restorer */
	int nr_late;
	uint32_t nr_shmem;
	int shmem_base;
	InventoryEntry *inv;
	PstreeEntry *pe;
	CoreEntry *core;		/* the leader's */
	CoreEntry **tcores;		/* the other threads', in pstree order */
	size_t nr_tcores;
	MmEntry *mm;
	size_t nr_guards;		/* guard regions in all its areas */
	uint8_t *vma_pages;		/* per area: the pagemap has pages for it */
	PagemapEntry **pms;
	size_t nr_pms;
	uint64_t nr_pages;
	struct rst_files *files;	/* the tree's */
	char pages_name[32];
	char pages_what[32];		/* pages_name for messages (the chain's when gathered) */
	char pages1_name[32];		/* the second pages file (pagemap_head.nr_files 2), or "" */
	int chained;			/* CHAINED_*: pages to gather once planned (gather_chained()) */
	int sync_pipe[2];
	uint64_t bootstrap, bootstrap_len;
	struct restore_stats st;
	struct cow_task cow;		/* private memory shared with the parent (cow.c) */
	int fs_child, files_child;	/* made with CLONE_FS, CLONE_FILES: shares the parent's */
	int shares_files;		/* its fd table is another process's too */
	int own_slots;			/* a sharer's pages, exe and mapped-file fds, or -1 */
	int clone_parent;		/* forked by a zombie sibling leading its session (CLONE_PARENT) */
	int vm_child;			/* shares the parent's memory and signal handlers (CLONE_VM | CLONE_SIGHAND) */
	int *ring_fds;			/* per memory area: a copy of the packet socket whose rings it maps, or -1 */
	int pgrp_orphaned;		/* its process group will be orphaned (find_orphaned_groups()) */
	int pgrp_late;			/* its group's leader is no ancestor: joined after forking */
};

/* Why a process's pages are gathered (rst_ctx.chained) */
#define CHAINED_PREV	1		/* pages in the previous images */
#define CHAINED_CLEN	2		/* compressed frames */
#define CHAINED_FILE1	4		/* pages in the second pages file (the restorer reads one) */

struct rst_tree {
	struct rst_ctx *t;		/* t[0] is the root */
	int nr;
	int dfd;
	int lazy_serve;			/* the lazy-pages daemon's reading: it reads both pages files */
	InventoryEntry *inv;
	struct rst_files files;
	uint32_t nr_ids;
	int svc_base;			/* service fds, the same in every task */
	int *transit_slot;		/* file id -> its slot among the transit fds, -1 if never passed on */
	uint32_t nr_transit;
	int shmem_base;			/* fd of shared memory object N at shmem_base + N */
	uint32_t nr_shmem;
	int files_base;			/* fds of files mapped directly (COW_DIRECT_FILES of them) */
	int own_base, own_span;		/* per-process slots of processes sharing an fd table */
	int scratch_base;		/* temporaries, each gone before the next is made: at the top */
	int mnt_base;			/* fds of mounts files are opened through, from here up */
	int sync_pipe[2];
	struct cow_tree cow;
	char core_dir[4096];		/* where zombies that dumped core dump it again, or "" */
	int core_fd;			/* that directory (the tree's mount namespace can't reach it by path), or -1 */
	struct self_vdso self_vdso;	/* criu's vDSO, so every restore process's */
	struct pidmap pids;		/* pid -> index in t[] */
	struct pidmap tids;		/* tid of every thread -> index in t[] of its process */
	struct pidmap all_ids;		/* every pid, tid, pgid, sid of the images (cow.c's filler threads avoid them) */
};

/* Service fds live from svc_base up, above every fd the task will have (and at least here). */
#define SVC_MIN_BASE	100

/* Service fds live from svc_base up, above every fd the task will have. */
enum {
	SVC_LOG,
	SVC_ERR,		/* criu's stderr, for the restorer's errors (with -o): fd 2 is the task's own */
	SVC_DIR,
	SVC_TTY,
	SVC_PAGES,
	SVC_EXE,
	SVC_PROC,		/* criu's /proc: the tree's mount namespace may have none (proc_dir()) */
	SVC_CGROUP,		/* the cgroup mover's socket (criu/cgroup/mover.c) */
	SVC_ORPHAN_PTS,		/* where ptys whose master was outside the tree send their new master (tty.c) */
	SVC_CORES,		/* the directory zombies that dumped core dump it again in (fork.c) */
	SVC_LAZY,		/* --lazy-pages: the connection to the lazy-pages daemon (lazy.c) */
	SVC_UFFD,		/* --lazy-pages: /dev/userfaultfd, which the restorers make their userfaultfds from */
	SVC_INHERIT,		/* --inherit-fd fds, up to MAX_INHERIT_FD */
	SVC_TRANSIT = 24,	/* descriptions passed to children, then mapped files */
};
_Static_assert(SVC_INHERIT + MAX_INHERIT_FD <= SVC_TRANSIT, "--inherit-fd slots overlap the transit ones");

struct child_fds {
	int base;
	int pages, exe;		/* slots of the pages file and the executable */
	int files;		/* slot of the first of COW_DIRECT_FILES mapped files */
};


#define XFEATURE_XTILEDATA	18
#define XSAVE_HDR_END		576	/* legacy area + XSAVE header */
#define XSAVE_HDR_XSTATE_BV	512
#define XSAVE_SW_BYTES		464	/* the FX area's software-reserved bytes: the XSAVE frame's description */
#define USER_CS			0x33	/* x86-64 user code and data segment selectors */
#define USER_DS			0x2b
#define ARCH_REQ_XCOMP_PERM	0x1023

/* ---- across the files of criu/restore/ ---- */
int read_inventory(struct rst_ctx *rc);
int svc_fd(struct child_fds *cf, int fd, int slot);
int check_siginfo_sizes(struct rst_ctx *rc);
int plan_bootstrap(struct rst_ctx *rc, struct span_set *taken, struct self_vdso *sv);
int self_layout(struct span_set *taken, struct self_vdso *sv);
struct restore_args *args_in(struct rst_ctx *rc);
struct restore_args *build_bootstrap(struct rst_ctx *rc, struct child_fds *cf, int pages_fd);
int premap_open(void *priv, const VmaEntry *v);
int open_shell_tty(void);
int raise_nofile(int max_fd, int need);
pid_t clone_with_pid(pid_t pid, unsigned long flags, int exit_signal);
pid_t clone_with_pids(const pid_t *tids, int n, unsigned long flags, int exit_signal);
int task_fd_space(struct rst_ctx *rc, struct child_fds *cf);
int restore_task(struct rst_ctx *rc);
struct rst_ctx *task_of(struct rst_tree *tr, pid_t pid);
/* The tree ns_pid_view() looks pids up in (read_pstree()). */
void rst_pid_view_tree(struct rst_tree *tr);
void free_tree(struct rst_tree *tr);
int read_pstree(struct rst_tree *tr);
int read_tree_images(struct rst_tree *tr);
/* After planning: the huge runs' sources in the chain (cow.c), the rest of the chain's pages into a memfd. */
int gather_chained(struct rst_tree *tr, struct rst_ctx *rc);
int check_pids_free(struct rst_tree *tr);
/* Move the kernel's pid cursor past the tree's ids (host pid namespace), so that nothing forked meanwhile takes one. */
void keep_pid_cursor_clear(const struct rst_tree *tr);
/* Every image of the tree in tr->dfd read and checked, nothing made yet (also what test/fuzz runs). */
int read_all_images(struct rst_tree *tr);

int find_orphaned_groups(struct rst_tree *tr);
int zombie_cores_prepare(struct rst_tree *tr);
void zombie_cores_done(struct rst_tree *tr);

/* reaper.c: kills the tree if criu dies before the restore is complete */
int reaper_start(struct rst_tree *tr);
int reaper_start_pids(const pid_t *pids, int nr);
void reaper_forget(void);
int reaper_commit(void);
void reaper_abort(void);

/* jobctl.c: a --shell-job in the foreground of criu's terminal, and criu waiting for it as a shell's child */
int jobctl_take(const InventoryEntry *inv, pid_t root);
void jobctl_give_back(void);
/* the tree runs: the job draws itself anew (SIGWINCH) */
void jobctl_resumed(void);
/* waitpid() of the root that follows its stops (criu stops too, and goes on with it); 0 or -1 */
int jobctl_wait(pid_t pid, int *status);

#endif
