/*
 * The restoring child: made with its pid (clone3 set_tid), it forks its
 * own children, sets up its session, fds and proc settings, builds the
 * restorer's arguments and jumps into the blob.
 */
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pagechain.h"
#include "rst.h"
#include "namespaces.h"

static struct rst_tree *view_tree;

void rst_pid_view_tree(struct rst_tree *tr)
{
	view_tree = tr;
}

/*
 * A pid of the images (the tree's pid namespace) as task @self sees it:
 * in a nested pid namespace, the pid there of a task in that namespace or
 * one below it, or 0 if the task is out of its sight (or not the tree's).
 */
static pid_t view_of(struct rst_tree *tr, const PstreeEntry *self, pid_t pid)
{
	size_t d = self->n_ns_pid, dt;
	struct rst_ctx *t;
	uint64_t ns;

	if (!d)
		return pid;
	t = task_of(tr, pid);
	if (!t || !t->pe->ns || !self->ns)
		return 0;
	dt = t->pe->n_ns_pid;
	if (dt < d)
		return 0;
	/* the target's namespace at our depth must be ours */
	for (ns = t->pe->ns->pid; dt > d; dt--)
		if (ns_pid_parent(ns, &ns))
			return 0;
	return ns == self->ns->pid ? t->pe->ns_pid[d - 1] : 0;
}

pid_t ns_pid_view(pid_t self, pid_t pid)
{
	struct rst_ctx *s = view_tree ? task_of(view_tree, self) : NULL;

	if (!s)
		return pid;
	return view_of(view_tree, s->pe, pid);
}

static pid_t own_view(struct rst_ctx *rc, pid_t pid)
{
	return view_of(rc->tree, rc->pe, pid);
}

/* The task leading group @rc->pe->pgid is another one of the tree, and not an ancestor. */
static int group_led_apart(struct rst_ctx *rc)
{
	struct rst_tree *tr = rc->tree;
	struct rst_ctx *l = task_of(tr, rc->pe->pgid), *a = rc;

	if (!l || l == rc)
		return 0;
	while (a != &tr->t[0]) {
		a = task_of(tr, a->pe->ppid);
		if (!a)
			return 0;
		if (a == l)
			return 0;	/* an ancestor made it before forking us */
	}
	return 1;
}

/* Did it leave a session whose leader is gone, after forking children in it (dump.c)? */
static int left_session(struct rst_ctx *rc)
{
	return rc->pe->has_session_gone && rc->pe->session_gone && rc->pe->session_gone != rc->pe->sid;
}

/* The nice of the autogroup setsid() just made; its members, forked after, share it. */
static int restore_autogroup(struct rst_ctx *rc)
{
	TaskCoreEntry *tc = rc->core ? rc->core->tc : NULL;	/* none for a zombie */
	char buf[16];
	int fd, n;

	if (!tc || !tc->has_autogroup_nice || !tc->autogroup_nice)
		return 0;
	fd = proc_open(O_WRONLY, "self/autogroup");
	n = snprintf(buf, sizeof(buf), "%d", tc->autogroup_nice);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("can't give the autogroup of session %d its nice %d", rc->pid, tc->autogroup_nice);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int setup_session(struct rst_ctx *rc)
{
	int root = rc == &rc->tree->t[0];
	pid_t pgid = own_view(rc, rc->pe->pgid);

	if (left_session(rc))
		return 0;	/* setsid() once its children of the old session are made (restore_task()) */
	if (rc->pe->sid == rc->pid) {
		if (setsid() < 0) {
			pr_perror("setsid");
			return -1;
		}
		return restore_autogroup(rc);
	}
	if (root && !opts.shell_job) {
		pr_err("%d was not a session leader: restore it with --shell-job\n", rc->pid);
		return -1;
	}
	if (rc->pe->pgid == rc->pid) {
		if (setpgid(0, 0)) {
			pr_perror("setpgid");
			return -1;
		}
	} else if (!root && rc->pe->pgid_gone && pgid != getpgrp()) {
		return join_leaderless_group(rc->pe->pgid);
	} else if (!root && group_led_apart(rc)) {
		/* a sibling's, say: it may be made after us, or by one of our children */
		rc->pgrp_late = 1;
	} else if (!root && pgid != getpgrp() && setpgid(0, pgid)) {
		pr_perror("%d: setpgid to %d", rc->pid, rc->pe->pgid);
		return -1;
	}
	return 0;
}

int open_shell_tty(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd))
			return fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return -1;
}

