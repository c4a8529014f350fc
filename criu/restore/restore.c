/*
 * criu restore: read and check every image, fork a child with the dumped
 * pid, let it reopen files and build the restorer's arguments, and hand
 * over to the restorer blob. We trace the child to its final trap, let
 * rt_sigreturn run, remove the bootstrap area and let it go.
 */
#include <cpuid.h>
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

#include "erestart.h"
#include "rst.h"
#include "fileobj.h"
#include "mntns.h"
#include "namespaces.h"

pid_t cr_restored_pid;

struct rst_ctx *task_of(struct rst_tree *tr, pid_t pid)
{
	int32_t i = pidmap_get(&tr->pids, pid);

	return i < 0 ? NULL : &tr->t[i];
}

/*
 * Run the restore until every thread of every process sits on the
 * restorer's final trap and every zombie has exited. The whole tree is
 * traced from birth (PTRACE_O_TRACEFORK/CLONE).
 *
 * waitpid(-1) costs as much as there are tracees (the kernel walks them
 * all), waitpid(tid) is a lookup: a process creating its threads is
 * followed with waits for it and for each new thread, and once it sits
 * on its final trap, each of its threads is waited for by tid. So a
 * process of N threads costs N, not N^2.
 */
struct trap_wait {
	struct rst_tree *tr;
	pid_t *trapped;
	size_t got, want, gone, zombies;
	struct pidmap seen;	/* tids on their final trap */
	struct pidmap started;	/* tids waitpid(-1) reported a stop of */
	struct pidmap begun;	/* tids whose first stop (a new thread's) was taken and let go */
};

static int is_final_trap(struct rst_tree *tr, pid_t tid, uint64_t ip)
{
	int32_t i = pidmap_get(&tr->tids, tid);

	return i >= 0 && !tr->t[i].zombie && ip == tr->t[i].bootstrap + restorer_sym_restorer_final_trap + 1;
}

enum { EV_OTHER, EV_TRAP, EV_CLONE, EV_GONE };

/* Let a stopped tracee go on; left stopped, it would be waited for for ever. Tried twice. */
static int resume(pid_t t, int sig)
{
	if (ptrace(PTRACE_CONT, t, NULL, (void *)(long)sig) && ptrace(PTRACE_CONT, t, NULL, (void *)(long)sig)) {
		pr_perror("PTRACE_CONT of %d", t);
		return -1;
	}
	return 0;
}

/* One wait status of @t: deal with it. EV_* or -1 on failure. */
static int handle_status(struct trap_wait *w, pid_t t, int status)
{
	struct rst_tree *tr = w->tr;
	struct user_regs_struct regs;
	struct rst_ctx *rc;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		rc = task_of(tr, t);
		if (!rc)
			return EV_GONE;	/* a thread gone with its leader: reported with it */
		/* a re-killed zombie may differ in the core-dump bit only */
		if (rc->zombie && (status & ~0x80) == (rc->exit_code & ~0x80)) {
			w->gone++;
			return EV_GONE;
		}
		pr_err("restore of %d failed: the restoring process %s %d%s\n", t,
		       WIFEXITED(status) ? "exited with" : "was killed by signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		       *log_forwarded_errors() ? "" : " (see the log)");
		return -1;
	}
	if (!WIFSTOPPED(status))
		return EV_OTHER;
	rc = task_of(tr, t);
	/* a zombie dies again the way it did: by its own signal, which may be a fault's or SIGTRAP */
	if (rc && rc->zombie && (status >> 16) == 0) {
		return resume(t, WSTOPSIG(status)) ? -1 : EV_OTHER;
	}
	if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) {
		if (ptrace(PTRACE_GETREGS, t, NULL, &regs)) {
			pr_perror("PTRACE_GETREGS of %d", t);
			return -1;
		}
		if (w->got == w->want || !is_final_trap(tr, t, regs.rip) || pidmap_get(&w->seen, t) >= 0) {
			pr_err("restore: thread %d trapped at %llx, not at a restorer's end\n", t, regs.rip);
			return -1;
		}
		if (pidmap_set(&w->seen, t, 1))
			return -1;
		w->trapped[w->got++] = t;
		return EV_TRAP;
	}
	if ((status >> 16) == PTRACE_EVENT_CLONE || (status >> 16) == PTRACE_EVENT_FORK) {
		return resume(t, 0) ? -1 : EV_CLONE;
	}
	if ((status >> 16) == PTRACE_EVENT_STOP) {
		if (pidmap_set(&w->begun, t, 1))
			return -1;
		return resume(t, 0) ? -1 : EV_OTHER;
	}
	if (WSTOPSIG(status) == SIGSEGV || WSTOPSIG(status) == SIGBUS || WSTOPSIG(status) == SIGILL) {
		ptrace(PTRACE_GETREGS, t, NULL, &regs);
		pr_err("restore: the restorer crashed in %d with signal %d at %llx\n", t, WSTOPSIG(status), regs.rip);
		return -1;
	}
	/* SIGCHLDs of the restore's own making (zombies exiting) are dropped */
	return resume(t, WSTOPSIG(status) == SIGCHLD ? 0 : WSTOPSIG(status)) ? -1 : EV_OTHER;
}

