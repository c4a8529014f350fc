/*
 * Namespaces (criu/ns/): one file per kind behind struct ns_kind, and
 * the framework in ns.c that finds at dump which namespaces of the tree
 * are not criu's, and at restore makes them again (or joins those given
 * with --join-ns or --external KIND[INO]:KEY) in the right order.
 */
#ifndef CR_NAMESPACES_H
#define CR_NAMESPACES_H

#include <stdint.h>
#include <sys/types.h>

#include "ns.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"

enum ns_kind_id {
	NS_USER,	/* first: it owns the others */
	NS_PID,
	NS_TIME,
	NS_UTS,
	NS_IPC,
	NS_NET,
	NS_CGROUP,
	NS_MNT,		/* last: the mount tree's restore may need the others (sysfs, cgroup mounts) */
	NS_NR
};

/* Deepest pid namespace nesting below the tree's own (set_tid takes 32 levels). */
#define NS_MAX_PID_LEVEL	31

struct ns_kind {
	const char *name;	/* as in /proc/PID/ns/NAME, --join-ns and --external NAME[INO]:KEY */
	unsigned long flag;	/* CLONE_NEW* */
	/*
	 * Dump: the tree's namespace of this kind, seen through task @pid,
	 * is not criu's: check it can be restored and save its state in @e.
	 * 0, or -1 with a message naming what is refused.
	 */
	int (*dump)(pid_t pid, NsEntry *e);
	/* Restore, in the root once it is in the new namespace: put @e's state back. */
	int (*restore)(const NsEntry *e);
};

extern const struct ns_kind ns_kinds[NS_NR];

/* Command line (also set through the swrk options): 0, or -1 with a message. */
int ns_join_add(const char *arg);		/* --join-ns NS:PATH */
int ns_empty_add(const char *arg);		/* --empty-ns net */
int ns_external_add(const char *arg);		/* --external KIND[INO]:KEY */
int ns_is_external_arg(const char *arg);	/* is it of that form? */

/* Both flows, first thing: which namespaces criu itself is in. */
int ns_init_self(void);
uint64_t ns_self_id(int kind);
/* The nsfs inode of @pid's namespace @kind (0: unreadable, e.g. a zombie). */
uint64_t ns_id_of(pid_t pid, const char *name);

/* ---- dump ---- */

struct ns_task {
	pid_t pid, ppid;	/* ppid 0 for the root */
	int zombie;
};

/*
 * Run @dump(@pid) so that it sees the tree's pids: in criu's own pid
 * namespace directly, else in an agent process inside the tree's pid
 * namespace with a /proc of its own (pid.c). The exit code of the dump.
 */
int ns_dump_run(pid_t pid, int (*dump)(pid_t pid));
/* In the agent: the tree's init (pid 1) is killed from outside, by criu, once all else is done. */
int ns_dump_in_agent(void);
/* In the agent: its socket to criu outside, which hangs up when criu dies (-1 outside an agent). */
int ns_dump_agent_fd(void);
/*
 * The dump agent runs in a mount namespace of its own (for its /proc):
 * the tree's mounts are seen through its root task, whose pid this is
 * (0 outside an agent; mntns_path() puts an absolute path there).
 */
pid_t ns_dump_view_pid(void);
/*
 * Dump, after ns_dump_collect(): can task @holder name task @target by a
 * pid of its own pid namespace (it is in it, or below)? 1 or 0; 1 for a
 * target outside the tree.
 */
int ns_dump_pid_seen(pid_t holder, pid_t target);
struct mntns_nested;
/* Dump, after ns_dump_collect(): the mount namespaces nested below the tree's. */
void ns_dump_mnt_nested(const struct mntns_nested **n, size_t *nr);
/* criu's root and mount namespace as the agent can reach them (AT_FDCWD and -1 outside an agent). */
void ns_dump_criu_mnt(int *root, int *mntns);
void ns_dump_agent_report(int ok, int kill_init);
void ns_dump_agent_victim(pid_t pid);
void ns_dump_agent_victims(int nr);
int ns_dump_agent_awaits_kill(void);
/*
 * The memory tracker lives in criu's pid namespace (a process forked in
 * the tree's would be one of the tree's): tracker_pidfd() and
 * tracker_fork() of track.h, done by criu outside when asked from an agent.
 */