/* glibc registers 32 bytes but may report the smaller feature size. */
static int unregister_rseq(void)
{
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;

	if (!syscall(__NR_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return 0;
	return syscall(__NR_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

/* Write @val to /proc/self/@name unless it is there already (read in @base: coredump_filter is hex). */
static int write_self_int_base(const char *name, long val, const char *what, int base)
{
	char path[64], buf[32];
	long cur;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = proc_open(O_RDWR, "self/%s", name);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		pr_perror("can't read %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf[n] = '\0';
	cur = strtol(buf, NULL, base);
	if (cur == val) {
		close(fd);
		return 0;
	}
	n = snprintf(buf, sizeof(buf), "%ld", val);
	if (pwrite(fd, buf, n, 0) != n) {
		pr_perror("can't restore %s %ld (now %ld)", what, val, cur);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_self_int(const char *name, long val, const char *what)
{
	return write_self_int_base(name, val, what, 10);
}

static int restore_proc_ints(struct rst_ctx *rc)
{
	TaskCoreEntry *tc = rc->core->tc;

	if (tc->has_oom_score_adj && write_self_int("oom_score_adj", tc->oom_score_adj, "the OOM score adjustment"))
		return -1;
	if (tc->has_loginuid && write_self_int("loginuid", (long)tc->loginuid, "the login uid"))
		return -1;
	/* written in decimal, which the kernel takes as well (it shows hex) */
	if (tc->has_coredump_filter &&
	    write_self_int_base("coredump_filter", (long)tc->coredump_filter, "the core dump filter", 16))
		return -1;
	return 0;
}

static void __attribute__((noreturn)) jump_to_restorer(struct rst_ctx *rc, struct restore_args *a)
{
	uint64_t stack = rc->bootstrap + rc->bootstrap_len - 64;
	uint64_t entry = rc->bootstrap + restorer_blob.entry;

	asm volatile("movq %0, %%rsp\n"
		     "movq %1, %%rdi\n"
		     "jmp *%2\n"
		     : : "r"(stack), "r"(a), "r"(entry) : "memory");
	__builtin_unreachable();
}

/* How long (in ms) a pid held by a helper of another restoring process is waited for. */
#define PID_BUSY_TRIES	200

/* The name of the process with @pid in our pid namespace, "?" if none: for messages. */
static const char *pid_comm(pid_t pid)
{
	static char comm[64];
	char path[64];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, comm, sizeof(comm) - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return "?";
	comm[len] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return comm;
}

/* Clone with pids @tids[0] (innermost pid namespace) .. @tids[n - 1]. */
pid_t clone_with_pids(const pid_t *tids, int n, unsigned long flags, int exit_signal)
{
	struct clone_args ca;
	long ret;

	memset(&ca, 0, sizeof(ca));
	ca.flags = flags;
	ca.exit_signal = exit_signal;
	ca.set_tid = (uintptr_t)tids;
	ca.set_tid_size = n;
	ret = syscall(__NR_clone3, &ca, sizeof(ca));
	/* another restoring process may hold it for a moment (sk-unix.c: credentials of a queued message) */
	for (int i = 0; ret < 0 && errno == EEXIST && i < PID_BUSY_TRIES; i++) {
		usleep(1000);
		ret = syscall(__NR_clone3, &ca, sizeof(ca));
	}
	if (ret < 0) {
		if (errno == EEXIST)
			pr_err("can't restore: pid %d is in use by another process (%s)\n", tids[n - 1],
			       pid_comm(tids[n - 1]));
		else
			pr_perror("clone3 with pid %d (%d levels)", tids[n - 1], n);
		return -1;
	}
	return ret;
}

pid_t clone_with_pid(pid_t pid, unsigned long flags, int exit_signal)
{
	/* the init of a new pid namespace is 1 in it */
	if (flags & CLONE_NEWPID)
		pid = 1;
	return clone_with_pids(&pid, 1, flags, exit_signal);
}

/*
 * A zombie that dumped core has WCOREDUMP in its status, which only a
 * core written for real gives. Where the core pattern is a file name in
 * the cwd, the zombie dumps one there, in a scratch directory of ours,
 * as small as can be (no memory contents); elsewhere (an absolute path,
 * a pipe to a handler) nothing is written and the flag is lost.
 */
int zombie_cores_prepare(struct rst_tree *tr)
{
	char pattern[256] = "";
	int fd, want = 0;
	uid_t uid;
	gid_t gid;
	ssize_t n;

	for (int i = 0; i < tr->nr; i++)
		want |= tr->t[i].zombie && WIFSIGNALED(tr->t[i].exit_code) && WCOREDUMP(tr->t[i].exit_code);
	if (!want)
		return 0;
	fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, pattern, sizeof(pattern) - 1);
	if (fd >= 0)
		close(fd);
	pattern[n > 0 ? n : 0] = '\0';
	if (n <= 0 || strchr(pattern, '|') || strchr(pattern, '/')) {
		pr_warn("zombies that dumped core come back without the core-dump flag (core pattern %s)\n",
			pattern);
		return 0;
	}
	snprintf(tr->core_dir, sizeof(tr->core_dir), "%s/.criu-zombie-cores.XXXXXX",
		 opts.work_dir ? opts.work_dir : opts.imgs_dir);
	if (!mkdtemp(tr->core_dir)) {
		pr_warn("can't make %s (%s): zombies that dumped core come back without the core-dump flag\n",
			tr->core_dir, strerror(errno));
		tr->core_dir[0] = '\0';
		return 0;
	}
	/* the zombies may be in a mount namespace of the tree's: they go there by fd */
	tr->core_fd = open(tr->core_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tr->core_fd < 0) {
		pr_perror("can't open %s", tr->core_dir);
		return -1;
	}
	/* and may be root of a user namespace of the tree's: the directory is that root's */
	if (ns_restore_root_ids(&uid, &gid) == 0 && chown(tr->core_dir, uid, gid)) {
		pr_perror("can't give %s to the user namespace's root", tr->core_dir);
		return -1;
	}
	/*
	 * and die with their own ids, whoever they are (the core is made as
	 * them, from their cwd: the directories above need not let them in)
	 */
	if (chmod(tr->core_dir, 01733)) {
		pr_perror("can't open %s to the zombies' ids", tr->core_dir);
		return -1;
	}
	return 0;
}

void zombie_cores_done(struct rst_tree *tr)
{
	DIR *d;
	struct dirent *de;

	if (!tr->core_dir[0])
		return;
	d = opendir(tr->core_dir);
	while (d && (de = readdir(d))) {
		char path[4096 + 300];

		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tr->core_dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	if (rmdir(tr->core_dir))
		pr_perror("can't remove %s", tr->core_dir);
	tr->core_dir[0] = '\0';
	if (tr->core_fd >= 0)
		close(tr->core_fd);
	tr->core_fd = -1;
}

/* Let a core dump of ours happen, tiny, in the scratch directory; or none at all. */
static void zombie_core_limit(struct rst_tree *tr, int st)
{
	struct rlimit rl;
	int fd;

	getrlimit(RLIMIT_CORE, &rl);
	rl.rlim_cur = 0;
	if (WIFSIGNALED(st) && WCOREDUMP(st) && tr->core_fd >= 0 && !fchdir(tr->core_fd)) {
		/* dumpable again after zombie_ids(): /proc/self would stay root's */
		prctl(PR_SET_DUMPABLE, 1);
		fd = open("/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "0", 1) == 1)
				rl.rlim_cur = rl.rlim_max;
			close(fd);
		}
	}
	setrlimit(RLIMIT_CORE, &rl);
}

/* A zombie's ids (images of older builds have none: it stays ours). */
static int zombie_ids(struct rst_ctx *rc)
{
	const PstreeEntry *pe = rc->pe;

	if (pe->n_zombie_uids != 3 || pe->n_zombie_gids != 3)
		return 0;
	if (setresgid(pe->zombie_gids[0], pe->zombie_gids[1], pe->zombie_gids[2]) ||
	    setresuid(pe->zombie_uids[0], pe->zombie_uids[1], pe->zombie_uids[2])) {
		pr_perror("can't give zombie %d its uids %u/%u/%u gids %u/%u/%u", rc->pid, pe->zombie_uids[0],
			  pe->zombie_uids[1], pe->zombie_uids[2], pe->zombie_gids[0], pe->zombie_gids[1],
			  pe->zombie_gids[2]);
		return -1;
	}
	return 0;
}

/* A zombie: exit the way it did; its parent reaps it when it wants to. */
static void __attribute__((noreturn)) become_zombie(struct rst_ctx *rc)
{
	int st = rc->exit_code;

	/* the name ps shows, not ours */
	if (rc->pe->comm)
		prctl(PR_SET_NAME, rc->pe->comm);
	zombie_core_limit(rc->tree, st);
	if (WIFSIGNALED(st)) {
		sigset_t none;

		signal(WTERMSIG(st), SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		kill(getpid(), WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

static void vm_child_main(void *arg)
{
	struct rst_ctx *c = arg;

	restore_task(c);
	pr_err("restore of %d failed before the restorer\n", c->pid);
	_exit(1);
}

/*
 * The children in session @sid, whose leader is gone: a helper with the
 * leader's pid calls setsid() and forks them with CLONE_PARENT (they are
 * ours, as they were), then exits, and is reaped here. Only one helper
 * can be: the session keeps the pid taken as long as a member lives.
 */
static int fork_gone_session(struct rst_ctx *rc, pid_t sid)
{
	int status;
	pid_t h, r;

	h = clone_with_pid(sid, 0, SIGCHLD);
	if (h < 0)
		return -1;
	if (h == 0) {
		if (setsid() < 0) {
			pr_perror("setsid in the helper making session %d", sid);
			_exit(1);
		}
		for (int i = 0; i < rc->nr_children; i++) {
			struct rst_ctx *c = &rc->tree->t[rc->children[i]];
			pid_t pid;

			if (!c->pe->has_session_gone || c->pe->session_gone != sid)
				continue;
			pid = clone_with_pid(c->pid, CLONE_PARENT, 0);
			if (pid < 0)
				_exit(1);
			if (pid == 0) {
				restore_task(c);
				pr_err("restore of %d failed before the restorer\n", c->pid);
				_exit(1);
			}
		}
		_exit(0);
	}
	do
		r = waitpid(h, &status, __WALL);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		pr_perror("waiting for the helper making session %d", sid);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("the helper making session %d failed (status %#x)\n", sid, status);
		return -1;
	}
	return 0;
}

/* Is @c the first of our children in its session whose leader is gone (its helper forks them all)? */
static int first_of_gone_session(struct rst_ctx *rc, int i)
{
	PstreeEntry *pe = rc->tree->t[rc->children[i]].pe;

	for (int j = 0; j < i; j++) {
		PstreeEntry *o = rc->tree->t[rc->children[j]].pe;

		if (o->has_session_gone && o->session_gone == pe->session_gone)
			return 0;
	}
	return 1;
}

/* The signal a child raises in its parent when it exits: SIGCHLD, unless clone() was given another (dump.c). */
static int exit_signal_of(struct rst_ctx *c)
{
	TaskCoreEntry *tc = c->core ? c->core->tc : NULL;

	if (c->zombie || !tc || !tc->has_exit_signal)
		return SIGCHLD;
	return tc->exit_signal;
}

/*
 * Fork the children, each with its pid; they go on in restore_task().
 * Those that share our fd table come last, after the others took their
 * copies of it.
 */
static int fork_children_in(struct rst_ctx *rc, int which);

static int fork_children(struct rst_ctx *rc)
{
	if (!left_session(rc))
		return fork_children_in(rc, 0);
	/* those of the session it left first, in it; then its own session, for the others */
	if (fork_children_in(rc, 1))
		return -1;
	if (setsid() < 0) {
		pr_perror("%d: setsid, leaving session %d", rc->pid, rc->pe->session_gone);
		return -1;
	}
	return fork_children_in(rc, 2);
}

/* @which: 0 all of them, 1 those in the session @rc left, 2 the others. */
static int fork_children_in(struct rst_ctx *rc, int which)
{
	for (int pass = 0; pass < 3; pass++)
		for (int i = 0; i < rc->nr_children; i++) {
			struct rst_ctx *c = &rc->tree->t[rc->children[i]];
			int flags = (c->fs_child ? CLONE_FS : 0) | (c->files_child ? CLONE_FILES : 0) |
				    (c->clone_parent ? CLONE_PARENT : 0);
			pid_t pid;

			if (which && (c->pe->sid == rc->pe->session_gone) != (which == 1))
				continue;

			/*
			 * Children sharing our memory come last: they change criu's
			 * globals in it (pipes, ptys...) as they restore their fds.
			 */
			if ((c->vm_child ? 2 : c->files_child) != pass)
				continue;
			if (c->pe->has_session_gone && c->pe->session_gone) {
				if (first_of_gone_session(rc, i) && fork_gone_session(rc, c->pe->session_gone))
					return -1;
				continue;
			}
			if (c->vm_child) {
				if (clone_vm_child(c->pid, flags, vm_child_main, c) < 0)
					return -1;
				continue;
			}
			/* in a nested pid namespace: its pid there too (and the namespace, if it is its init) */
			pid_t tids[NS_MAX_PID_LEVEL + 1];
			unsigned long nsflags;
			int n;

			ns_child_pids(rc->pe, c->pe, tids, &n, &nsflags);
			/* with CLONE_PARENT the exit signal is the caller's own (SIGCHLD) */
			pid = clone_with_pids(tids, n, flags | nsflags, c->clone_parent ? 0 : exit_signal_of(c));
			if (pid < 0)
				return -1;
			if (pid == 0) {
				restore_task(c);
				pr_err("restore of %d failed before the restorer\n", c->pid);
				_exit(1);
			}
		}
	return 0;
}

/*
 * The sockets whose rings the task maps: its own fd of each, or the one
 * passed down to it (before those slots go), copied above the task's fds
 * for fill_vmas().
 */
static int take_ring_fds(struct rst_ctx *rc, const struct rst_transit *tr)
{
	MmEntry *mm = rc->mm;

	for (size_t i = 0; !rc->vm_child && i < mm->n_vmas; i++) {
		uint32_t id = mm->vmas[i]->file_id;
		int fd;

		if (mm->vmas[i]->kind != VMA_KIND__VMA_PACKET_RING)
			continue;
		if (!rc->ring_fds) {
			rc->ring_fds = malloc(mm->n_vmas * sizeof(int));
			if (!rc->ring_fds)
				return -1;
			for (size_t j = 0; j < mm->n_vmas; j++)
				rc->ring_fds[j] = -1;
		}
		/* the task's first fd of the socket (its fdinfo, read at planning), else its transit slot */
		fd = -1;
		for (size_t k = 0; k < rc->nr_fds && fd < 0; k++)
			if (rc->fds[k]->id == id)
				fd = rc->fds[k]->fd;
		if (fd < 0 && id < tr->nr_ids && tr->slot[id] >= 0 && fcntl(tr->base + tr->slot[id], F_GETFD) >= 0)
			fd = tr->base + tr->slot[id];
		if (fd < 0) {
			pr_err("%d: no socket for the packet ring at %lx (file %u)\n", rc->pid,
			       (unsigned long)mm->vmas[i]->start, id);
			return -1;
		}
		rc->ring_fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, rc->tree->scratch_base);
		if (rc->ring_fds[i] < 0) {
			pr_perror("%d: can't copy the socket of the packet ring at %lx", rc->pid,
				  (unsigned long)mm->vmas[i]->start);
			return -1;
		}
	}
	return 0;
}

int restore_task(struct rst_ctx *rc)
{
	struct rst_tree *tr = rc->tree;
	struct child_fds cf = { .base = tr->svc_base, .pages = SVC_PAGES, .exe = SVC_EXE,
				.files = tr->files_base - tr->svc_base };
	struct rst_transit transit = { .base = tr->svc_base + SVC_TRANSIT, .nr_ids = tr->nr_ids,
				       .slot = tr->transit_slot, .need = rc->need };
	struct restore_args *a;
	TaskCoreEntry *tc;
	uint8_t *keep = NULL;
	int tty, pages_fd, exe_fd;
	sigset_t all;

	/* if criu goes, a half-made process goes too (the restorer sets the task's own) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL)) {
		pr_perror("%d: PR_SET_PDEATHSIG", rc->pid);
		return -1;
	}
	interrupt_reset();	/* criu's rollback is the parent's: a signal here just ends us */
	reaper_forget();
	log_forward_errors();	/* our stderr is the task's, or closed */
	tty = task_fd_space(rc, &cf);
	if (tty < -1)
		return -1;
	rc->dfd = tr->dfd;
	/* a mount namespace it made (unshare) at dump, before it opens anything */
	if (rc != &tr->t[0] && rc->pe->ns && rc->pe->ns->has_mnt && rc->pe->ns->mnt != tr->t[0].pe->ns->mnt &&
	    mntns_enter_nested(rc->pe->ns->mnt))
		return -1;

	if (setup_session(rc))
		return -1;
	if (rc->zombie) {
		/* the members of its session, its siblings, are born in it before it dies */
		if (fork_children(rc))
			return -1;
		if (rc->pgrp_late && join_group_when_made(rc->pe->pgid))
			return -1;
		if (zombie_ids(rc))
			return -1;
		become_zombie(rc);
	}
	tc = rc->core->tc;

	/* into its own cgroups before it maps anything (memory is charged where it is faulted in) */
	if (cgroup_restore_task(rc->pid, rc == &tr->t[0] ? 0 : rc->pe->ppid))
		return -1;
	/* inside a user namespace of the tree's, SIGIO owners are the task's own euid */
	if (ns_restore_is_new(NS_USER) && tc->creds)
		restore_fown_as(tc->creds->euid);
	if (!rc->vm_child && rc->mm) {
		keep = calloc(tr->nr_ids + 1, 1);
		if (!keep)
			return -1;
		for (size_t i = 0; i < rc->mm->n_vmas; i++)
			if (rc->mm->vmas[i]->kind == VMA_KIND__VMA_PACKET_RING && rc->mm->vmas[i]->file_id < tr->nr_ids)
				keep[rc->mm->vmas[i]->file_id] = 1;
		transit.keep = keep;
	}
	if (!rc->files_child && restore_fds(rc->fds, rc->nr_fds, rc->pid, rc->files, tty, &transit, tr->scratch_base,
					    rc->late, &rc->nr_late, ARRAY_SIZE(rc->late)))
		return -1;
	/* its fds are the parent's, but the terminal's session and foreground group may be its own */
	if (rc->files_child && restore_tty_session(rc->files, rc->pid, &transit, tr->scratch_base))
		return -1;
	if (!rc->vm_child && cow_premap(&tr->cow, rc - tr->t, rc->dfd, rc->pages_name, premap_open, rc))
		return -1;
	if (fork_children(rc))
		return -1;
	if (rc->pgrp_late && join_group_when_made(rc->pe->pgid))
		return -1;
	/* its file areas: not needed by the children, so not inherited by them */
	if (!rc->vm_child && cow_premap_late(&tr->cow, rc - tr->t, premap_open, rc))
		return -1;
	/* after the fork too: the pages must be this process's alone to be moved into place */
	if (!rc->vm_child && cow_fill_huge(&tr->cow, rc - tr->t, rc->dfd, rc->pages_name))
		return -1;
	if (take_ring_fds(rc, &transit))
		return -1;
	free(keep);
	/* what the children needed is theirs now (a shared table keeps it for the other sharers) */
	if (!rc->shares_files && syscall(SYS_close_range, transit.base, transit.base + tr->nr_transit, 0)) {
		pr_perror("%d: can't close the descriptions passed down", rc->pid);
		return -1;
	}
	if (rc->own_slots >= 0) {
		cf.pages = rc->own_slots - cf.base;
		cf.exe = cf.pages + 1;
		cf.files = cf.pages + 2;
	}

	/* the memory of a child sharing it is the parent's: no pages, no exe */
	pages_fd = exe_fd = -1;
	if (!rc->vm_child) {
		pages_fd = svc_fd(&cf, chain_open_pages(rc->dfd, rc->pages_name), cf.pages);
		exe_fd = svc_fd(&cf, open_file(rc->files, rc->mm->exe_file_id, O_RDONLY | O_NOATIME), cf.exe);
		/* each opener said why already */
		if (pages_fd < 0 || exe_fd < 0) {
			pr_err("%d: can't open %s\n", rc->pid, pages_fd < 0 ? "its pages file" : "its executable");
			return -1;
		}
	}

	a = build_bootstrap(rc, &cf, pages_fd);
	if (!a || a != args_in(rc))
		return -1;
	a->mm.exe_fd = exe_fd;
	memcpy(a->pidfds, rc->late, sizeof(rc->late));
	a->nr_pidfds = rc->nr_late;
	/* pidfd_open() takes a pid of the caller's pid namespace */
	for (int i = 0; i < a->nr_pidfds; i++) {
		struct late_fd *l = &a->pidfds[i];
		pid_t v = l->kind == LATE_PIDFD ? own_view(rc, l->pid) : l->pid;

		if (!v) {
			pr_err("fd %d of %d: a pidfd of %d, which is not in its pid namespace nor below it\n", l->fd,
			       rc->pid, l->pid);
			return -1;
		}
		l->pid = v;
	}
	if (file_locks_prepare(rc->dfd, rc->pid, a))
		return -1;

	/* a CLONE_FS child has the parent's fs, which the parent restores */
	if (!rc->fs_child) {
		if (restore_fs(rc->dfd, rc->pid, rc->files))
			return -1;
		umask(tc->umask);
	}
	if (restore_proc_ints(rc))
		return -1;
	/* READ_IMPLIES_EXEC would make every area mapped from here on executable: the restorer sets it last */
	if (personality(tc->personality & ~READ_IMPLIES_EXEC) < 0) {
		pr_perror("%d: can't set personality %x", rc->pid, tc->personality);
		return -1;
	}
	if (prctl(PR_SET_NAME, tc->comm)) {
		pr_perror("%d: can't set its name", rc->pid);
		return -1;
	}

	pr_info("%d: jumping to the restorer at %lx\n", rc->pid, (unsigned long)rc->bootstrap);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/*
	 * The kernel writes to our rseq area on the way back to user space;
	 * once the restorer unmaps glibc's TLS that would be a SIGSEGV.
	 */
	if (rc->vm_child) {
		/* a CLONE_VM child has no rseq; its restorer lets the parent go on */
		a->started = clone_vm_ready_word(&a->started_val);
	} else if (__rseq_size && unregister_rseq()) {
		pr_perror("can't unregister rseq");
		return -1;
	}
	jump_to_restorer(rc, a);
}