static pid_t wait_one(pid_t pid, int *status)
{
	pid_t t;

	/*
	 * One of the tree that died waits, a zombie, for its traced threads to
	 * be reaped before it reports: waiting for it alone would wait for ever.
	 */
	if (pid > 0) {
		t = compel_wait_stop(pid, status);
		if (t < 0 && errno == EINTR && check_interrupted())
			return -1;
		if (t < 0)
			pr_perror("waiting for %d of the restored tree", pid);
		return t;
	}
	do {
		t = waitpid(pid, status, __WALL);
		if (t < 0 && errno == EINTR && check_interrupted())
			return -1;
	} while (t < 0 && errno == EINTR);
	if (t < 0)
		pr_perror("waiting for %d of the restored tree", pid);
	return t;
}

/* Wait for @tid by its tid until it sits on its final trap (or is gone). 0 or -1. */
static int wait_trap_of(struct trap_wait *w, pid_t tid)
{
	int status, ev;

	while (pidmap_get(&w->seen, tid) < 0) {
		if (wait_one(tid, &status) < 0)
			return -1;
		ev = handle_status(w, tid, status);
		if (ev < 0)
			return -1;
		if (ev == EV_GONE)
			break;
	}
	return 0;
}

/*
 * Process @rc made thread @first (its clone event continued already):
 * follow it by its pid while it makes the others, then take each
 * thread's final trap by tid.
 */
static int follow_threads(struct trap_wait *w, struct rst_ctx *rc, pid_t first)
{
	unsigned long nt = first;
	int status, ev;

	for (;;) {
		/*
		 * A new thread starts in a stop of its own, unless that stop (or
		 * its final trap, even) came to the wait for anyone before its
		 * clone event did: then there is nothing more to wait for (it may
		 * wait for its leader's next step, a seccomp filter's sync).
		 */
		if (nt && pidmap_get(&w->seen, nt) < 0 && pidmap_get(&w->begun, nt) < 0 && pidmap_get(&w->started, nt) < 0 &&
		    (wait_one(nt, &status) < 0 || handle_status(w, nt, status) < 0))
			return -1;
		nt = 0;
		if (pidmap_get(&w->seen, rc->pid) >= 0)
			break;
		if (wait_one(rc->pid, &status) < 0)
			return -1;
		if ((status >> 16) == PTRACE_EVENT_CLONE && ptrace(PTRACE_GETEVENTMSG, rc->pid, NULL, &nt)) {
			pr_perror("PTRACE_GETEVENTMSG of %d", rc->pid);
			return -1;
		}
		ev = handle_status(w, rc->pid, status);
		if (ev < 0)
			return -1;
		if (ev == EV_GONE)
			return 0;
		if (ev != EV_CLONE)
			nt = 0;
	}
	for (size_t i = 0; i < rc->pe->n_threads; i++)
		if (rc->pe->threads[i] != rc->pid && wait_trap_of(w, rc->pe->threads[i]))
			return -1;
	return 0;
}

static int wait_final_traps(struct rst_tree *tr, pid_t *trapped, size_t want, size_t zombies)
{
	struct trap_wait w = { .tr = tr, .trapped = trapped, .want = want, .zombies = zombies };
	int status, ret = -1;

	if (pidmap_init(&w.seen, want) || pidmap_init(&w.begun, want)) {
		pidmap_free(&w.seen);
		return -1;
	}
	if (pidmap_init(&w.started, 64)) {
		pidmap_free(&w.seen);
		pidmap_free(&w.begun);
		return -1;
	}
	while (w.got < w.want || w.gone < w.zombies) {
		unsigned long nt = 0;
		pid_t t = wait_one(-1, &status);
		int32_t pi;
		int ev;

		if (t < 0)
			goto out;
		if ((status >> 16) == PTRACE_EVENT_CLONE && ptrace(PTRACE_GETEVENTMSG, t, NULL, &nt)) {
			pr_perror("PTRACE_GETEVENTMSG of %d", t);
			goto out;
		}
		ev = handle_status(&w, t, status);
		if (ev < 0)
			goto out;
		if (WIFSTOPPED(status) && pidmap_get(&w.started, t) < 0 && pidmap_set(&w.started, t, 1))
			goto out;
		/* the first thread a restorer makes: follow its process from here */
		pi = ev == EV_CLONE && nt ? pidmap_get(&tr->tids, nt) : -1;
		if (pi >= 0 && tr->t[pi].pid == t && (pid_t)nt != t && follow_threads(&w, &tr->t[pi], nt))
			goto out;
	}
	ret = 0;
out:
	pidmap_free(&w.seen);
	pidmap_free(&w.begun);
	pidmap_free(&w.started);
	return ret;
}

