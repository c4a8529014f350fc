/*
 * Cgroups (criu/cgroup/): which cgroups the tree's tasks and threads are
 * in, the tree's own cgroups with their properties, and --freeze-cgroup.
 * Documentation/cgroups.md says what each mode does.
 */
#ifndef CR_CGROUP_H
#define CR_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.pb-c.h"

/* --manage-cgroups[=MODE] */
enum cg_mode {
	CG_MODE_DEFAULT,	/* not given, or given without a mode: soft */
	CG_MODE_IGNORE,		/* no cgroup.img at dump; at restore the tasks stay in criu's cgroups */
	CG_MODE_NONE,		/* every cgroup must exist; no property is set */
	CG_MODE_PROPS,		/* every cgroup must exist; the tree's own get their properties */
	CG_MODE_SOFT,		/* missing cgroups are made, and only those get their properties */
	CG_MODE_FULL,		/* missing cgroups are made; all of the tree's own get their properties */
	CG_MODE_STRICT,		/* the tree's own cgroups must not exist: all are made, with properties */
};

#define CG_MAX_HIERS	32

/* ---- cgroup-parse.c: text and path helpers (unit tested) ---- */

/* A line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH". */
struct cg_line {
	unsigned int id;
	char *ctrls;		/* "cpu,cpuacct", "name=systemd", "" (cgroup2) */
	char *path;
};

/* Split @buf in place into at most @max lines; the count, or -1 if malformed. */
int cg_parse_proc(char *buf, struct cg_line *out, int max);
/* Is @path @base or below it? */
bool cg_path_within(const char *path, const char *base);
/* The deepest cgroup holding both (into @out, of @size). */
void cg_common_ancestor(const char *a, const char *b, char *out, size_t size);
/* @path moved from under @from to under @to (@path must be within @from); 0 or -1 if too long. */
int cg_relocate(const char *path, const char *from, const char *to, char *out, size_t size);
/* Does --cgroup-root's CTRL name hierarchy @ctrls? ("" and "unified" name cgroup2) */
bool cg_ctrl_matches(const char *ctrls, const char *want);
/* MODE of --manage-cgroups=MODE (NULL: the default), or -1. */
int cg_mode_parse(const char *arg);
const char *cg_mode_name(int mode);

/* ---- options ---- */
int cgroup_root_add(const char *arg);		/* --cgroup-root [CTRL:]PATH */

/* ---- dump (cgroup.c) ---- */

/* Before the tree is frozen: criu's own hierarchies. 0 or -1. */
int cgroup_dump_init(void);
/* A frozen process: read the cgroups of each of its threads (@tids[0] is the leader). */
int cgroup_dump_task(pid_t pid, const pid_t *tids, int nr);
/* After every task: the tree's cgroups and their properties, into cgroup.img. */
int cgroup_dump_write(int dfd);
void cgroup_dump_fini(void);
/* Is task @pid in a frozen cgroup? 1 (with a message saying which), 0, or -1. */
int cgroup_task_frozen(pid_t pid);

/* ---- --freeze-cgroup (freezer.c) ---- */

/* Freeze the cgroup, seize every thread in it (PTRACE_SEIZE + INTERRUPT), thaw it. */
int cgfreeze_begin(void);
/* Was @tid seized by cgfreeze_begin()? It then only needs compel_wait_task(). */
bool cgfreeze_seized(pid_t tid);
/* Mark @tid as one of the tree's (it is the tree's to let go from now on). */
void cgfreeze_claim(pid_t tid);
/* A thread seized from the cgroup that is not in the tree: refused, naming it. */
int cgfreeze_check_claimed(void);
/* The tree stays: every cgroup gets back its freezer state before the tree is let go. */
void cgfreeze_refreeze(void);
/* The dump is over: let the others go, and put back the freezer states as they were. */
void cgfreeze_end(void);
/* The state a cgroup had before criu froze or thawed it: 1 frozen, 0 thawed, -1 not touched. */
int cgfreeze_orig_state(dev_t dev, ino_t ino);

/* ---- properties (props.c) ---- */

enum cg_phase {
	CG_PHASE_EARLY,		/* when the cgroup is made, before any task enters (cpuset, v2 type and controllers) */
	CG_PHASE_LATE,		/* once every task is in, before the tree runs (limits, weights) */
	CG_PHASE_FREEZER,	/* once the tree is let go: the freezer state */
};

/* Dump: the properties of the cgroup at @dirfd into @d. */
int cg_props_dump(int dirfd, bool v2, bool freezer, CgroupDir *d);
/* Restore: set the properties of @phase that differ, and read each back. */
int cg_props_restore(int dirfd, const char *where, const CgroupDir *d, int phase);
void cg_props_free(CgroupDir *d);

/* ---- restore (cgroup.c, mover.c) ---- */

/* criu, once the images are read: cgroups made and their early properties set; the mover started. */
int cgroup_restore_prepare(int dfd);
/*
 * Where cgroup @path (of the hierarchy with controllers @ctrls, or whose
 * files have st_dev @dev) goes at this restore: the tree's home moved by
 * --cgroup-root / cg_root, for a cgroup namespace's root and cgroup mounts.
 */
int cgroup_restore_relocate(const char *ctrls, const char *path, char *out, size_t size);
int cgroup_restore_relocate_dev(dev_t dev, const char *path, char *out, size_t size);
/* The mover's socket, for the restore processes (a service fd from here on). */
int cgroup_restore_sk(void);
void cgroup_restore_set_sk(int fd);
/* In restore process @pid (parent @ppid, 0 for the root), before it forks or maps anything. */
int cgroup_restore_task(pid_t pid, pid_t ppid);
/* The supervisor, every thread at its final trap: the threads of @pid (@tids as the supervisor sees them)... */
int cgroup_restore_threads(pid_t pid, const int32_t *tids, size_t nr);
/* ...then the late properties. */
int cgroup_restore_finish(void);
/* The tree is let go: freezer states. */
int cgroup_restore_freezer(void);
/* The end, either way: stop the mover; on failure remove the cgroups criu made. */
void cgroup_restore_fini(bool ok);

/* mover.c, the helper that moves tasks: the only writer of cgroup files once the tree exists */
enum cg_op {
	CG_OP_MOVE_PROC = 1,	/* the sender's process into set @set (hierarchies where it differs from @base) */
	CG_OP_MOVE_THREAD,	/* the thread named in the credentials, likewise */
	CG_OP_LATE,		/* the late properties of every cgroup */
	CG_OP_FREEZER,		/* the freezer states */
};
/* Fork the mover; the socket to it (SOCK_SEQPACKET), or -1. */
int cg_mover_start(void);
int cg_mover_request(int sk, int op, int set, int base, pid_t who);
void cg_mover_stop(void);
/* A failed restore, before criu reaps the tree: stop the mover, thaw the tree's cgroups. */
void cgroup_restore_abort(void);
/* The mover's work, on the restore state in cgroup.c. */
int cg_rst_move(pid_t pid, int set, int base, bool thread);
int cg_rst_props(int phase);

#endif