int ns_dump_tracker_pidfd(pid_t pid, uint64_t start);
int ns_dump_tracker_fork(pid_t *pid, uint64_t *start);
/* The agent's network lock keeper, made by criu outside (net.c): its channel, or -1 with a message. */
int ns_dump_keeper_fork(void);

/* The dump works from the tree's network namespace (its unix sockets are seen from there). */
int ns_dump_join_net(pid_t pid);
/*
 * A socket made in criu's own network namespace, where the addresses the
 * user gave (--page-server --address) mean what the user meant: the dump
 * itself works from the tree's (ns_dump_join_net()).
 */
int ns_criu_net_socket(int family, int type, int protocol);
/* In a child that runs the user's --action-script: back in criu's own network namespace. */
int ns_criu_net_enter(void);
/* After the freeze: read every task's namespaces, refuse what can't be restored, save their state. */
int ns_dump_collect(const struct ns_task *t, int nr);
/* The pstree fields of task @pid (pointers into ns.c's storage, valid until ns_dump_free()). */
void ns_fill_pstree(pid_t pid, PstreeEntry *pe);
/* Dump: does the tree have a user namespace of its own? */
int ns_tree_has_userns(void);
/* A file's owner as the tree sees it (criu's view in, the user namespace's out): 0, or -1 naming @what. */
int ns_owner_inside(uint32_t *uid, uint32_t *gid, const char *what);
/* Credentials as the task sees them inside its user namespace. */
int ns_creds_inside(CredsEntry *cr);
int ns_dump_write(int dfd);
void ns_dump_free(void);

/* ---- restore ---- */

enum ns_pid_mode {
	NS_PID_NONE,		/* criu's pid namespace (nested ones below are made by their parents) */
	NS_PID_INIT,		/* a new one whose init is the tree's root */
	NS_PID_HELPER,		/* a new one; the root is inside, a helper init holds it */
	NS_PID_JOIN,		/* an existing one: --join-ns pid or --external pid[INO] */
};

int ns_restore_read(int dfd, const PstreeEntry *root);
enum ns_pid_mode ns_restore_pid_mode(void);
/* Parent, before cloning the first process: the time namespace with its offsets. */
int ns_restore_prepare(void);
/* Restore, in criu: take the root's groups if its new user namespace can't set them; 0, or -1. */
int ns_restore_take_groups(int dfd, pid_t root_vpid);
/* Restore: does the tree come back in a user namespace criu makes? */
int ns_restore_new_userns(void);
/* Parent, once the first process is made: back to criu's clocks for its other children. */
void ns_restore_time_done(void);
/* The flags the first process is cloned with (pid, user). */
unsigned long ns_first_clone_flags(void);
/* Parent, once the first process exists (still waiting): its user namespace's maps. */
int ns_restore_first_made(pid_t pid);
/* Parent, after the tree was restored or failed: back to criu's own namespaces. */
void ns_restore_parent_done(void);
/* Parent, the restore failed: what was made outside the tree's namespaces goes (veth ends). */
void ns_restore_failed(void);
/* Does the tree have a network namespace (its own or a joined one)? Its lock is taken in it. */
int ns_restore_has_net(void);
/* In the root, before it opens any file: enter or make its namespaces and fill them. */
int ns_restore_root(void);
/* For a root cloned by the restore supervisor: criu's mount namespace and the tree's user namespace to join first. */
void ns_restore_root_joins(int mnt_fd, int user_fd);
const NsEntry *ns_restore_entry(int kind);
/*
 * With a user namespace of the tree's: a process of criu's that opens the
 * images for the restore processes (which can't); its socket's fd, which
 * the root puts in the images directory's service slot (-1: none).
 */
int ns_restore_image_server(int dfd);
int ns_image_server_fd(void);
void ns_restore_image_server_done(void);
int ns_restore_is_new(int kind);
int ns_restore_joined(int kind);
/* A child of a restore process: the flags it is cloned with and its pids, innermost first. */
int ns_child_pids(const PstreeEntry *parent, const PstreeEntry *child, pid_t *tids, int *nr,
		  unsigned long *flags);