static int step_syscall(pid_t pid)
{
	int status = 0;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL)) {
		pr_perror("PTRACE_SYSCALL of %d", pid);
		return -1;
	}
	/* a thread of a stopping group reports the group stop first: go on */
	while (compel_wait(pid, &status) == pid && WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP)
		if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL)) {
			pr_perror("PTRACE_SYSCALL of %d", pid);
			return -1;
		}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
		pr_err("restore of %d: did not stop at rt_sigreturn (status %x)\n", pid, status);
		return -1;
	}
	return 0;
}

/*
 * @fn with the pids of the tasks that hold files of their own (not zombies,
 * not children sharing their parent's fd table).
 */
static int with_file_tasks(struct rst_tree *tr, int (*fn)(int dfd, struct rst_files *rf, const pid_t *pids, int nr))
{
	pid_t *pids = calloc(tr->nr > 0 ? (size_t)tr->nr : 1, sizeof(*pids));
	int nr = 0, ret;

	if (!pids) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < tr->nr; i++)
		if (!tr->t[i].zombie && !tr->t[i].files_child)
			pids[nr++] = tr->t[i].pid;
	ret = fn(tr->dfd, &tr->files, pids, nr);
	free(pids);
	return ret;
}

static const ThreadCoreEntry *thread_core_of(struct rst_tree *tr, pid_t tid)
{
	int32_t i = pidmap_get(&tr->tids, tid);
	struct rst_ctx *rc;

	if (i < 0)
		return NULL;
	rc = &tr->t[i];
	if (rc->core && rc->core->thread && rc->core->thread->tid == tid)
		return rc->core->thread;
	for (size_t k = 0; k < rc->nr_tcores; k++)
		if (rc->tcores[k]->thread->tid == tid)
			return rc->tcores[k]->thread;
	return NULL;
}

/*
 * A thread dumped inside a syscall was given registers that re-run it.
 * Run as they are, a signal that comes before the thread gets back into
 * the syscall finds it outside: its handler runs and the syscall starts
 * again, where the kernel would have made it return EINTR (a pause() or
 * poll() loop waiting for that very signal would wait for ever). So, at
 * the exit of the restorer's rt_sigreturn, the thread is put back as it
 * was at the dump, inside the syscall with its -ERESTART* code: the
 * kernel then restarts it or ends it with EINTR, whichever a signal calls
 * for. A restart-block syscall (nanosleep, poll with a timeout) has no
 * restart block any more: it is re-run with its arguments unless a
 * handler runs (-ERESTARTNOHAND).
 */
static int restart_at_exit(struct rst_tree *tr, pid_t tid)
{
	const ThreadCoreEntry *th = thread_core_of(tr, tid);
	struct user_regs_struct r;

	if (!th || !th->has_syscall_restart || !th->has_in_syscall || th->in_syscall < 0)
		return 0;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r)) {
		pr_perror("PTRACE_GETREGS of %d", tid);
		return -1;
	}
	if (r.rip != th->gpregs->ip || r.rax != th->gpregs->ax) {
		pr_warn("thread %d is not at the syscall it was dumped in: it re-runs it as it is\n", tid);
		return 0;
	}
	r.rip += 2;
	r.orig_rax = th->in_syscall;
	r.rax = th->syscall_restart == -ERESTART_RESTARTBLOCK ? -ERESTARTNOHAND : th->syscall_restart;
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r)) {
		pr_perror("PTRACE_SETREGS of %d", tid);
		return -1;
	}
	return 0;
}

/* Does thread @tid belong to a process that comes back in a group stop? */
static int comes_back_stopped(struct rst_tree *tr, pid_t tid)
{
	char buf[4096], *p;
	pid_t tgid;

	if (compel_read_proc(tid, "status", buf, sizeof(buf)) < 0 || !(p = strstr(buf, "\nTgid:"))) {
		pr_err("can't read the process of thread %d\n", tid);
		return -1;
	}
	tgid = atoi(p + 6);
	for (int i = 0; i < tr->nr; i++)
		if (tr->t[i].pid == tgid && !tr->t[i].zombie && tr->t[i].core && tr->t[i].core->tc)
			return tr->t[i].core->tc->has_stopped && tr->t[i].core->tc->stopped;
	return 0;
}

static int finish_restore(struct rst_tree *tr, pid_t *tids, size_t nr)
{
	char *stopped = NULL;

	/* from here on the tasks' own seccomp filters are in force: not for our syscalls */
	for (size_t i = 0; i < nr; i++)
		if (ptrace(PTRACE_SETOPTIONS, tids[i], NULL,
			   (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP)) &&
		    ptrace(PTRACE_SETOPTIONS, tids[i], NULL, (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
			pr_perror("PTRACE_SETOPTIONS of %d", tids[i]);
			return -1;
		}
	for (size_t i = 0; i < nr; i++)
		if (step_syscall(tids[i]) || step_syscall(tids[i]) || restart_at_exit(tr, tids[i]))
			return -1;
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];
		struct parasite_ctl *ctl;
		long ret;

		if (rc->zombie)
			continue;
		ctl = compel_prepare(rc->pid);
		if (!ctl)
			return -1;
		if (compel_syscall(ctl, __NR_munmap, &ret, rc->bootstrap, rc->bootstrap_len, 0, 0, 0, 0) || ret) {
			pr_err("can't unmap the restorer from %d\n", rc->pid);
			compel_cure(ctl);
			return -1;
		}
		/*
		 * Every sharer of this fd table is past its restorer: the service
		 * fds go; otherwise the restorer closed all but the log and criu's
		 * stderr, which its threads may have needed to the last.
		 */
		if (compel_syscall(ctl, __NR_close_range, &ret, tr->svc_base + (rc->shares_files ? 0 : SVC_LOG),
				   rc->shares_files ? ~0U : tr->svc_base + SVC_ERR, 0, 0, 0, 0) || ret) {
			pr_err("can't close the service fds of %d\n", rc->pid);
			compel_cure(ctl);
			return -1;
		}
		if (compel_cure(ctl))
			return -1;
	}
	/*
	 * The memfd seals that would have refused the tasks' writable mappings
	 * (memfd.c); the events the restore's own opens queued on inotify and
	 * fanotify fds go (fsnotify.c).
	 */
	if (memfd_seal_late(&tr->files) || with_file_tasks(tr, fsnotify_drain) || ipc_sysv_restore_finish(tr->t[0].pid))
		return -1;
	/* threads into their cgroups, then the limits, with every task in place */
	for (int i = 0; i < tr->nr; i++)
		if (!tr->t[i].zombie &&
		    cgroup_restore_threads(tr->t[i].pid, tr->t[i].pe->threads, tr->t[i].pe->n_threads))
			return -1;
	if (cgroup_restore_finish())
		return -1;
	/* the tree is whole and still held: the caller's last say before it runs */
	if (tty_orphan_notify() || run_hook(HOOK_POST_RESTORE, ns_host_pid(tr->t[0].pid), -1))
		return -1;
	/* frozen cgroups freeze again while their tasks are still ours (they stay frozen once let go) */
	if (cgroup_restore_freezer())
		return -1;
	if (check_interrupted() || jobctl_take(tr->inv, tr->t[0].pid))
		return -1;
	/*
	 * Which threads go back into a group stop, known before the commit:
	 * nothing after it may fail (a failed look there took a thread for a
	 * running one and detached it twice; the restore failed and killed
	 * the tree it had just let go).
	 */
	stopped = calloc(nr + 1, 1);
	if (!stopped) {
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < nr; i++) {
		int s = comes_back_stopped(tr, tids[i]);

		if (s < 0) {
			free(stopped);
			return -1;
		}
		stopped[i] = s;
	}
	/*
	 * --pidfile is written while the restore can still fail: after the
	 * commit the tree runs, and a restore that says it succeeded must
	 * have written it (a caller reads it to find the tree). Any failure
	 * from here on removes it. The supervisor in the tree's pid
	 * namespace shares criu's mounts: it writes it, with the host's pid.
	 */
	if (opts.pidfile) {
		pid_t host = ns_host_pid(tr->t[0].pid);

		if (host <= 0 || write_pidfile(opts.pidfile, host)) {
			free(stopped);
			return -1;
		}
	}
	/*
	 * The network lock goes, then the TCP connections leave repair mode
	 * (their window probes must reach the peers), then the caller's
	 * network-unlock and pre-resume hooks: the last things before the
	 * commit. A criu that dies from the unlock on takes the tree along
	 * (EXITKILL), and would take the lock too: the connections would
	 * close as any do, and their peers reset them, which no restore of
	 * the images undoes. So a keeper holds them meanwhile and locks again
	 * (net_restore_finish()); what the kernel acknowledged for them in
	 * between is lost: nothing that may take long (cgroups, post-restore,
	 * the freezer, the terminal) comes after the unlock. Frozen tasks
	 * are no matter: their sockets are reached through pidfd_getfd().
	 */
	if (with_file_tasks(tr, net_restore_finish) || run_hook(HOOK_NETWORK_UNLOCK, 0, -1) ||
	    run_hook(HOOK_PRE_RESUME, 0, -1))
		goto unlink_pidfile;
	/* nothing of ours (nft, hooks, the keeper) forks in the tree's pid namespace any more: its next pid as it was */
	if (ns_restore_pid_finish())
		goto unlink_pidfile;
	/*
	 * The commit. Dying before it, criu takes the tree along (EXITKILL,
	 * and the reaper for what is let go already); after it, the kernel
	 * lets the rest go whole. So EXITKILL goes first, then the word to the
	 * reaper, then the tasks.
	 */
	for (size_t i = 0; i < nr; i++)
		if (ptrace(PTRACE_SETOPTIONS, tids[i], NULL, (void *)PTRACE_O_TRACESYSGOOD)) {
			pr_perror("PTRACE_SETOPTIONS of %d", tids[i]);
			goto unlink_pidfile;
		}
	if (reaper_commit())
		goto unlink_pidfile;
	net_restore_commit();
	/*
	 * A task that was stopped (its restorer stopped it again) goes back
	 * into its group stop. Those go first: a task let go before them
	 * could see one still in our traced stop ('t', not 'T'). The tree
	 * runs now, whatever comes: a thread that can't be detached (gone)
	 * is said, and the rest go on; criu's exit lets any still traced go.
	 */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nr; i++) {
			if (stopped[i] != (pass == 0))
				continue;
			if (ptrace(PTRACE_DETACH, tids[i], NULL, NULL))
				pr_pwarn("the tree runs, but PTRACE_DETACH of %d failed", tids[i]);
		}
		/* let go, they run a moment in the kernel ('R') on their way back into the stop */
		for (size_t i = 0; pass == 0 && i < nr; i++)
			if (stopped[i])
				wait_group_stopped(tids[i]);
	}
	free(stopped);
	return 0;