/* Restore: the parent of nested pid namespace @id as ns.img has it (0: the tree's own); -1 if it is none. */
int ns_pid_parent(uint64_t id, uint64_t *parent);
/*
 * Restore, in task @self (a pid of the images): pid @pid of the images as
 * @self sees it from its pid namespace (the pid there of a task in it or
 * below), 0 if @self can't see it; @pid itself for a task in the tree's.
 */
pid_t ns_pid_view(pid_t self, pid_t pid);
/* Restore supervisor, inside the tree's pid namespace, once every task runs: ns_last_pid. */
int ns_restore_pid_finish(void);

/*
 * The pid namespace's restore (pid.c): in the new or joined pid
 * namespace, @supervise(@arg, pid) runs in a process with a /proc of that
 * namespace, made after the first process; @clone_root() makes the root
 * (NS_PID_INIT: already made with pid 1, @root_pid). Returns 0 and the
 * root's host pid in @host_root, or -1.
 */
struct ns_pid_restore {
	pid_t root_vpid;
	pid_t first_host;	/* the first process (the root or the helper init), from criu */
	int (*supervise)(void *arg, pid_t root_vpid);
	void *arg;
	pid_t max_pid;		/* the highest pid the tree needs in its namespace */
};
int ns_pid_restore(struct ns_pid_restore *r, pid_t *host_root);
/* A pid of the tree as criu's caller sees it (asked of criu from inside the restore supervisor). */
pid_t ns_host_pid(pid_t vpid);
pid_t ns_pid_helper_init(pid_t root_vpid, unsigned long flags);
int ns_pid_join_fd(void);

/* ---- the mount namespace: the mount tree's dump and restore (mnt.c) ---- */
int mnt_ns_supported(void);
int mnt_ns_dump(pid_t pid, NsEntry *e);
/*
 * THE HOOK FOR THE MOUNT TREE: called in the root restore process, in its
 * new mount namespace (and in the tree's user, uts, ipc, net and cgroup
 * namespaces already), before it opens any file or forks any child.
 */
int mnt_ns_restore(const NsEntry *e);

/* per kind (criu/ns/KIND.c) */
int uts_ns_dump(pid_t pid, NsEntry *e);
int uts_ns_restore(const NsEntry *e);
int user_ns_dump(pid_t pid, NsEntry *e);
int user_ns_write_maps(pid_t pid, const NsEntry *e);
int time_ns_dump(pid_t pid, NsEntry *e);
int time_ns_prepare(const NsEntry *e);
int cgroup_ns_dump(pid_t pid, NsEntry *e);
int cgroup_ns_enter_root(const NsEntry *e);
int net_ns_dump(pid_t pid, NsEntry *e);
int net_ns_dump_write(int dfd);
/* after the tree is killed: its dumped network namespace takes no packet while it goes */
void net_ns_dump_quiesce(void);
void net_ns_dump_unquiesce(void);
void net_ns_dump_free(void);
/* A new network namespace owned by @userns_pid's user namespace (0: criu's): its fd, or -1. */
int net_ns_new(pid_t userns_pid);
/*
 * Restore: the tree's new network namespace, made by criu, owned by
 * @userns_pid's user namespace, filled from netns.img and locked; its fd.
 */
int net_ns_make(int dfd, const NsEntry *e, pid_t userns_pid);
int ipc_ns_dump(pid_t pid, NsEntry *e);
int pid_ns_dump(pid_t pid, NsEntry *e);

/* Run @fn(@arg) in a child that joined @pid's namespaces @flags; 0 if it returned 0. */
int ns_in_child(pid_t pid, unsigned long flags, int (*fn)(void *arg), void *arg);
/* Per-kind helpers (ns.c) */
int ns_uid_inside(uint32_t *id, int gid);
/* The restore's ids in a user namespace of the tree's, as criu sees them: 0, or -1 if there is none. */
int ns_restore_root_ids(uid_t *uid, gid_t *gid);

#endif