unlink_pidfile:
	free(stopped);
	if (opts.pidfile)
		unlink_pidfile(opts.pidfile);
	return -1;
}

/*
 * Only what we made and trace is ours to kill: a pid may be anyone's. A
 * pid that is gone (most of them, after a failure) is no error.
 */
static int status_field_is(pid_t pid, const char *key, int want)
{
	char buf[4096], *p;

	if (compel_read_proc(pid, "status", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, key);
	return p && atoi(p + strlen(key)) == want;
}

static int traced_by_us(pid_t pid)
{
	return status_field_is(pid, "\nTracerPid:", getpid());
}

/* Every id of the images: filler threads (cow.c) take none of them. */
static int collect_ids(struct rst_tree *tr)
{
	if (pidmap_init(&tr->all_ids, 4 * (size_t)tr->nr + 16))
		return -1;
	for (int i = 0; i < tr->nr; i++) {
		const PstreeEntry *pe = tr->t[i].pe;

		if (pidmap_set(&tr->all_ids, pe->pid, 1) || pidmap_set(&tr->all_ids, pe->pgid, 1) ||
		    pidmap_set(&tr->all_ids, pe->sid, 1) ||
		    (pe->has_session_gone && pidmap_set(&tr->all_ids, pe->session_gone, 1)))
			return -1;
		for (size_t k = 0; k < pe->n_threads; k++)
			if (pidmap_set(&tr->all_ids, pe->threads[k], 1))
				return -1;
	}
	return 0;
}

/* Which private areas are built before forking, so that children share their pages (cow.c). */
static int plan_cow(struct rst_tree *tr)
{
	tr->cow.t = calloc((size_t)tr->nr + 1, sizeof(*tr->cow.t));
	if (!tr->cow.t)
		return -1;
	tr->cow.nr = tr->nr;
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];
		struct rst_ctx *parent = i ? task_of(tr, rc->pe->ppid) : NULL;

		rc->cow.pid = rc->pid;
		rc->cow.parent = parent ? parent - tr->t : -1;
		/* a child sharing the parent's memory has no memory of its own to build */
		rc->cow.live = !rc->zombie && !rc->vm_child;
		rc->cow.mm = rc->vm_child ? NULL : rc->mm;
		rc->cow.pms = rc->pms;
		rc->cow.vma_pages = rc->vm_child ? NULL : rc->vma_pages;
		rc->cow.nr_pms = rc->nr_pms;
		rc->cow.nested = rc->pe->n_ns_pid != 0;
		tr->cow.t[i] = &rc->cow;
	}
	if (!collect_ids(tr))
		tr->cow.ids = &tr->all_ids;
	if (cow_plan(&tr->cow))
		return -1;
	for (int i = 0; i < tr->nr; i++)
		if (gather_chained(tr, &tr->t[i]))
			return -1;
	return 0;
}

/* One restore's running state: shared by criu and, in a pid namespace, its supervisor agent. */
struct rst_run {
	struct rst_tree *tr;
	pid_t *trapped;
	size_t want, zombies;
	struct restore_stats st;
	uint64_t t0, pages;
	int clone_root;			/* the supervisor clones the root itself (a root inside a pid namespace) */
};

static pid_t clone_root(struct rst_tree *tr, unsigned long flags, int exit_signal)
{
	pid_t pid = clone_with_pid(tr->t[0].pid, flags, exit_signal);

	if (pid == 0) {
		restore_task(&tr->t[0]);
		pr_err("restore of %d failed before the restorer\n", tr->t[0].pid);
		_exit(1);
	}
	return pid;
}

/*
 * Trace the root from its start, let it go, and see the tree through to
 * its tasks' own code. On failure nothing we made stays alive.
 */
static int supervise(struct rst_run *r, pid_t pid)
{
	struct rst_tree *tr = r->tr;
	uint64_t t1;
	int all_ours = 0;

	close(tr->sync_pipe[0]);
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK))) {
		pr_perror("can't trace the restoring process %d", pid);
		kill(pid, SIGKILL);
		return -1;
	}
	/* the root waits for our word: its namespaces are set up when it has it */
	if (run_hook(HOOK_SETUP_NAMESPACES, ns_host_pid(pid), -1) || run_hook(HOOK_POST_SETUP_NAMESPACES, 0, -1))
		goto kill;
	t1 = now_us();
	r->st.forking_time = t1 - r->t0;
	if (write(tr->sync_pipe[1], "g", 1) != 1)
		goto kill;
	close(tr->sync_pipe[1]);
	tr->sync_pipe[1] = -1;

	if (wait_final_traps(tr, r->trapped, r->want, r->zombies) < 0 || check_interrupted())
		goto kill;
	/* every thread made it to its final trap: every pid of the tree is ours now, traced or let go */
	all_ours = 1;
	if (finish_restore(tr, r->trapped, r->want))
		goto kill;
	r->st.restore_time = now_us() - t1;
	r->st.pages_restored = r->pages;
	pr_info("restored %d (%d processes) in %lu us (%lu pages)\n", pid, tr->nr, (unsigned long)(now_us() - r->t0),
		(unsigned long)r->pages);
	write_restore_stats(tr->dfd, &r->st);
	/* the tree's paths (link-remap names) through its root's /proc/PID/root, as we see its pid */
	mntns_restored(pid);
	jobctl_resumed();
	fileobj_restore_done(&tr->files);
	return 0;
kill:
	/* nothing half-alive: the whole tree goes (it is traced with EXITKILL too) */
	for (int i = tr->nr - 1; i >= 0; i--)
		if (all_ours || traced_by_us(tr->t[i].pid))
			kill(tr->t[i].pid, SIGKILL);
	/* past the unlock, the connections go back into repair mode and the lock comes back */
	net_restore_abort();
	/* the root, traced yet or not, if it is still our child */
	if (!opts.restore_sibling && status_field_is(pid, "\nPPid:", getpid()))
		kill(pid, SIGKILL);
	return -1;
}

/* In the supervisor agent inside the tree's pid namespace (criu/ns/pid.c). */
static int agent_supervise(void *arg, pid_t root_vpid)
{
	struct rst_run *r = arg;
	pid_t pid = root_vpid;

	if (r->clone_root) {
		/* a joined namespace has others in it */
		if (check_pids_free(r->tr))
			return -1;
		/* its parent is criu, as for a root outside: criu waits for it */
		pid = clone_root(r->tr, CLONE_PARENT, 0);
		if (pid < 0)
			return -1;
	}
	return supervise(r, pid);
}

/* The highest pid the tree's namespace must keep free for it. */
static pid_t max_tree_pid(struct rst_tree *tr)
{
	pid_t m = 1;

	for (int i = 0; i < tr->nr; i++) {
		PstreeEntry *pe = tr->t[i].pe;

		pid_t v[3] = { pe->pid, pe->pgid, pe->sid };

		for (int j = 0; j < 3; j++)
			m = v[j] > m ? v[j] : m;
		for (size_t j = 0; j < pe->n_threads; j++)
			m = pe->threads[j] > m ? pe->threads[j] : m;
	}
	return m;
}

/*
 * The tree in a pid namespace not criu's: clone its first process (the
 * root as init, or a helper init), then supervise from inside. 0 with
 * the root's pid as criu sees it, or -1 with nothing left.
 */
static int restore_in_pidns(struct rst_run *r, pid_t *host_root)
{
	enum ns_pid_mode mode = ns_restore_pid_mode();
	struct rst_tree *tr = r->tr;
	struct ns_pid_restore pr = { .root_vpid = tr->t[0].pid, .supervise = agent_supervise, .arg = r,
				     .max_pid = max_tree_pid(tr) };
	int mnt_fd = -1, user_fd = -1, status;
	char path[64];

	if (mode == NS_PID_INIT) {
		pr.first_host = clone_root(tr, (opts.restore_sibling ? CLONE_PARENT : 0) | ns_first_clone_flags(),
					   opts.restore_sibling ? 0 : SIGCHLD);
	} else {
		if (mode == NS_PID_JOIN && (ns_first_clone_flags() & CLONE_NEWUSER)) {
			pr_err("can't restore a user namespace of the tree's own in a joined pid namespace\n");
			return -1;
		}
		if (mode == NS_PID_HELPER)
			pr.first_host = ns_pid_helper_init(tr->t[0].pid, ns_first_clone_flags());
		r->clone_root = 1;
		/* the root, cloned inside, comes back to our mounts and into the helper's user namespace */
		mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
		if (mnt_fd < 0) {
			pr_perror("can't open /proc/self/ns/mnt");
			goto fail;
		}
	}
	/* the supervisor keeps criu's clocks (its times are the stats'); the root enters the tree's itself */
	ns_restore_time_done();
	if (pr.first_host < 0 || (pr.first_host && ns_restore_first_made(pr.first_host)))
		goto fail;
	if (mode == NS_PID_HELPER && ns_restore_is_new(NS_USER)) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", pr.first_host);
		user_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (user_fd < 0) {
			pr_perror("can't open %s", path);
			goto fail;
		}
	}
	ns_restore_root_joins(mnt_fd, user_fd);
	if (ns_pid_restore(&pr, host_root))
		goto fail;
	close(tr->sync_pipe[0]);
	close(tr->sync_pipe[1]);
	if (mnt_fd >= 0)
		close(mnt_fd);
	if (user_fd >= 0)
		close(user_fd);
	return 0;
fail:
	close(tr->sync_pipe[0]);
	close(tr->sync_pipe[1]);
	/* not a child to wait for below: it would wait for us */
	ns_restore_image_server_done();
	if (pr.first_host > 0)
		kill(pr.first_host, SIGKILL);
	/*
	 * Reap what we made: a root the agent cloned as ours (the dying helper
	 * init waits for its namespace to be reaped), then the first process.
	 * Not every child: criu's own helpers (the cgroup mover) live on.
	 */
	for (int i = 0; i < 1000; i++) {
		pid_t w = waitpid(-1, &status, __WALL | WNOHANG);

		if ((w < 0 && errno == ECHILD) || (w > 0 && w == pr.first_host))
			break;
		if (w <= 0) {
			if (pr.first_host <= 0 && i > 10)
				break;
			usleep(10000);
		}
	}
	if (mnt_fd >= 0)
		close(mnt_fd);
	if (user_fd >= 0)
		close(user_fd);
	return -1;
}

/* ns.img and mntns.img agree on whether the tree has a mount namespace of its own. */
static int check_mnt_images(void)
{
	if (mntns_restoring() == (bool)ns_restore_is_new(NS_MNT))
		return 0;
	pr_err("the images disagree: %s has a mount namespace of the tree's own, %s not\n",
	       mntns_restoring() ? "mntns.img" : "ns.img", mntns_restoring() ? "ns.img" : "mntns.img");
	return -1;
}

int read_all_images(struct rst_tree *tr)
{
	struct rst_ctx probe = { .dfd = tr->dfd };
	int ret = read_inventory(&probe);

	tr->inv = probe.inv;	/* free_tree() frees it, read or not */
	if (ret)
		return -1;
	return read_pstree(tr) || ns_restore_read(tr->dfd, tr->t[0].pe) || read_tree_images(tr) ||
	       check_mnt_images() || plan_cow(tr) ? -1 : 0;
}

/*
 * --auto-dedup: the tree runs and has every page, so the pages images it
 * came from are freed (images on a tmpfs no longer hold the memory twice).
 * A failure leaves them as they were: the restore itself succeeded.
 */
static void restore_dedup(struct rst_tree *tr)
{
	uint64_t bytes = 0;

	if (!opts.auto_dedup)
		return;
	for (int i = 0; i < tr->nr; i++)
		if (!tr->t[i].zombie && chain_free_pages(tr->dfd, tr->t[i].pid, &bytes))
			pr_warn("--auto-dedup: the pages images of %d are not freed\n", tr->t[i].pid);
	pr_info("--auto-dedup: %lu KiB of pages images freed\n", (unsigned long)(bytes >> 10));
}

/* Returns the exit code for criu. */
int cr_restore_tasks(void)
{
	struct rst_tree tr = { .dfd = -1, .core_fd = -1 };
	struct rst_run run = { .tr = &tr };
	struct span_set taken = { 0 };
	pid_t pid;
	int ret = 1, status;

	run.t0 = now_us();
	if (check_privileges())
		return 1;
	if (!kdat.has_clone3_set_tid || !kdat.has_prctl_mm_map) {
		pr_err("this kernel lacks clone3 set_tid or PR_SET_MM_MAP; see criu check\n");
		return 1;
	}
	if (ns_init_self())
		return 1;
	if (opts.pidfile)
		pidfile_note(opts.pidfile);
	tr.dfd = open(opts.imgs_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (tr.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return 1;
	}
	/* the images decide what the tasks get: only root's or the caller's are believed */
	image_trust_required = 1;
	if (images_dir_trusted(opts.imgs_dir) || image_trusted(tr.dfd, opts.imgs_dir))
		goto out;
	if (read_all_images(&tr) ||
	    (ns_restore_pid_mode() == NS_PID_NONE && (check_pids_free(&tr) || find_orphaned_groups(&tr))) ||
	    zombie_cores_prepare(&tr))
		goto out;
	if (ns_restore_pid_mode() == NS_PID_NONE)
		keep_pid_cursor_clear(&tr);
	if (run_hook(HOOK_PRE_RESTORE, 0, -1) || tty_orphan_prepare(&tr.files) || cgroup_restore_prepare(tr.dfd))
		goto out;
	/* ours, before the root moves into the tree's mount (and pid) namespace */
	if (proc_dir() < 0)
		goto out;
	if (self_layout(&taken, &tr.self_vdso))
		goto out;
	for (int i = 0; i < tr.nr; i++) {
		if (tr.t[i].zombie) {
			run.zombies++;
			continue;
		}
		run.want += 1 + tr.t[i].nr_tcores;
		run.pages += tr.t[i].nr_pages;
		run.st.pages_cow += tr.t[i].st.pages_cow;
		/* reserve every task's bootstrap area in our layout: they all start as our copies */
		if (plan_bootstrap(&tr.t[i], &taken, &tr.self_vdso))
			goto out;
	}
	if (cow_reserve(&tr.cow))
		goto out;
	/*
	 * In a pid namespace of the tree's its pids are not ours: no reaper. The
	 * supervisor traces the tree (EXITKILL), and the helper init dies with
	 * criu (its go pipe).
	 */
	if ((ns_restore_pid_mode() == NS_PID_NONE && reaper_start(&tr)) || log_share_errors())
		goto out;
	/* before any socket exists: nothing may reach the connections until they are whole */
	/* a network namespace of the tree's gets it there (criu/ns/ns.c) */
	if (!ns_restore_has_net() && net_restore_lock(tr.dfd, -1))
		goto out;
	/* the restorers hand their userfaultfds to the lazy-pages daemon through this */
	if (opts.lazy_pages && lazy_restore_start())
		goto out;
	run.trapped = calloc(run.want + 1, sizeof(*run.trapped));
	if (!run.trapped || pipe2(tr.sync_pipe, O_CLOEXEC)) {
		pr_perror("pipe");
		goto out;
	}
	/*
	 * Shared memory objects, for the whole tree to inherit at shmem_base + N:
	 * made here, where /proc/self/map_files is open to us (not inside a user
	 * namespace of the tree's).
	 */
	for (uint32_t i = 0; i <= tr.nr_shmem; i++)
		if (fcntl(tr.shmem_base + i, F_GETFD) >= 0) {
			pr_err("criu's fd %d is where shared memory objects go; pass it lower\n", tr.shmem_base + i);
			goto out;
		}
	if (shmem_restore_all(tr.dfd, tr.shmem_base) || ns_restore_image_server(tr.dfd))
		goto out;
	if (ns_restore_prepare() || mntns_preclone(tr.scratch_base) ||
	    ns_restore_take_groups(tr.dfd, tr.t[0].pe->pid))
		goto out_ns;

	if (ns_restore_pid_mode() != NS_PID_NONE) {
		if (restore_in_pidns(&run, &pid))
			goto out_ns;
	} else {
		pid = clone_root(&tr, (opts.restore_sibling ? CLONE_PARENT : 0) | ns_first_clone_flags(),
				 opts.restore_sibling ? 0 : SIGCHLD);
		if (pid < 0)
			goto out_ns;
		if (ns_restore_first_made(pid)) {
			kill(pid, SIGKILL);
			goto reap;
		}
		if (supervise(&run, pid))
			goto reap;
	}
	ns_restore_parent_done();
	mntns_preclone_done();
	ns_restore_image_server_done();
	cr_restored_pid = pid;
	/* it runs: nothing to undo if the caller fails here */
	if (run_hook(HOOK_POST_RESUME, 0, -1))
		pr_warn("the tree %d runs, but post-resume failed\n", pid);
	cgroup_restore_fini(true);
	tty_orphan_fini();
	lazy_restore_end(true);
	restore_dedup(&tr);
	ret = 0;
	if (opts.restore_detached || opts.restore_sibling)
		goto out;
	zombie_cores_done(&tr);
	free(taken.s);
	free(run.trapped);
	free_tree(&tr);
	/* Without -d we stand in for the task: its exit status is ours. */
	interrupt_reset();
	if (jobctl_wait(pid, &status))
		return 1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
reap:
	jobctl_give_back();
	/* helper children of criu's own go first: the wait below takes every child */
	cgroup_restore_abort();
	/*
	 * Everything we made or trace goes: a killed thread we trace is ours
	 * to reap, and its leader can't be reaped before it (waiting for the
	 * root alone would hang).
	 */
	while (waitpid(-1, &status, __WALL) > 0 || errno == EINTR)
		;
	ipc_sysv_restore_abort(pid);
out_ns:
	ns_restore_failed();
	ns_restore_parent_done();
	mntns_preclone_done();
	ns_restore_image_server_done();
	ret = 1;
out:
	if (ret)
		lazy_restore_end(false);
	if (ret && opts.pidfile)
		pidfile_drop_new(opts.pidfile);
	cgroup_restore_fini(ret == 0);
	tty_orphan_fini();
	free(taken.s);
	zombie_cores_done(&tr);
	reaper_abort();
	/* what went wrong in a restoring child was only in the log so far */
	if (ret && log_to_file() && *log_forwarded_errors())
		fprintf(stderr, "%s", log_forwarded_errors());
	if (ret && interrupted())
		pr_err("restore interrupted by signal %d; nothing of it was left running\n", interrupted());
	free(run.trapped);
	free_tree(&tr);
	return ret;
}
