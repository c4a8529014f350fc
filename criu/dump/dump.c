/*
 * criu dump: freeze the task, read what /proc and ptrace show, run the
 * parasite for the rest and for memory, write the images, then kill the
 * task or let it go. Any failure lets the task go as it was.
 */
#include <dirent.h>
#include <linux/ioprio.h>
#include <linux/kcmp.h>
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump.h"
#include "snapshot.h"
#include "csum.h"
#include "pagechain.h"
#include "cow.h"
#include "page-server.h"
#include "netns.h"
#include "util.h"


int check_task(struct dump_ctx *dc)
{
	char path[64];
	struct stat st;

	if (dc->pid == getpid()) {
		pr_err("criu can't dump itself\n");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d", dc->pid);
	if (stat(path, &st)) {
		pr_err("no process with pid %d\n", dc->pid);
		return -1;
	}
	if (parse_pid_stat(dc->pid, &dc->stat) || parse_pid_status(dc->pid, &dc->status)) {
		pr_err("can't read /proc/%d: is it a process?\n", dc->pid);
		return -1;
	}
	if (dc->status.tgid != dc->pid) {
		pr_err("%d is a thread of %d; dump the process instead\n", dc->pid, dc->status.tgid);
		return -1;
	}
	return 0;
}

/* A swrk client without CAP_SYS_PTRACE: only tasks it could trace itself (rpc/service.c). */
static int check_owner(struct dump_ctx *dc)
{
	if (!opts.owner_only)
		return 0;
	for (int i = 0; i < 4; i++)
		if (dc->status.uid[i] != opts.owner_uid || dc->status.gid[i] != opts.owner_gid) {
			pr_err("can't dump task %d: it belongs to uid %u gid %u, and the client (uid %u) "
			       "may not dump it\n", dc->pid, dc->status.uid[i], dc->status.gid[i], opts.owner_uid);
			return -1;
		}
	return 0;
}

/* What this milestone can't do yet is refused by name (namespaces: ns_dump_collect()). */
static int check_supported(struct dump_ctx *dc)
{
	if (check_owner(dc))
		return -1;
	/* a stop signal that came while we seized: its group stop is half done */
	for (int i = 1; i < dc->nr_th; i++)
		if (dc->th[i].state != dc->state) {
			pr_err("can't dump task %d: a group stop began while it was being seized (thread %d); "
			       "try again\n", dc->pid, dc->th[i].tid);
			return -1;
		}
	return 0;
}

static int peek_signals(pid_t pid, int shared, SiginfoEntry **out, size_t *nr, uint8_t (**bufp)[128])
{
	struct {
		uint64_t off;
		uint32_t flags;
		int32_t nr;
	} arg = { .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0, .nr = 32 };
	uint8_t chunk[32][128];
	size_t total = 0;

	while (1) {
		long n = ptrace(PTRACE_PEEKSIGINFO, pid, &arg, chunk);

		if (n < 0) {
			int e = errno;

			pr_perror("PTRACE_PEEKSIGINFO of %d", pid);
			errno = e;	/* ESRCH: the caller tells why */
			return -1;
		}
		if (n == 0)
			break;
		uint8_t (*nb)[128] = realloc(*bufp, (total + n) * 128);

		if (!nb)
			return -1;
		*bufp = nb;
		memcpy(nb[total], chunk, n * 128);
		total += n;
		arg.off += n;
	}
	*out = calloc(total ? total : 1, sizeof(**out));
	if (!*out)
		return -1;
	for (size_t i = 0; i < total; i++) {
		siginfo_entry__init(&(*out)[i]);
		(*out)[i].siginfo.len = 128;
		(*out)[i].siginfo.data = (*bufp)[i];
	}
	*nr = total;
	return 0;
}

static int get_rseq(pid_t tid, struct rseq_conf *rc)
{
	memset(rc, 0, sizeof(*rc));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(*rc), rc) < 0) {
		pr_perror("PTRACE_GET_RSEQ_CONFIGURATION of %d", tid);
		return -1;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	return ((const struct dump_thread *)a)->tid - ((const struct dump_thread *)b)->tid;
}

/* Room for one more thread in dc->th: the array doubles. */
static int grow_threads(struct dump_ctx *dc, int *cap)
{
	struct dump_thread *n;

	if (dc->nr_th < *cap)
		return 0;
	n = realloc(dc->th, (*cap ? *cap * 2 : 16) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	dc->th = n;
	*cap = *cap ? *cap * 2 : 16;
	memset(&dc->th[dc->nr_th], 0, (*cap - dc->nr_th) * sizeof(*n));
	return 0;
}

/*
 * Seize every thread, again and again until a pass finds no new one: a
 * thread may clone another while we are at it. Which are seized already
 * is a hash lookup: a pass over N threads costs N, not N^2.
 */
static int seize_threads(struct dump_ctx *dc)
{
	struct pidmap seized = { 0 };
	char path[64];
	int found = 1, cap = 0, ret = -1, r, leader_exited = 0;

	while (found) {
		struct dirent *de;
		DIR *d;

		found = 0;
		snprintf(path, sizeof(path), "/proc/%d/task", dc->pid);
		d = opendir(path);
		if (!d) {
			pr_perror("can't list the threads of %d", dc->pid);
			goto out;
		}
		while ((r = next_dirent(d, &de, path)) > 0) {
			pid_t tid = atoi(de->d_name);
			int state, stopsig;

			if (tid <= 0 || pidmap_get(&seized, tid) >= 0)
				continue;
			if (grow_threads(dc, &cap)) {
				closedir(d);
				goto out;
			}
			/* a thread of the --freeze-cgroup cgroup is seized already: it stops as it thaws */
			state = cgfreeze_seized(tid) ? compel_wait_task_sig(tid, &stopsig) : compel_stop_task_sig(tid, &stopsig);
			if (state == COMPEL_TASK_ZOMBIE) {
				/* it exited meanwhile; the leader's exit is the process's */
				if (pidmap_set(&seized, tid, INT32_MAX)) {
					closedir(d);
					goto out;
				}
				leader_exited |= tid == dc->pid;
				continue;
			}
			if (state < 0) {
				snprintf(path, sizeof(path), "/proc/%d/task/%d", dc->pid, tid);
				if (access(path, F_OK) && errno == ENOENT)
					continue;	/* it exited meanwhile */
				closedir(d);
				goto out;
			}
			dc->th[dc->nr_th].tid = tid;
			dc->th[dc->nr_th].state = state;
			dc->th[dc->nr_th].stopsig = stopsig;
			dc->nr_th++;
			cgfreeze_claim(tid);
			found = 1;
			if (pidmap_set(&seized, tid, dc->nr_th - 1)) {
				closedir(d);
				goto out;
			}
		}
		closedir(d);
		if (r < 0)
			goto out;
	}
	if (leader_exited) {
		/* the process is exiting: let its other threads go, it will be a zombie */
		for (int i = 0; i < dc->nr_th; i++)
			compel_resume_task(dc->th[i].tid, dc->th[i].state);
		dc->nr_th = 0;
		ret = 1;
		goto out;
	}
	/* the leader first, the rest in tid order */
	for (int i = 0; i < dc->nr_th; i++)
		if (dc->th[i].tid == dc->pid) {
			struct dump_thread t = dc->th[0];

			dc->th[0] = dc->th[i];
			dc->th[i] = t;
		}
	if (!dc->nr_th || dc->th[0].tid != dc->pid) {
		pr_err("the leader of %d is gone\n", dc->pid);
		goto out;
	}
	sort_array(dc->th + 1, dc->nr_th - 1, sizeof(*dc->th), cmp_pid);
	dc->state = dc->th[0].state;
	dc->stopsig = dc->th[0].stopsig;
	ret = 0;
out:
	pidmap_free(&seized);
	return ret;
}

static void release_threads(struct dump_ctx *dc)
{
	for (int i = 0; i < dc->nr_th; i++)
		compel_resume_task(dc->th[i].tid, dc->th[i].state);
}

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER	0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA	0x420d
#endif

/* The flags a filter was installed with that the kernel keeps (SECCOMP_FILTER_FLAG_LOG). */
static int seccomp_filter_flags(pid_t tid, long idx, uint32_t *flags)
{
	struct {
		uint64_t filter_off;
		uint64_t flags;
	} md = { .filter_off = idx };

	if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, sizeof(md), &md) < 0) {
		pr_perror("can't read the flags of seccomp filter %ld of %d", idx, tid);
		return -1;
	}
	*flags = md.flags;
	return 0;
}

/*
 * The thread's status (its creds, kept for its core), its seccomp mode
 * and, in filter mode, every filter program.
 */
static int collect_seccomp(struct dump_ctx *dc, struct dump_thread *t)
{
	char name[64], *buf;
	long n;

	snprintf(name, sizeof(name), "task/%d/status", t->tid);
	buf = read_proc_file(dc->pid, name, NULL);
	if (!buf || parse_pid_status_buf(buf, &t->status)) {
		free(buf);
		pr_err("can't read the status of thread %d\n", t->tid);
		return -1;
	}
	free(buf);
	t->seccomp_mode = t->status.seccomp;
	if (t->seccomp_mode != SECCOMP_MODE_FILTER_)
		return 0;
	/* index 0 is the oldest filter (the kernel walks back from the newest): count them, store in that order */
	for (n = 0; ptrace(PTRACE_SECCOMP_GET_FILTER, t->tid, n, NULL) > 0; n++)
		;
	if (errno != ENOENT || n == 0) {
		pr_perror("can't read the seccomp filters of %d", t->tid);
		return -1;
	}
	t->filters = calloc(n, sizeof(*t->filters));
	t->filter_flags = calloc(n, sizeof(*t->filter_flags));
	if (!t->filters || !t->filter_flags)
		return -1;
	for (long i = 0; i < n; i++) {
		ProtobufCBinaryData *f = &t->filters[i];
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, t->tid, i, NULL);

		f->data = len > 0 ? calloc(len, 8) : NULL;
		if (!f->data || ptrace(PTRACE_SECCOMP_GET_FILTER, t->tid, i, f->data) != len) {
			pr_perror("can't read seccomp filter %ld of %d", i, t->tid);
			return -1;
		}
		f->len = len * 8;
		if (seccomp_filter_flags(t->tid, i, &t->filter_flags[i]))
			return -1;
		t->nr_filters++;
	}
	return 0;
}

/*
 * Per thread: the CPUs it may run on, kept only when it was pinned to
 * fewer than every online CPU (so that an unpinned task stays unpinned
 * wherever it comes back), its I/O priority, scheduling policy and nice.
 */
_Static_assert(sizeof(cpu_set_t) == sizeof(((struct dump_thread *)0)->cpu_mask), "cpu_mask is a cpu_set_t");

static int collect_sched(struct dump_thread *t)
{
	struct sched_param sp;
	cpu_set_t set;
	long prio;

	if (sched_getaffinity(t->tid, sizeof(set), &set)) {
		pr_perror("can't read the CPU affinity of thread %d", t->tid);
		return -1;
	}
	if (CPU_COUNT(&set) < get_nprocs()) {
		memcpy(t->cpu_mask, &set, sizeof(set));
		for (t->cpu_words = ARRAY_SIZE(t->cpu_mask); t->cpu_words > 1; t->cpu_words--)
			if (t->cpu_mask[t->cpu_words - 1])
				break;
	}
	prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, t->tid);
	if (prio < 0) {
		pr_perror("can't read the I/O priority of thread %d", t->tid);
		return -1;
	}
	t->ioprio = prio;
	t->sched_policy = sched_getscheduler(t->tid);
	if (t->sched_policy < 0 || sched_getparam(t->tid, &sp)) {
		pr_perror("can't read the scheduling policy of thread %d", t->tid);
		return -1;
	}
	/* its runtime, deadline and period are not saved (sched_setscheduler() can't set them) */
	if ((t->sched_policy & ~SCHED_RESET_ON_FORK) == SCHED_DEADLINE) {
		pr_err("can't dump thread %d: it runs under SCHED_DEADLINE; not supported\n", t->tid);
		return -1;
	}
	t->sched_prio = sp.sched_priority;
	errno = 0;
	t->nice = getpriority(PRIO_PROCESS, t->tid);
	if (errno) {
		pr_perror("can't read the nice value of thread %d", t->tid);
		return -1;
	}
	return 0;
}

#ifndef PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
#define PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG	0x4211
#endif

/*
 * Syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH, how Wine catches
 * Windows syscalls) is not restored, and with the selector blocking every
 * syscall we inject outside the allowed range raises SIGSYS, forced with
 * the handler reset since our code runs with every signal blocked: refused
 * before anything is injected. A kernel before 6.4 can't tell.
 */
static int check_sud(struct dump_ctx *dc, pid_t tid)
{
	struct {
		uint64_t mode, selector, offset, len;
	} c = { 0 };

	if (ptrace(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, tid, sizeof(c), &c) < 0) {
		if (errno == EIO)
			return 0;
		pr_perror("can't read the syscall user dispatch of thread %d of %d", tid, dc->pid);
		return -1;
	}
	if (!c.mode)
		return 0;
	pr_err("can't dump task %d: thread %d has syscall user dispatch on (PR_SET_SYSCALL_USER_DISPATCH, "
	       "range %llx+%llx): not supported\n", dc->pid, tid, (unsigned long long)c.offset,
	       (unsigned long long)c.len);
	return -1;
}

static int collect_thread(struct dump_ctx *dc, struct dump_thread *t)
{
	char name[64], *comm;
	long len = 0;

	if (get_rseq(t->tid, &t->rseq) || peek_signals(t->tid, 0, &t->sig, &t->nr_sig, &t->sigbuf) ||
	    collect_seccomp(dc, t) || check_sud(dc, t->tid))
		return -1;
	if (syscall(SYS_get_robust_list, t->tid, &t->robust_list, &len)) {
		pr_perror("get_robust_list of %d", t->tid);
		return -1;
	}
	t->robust_len = len;
	if (collect_sched(t))
		return -1;
	snprintf(name, sizeof(name), "task/%d/comm", t->tid);
	comm = read_proc_file(dc->pid, name, NULL);
	if (!comm) {
		pr_perror("can't read the name of thread %d", t->tid);
		return -1;
	}
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	free(comm);
	return 0;
}

static int copy_state(struct compel_thread_state *dst, const struct compel_thread_state *src)
{
	*dst = *src;
	dst->xsave = malloc(src->xsave_size);
	if (!dst->xsave) {
		pr_err("out of memory\n");
		return -1;
	}
	memcpy(dst->xsave, src->xsave, src->xsave_size);
	return 0;
}

/*
 * What only a thread itself can tell (its sigaltstack, its clear_child_tid,
 * its securebits),
 * read by running syscalls in it that write into the parasite's area.
 */
/*
 * What the parasite does for the leader's timers (timer_overruns() in
 * parasite.c, timer-pend.h), for a periodic timer whose signal is pending
 * for thread @t: syscalls run in that thread (the signal is taken from its
 * own queue; absolute times are those of its time namespace), scratch in
 * the parasite's arguments.
 */
static int thread_timer_overruns(struct dump_ctx *dc, struct parasite_ctl *leader, struct dump_thread *t)
{
	union parasite_args *args = compel_parasite_args(leader);
	unsigned long remote = compel_remote_addr(leader, args);
	struct scratch {
		uint64_t set, pending;
		int64_t zero[2], now[2];
		int32_t info[32];
		struct k_itimerspec spec;
	} *s = (struct scratch *)args;
	unsigned long r = remote;
	const int64_t nsec = 1000000000LL;
	struct parasite_ctl *ctl = NULL;
	int err = -1, id = 0;
	long ret;

	for (int i = 0; i < dc->nr_timers; i++) {
		struct parasite_timer *pt = &dc->misc.timers[i];
		int64_t iv, at;

		if (!dc->timers[i].pending || !(dc->timers[i].notify & SIGEV_THREAD_ID) || dc->timers[i].tid != t->tid)
			continue;
		pt->sig_overrun = 0;
		id = pt->id;
		iv = pt->spec.interval_sec * nsec + pt->spec.interval_nsec;
		if (!iv)
			continue;	/* one-shot: no overruns, nothing to take */
		if (!ctl && !(ctl = compel_prepare_thread(leader, t->tid)))
			return -1;
		memset(s, 0, sizeof(*s));
		s->set = 1ULL << (pt->signo - 1);
		if (compel_syscall(ctl, __NR_rt_sigtimedwait, &ret, r + offsetof(struct scratch, set),
				   r + offsetof(struct scratch, info), r + offsetof(struct scratch, zero), 8, 0, 0) ||
		    ret != pt->signo) {
			pr_err("can't take the pending signal %d of POSIX timer %d in thread %d (%ld)\n", pt->signo,
			       pt->id, t->tid, ret);
			goto out;
		}
		if (s->info[2] != SI_TIMER || s->info[4] != pt->id) {
			pr_err("thread %d: the signal %d taken is not POSIX timer %d's; it is lost\n", t->tid, pt->signo,
			       pt->id);
			goto out;
		}
		pt->sig_overrun = s->info[5];
		if (compel_syscall(ctl, __NR_timer_gettime, &ret, pt->id, r + offsetof(struct scratch, spec), 0, 0, 0,
				   0) || ret ||
		    compel_syscall(ctl, __NR_clock_gettime, &ret, pt->clock, r + offsetof(struct scratch, now), 0, 0, 0,
				   0) || ret)
			goto lost;
		pt->spec = s->spec;
		/* armed at the expiry that queued it: it fires at once, the kernel queues it again */
		at = s->now[0] * nsec + s->now[1] + s->spec.value_sec * nsec + s->spec.value_nsec -
		     ((int64_t)pt->sig_overrun + 1) * iv;
		if (at < 1)
			at = 1;
		s->spec.value_sec = at / nsec;
		s->spec.value_nsec = at % nsec;
		if (compel_syscall(ctl, __NR_timer_settime, &ret, pt->id, 1 /* TIMER_ABSTIME */,
				   r + offsetof(struct scratch, spec), 0, 0, 0) || ret)
			goto lost;
		for (int n = 0; n < 50000; n++) {
			if (compel_syscall(ctl, __NR_rt_sigpending, &ret, r + offsetof(struct scratch, pending), 8, 0, 0,
					   0, 0) || ret)
				goto lost;
			if (s->pending & s->set)
				break;
			usleep(20);
		}
		if (!(s->pending & s->set))
			goto lost;
	}
	err = 0;
	goto out;
lost:
	pr_err("thread %d: the pending signal of POSIX timer %d was taken and could not be made pending again; it is "
	       "lost\n", t->tid, id);
out:
	if (ctl && compel_cure(ctl))
		err = -1;
	return err;
}

static int dump_thread_inside(struct dump_ctx *dc, struct parasite_ctl *leader, struct dump_thread *t)
{
	union parasite_args *args = compel_parasite_args(leader);
	unsigned long remote = compel_remote_addr(leader, args);
	struct parasite_ctl *ctl;
	long ret1 = -1, ret2 = -1, ret3 = -1, ret4 = -1, secbits = -1, slack = -1, cpuid = -1;
	long mce = -1, mpol = -1, kcmp = 0, kcmp_self = -1;
	int err;

	ctl = compel_prepare_thread(leader, t->tid);
	if (!ctl)
		return -1;
	err = copy_state(&t->regs, compel_orig_state(ctl));
	memset(args, 0, 256 + MEMPOLICY_NODES / 8);
	if (!err)
		err = compel_syscall(ctl, __NR_sigaltstack, &ret1, 0, remote, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &ret2, PR_GET_TID_ADDRESS, remote + 32, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &secbits, PR_GET_SECUREBITS, 0, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &ret3, PR_GET_TSC, remote + 40, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &ret4, PR_GET_PDEATHSIG, remote + 48, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &slack, PR_GET_TIMERSLACK, 0, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_arch_prctl, &cpuid, ARCH_GET_CPUID, 0, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_prctl, &mce, PR_MCE_KILL_GET, 0, 0, 0, 0, 0) ||
		      compel_syscall(ctl, __NR_get_mempolicy, &mpol, remote + 128, remote + 256, MEMPOLICY_NODES, 0, 0,
				     0);
	for (int i = 0; !err && i < NR_SPEC_CTRL; i++) {
		long spec = -1;

		err = compel_syscall(ctl, __NR_prctl, &spec, PR_GET_SPECULATION_CTRL, i, 0, 0, 0, 0);
		t->spec[i] = spec;
	}
	/* the probe has the leader's real ids: a thread of other ids can't be asked about it */
	if (!err && dc->landlock_probe > 0 && t->status.uid[0] == dc->status.uid[0] &&
	    t->status.gid[0] == dc->status.gid[0])
		err = compel_syscall(ctl, __NR_kcmp, &kcmp_self, dc->pid, dc->pid, KCMP_VM, 0, 0, 0) ||
		      (!kcmp_self && compel_syscall(ctl, __NR_kcmp, &kcmp, dc->pid, dc->landlock_probe, KCMP_VM, 0, 0, 0));
	if (compel_cure(ctl))
		err = -1;
	if (err || ret1 || ret2 || ret3 || ret4 || secbits < 0 || slack < 0) {
		pr_err("can't read the state of thread %d of %d (%ld, %ld)\n", t->tid, dc->pid, ret1, ret2);
		return -1;
	}
	memcpy(&t->altstack, args, sizeof(t->altstack));
	memcpy(&t->clear_child_tid, (char *)args + 32, 8);
	t->secbits = secbits;
	memcpy(&t->tsc, (char *)args + 40, sizeof(t->tsc));
	memcpy(&t->pdeath_sig, (char *)args + 48, sizeof(t->pdeath_sig));
	if (landlock_check(dc->pid, t->tid, dc->landlock_probe, kcmp))
		return -1;
	t->timer_slack = slack;
	t->cpuid = cpuid;
	t->mce_kill = mce;
	t->mempolicy = -1;
	if (!mpol) {
		memcpy(&t->mempolicy, (char *)args + 128, sizeof(t->mempolicy));
		memcpy(t->mempolicy_nodes, (char *)args + 256, sizeof(t->mempolicy_nodes));
	}
	return thread_timer_overruns(dc, leader, t);
}

/* A dump that leaves the tree running and goes on tracking write-protects what it dumps. */
static bool track_protects(void)
{
	return opts.track_mem && (opts.leave_running || opts.leave_stopped);
}

/* The dump id of the images the parent link leads to (inventory's parent_dump_id), 0 if none. */
static uint64_t parent_dump_id;

int open_prev_images(struct dump_tree *t)
{
	int kind = -1;

	t->prev_dfd = -1;
	parent_dump_id = 0;
	if (ps_connect())
		return -1;
	if (opts.prev_images_dir) {
		t->prev_dfd = openat(t->dfd, opts.prev_images_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (t->prev_dfd < 0) {
			pr_perror("--prev-images-dir %s (relative to the images dir %s)", opts.prev_images_dir,
				  opts.imgs_dir);
			return -1;
		}
		if (chain_link(t->dfd, opts.prev_images_dir))
			return -1;
		/*
		 * With a page server the previous images' pages are there, but
		 * their inventory is here too: its id, in this dump's inventory,
		 * is what the server asks before it frees anything in them
		 * (--auto-dedup, srv_dedup()).
		 */
		if (image_exists(t->prev_dfd, CR_FD_INVENTORY) > 0 && chain_dump_id(t->prev_dfd, &parent_dump_id))
			return -1;
		/* a chain keeps the page checksum kind of its first dump: one kind a run at restore */
		if (!opts.page_server && image_exists(t->prev_dfd, CR_FD_INVENTORY) > 0 &&
		    chain_csum_kind(t->prev_dfd, &kind))
			return -1;
	} else if (unlinkat(t->dfd, PARENT_LINK, 0) && errno != ENOENT) {
		pr_perror("can't remove the old %s link", PARENT_LINK);
		return -1;
	}
	if (kind < 0)
		kind = csum_dump_kind();
	if (kind < 0 || csum_take_kind(kind, "this dump"))
		return -1;
	/* the previous images' tracking counts whether or not this dump goes on tracking */
	return track_open(&t->track, t->prev_dfd);
}

/*
 * --auto-dedup, once the images are whole: what they replace in the chain
 * is freed there. A failure only leaves the chain bigger than it could be.
 */
void dedup_chain(struct dump_tree *t)
{
	uint64_t punched = 0;

	if (!opts.auto_dedup || t->prev_dfd < 0 || t->deduped)
		return;
	t->deduped = true;
	if (opts.page_server)	/* the previous images are there: the server does it (srv_dedup) */
		return;
	for (int i = 0; i < t->nr; i++)
		if (!t->p[i].zombie && !t->p[i].vm_from && chain_dedup(t->dfd, t->p[i].pid, &punched))
			pr_warn("--auto-dedup of %d failed: the previous images keep pages they need no more\n",
				t->p[i].pid);
	pr_info("--auto-dedup: %lu pages freed in the previous images\n", (unsigned long)punched);
}

/*
 * The previous images' pagemaps are read (and their checksums checked)
 * before the tree is frozen: they are whole before this dump starts, and
 * for a big process that is tens of ms. Every pid they have a pagemap of.
 */
void preload_covers(struct dump_tree *t)
{
	struct dirent *de;
	DIR *d;
	int dfd, fd;

	if (!opts.prev_images_dir || opts.page_server)
		return;
	dfd = open(opts.imgs_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	fd = dfd < 0 ? -1 : openat(dfd, opts.prev_images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		close(dfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;	/* open_prev_images() says why, later */
	}
	while (next_dirent(d, &de, "the previous images") == 1) {
		struct prev_cover *n;
		char end;
		int pid;

		if (sscanf(de->d_name, "pagemap-%d.im%c", &pid, &end) != 2 || end != 'g' || pid <= 0)
			continue;
		n = realloc(t->covers, (t->nr_covers + 1) * sizeof(*n));
		if (!n)
			break;
		t->covers = n;
		n[t->nr_covers].pid = pid;
		if (chain_cover(dirfd(d), pid, &n[t->nr_covers].l))
			continue;	/* read again, and refused by name, when it is needed */
		t->nr_covers++;
	}
	closedir(d);
	pr_debug("the previous images' pages of %d processes read\n", t->nr_covers);
}

void free_covers(struct dump_tree *t)
{
	for (int i = 0; i < t->nr_covers; i++)
		page_list_free(&t->covers[i].l);
	free(t->covers);
	t->covers = NULL;
	t->nr_covers = 0;
}

/* The previous images' pages of @pid: read before freezing, or now. */
static int prev_cover(struct dump_tree *t, pid_t pid, struct page_list *out)
{
	for (int i = 0; i < t->nr_covers; i++)
		if (t->covers[i].pid == pid) {
			*out = t->covers[i].l;
			t->covers[i] = t->covers[--t->nr_covers];
			return 0;
		}
	return chain_cover(t->prev_dfd, pid, out);
}

int track_process(struct dump_tree *t, struct dump_ctx *dc, struct parasite_ctl *ctl, bool protect)
{
	if (!protect && !t->track.valid)
		return 0;
	if (track_task(&t->track, ctl, dc->pid, dc->stat.start_time, &dc->md, protect, protect, &dc->tt))
		return -1;
	if (dc->tt->since_prev && (ps_active() ? ps_cover(dc->pid, &dc->tt->cover) :
				   prev_cover(t, dc->pid, &dc->tt->cover))) {
		pr_warn("memory tracking: the previous images' pages of %d can't be read: dumped whole\n", dc->pid);
		dc->tt->since_prev = false;
	}
	return 0;
}

/*
 * What restore would refuse on this machine is refused now, while the
 * task runs on: a hard limit above criu's own that only CAP_SYS_RESOURCE
 * could set again, POSIX timers on a kernel that can't give them their
 * ids back (PR_TIMER_CREATE_RESTORE_IDS, 6.17).
 */
static int check_restorable(struct dump_ctx *dc)
{
	for (int i = 0; i < NR_RLIMITS; i++) {
		struct rlimit ours;

		if (getrlimit(i, &ours) || dc->misc.rlim[i].max <= ours.rlim_max || has_cap_sys_resource())
			continue;
		pr_err("can't dump task %d: its hard limit %d is %lu, above criu's (%lu), and restoring it needs "
		       "CAP_SYS_RESOURCE, which criu lacks\n", dc->pid, i, (unsigned long)dc->misc.rlim[i].max,
		       (unsigned long)ours.rlim_max);
		return -1;
	}
	if (dc->nr_timers && prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0) < 0) {
		pr_err("can't dump task %d: it has POSIX timers, and this kernel can't create them with their ids "
		       "(PR_TIMER_CREATE_RESTORE_IDS, Linux 6.17)\n", dc->pid);
		return -1;
	}
	return 0;
}

/*
 * The close-on-exec flag of every fd, asked inside: collect_fds() reads
 * the rest through criu's own copies of the fds, whose flags are criu's.
 */
static int fd_flags_inside(struct dump_ctx *dc, struct parasite_ctl *ctl)
{
	struct parasite_fd_flags *a = &((union parasite_args *)compel_parasite_args(ctl))->fd_flags;

	for (size_t i = 0; i < dc->fds.nr; i += PARASITE_MAX_FDS) {
		size_t n = dc->fds.nr - i < PARASITE_MAX_FDS ? dc->fds.nr - i : PARASITE_MAX_FDS;

		a->nr = n;
		for (size_t j = 0; j < n; j++)
			a->fd[j] = dc->fds.fds[i + j].fd;
		if (compel_rpc_call_sync(ctl, PARASITE_CMD_FD_FLAGS) < 0) {
			pr_perror("parasite failed to read the fd flags of %d", dc->pid);
			return -1;
		}
		for (size_t j = 0; j < n; j++) {
			if (a->flags[j] < 0) {
				pr_err("can't read the flags of fd %d of %d: %s\n", a->fd[j], dc->pid,
				       strerror(-a->flags[j]));
				return -1;
			}
			dc->fds.fds[i + j].fd_flags = a->flags[j] & FD_CLOEXEC;
		}
	}
	return 0;
}

/*
 * An area with a NUMA policy of its own (mbind(); of a shared memory
 * object, the object's) is not restored yet: refused by name rather than
 * brought back with the default. One get_mempolicy() per area, in the task.
 */
static int check_vma_policies(struct dump_ctx *dc, struct parasite_ctl *ctl)
{
	struct parasite_vma_policy *a = &((union parasite_args *)compel_parasite_args(ctl))->vma_policy;

	if (dc->vm_from)
		return 0;	/* the parent's areas, checked there */
	for (int i = 0; i < dc->nr_pvmas; i += PARASITE_MAX_VMAS) {
		int n = dc->nr_pvmas - i < PARASITE_MAX_VMAS ? dc->nr_pvmas - i : PARASITE_MAX_VMAS;

		a->nr = n;
		for (int j = 0; j < n; j++)
			a->addr[j] = dc->pvmas[i + j].start;
		if (compel_rpc_call_sync(ctl, PARASITE_CMD_VMA_POLICY) < 0) {
			pr_perror("parasite failed to read the memory policies of %d", dc->pid);
			return -1;
		}
		for (int j = 0; j < n; j++) {
			const struct proc_vma *v = &dc->pvmas[i + j];

			/* an error: an area the kernel keeps out of the mm's tree ([vsyscall]) */
			if (a->mode[j] <= 0)
				continue;
			pr_err("can't dump task %d: memory area %lx-%lx%s%s has a NUMA memory policy of its own "
			       "(mbind(), mode %d); not supported\n", dc->pid, (unsigned long)v->start,
			       (unsigned long)v->end, v->name ? " " : "", v->name ? v->name : "", a->mode[j]);
			return -1;
		}
	}
	return 0;
}

/* Whether VmFlags of the area holding @addr in /proc/PID/smaps has "lo" (VM_LOCKED) and "lf" (VM_LOCKONFAULT). */
static int area_lock_state(pid_t pid, unsigned long addr, bool *locked, bool *onfault)
{
	char *buf = read_proc_file(pid, "smaps", NULL), *p;
	int ret = -1;

	if (!buf) {
		pr_perror("can't read /proc/%d/smaps", pid);
		return -1;
	}
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned long s, e;
		char *f, *eol, *tok, *save = NULL;

		if (sscanf(p, "%lx-%lx ", &s, &e) != 2 || addr < s || addr >= e)
			continue;
		f = strstr(p, "\nVmFlags:");
		if (!f)
			break;
		eol = strchr(f + 1, '\n');
		if (eol)
			*eol = '\0';
		*locked = *onfault = false;
		for (tok = strtok_r(f + 9, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			*locked |= !strcmp(tok, "lo");
			*onfault |= !strcmp(tok, "lf");
		}
		ret = 0;
		break;
	}
	if (ret)
		pr_err("can't find the area %lx in /proc/%d/smaps\n", addr, pid);
	free(buf);
	return ret;
}

/*
 * mlockall(MCL_FUTURE) leaves no trace but in the flags of areas made
 * after it, such as the parasite's: it is locked then, and lock-on-fault
 * with MCL_ONFAULT. (No area of our own for it: one left behind by a
 * criu killed meanwhile would change the task.)
 */
static int read_mlock_future(struct dump_ctx *dc, struct parasite_ctl *ctl)
{
	unsigned long addr = compel_remote_addr(ctl, compel_parasite_args(ctl));
	struct proc_status now;
	bool locked, onfault;

	/*
	 * The cheap answer first: the frozen task's locked memory (VmLck) grew
	 * with the parasite's area only if that area is locked. smaps, which
	 * walks every page of every area (10-30 ms per GiB while frozen), is
	 * read only then, for lock-on-fault.
	 */
	if (parse_pid_status(dc->pid, &now))
		return -1;
	free_pid_status(&now);
	if (now.vm_lck_kb != UINT64_MAX && now.vm_lck_kb == dc->status.vm_lck_kb) {
		dc->mlock_future = 0;
		return 0;
	}
	if (area_lock_state(dc->pid, addr, &locked, &onfault))
		return -1;
	dc->mlock_future = locked ? MCL_FUTURE | (onfault ? MCL_ONFAULT : 0) : 0;
	return 0;
}

/*
 * Signals whose action the parasite need not read. Each syscall of a
 * strict-seccomp daemon is a stop and a window (Documentation/compel.md,
 * "Strict seccomp mode"), and rt_sigaction is 64 of them. In a process
 * whose threads are all in strict mode no one can read or change an
 * action again, and of one that is not a handler only the handler itself
 * (SIG_DFL or SIG_IGN, from status) acts, except SIGCHLD's flags
 * (SA_NOCLDSTOP, SA_NOCLDWAIT): those are read, with every caught signal.
 * Not for handlers shared with another process (CLONE_SIGHAND, vm_from).
 */
static uint64_t actions_not_read(struct dump_ctx *dc)
{
	/* handlers shared with another process (vm_from): that one may not be strict */
	if (dc->vm_from)
		return 0;
	for (int i = 0; i < dc->tree->nr; i++)
		if (dc->tree->p[i].vm_from == dc->pid)
			return 0;
	for (int i = 0; i < dc->nr_th; i++)
		if (dc->th[i].seccomp_mode != SECCOMP_MODE_STRICT_)
			return 0;
	return ~(dc->status.sigcgt | SIGMASK_BIT(SIGCHLD));
}

static void fill_actions_not_read(struct dump_ctx *dc)
{
	for (int s = 1; s <= NR_SIGNALS; s++)
		if (dc->misc.sa_skip & SIGMASK_BIT(s))
			dc->misc.sa[s - 1].handler = (dc->status.sigign & SIGMASK_BIT(s)) ? 1 /* SIG_IGN */ : 0 /* SIG_DFL */;
}

static int run_parasite(struct dump_ctx *dc)
{
	struct parasite_ctl *ctl;
	int ret = -1;

	ctl = compel_prepare(dc->pid);
	if (!ctl)
		return -1;
	pr_debug("task %d: prepared for the parasite\n", dc->pid);
	if (copy_state(&dc->th[0].regs, compel_orig_state(ctl)))
		goto cure;
	/* the tracking's userfaultfd is made by an injected syscall: before the parasite runs */
	if (!dc->vm_from && track_process(dc->tree, dc, ctl, track_protects()))
		goto cure;
	pr_debug("task %d: tracking taken\n", dc->pid);
	if (compel_infect(ctl, &parasite_blob, sizeof(union parasite_args)))
		goto cure;
	if (!dc->vm_from && read_mlock_future(dc, ctl))
		goto cure;
	pr_debug("task %d: parasite in, mlockall(MCL_FUTURE) read\n", dc->pid);
	union parasite_args *pa = compel_parasite_args(ctl);

	pa->misc.sa_skip = actions_not_read(dc);
	pa->misc.nr_timers = dc->nr_timers;
	dc->landlock_probe = landlock_probe(dc->pid, &dc->status);
	if (dc->landlock_probe < 0)
		goto cure;
	pa->misc.landlock_probe = dc->landlock_probe;
	for (int i = 0; i < dc->nr_timers; i++) {
		pa->misc.timers[i].id = dc->timers[i].id;
		pa->misc.timers[i].clock = dc->timers[i].clock;
		pa->misc.timers[i].signo = dc->timers[i].signo;
		/* a thread's own is taken in that thread (thread_timer_overruns()) */
		pa->misc.timers[i].pending = dc->timers[i].pending &&
					     (!(dc->timers[i].notify & SIGEV_THREAD_ID) || dc->timers[i].tid == dc->pid);
	}
	if (compel_rpc_call_sync(ctl, PARASITE_CMD_DUMP_MISC) < 0) {
		pr_perror("parasite failed to collect task state (step %d)",
			  ((union parasite_args *)compel_parasite_args(ctl))->misc.err_where);
		goto cure;
	}
	dc->misc = ((union parasite_args *)compel_parasite_args(ctl))->misc;
	if (landlock_check(dc->pid, dc->pid, dc->landlock_probe, dc->misc.landlock_kcmp))
		goto cure;
	fill_actions_not_read(dc);
	if (check_restorable(dc) || fd_flags_inside(dc, ctl) || check_vma_policies(dc, ctl))
		goto cure;
	memcpy(&dc->th[0].altstack, &dc->misc.altstack, sizeof(dc->th[0].altstack));
	dc->th[0].clear_child_tid = dc->misc.tid_address;
	dc->th[0].tsc = dc->misc.tsc;
	dc->th[0].cpuid = dc->misc.cpuid;
	dc->th[0].mce_kill = dc->misc.mce_kill;
	dc->th[0].mempolicy = dc->misc.mempolicy;
	memcpy(dc->th[0].mempolicy_nodes, dc->misc.mempolicy_nodes, sizeof(dc->th[0].mempolicy_nodes));
	memcpy(dc->th[0].spec, dc->misc.spec, sizeof(dc->th[0].spec));
	dc->th[0].timer_slack = dc->misc.timer_slack;
	dc->th[0].pdeath_sig = dc->misc.pdeath_sig;
	for (int i = 1; i < dc->nr_th; i++)
		if (dump_thread_inside(dc, ctl, &dc->th[i]))
			goto cure;
	pr_debug("task %d: task state read by the parasite\n", dc->pid);
	dc->md.live_start = dc->th[0].rseq.ptr;
	dc->md.live_end = dc->th[0].rseq.size ? dc->th[0].rseq.ptr + dc->th[0].rseq.size : 0;
	/* memory shared with the parent (vm_from) is dumped once, as the parent's */
	if (!dc->vm_from) {
		struct page_opts po = { .protect = track_protects(), .tt = dc->tt };

		if (opts.snapshot ? snapshot_task(dc, ctl, &po) :
		    dump_pages(ctl, dc->pid, dc->dfd, &dc->md, dc->st, dc->pages_id, dc->parent.md ? &dc->parent : NULL,
			       &po))
			goto cure;
	}
	ret = 0;
cure:
	if (compel_cure(ctl)) {
		pr_err("failed to remove the parasite from %d cleanly\n", dc->pid);
		ret = -1;
	}
	return ret;
}

/* What the task's vDSO exports, for a proxy if it is restored on another kernel. */
static int fill_vdso_syms(struct dump_ctx *dc)
{
	MmEntry *mm = &dc->md.mm;

	for (size_t i = 0; i < dc->md.nr_vmas; i++) {
		VmaEntry *v = &dc->md.vmas[i];

		if (v->kind != VMA_KIND__VMA_VDSO)
			continue;
		if (vdso_read_task_syms(dc->pid, v->start, v->end, &dc->vdso))
			return -1;
		for (int j = 0; j < dc->vdso.nr; j++) {
			vdso_sym_entry__init(&dc->vdso_syms[j]);
			dc->vdso_syms[j].name = dc->vdso.sym[j].name;
			dc->vdso_syms[j].offset = dc->vdso.sym[j].off;
			dc->vdso_sym_ptrs[j] = &dc->vdso_syms[j];
		}
		mm->n_vdso_syms = dc->vdso.nr;
		mm->vdso_syms = dc->vdso_sym_ptrs;
	}
	return 0;
}

static int fill_mm(struct dump_ctx *dc)
{
	MmEntry *mm = &dc->md.mm;
	char exe[PATH_MAX], path[64];
	struct stat st;
	size_t len;
	char *auxv;

	mm_entry__init(mm);
	mm->start_code = dc->stat.start_code;
	mm->end_code = dc->stat.end_code;
	mm->start_data = dc->stat.start_data;
	mm->end_data = dc->stat.end_data;
	mm->start_stack = dc->stat.start_stack;
	mm->start_brk = dc->stat.start_brk;
	mm->brk = dc->misc.brk;
	mm->arg_start = dc->stat.arg_start;
	mm->arg_end = dc->stat.arg_end;
	mm->env_start = dc->stat.env_start;
	mm->env_end = dc->stat.env_end;

	auxv = read_proc_file(dc->pid, "auxv", &len);
	if (!auxv) {
		pr_perror("can't read /proc/%d/auxv", dc->pid);
		return -1;
	}
	len /= 8;
	if (len > ARRAY_SIZE(dc->md.auxv))
		len = ARRAY_SIZE(dc->md.auxv);
	memcpy(dc->md.auxv, auxv, len * 8);
	free(auxv);
	mm->n_auxv = len;
	mm->auxv = dc->md.auxv;

	snprintf(path, sizeof(path), "/proc/%d/exe", dc->pid);
	if (read_link(path, exe, sizeof(exe)) < 0 || stat(path, &st)) {
		pr_perror("can't read the executable of %d", dc->pid);
		return -1;
	}
	/* unlinked (a binary upgraded under a running daemon): its mapping saved the file already */
	if (st.st_nlink == 0 ? fileobj_add_exe(dc->files, dc->pid, exe, &st, &mm->exe_file_id) :
			       file_table_add_path(dc->files, exe, O_RDONLY, &st, &mm->exe_file_id))
		return -1;
	mm->n_vmas = dc->md.nr_vmas;
	mm->vmas = dc->md.vma_ptrs;
	return fill_vdso_syms(dc);
}

static int write_mm(struct dump_ctx *dc)
{
	struct cr_img *img = open_image_at(dc->dfd, CR_FD_MM, O_DUMP, dc->pid);
	int ret;

	if (!img)
		return -1;
	ret = pb_write_one(img, &dc->md.mm);
	return finish_image(img, ret);
}

static int write_pstree_entry(struct cr_img *img, struct dump_ctx *dc)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	int32_t *tids = calloc(dc->nr_th + 1, sizeof(*tids));
	uint32_t ids[6];
	int ret;

	if (!tids) {
		pr_err("out of memory\n");
		return -1;
	}
	pe.pid = dc->pid;
	pe.ppid = dc->ppid;
	pe.pgid = dc->stat.pgid;
	pe.sid = dc->stat.sid;
	if (dc->pgid_gone)
		pe.has_pgid_gone = pe.pgid_gone = true;
	if (dc->fs_from)
		pe.has_fs_from = true, pe.fs_from = dc->fs_from;
	if (dc->files_from)
		pe.has_files_from = true, pe.files_from = dc->files_from;
	if (dc->session_from)
		pe.has_session_from = true, pe.session_from = dc->session_from;
	if (dc->session_gone)
		pe.has_session_gone = true, pe.session_gone = dc->session_gone;
	if (dc->vm_from)
		pe.has_vm_from = true, pe.vm_from = dc->vm_from;
	for (int i = 0; i < dc->nr_th; i++)
		tids[i] = dc->th[i].tid;
	pe.n_threads = dc->nr_th;
	pe.threads = tids;
	ns_fill_pstree(dc->pid, &pe);
	if (dc->zombie) {
		tids[0] = dc->pid;
		pe.n_threads = 1;
		pe.has_zombie = pe.has_exit_code = true;
		pe.zombie = true;
		pe.exit_code = dc->exit_code;
		pe.comm = dc->stat.comm;
		for (int i = 0; i < 3; i++) {
			ids[i] = dc->status.uid[i];
			ids[3 + i] = dc->status.gid[i];
			if (ns_uid_inside(&ids[i], 0) || ns_uid_inside(&ids[3 + i], 1)) {
				pr_err("can't dump zombie %d: its uid %u or gid %u is not mapped in its user "
				       "namespace\n", dc->pid, dc->status.uid[i], dc->status.gid[i]);
				free(tids);
				return -1;
			}
		}
		pe.n_zombie_uids = pe.n_zombie_gids = 3;
		pe.zombie_uids = ids;
		pe.zombie_gids = ids + 3;
	}
	ret = pb_write_one(img, &pe);
	free(tids);
	return ret;
}

/* The modes of the terminal at fd 0, 1 or 2 of @pid (a shell job), or NULL. */
static ShellTtyEntry *shell_tty_modes(pid_t pid, ShellTtyEntry *st, uint8_t *cc)
{
	for (int fd = 0; fd < 3; fd++) {
		char path[64];
		struct termios t;
		int tfd, ok;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
		tfd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (tfd < 0)
			continue;
		ok = isatty(tfd) && !tcgetattr(tfd, &t);
		close(tfd);
		if (!ok)
			continue;
		shell_tty_entry__init(st);
		st->iflag = t.c_iflag;
		st->oflag = t.c_oflag;
		st->lflag = t.c_lflag;
		memcpy(cc, t.c_cc, NCCS);
		st->cc.data = cc;
		st->cc.len = NCCS;
		return st;
	}
	return NULL;
}

/* Written last: restore refuses a directory without it. */
int write_inventory(int dfd, pid_t root, bool pre_dump, const struct dump_ctx *rc)
{
	InventoryEntry ie = INVENTORY_ENTRY__INIT;
	ShellTtyEntry st;
	uint8_t cc[NCCS];
	struct utsname u;
	struct timeval tv;
	struct cr_img *img;
	char *options[4];
	int nopt = 0, ret;

	uname(&u);
	gettimeofday(&tv, NULL);
	ie.img_version = IMG_FORMAT_VERSION;
	ie.tool_version = CR_VERSION;
	ie.kernel_release = u.release;
	ie.root_pid = root;
	ie.has_leave_running = true;
	ie.leave_running = opts.leave_running;
	ie.has_shell_job = true;
	ie.shell_job = opts.shell_job;
	if (opts.shell_job)
		options[nopt++] = "shell-job";
	if (opts.shell_job && rc && rc->stat.pgid == rc->pid && rc->stat.tpgid == rc->pid) {
		ie.has_shell_job_fg = ie.shell_job_fg = true;
		ie.shell_tty = shell_tty_modes(rc->pid, &st, cc);
	}
	if (opts.leave_running)
		options[nopt++] = "leave-running";
	ie.n_options = nopt;
	ie.options = options;
	ie.has_dump_time_us = true;
	ie.dump_time_us = tv.tv_sec * 1000000ULL + tv.tv_usec;
	ie.has_page_size = true;
	ie.page_size = PAGE_SIZE;
	if (pre_dump)
		ie.has_pre_dump = ie.pre_dump = true;
	ie.has_dump_id = true;
	ie.dump_id = img_get_dump_id();
	if (parent_dump_id)
		ie.has_parent_dump_id = true;
	ie.parent_dump_id = parent_dump_id;

	img = open_image_at(dfd, CR_FD_INVENTORY, O_DUMP);
	if (!img)
		return -1;
	ret = pb_write_one(img, &ie);
	if (finish_image(img, ret))
		return -1;
	/* the page server's dir holds the pages: with the inventory it is a whole parent for a chain */
	return ps_active() ? ps_send_inventory(&ie) : 0;
}

static int write_task_images(struct dump_ctx *dc)
{
	for (int i = 0; i < dc->nr_th; i++)
		if (write_core(dc, &dc->th[i]))
			return -1;
	if (!dc->vm_from && (fill_mm(dc) || write_mm(dc)))
		return -1;
	if (dump_fdinfo(dc->dfd, dc->pid, &dc->fds) || dump_fs(dc->dfd, dc->pid))
		return -1;
	return 0;
}

/* A signal the dump's end depends on: tried twice, and a failure said. */
static int signal_task(pid_t pid, int sig)
{
	if (kill(pid, sig) && kill(pid, sig)) {
		pr_perror("can't send signal %d to %d at the end of the dump", sig, pid);
		return -1;
	}
	return 0;
}

static int finish_task(struct dump_ctx *dc, int ok, uint64_t *frozen, uint64_t t_frozen)
{
	int status, ret = 0;

	/*
	 * Frozen until let go: taken before, as the task let go (or killed: its
	 * exit tears its memory down) may well run on our CPU right away.
	 */
	*frozen = now_us() - t_frozen;
	if (!ok || opts.leave_running) {
		release_threads(dc);
		return 0;
	}
	if (opts.leave_stopped) {
		ret = signal_task(dc->pid, SIGSTOP);
		release_threads(dc);
		return ret;
	}
	if (signal_task(dc->pid, SIGKILL)) {
		/* waiting for an end that does not come would hang us: it runs on */
		release_threads(dc);
		return -1;
	}
	/*
	 * We trace every thread: collect each exit so the pid is gone when we
	 * return. The leader's comes only after all the others'.
	 */
	for (int i = dc->nr_th - 1; i >= 0; i--) {
		while (compel_wait(dc->th[i].tid, &status) == dc->th[i].tid && !WIFEXITED(status) &&
		       !WIFSIGNALED(status))
			ptrace(PTRACE_CONT, dc->th[i].tid, NULL, NULL);
	}
	return 0;
}

void free_ctx(struct dump_ctx *dc)
{
	free_maps(dc->pvmas, dc->nr_pvmas);
	free(dc->smaps);
	free_pid_status(&dc->status);
	fd_list_free(&dc->fds);
	free_mm_dump(&dc->md);
	for (int i = 0; dc->th && i < dc->nr_th; i++) {
		free(dc->th[i].regs.xsave);
		free(dc->th[i].sig);
		free(dc->th[i].sigbuf);
		for (size_t j = 0; j < dc->th[i].nr_filters; j++)
			free(dc->th[i].filters[j].data);
		free(dc->th[i].filters);
		free(dc->th[i].filter_flags);
		free_pid_status(&dc->th[i].status);
	}
	free(dc->th);
	free(dc->sig_shared);
	free(dc->shared_buf);
}

/* ---- the tree ---- */

struct dump_ctx *tree_find(struct dump_tree *t, pid_t pid)
{
	int32_t i = pid > 0 ? pidmap_get(&t->idx, pid) : -1;

	return i < 0 ? NULL : &t->p[i];
}

static struct dump_ctx *tree_add(struct dump_tree *t, pid_t pid, pid_t ppid)
{
	struct dump_ctx *dc;

	if (t->nr == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		struct dump_ctx *n = realloc(t->p, cap * sizeof(*n));

		if (!n) {
			pr_err("out of memory\n");
			return NULL;
		}
		t->p = n;
		t->cap = cap;
	}
	if (pidmap_set(&t->idx, pid, t->nr)) {
		pr_err("out of memory\n");
		return NULL;
	}
	dc = &t->p[t->nr++];
	memset(dc, 0, sizeof(*dc));
	dc->pid = pid;
	dc->ppid = ppid;
	dc->dfd = t->dfd;
	dc->files = &t->files;
	dc->st = &t->st;
	dc->pages_id = t->nr;
	dc->tree = t;
	return dc;
}

/*
 * A process whose main thread is a zombie (it called pthread_exit()) while
 * other threads run on reads as a zombie in /proc/PID/stat: 0 if it is a
 * whole zombie, -1 (refused, naming it) if threads live on.
 */
static int leader_gone_threads_live(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int nr = 0, ret;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;	/* reaped meanwhile: the caller finds it gone */
	while ((ret = next_dirent(d, &de, path)) == 1)
		if (de->d_name[0] != '.' && atoi(de->d_name) != pid)
			nr++;
	closedir(d);
	if (ret < 0)
		return -1;
	if (!nr)
		return 0;
	pr_err("can't dump process %d: its main thread has exited (pthread_exit()) while %d other thread%s "
	       "run%s on; not supported\n", pid, nr, nr > 1 ? "s" : "", nr > 1 ? "" : "s");
	return -1;
}

/*
 * Seize a process, or note it as a zombie: also one that exited while we
 * seized it (its parent, seized before it, can't reap it meanwhile).
 */
static int seize_process(struct dump_ctx *dc)
{
	int ret;

	for (int tries = 0;; tries++) {
		if (parse_pid_stat(dc->pid, &dc->stat)) {
			pr_err("process %d vanished while the tree was being frozen\n", dc->pid);
			return -1;
		}
		if (dc->stat.state == 'Z') {
			if (leader_gone_threads_live(dc->pid))
				return -1;
			dc->zombie = 1;
			dc->exit_code = dc->stat.exit_code;
			/* its ids stay: ps and the parent's waitid() show them */
			if (parse_pid_status(dc->pid, &dc->status)) {
				pr_err("can't read the status of zombie %d\n", dc->pid);
				return -1;
			}
			return 0;
		}
		if (tries == 0) {
			/* a frozen task would not stop for us before it is thawed */
			if (!cgfreeze_seized(dc->pid) && cgroup_task_frozen(dc->pid))
				return -1;
			ret = seize_threads(dc);
			if (ret <= 0)
				return ret;
			pr_info("process %d exited while being seized: waiting for its zombie\n", dc->pid);
		} else if (tries == 1000) {
			pr_err("process %d was exiting while the tree was being frozen, and did not finish\n",
			       dc->pid);
			return -1;
		}
		usleep(1000);
	}
}

/* Add the children of every thread of @dc that are not in the tree yet. */
static int add_children(struct dump_tree *t, int idx, int *added)
{
	pid_t pid = t->p[idx].pid;
	char name[64];

	if (t->p[idx].zombie)
		return 0;
	for (int i = 0; i < t->p[idx].nr_th; i++) {
		char *buf, *tok, *save = NULL;

		snprintf(name, sizeof(name), "task/%d/children", t->p[idx].th[i].tid);
		buf = read_proc_file(pid, name, NULL);
		if (!buf) {
			pr_perror("can't read the children of %d", pid);
			return -1;
		}
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			pid_t c = atoi(tok);
			struct dump_ctx *dc;

			if (c <= 0 || tree_find(t, c))
				continue;
			dc = tree_add(t, c, pid);
			if (!dc || seize_process(dc)) {
				free(buf);
				return -1;
			}
			(*added)++;
		}
		free(buf);
	}
	return 0;
}

/*
 * The tree stopped, with its --freeze-cgroup if given. --timeout N bounds
 * the whole of it: each task's stop is waited for only until N seconds
 * from the start (in place of 3 s a task; the freezer cgroup's 10 s
 * become N), and a tree that took longer in all is refused too. A
 * failure leaves what was seized to the caller's rollback, as any other.
 */
int freeze_all(struct dump_tree *t, pid_t root)
{
	uint64_t start = now_us();
	int ret;

	if (opts.timeout) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		compel_set_stop_deadline((ts.tv_sec + (long long)opts.timeout) * 1000000000LL + ts.tv_nsec,
					 opts.timeout);
	}
	ret = cgfreeze_begin() || freeze_tree(t, root) || cgfreeze_check_claimed() ? -1 : 0;
	compel_set_stop_deadline(0, 0);
	if (!ret && opts.timeout && now_us() - start > opts.timeout * 1000000ULL) {
		pr_err("the tree took %.1f s to freeze, more than --timeout %u s\n", (now_us() - start) / 1e6,
		       opts.timeout);
		ret = -1;
	}
	return ret;
}

/*
 * Freeze the whole tree: seize each process as it is found, then look
 * again at everyone's children until a pass finds nobody new (a process
 * may have forked before we got to it).
 */
int freeze_tree(struct dump_tree *t, pid_t root)
{
	struct dump_ctx *dc = tree_add(t, root, 0);
	int added = 1;

	if (!dc || seize_process(dc))
		return -1;
	if (dc->zombie) {
		pr_err("%d is a zombie: nothing to dump\n", root);
		return -1;
	}
	while (added) {
		added = 0;
		for (int i = 0; i < t->nr; i++)
			if (add_children(t, i, &added))
				return -1;
	}
	return 0;
}

static int is_ancestor(struct dump_tree *t, pid_t anc, struct dump_ctx *dc)
{
	while (dc && dc->ppid) {
		if (dc->ppid == anc)
			return 1;
		dc = tree_find(t, dc->ppid);
	}
	return 0;
}

/*
 * A group outlives its leader, and its id stays reserved while it does:
 * no process has that pid. Restore makes the group again with a helper
 * (criu/restore/pgrp.c). The session's own group is not one of these: it would
 * need the session rebuilt too.
 */
static int group_leader_gone(struct dump_tree *t, pid_t pgid, pid_t sid)
{
	char path[64];

	if (pgid == sid || tree_find(t, pgid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", pgid);
	return access(path, F_OK) && errno == ENOENT;
}

/*
 * A group led by another task of the tree than an ancestor, in the same
 * session: a shell's pipeline, whose first process leads the group of
 * its siblings. Restore has the members join once the leader made it.
 */
static int led_in_tree(struct dump_tree *t, pid_t pgid, pid_t sid)
{
	struct dump_ctx *l = tree_find(t, pgid);

	return l && l->stat.pgid == pgid && l->stat.sid == sid;
}

/*
 * The session of a zombie sibling that led it (its members were
 * re-parented to their parent's parent, or a subreaper): restore has the
 * leader, alive again, fork the process with CLONE_PARENT before it dies,
 * so the process needs to be in the leader's group or its own.
 */
static int in_zombie_session(struct dump_tree *t, struct dump_ctx *dc)
{
	struct dump_ctx *z = tree_find(t, dc->stat.sid);

	if (!z || !z->zombie || z->stat.sid != z->pid || z->ppid != dc->ppid)
		return 0;
	if (dc->stat.pgid != z->pid && dc->stat.pgid != dc->pid) {
		pr_err("can't dump task %d: it is in the session of zombie %d but in process group %d, "
		       "neither the session's nor its own; not supported yet\n", dc->pid, z->pid, dc->stat.pgid);
		return -1;
	}
	dc->session_from = z->pid;
	return 1;
}

/*
 * Members of session @sid (leader gone) whose parents outside it are @a
 * and @b: possible only where one of them, a child of the other, left
 * the session (setsid()) after forking its members, as a daemon that
 * makes its own session late does, and the other adopted the orphans (a
 * subreaper). The one that left, or NULL.
 */
static struct dump_ctx *left_of(struct dump_tree *t, pid_t a, pid_t b)
{
	struct dump_ctx *pa = tree_find(t, a), *pb = tree_find(t, b);

	if (pb && pb->ppid == a && pb->stat.sid == pb->pid)
		return pb;
	if (pa && pa->ppid == b && pa->stat.sid == pa->pid)
		return pa;
	return NULL;
}

/*
 * @x left session @sid: restore has the session's helper fork it (a
 * member of the adopter, @x's parent, like the others), and @x forks its
 * children of the session, then calls setsid() (fork.c). So it leads its
 * session and group, has no terminal, shares nothing with its parent.
 * Its children of the session, if marked as the helper's, are its own.
 */
static int mark_left(struct dump_tree *t, struct dump_ctx *x, pid_t sid, struct pidmap *parents)
{
	if (x->stat.pgid != x->pid || x->zombie || x->stat.tty_nr || x->fs_from || x->files_from || x->vm_from ||
	    x->session_gone) {
		pr_err("can't dump task %d: it left session %d, whose leader is gone and where its children are, and "
		       "%s; not supported\n", x->pid, sid,
		       x->zombie ? "is a zombie" : x->stat.tty_nr ? "has a terminal" :
		       x->session_gone ? "another such session" : "shares its parent's fs, fd table or memory, or "
		       "does not lead its group");
		return -1;
	}
	x->session_gone = sid;
	for (int i = 0; i < t->nr; i++)
		if (t->p[i].ppid == x->pid && t->p[i].session_gone == sid)
			t->p[i].session_gone = 0;
	pr_info("task %d left session %d, whose leader is gone, after forking members of it\n", x->pid, sid);
	return pidmap_set(parents, sid, x->ppid);
}

/*
 * The session of a leader that is gone: a daemon's double fork (fork,
 * setsid, fork, exit), its last child re-parented to a subreaper of the
 * tree. Restore has a helper with the leader's pid, a child of the
 * parent, call setsid() and fork the session's members with CLONE_PARENT,
 * then exit. So the members the parent has (those whose parent is not in
 * the session) must all be of one parent (but for those of a process
 * that left the session, mark_left()), in the session's group or their
 * own, and share nothing with it.
 */
static int in_gone_session(struct dump_tree *t, struct dump_ctx *dc, struct pidmap *parents)
{
	pid_t sid = dc->stat.sid, pgid = dc->stat.pgid;
	int32_t other;
	char path[64];

	if (tree_find(t, sid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", sid);
	if (!access(path, F_OK) || errno != ENOENT)
		return 0;	/* its leader lives, outside the tree */
	if (pgid != sid && pgid != dc->pid) {
		pr_err("can't dump task %d: it is in session %d, whose leader is gone, but in process group %d, "
		       "neither the session's nor its own; not supported yet\n", dc->pid, sid, pgid);
		return -1;
	}
	other = pidmap_get(parents, sid);
	if (other >= 0 && other != dc->ppid) {
		struct dump_ctx *x = left_of(t, other, dc->ppid);

		if (!x) {
			pr_err("can't dump task %d: it is in session %d, whose leader is gone, as children of %d are; "
			       "members of two parents are not supported (but for those of a child of the other that "
			       "left the session)\n", dc->pid, sid, other);
			return -1;
		}
		if (x->session_gone != sid && mark_left(t, x, sid, parents))
			return -1;
		if (x->pid == dc->ppid)
			return 1;	/* forked by its parent before that left the session */
	}
	if (dc->fs_from || dc->files_from || dc->vm_from) {
		pr_err("can't dump task %d: it is in session %d, whose leader is gone, and shares its parent's fs, "
		       "fd table or memory; not supported\n", dc->pid, sid);
		return -1;
	}
	if (other < 0 && pidmap_set(parents, sid, dc->ppid))
		return -1;
	dc->session_gone = sid;
	return 1;
}

/*
 * A child whose exit signal is not SIGCHLD (clone() with another one, or
 * none) is forked again with it. Not where restore forks it with
 * CLONE_PARENT or CLONE_VM (its exit signal is then the kernel's
 * choice), nor for a zombie, whose exit during the restore would raise
 * that signal in its parent a second time.
 */
static int check_exit_signals(struct dump_tree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *dc = &t->p[i];
		const char *why = dc->zombie ? "a zombie" : dc->vm_from ? "sharing its parent's memory" :
				  dc->session_from || dc->session_gone ? "in a session forked by a helper" : NULL;

		if (!dc->ppid || dc->stat.exit_signal == SIGCHLD || !why)
			continue;
		pr_err("can't dump task %d: its exit signal is %d, not SIGCHLD, and it is %s; not supported\n",
		       dc->pid, dc->stat.exit_signal, why);
		return -1;
	}
	return 0;
}

/*
 * Sessions and groups must be re-creatable by forking the tree again:
 * a session is the task's own, its parent's, or that of a zombie sibling
 * that led it; a group is its own, its parent's, led by another task of
 * the tree in the session, or one whose leader is gone.
 */
static int check_sid_pgid(struct dump_tree *t)
{
	struct pidmap gone = { 0 };	/* session whose leader is gone -> the parent of its members */
	int ret = -1;

	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *dc = &t->p[i], *parent = tree_find(t, dc->ppid);
		int sid = dc->stat.sid, pgid = dc->stat.pgid;

		if (!parent) {	/* the root */
			/* 0: led by a process its pid namespace doesn't show (the dump agent's view) */
			if (sid != dc->pid && !opts.shell_job) {
				if (sid)
					pr_err("can't dump task %d: its session leader %d is outside the dump; "
					       "use --shell-job if it is a shell job\n", dc->pid, sid);
				else
					pr_err("can't dump task %d (the init of its pid namespace): its session is led "
					       "from outside the namespace; use --shell-job if it is a shell job\n",
					       dc->pid);
				goto out;
			}
			if (pgid != dc->pid && pgid != sid && !opts.shell_job) {
				if (pgid)
					pr_err("can't dump task %d: its process group %d is led from outside the dump\n",
					       dc->pid, pgid);
				else
					pr_err("can't dump task %d (the init of its pid namespace): its process group is "
					       "led from outside the namespace; use --shell-job if it is a shell job\n",
					       dc->pid);
				goto out;
			}
			continue;
		}
		if (sid != dc->pid && sid != parent->stat.sid) {
			int r = in_zombie_session(t, dc);

			if (!r && !dc->zombie)
				r = in_gone_session(t, dc, &gone);
			if (r < 0)
				goto out;
			if (r)
				continue;
			pr_err("can't dump task %d: it is in session %d, neither its own, its parent's, a "
			       "zombie sibling's nor one whose leader is gone; not supported yet\n", dc->pid, sid);
			goto out;
		}
		if (pgid != dc->pid && pgid != parent->stat.pgid && !is_ancestor(t, pgid, dc) &&
		    !led_in_tree(t, pgid, sid) && !(dc->pgid_gone = group_leader_gone(t, pgid, sid))) {
			pr_err("can't dump task %d: its process group %d is led by a process that is neither "
			       "in the tree, nor gone; not supported yet\n", dc->pid, pgid);
			goto out;
		}
		if (dc->zombie && pgid == dc->pid && sid != dc->pid) {
			pr_err("can't dump task %d: a zombie leading its own process group (but not its session); "
			       "not supported yet\n", dc->pid);
			goto out;
		}
	}
	ret = 0;
out:
	pidmap_free(&gone);
	return ret;
}

/* Ptys: both ends inside, sessions' terminals known (tty.c). */
static int check_ttys(struct dump_tree *t)
{
	struct tty_proc *p = calloc(t->nr > 0 ? (size_t)t->nr : 1, sizeof(*p));
	int ret;

	if (!p) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < t->nr; i++)
		p[i] = (struct tty_proc){ .pid = t->p[i].pid, .sid = t->p[i].stat.sid, .pgid = t->p[i].stat.pgid,
					  .tty_nr = t->p[i].stat.tty_nr, .tpgid = t->p[i].stat.tpgid, .zombie = t->p[i].zombie };
	ret = tty_check_tree(&t->files, p, t->nr);
	free(p);
	return ret;
}

/* Is the siginfo @si the signal of POSIX timer @id (SI_TIMER, si_tid)? */
static int is_timer_signal(const uint8_t *si, int id, int signo)
{
	int32_t s, code, tid;

	memcpy(&s, si, sizeof(s));
	memcpy(&code, si + 8, sizeof(code));
	memcpy(&tid, si + 16, sizeof(tid));
	return s == signo && code == SI_TIMER && tid == id;
}

static size_t count_signo(const SiginfoEntry *l, size_t n, int signo)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += *(const int32_t *)l[i].siginfo.data == signo;
	return c;
}

/*
 * Can timer @i of @dc come back with its own signal pending (its list has
 * @others other signals of that number)? 0, or -1 said.
 */
static int timer_pending_ok(struct dump_ctx *dc, int i, size_t others)
{
	int signo = dc->timers[i].signo, id = dc->timers[i].id, clock = dc->timers[i].clock;

	if (others || (!(dc->timers[i].notify & SIGEV_THREAD_ID) && count_signo(dc->th[0].sig, dc->th[0].nr_sig, signo))) {
		pr_err("can't dump task %d: the signal %d of POSIX timer %d is pending with other signals of that "
		       "number queued; not supported\n", dc->pid, signo, id);
		return -1;
	}
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME && clock != CLOCK_TAI) {
		pr_err("can't dump task %d: the signal %d of POSIX timer %d (clock %d) is pending; only timers of "
		       "the realtime, monotonic, boottime and TAI clocks are supported with one\n", dc->pid, signo, id,
		       clock);
		return -1;
	}
	return 0;
}

/*
 * A timer's own signal, pending (it fired while blocked): the kernel keeps
 * one per timer, and counts the expiries after it as its overruns. It is
 * not queued again as a signal of its own at restore (it would come twice,
 * once from the copy and once from the timer, and without its overruns):
 * the timer is marked, and its entry leaves the list. The parasite reads
 * its overruns so far by taking it and making the timer queue it again
 * (dump_misc()): only with no other signal of its number before it, in the
 * leader (where the parasite runs), and on a clock whose expiries come by
 * themselves (not CPU time).
 */
static int match_timer_signals(struct dump_ctx *dc)
{
	for (int i = 0; i < dc->nr_timers; i++) {
		int signo = dc->timers[i].signo, id = dc->timers[i].id;
		int to_thread = dc->timers[i].notify & SIGEV_THREAD_ID;
		SiginfoEntry *l = dc->sig_shared;
		size_t *n = &dc->nr_sig_shared, j;

		if ((dc->timers[i].notify & ~SIGEV_THREAD_ID) == SIGEV_NONE)
			continue;
		for (int t = 0; to_thread && t < dc->nr_th; t++)
			if (dc->th[t].tid == dc->timers[i].tid) {
				l = dc->th[t].sig;
				n = &dc->th[t].nr_sig;
			}
		if (to_thread && l == dc->sig_shared)
			continue;	/* a thread gone: its signal with it */
		for (j = 0; j < *n && !is_timer_signal(l[j].siginfo.data, id, signo); j++)
			;
		if (j == *n)
			continue;
		if (timer_pending_ok(dc, i, count_signo(l, *n, signo) - 1))
			return -1;
		dc->timers[i].pending = 1;
		memmove(&l[j], &l[j + 1], (*n - j - 1) * sizeof(*l));
		(*n)--;
		pr_info("task %d: POSIX timer %d has its signal %d pending\n", dc->pid, id, signo);
	}
	return 0;
}

static int32_t si_code_of(const SiginfoEntry *e)
{
	int32_t code;

	memcpy(&code, e->siginfo.data + 8, sizeof(code));
	return code;
}

/*
 * The list read at collection (@l, @n) and the one read now (@nl, @nn):
 * while every signal is blocked they only grow, the first read a prefix
 * of the second but for POSIX timers' own signals (taken out of the first
 * by match_timer_signals(), taken and queued again by the parasite): those
 * are left out of the comparison. The signals that came since are moved to
 * the front of @nl, their number in *@nnew; -1 if the first list is not
 * there whole (something took a signal while we held the task).
 */
static int signals_since(const SiginfoEntry *l, size_t n, SiginfoEntry *nl, size_t nn, size_t *nnew)
{
	size_t i = 0, j = 0, k = 0;

	while (i < n || j < nn) {
		if (i < n && si_code_of(&l[i]) == SI_TIMER) {
			i++;
			continue;
		}
		if (j < nn && si_code_of(&nl[j]) == SI_TIMER) {
			j++;
			continue;
		}
		if (i == n)
			break;
		if (j == nn || memcmp(l[i].siginfo.data, nl[j].siginfo.data, 128))
			return -1;
		i++;
		j++;
	}
	for (; j < nn; j++)
		if (si_code_of(&nl[j]) != SI_TIMER)
			nl[k++] = nl[j];
	*nnew = k;
	return 0;
}

/* @list (*@n of them, their bytes in *@bufp) with @nnew more from @add, all in a new buffer. */
static int append_signals(SiginfoEntry **list, size_t *n, uint8_t (**bufp)[128], const SiginfoEntry *add,
			  size_t nnew)
{
	SiginfoEntry *nl = malloc((*n + nnew) * sizeof(*nl));
	uint8_t (*nb)[128] = malloc((*n + nnew) * 128);

	if (!nl || !nb) {
		free(nl);
		free(nb);
		pr_err("out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		nl[i] = (*list)[i];
		memcpy(nb[i], (*list)[i].siginfo.data, 128);
	}
	for (size_t i = 0; i < nnew; i++) {
		siginfo_entry__init(&nl[*n + i]);
		nl[*n + i].siginfo.len = 128;
		memcpy(nb[*n + i], add[i].siginfo.data, 128);
	}
	*n += nnew;
	for (size_t i = 0; i < *n; i++)
		nl[i].siginfo.data = nb[i];
	free(*list);
	free(*bufp);
	*list = nl;
	*bufp = nb;
	return 0;
}

/* One list (a thread's, or the process's shared one) read again: 1 if it grew, 0, -1. */
static int recheck_list(pid_t pid, int shared, SiginfoEntry **list, size_t *n, uint8_t (**bufp)[128])
{
	SiginfoEntry *nl = NULL;
	uint8_t (*nb)[128] = NULL;
	size_t nn = 0, nnew = 0;
	int ret = -1;

	if (peek_signals(pid, shared, &nl, &nn, &nb)) {
		/* only SIGKILL ends a task criu holds */
		if (errno == ESRCH)
			pr_err("can't dump task %d: it died while it was held (SIGKILL?), the images have it alive\n",
			       pid);
		goto out;
	}
	if (signals_since(*list, *n, nl, nn, &nnew)) {
		pr_err("can't dump task %d: its %s pending signals changed while it was held\n", pid,
		       shared ? "shared" : "own");
		goto out;
	}
	ret = 0;
	if (nnew) {
		pr_info("task %d: %zu signals came during the dump: they go into its image\n", pid, nnew);
		ret = append_signals(list, n, bufp, nl, nnew) ? -1 : 1;
	}
out:
	free(nl);
	free(nb);
	return ret;
}

/*
 * The alarm (ITIMER_REAL) went off while the tree was held: its SIGALRM
 * (SI_KERNEL, which no one else sends) is among the signals that came
 * since entry @from of the shared list. The timer was read armed before
 * that: restored so, it would go off again after the restore, a one-shot
 * alarm twice. It is recorded as the kernel has it now: a one-shot one
 * spent, a periodic one at 0 with its interval, armed again when its
 * signal is taken (rearm_fired_itimer() at restore).
 */
static void settle_fired_alarm(struct dump_ctx *dc, size_t from)
{
	struct k_itimerval *it = &dc->misc.itimer[ITIMER_REAL];

	for (size_t i = from; i < dc->nr_sig_shared; i++) {
		int32_t signo;

		memcpy(&signo, dc->sig_shared[i].siginfo.data, sizeof(signo));
		if (signo != SIGALRM || si_code_of(&dc->sig_shared[i]) != SI_KERNEL)
			continue;
		if (it->value_sec || it->value_usec)
			pr_info("task %d: its alarm went off during the dump\n", dc->pid);
		it->value_sec = it->value_usec = 0;
		return;
	}
}

/*
 * A one-shot POSIX timer that went off after the signals were read and
 * before the parasite read the timers: read spent, its signal in no list
 * (the second read leaves timers' signals out, for a timer fires again
 * after the restore), it would come back spent with no signal, its expiry
 * lost. Its signal, pending now, is recorded as such. 1 if one was, 0, -1.
 */
static int settle_spent_timers(struct dump_ctx *dc)
{
	int found = 0;

	for (int i = 0; i < dc->nr_timers; i++) {
		struct k_itimerspec *sp = &dc->misc.timers[i].spec;
		int to_thread = dc->timers[i].notify & SIGEV_THREAD_ID, shared = 1, r;
		SiginfoEntry *l = dc->sig_shared, *nl = NULL;
		size_t n = dc->nr_sig_shared, nn = 0, j;
		uint8_t (*nb)[128] = NULL;
		pid_t from = dc->pid;

		if ((dc->timers[i].notify & ~SIGEV_THREAD_ID) == SIGEV_NONE || dc->timers[i].pending ||
		    sp->value_sec || sp->value_nsec || sp->interval_sec || sp->interval_nsec)
			continue;
		for (int t = 0; to_thread && t < dc->nr_th; t++)
			if (dc->th[t].tid == dc->timers[i].tid) {
				l = dc->th[t].sig;
				n = dc->th[t].nr_sig;
				from = dc->th[t].tid;
				shared = 0;
			}
		if (to_thread && shared)
			continue;	/* a thread gone: its signal with it */
		r = peek_signals(from, shared, &nl, &nn, &nb);
		for (j = 0; !r && j < nn && !is_timer_signal(nl[j].siginfo.data, dc->timers[i].id, dc->timers[i].signo);
		     j++)
			;
		free(nl);
		free(nb);
		if (r)
			return -1;
		if (j == nn)
			continue;
		if (timer_pending_ok(dc, i, count_signo(l, n, dc->timers[i].signo)))
			return -1;
		pr_info("task %d: POSIX timer %d went off during the dump: its signal %d is pending\n", dc->pid,
			dc->timers[i].id, dc->timers[i].signo);
		dc->timers[i].pending = 1;
		dc->misc.timers[i].sig_overrun = 0;
		found = 1;
	}
	return found;
}

/*
 * Signals sent to the tree after their lists were read, while it was held:
 * they are the tree's as much as the ones before, and the killed tree
 * would lose them. The lists are read again after the post-dump hook,
 * and the cores of a process whose lists grew are written again. What
 * comes between this and the kill is lost (microseconds, but for a lazy
 * dump's serving). A POSIX
 * timer's own signal that came meanwhile is left out: the timer is
 * restored as it was read, and fires again.
 */
static int recheck_signals(struct dump_tree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *dc = &t->p[i];
		int grew = 0, r;
		size_t from;

		if (dc->zombie || !dc->th)
			continue;
		for (int j = 0; j < dc->nr_th; j++) {
			struct dump_thread *th = &dc->th[j];

			r = recheck_list(th->tid, 0, &th->sig, &th->nr_sig, &th->sigbuf);
			if (r < 0)
				return -1;
			grew |= r;
		}
		from = dc->nr_sig_shared;
		r = recheck_list(dc->pid, 1, &dc->sig_shared, &dc->nr_sig_shared, &dc->shared_buf);
		if (r < 0)
			return -1;
		if (r)
			settle_fired_alarm(dc, from);
		grew |= r;
		r = settle_spent_timers(dc);
		if (r < 0)
			return -1;
		grew |= r;
		for (int j = 0; grew && j < dc->nr_th; j++)
			if (write_core(dc, &dc->th[j]))
				return -1;
	}
	return 0;
}

/* /proc/PID/timers: four lines a timer (ID, signal, notify, ClockID). */
static int collect_posix_timers(struct dump_ctx *dc)
{
	char *buf = read_proc_file(dc->pid, "timers", NULL), *line, *save = NULL;
	int n = -1;

	if (!buf) {
		pr_perror("can't read /proc/%d/timers", dc->pid);
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char how[16], who[16];
		unsigned long val;
		int id, v;

		if (sscanf(line, "ID: %d", &id) == 1) {
			if (++n == MAX_POSIX_TIMERS) {
				pr_err("can't dump task %d: more than %d POSIX timers\n", dc->pid, MAX_POSIX_TIMERS);
				free(buf);
				return -1;
			}
			memset(&dc->timers[n], 0, sizeof(dc->timers[n]));
			dc->timers[n].id = id;
		} else if (n >= 0 && sscanf(line, "signal: %d/%lx", &v, &val) == 2) {
			dc->timers[n].signo = v;
			dc->timers[n].value = val;
		} else if (n >= 0 && sscanf(line, "notify: %15[a-z]/%15[a-z].%d", how, who, &v) == 3) {
			/* "signal", "none" or "thread", then "/tid" with SIGEV_THREAD_ID (the target thread), else "/pid" */
			dc->timers[n].notify = !strcmp(how, "none") ? SIGEV_NONE :
					       !strcmp(how, "thread") ? SIGEV_THREAD : SIGEV_SIGNAL;
			if (!strcmp(who, "tid"))
				dc->timers[n].notify |= SIGEV_THREAD_ID;
			dc->timers[n].tid = v;
		} else if (n >= 0 && sscanf(line, "ClockID: %d", &v) == 1) {
			dc->timers[n].clock = v;
		}
	}
	free(buf);
	dc->nr_timers = n + 1;
	return 0;
}

/* 1 if @a and @b share the kernel object @type, 0 if not, -1 (said) if kcmp() failed: never a guess. */
static int kcmp_same(pid_t a, pid_t b, int type)
{
	long r = syscall(SYS_kcmp, a, b, type, 0, 0);

	if (r < 0) {
		pr_perror("kcmp(%d, %d, type %d)", a, b, type);
		return -1;
	}
	return r == 0;
}

/* The process whose fs (or fd table) dc has through its chain of sharing parents. */
static struct dump_ctx *sharing_root(struct dump_tree *t, struct dump_ctx *dc, int files)
{
	pid_t from;

	while ((from = files ? dc->files_from : dc->fs_from))
		dc = tree_find(t, from);
	return dc;
}

/*
 * Restore can rebuild an fs struct or fd table shared by a child with the
 * parent that created it (clone with CLONE_FS, CLONE_FILES), and chains of
 * them: mark those, and refuse any other sharing. A path-based open of one
 * sharer would see the other's chroot, so a shared fs needs root "/".
 */
static int link_sharing_parents(struct dump_tree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *dc = &t->p[i], *parent = tree_find(t, dc->ppid);
		char root[PATH_MAX], path[64];

		int files, fs;

		if (dc->zombie || !parent || parent->zombie)
			continue;
		files = kcmp_same(parent->pid, dc->pid, KCMP_FILES);
		fs = kcmp_same(parent->pid, dc->pid, KCMP_FS);
		if (files < 0 || fs < 0)
			return -1;
		if (files)
			dc->files_from = parent->pid;
		if (!fs)
			continue;
		dc->fs_from = parent->pid;
		snprintf(path, sizeof(path), "/proc/%d/root", dc->pid);
		if (read_link(path, root, sizeof(root)) < 0) {
			pr_perror("can't read the root of %d", dc->pid);
			return -1;
		}
		if (strcmp(root, "/")) {
			pr_err("can't dump: process %d shares its cwd, root and umask (CLONE_FS) with its parent %d "
			       "and its root is %s; a shared fs is supported only with root /\n", dc->pid,
			       parent->pid, root);
			return -1;
		}
	}
	return 0;
}

/* A thread stopped inside clone(), clone3() or vfork() waits for a vfork child. */
static int in_vfork(struct dump_ctx *dc)
{
	for (int i = 0; i < dc->nr_th; i++) {
		char path[64], buf[32];
		long nr;
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", dc->pid, dc->th[i].tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		nr = strtol(buf, NULL, 10);
		if (nr == __NR_clone || nr == __NR_clone3 || nr == __NR_vfork)
			return dc->th[i].tid;
	}
	return 0;
}

/*
 * A child sharing its parent's memory and signal handlers (clone with
 * CLONE_VM | CLONE_SIGHAND, not a thread) is restored by the parent's
 * restorer once the memory is back, so its memory is dumped once, as the
 * parent's. Mark those before collecting; other sharing of memory is
 * refused by check_sharing().
 */
int mark_vm_children(struct dump_tree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *dc = &t->p[i], *parent = tree_find(t, dc->ppid);
		int vm, sighand, files, fs;
		pid_t tid;

		if (dc->zombie || !parent || parent->zombie)
			continue;
		vm = kcmp_same(parent->pid, dc->pid, KCMP_VM);
		sighand = kcmp_same(parent->pid, dc->pid, KCMP_SIGHAND);
		if (vm < 0 || sighand < 0)
			return -1;
		if (!vm || !sighand)
			continue;
		tid = in_vfork(parent);
		if (tid) {
			pr_err("can't dump: process %d shares its memory with its parent %d, whose thread %d waits "
			       "in a vfork for it; not supported\n", dc->pid, parent->pid, tid);
			return -1;
		}
		files = kcmp_same(parent->pid, dc->pid, KCMP_FILES);
		fs = kcmp_same(parent->pid, dc->pid, KCMP_FS);
		if (files < 0 || fs < 0)
			return -1;
		/* not rebuilt yet: untested combinations stay refused */
		if (files || fs || dc->nr_th > 1) {
			pr_err("can't dump: process %d shares its parent's memory (CLONE_VM | CLONE_SIGHAND) and "
			       "also its fd table or fs (CLONE_FILES, CLONE_FS), or has threads; not supported yet\n",
			       dc->pid);
			return -1;
		}
		dc->vm_from = parent->pid;
	}
	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *parent = tree_find(t, t->p[i].ppid);

		if (parent && parent->vm_from) {
			pr_err("can't dump: process %d shares its parent's memory (CLONE_VM | CLONE_SIGHAND) and has "
			       "a child of its own, %d; not supported yet\n", parent->pid, t->p[i].pid);
			return -1;
		}
	}
	return 0;
}

static int kcmp_type, kcmp_failed;

/* kcmp() orders kernel objects: sharers of one sort next to each other. */
static int cmp_kcmp(const void *a, const void *b)
{
	pid_t x = (*(struct dump_ctx *const *)a)->pid, y = (*(struct dump_ctx *const *)b)->pid;
	long r = syscall(SYS_kcmp, x, y, kcmp_type, 0, 0);

	if (r < 0) {
		kcmp_failed = errno;
		return x - y;
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

/* Is sharing @kind between @a and @b one restore can make again? 0 or -1 with a message. */
static int check_pair(struct dump_tree *t, struct dump_ctx *a, struct dump_ctx *b, int k, int type,
		      const char *what)
{
	int files = type == KCMP_FILES;

	if (k < 2 && (b->vm_from == a->pid || a->vm_from == b->pid))
		return 0;
	if (k < 2) {
		pr_err("can't dump: process %d shares %s with process %d; only a child sharing "
		       "both memory and signal handlers (CLONE_VM | CLONE_SIGHAND) with the parent "
		       "that cloned it is supported\n", b->pid, what, a->pid);
		return -1;
	}
	if (sharing_root(t, a, files) != sharing_root(t, b, files)) {
		pr_err("can't dump: process %d shares %s with process %d, which is not its "
		       "parent (only a child sharing with the parent that cloned it can be "
		       "restored)\n", b->pid, what, a->pid);
		return -1;
	}
	return 0;
}

/*
 * Processes sharing what fork() copies (clone with CLONE_VM, CLONE_FILES,
 * CLONE_FS, CLONE_SIGHAND, or a vfork in progress) would come back with
 * copies: refuse them by name, unless it is an fs or fd table shared
 * with the parent that created the process. The live processes are
 * sorted by kcmp() once per kind, so sharers are neighbours: n log n
 * kcmp() calls, not n^2.
 */
static int check_sharing(struct dump_tree *t)
{
	static const struct {
		int type;
		const char *what;
	} kinds[] = {
		{ KCMP_VM, "its memory (CLONE_VM without CLONE_SIGHAND, or a vfork in progress)" },
		{ KCMP_SIGHAND, "its signal handlers (CLONE_SIGHAND)" },
		{ KCMP_FILES, "its fd table (CLONE_FILES)" },
		{ KCMP_FS, "its cwd, root and umask (CLONE_FS)" },
	};
	struct dump_ctx **live;
	int n = 0, ret = -1;

	if (link_sharing_parents(t))
		return -1;
	for (int i = 0; i < t->nr; i++)
		if (t->p[i].vm_from && t->p[i].session_from) {
			/* a zombie sibling would fork it, but only the parent can share its memory */
			pr_err("can't dump: process %d shares its parent's memory (CLONE_VM | CLONE_SIGHAND) and is "
			       "in the session of a zombie sibling; not supported\n", t->p[i].pid);
			return -1;
		}
	live = calloc(t->nr + 1, sizeof(*live));
	if (!live) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < t->nr; i++)
		if (!t->p[i].zombie)
			live[n++] = &t->p[i];
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		kcmp_type = kinds[k].type;
		kcmp_failed = 0;
		sort_array(live, n, sizeof(*live), cmp_kcmp);
		if (kcmp_failed) {
			errno = kcmp_failed;
			pr_perror("kcmp of the tree's processes");
			goto out;
		}
		/* a run of sharers: every pair in it must be one restore makes again */
		for (int a = 0, b; a < n; a = b) {
			int same = 0;

			for (b = a + 1; b < n && (same = kcmp_same(live[a]->pid, live[b]->pid, kinds[k].type)) > 0; b++)
				;
			if (same < 0)
				goto out;
			for (int x = a; x < b; x++)
				for (int y = x + 1; y < b; y++)
					if (check_pair(t, live[x] < live[y] ? live[x] : live[y],
						       live[x] < live[y] ? live[y] : live[x], k, kinds[k].type,
						       kinds[k].what))
						goto out;
		}
	}
	ret = 0;
out:
	free(live);
	return ret;
}

/* The pids of the live processes, in tree order. */
static pid_t *live_pids(struct dump_tree *t, int *nr)
{
	pid_t *pids = calloc(t->nr, sizeof(*pids));

	*nr = 0;
	if (!pids) {
		pr_err("out of memory\n");
		return NULL;
	}
	for (int i = 0; i < t->nr; i++)
		if (!t->p[i].zombie)
			pids[(*nr)++] = t->p[i].pid;
	return pids;
}

/* The ipc namespace: the tree's own one is dumped whole, criu's is left alone. */
int check_ipc(struct dump_tree *t)
{
	int nr, ret;
	pid_t *pids = live_pids(t, &nr);

	if (!pids)
		return -1;
	ret = ipc_sysv_check_tree(pids, nr);
	free(pids);
	return ret;
}

/*
 * The mount namespace for pre-dump (dump's goes through the ns framework,
 * check_ns()): criu's own, or the tree's whose mounts are saved (criu/mount/).
 */
int check_mntns(struct dump_tree *t)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", t->p[0].pid);
	if (stat(path, &a) || stat("/proc/self/ns/mnt", &b)) {
		pr_perror("can't read the mount namespace of %d", t->p[0].pid);
		return -1;
	}
	/* criu's own namespace (a dump agent has a copy of its own) */
	if ((a.st_ino == b.st_ino && a.st_dev == b.st_dev) || a.st_ino == ns_self_id(NS_MNT))
		return 0;
	return mntns_dump_prepare(t->p[0].pid, NULL, 0);
}

/* Who adds each epoll target at restore (epoll.c). */
static int check_epolls(struct dump_tree *t)
{
	int nr, ret;
	pid_t *pids = live_pids(t, &nr);

	if (!pids)
		return -1;
	ret = epoll_check_targets(&t->files, pids, nr);
	free(pids);
	return ret;
}

static int collect_cgroups(struct dump_ctx *dc)
{
	pid_t *tids = malloc(dc->nr_th * sizeof(*tids));
	int ret;

	if (!tids) {
		pr_err("out of memory for the %d thread ids of %d\n", dc->nr_th, dc->pid);
		return -1;
	}
	for (int i = 0; i < dc->nr_th; i++)
		tids[i] = dc->th[i].tid;
	ret = cgroup_dump_task(dc->pid, tids, dc->nr_th);
	free(tids);
	return ret;
}

static int collect_process(struct dump_ctx *dc)
{
	pid_t pid = dc->pid;

	/* its paths are its mount namespace's */
	mntns_dump_task(pid);
	/* Re-read now that it can't change under us. */
	if (parse_pid_stat(pid, &dc->stat) || parse_pid_status(pid, &dc->status) || check_supported(dc))
		return -1;
	pr_debug("task %d: stat and status read\n", pid);
	if (preread_take(&dc->tree->preread, dc))
		pr_debug("task %d: %d memory areas as read before the freeze (no syscall since, maps the same)\n",
			 pid, dc->nr_pvmas);
	else if (parse_smaps(pid, &dc->pvmas, &dc->nr_pvmas, &dc->smaps))
		return -1;
	else
		pr_debug("task %d: %d memory areas read\n", pid, dc->nr_pvmas);
	if (collect_fds(pid, dc->status.fdsize, dc->files, &dc->fds))
		return -1;
	if (!dc->vm_from && collect_vmas(pid, dc->pvmas, dc->nr_pvmas, dc->files, &dc->md))
		return -1;
	pr_debug("task %d: %zu fds and %zu memory areas collected\n", pid, dc->fds.nr, dc->md.nr_vmas);
	for (int i = 0; i < dc->nr_th; i++)
		if (collect_thread(dc, &dc->th[i]))
			return -1;
	if (collect_cgroups(dc) || collect_posix_timers(dc))
		return -1;
	if (peek_signals(pid, 1, &dc->sig_shared, &dc->nr_sig_shared, &dc->shared_buf))
		return -1;
	return match_timer_signals(dc);
}

/*
 * A dump that kills its tree writes its inventory (what makes the images
 * restorable) last, right before the kills: a criu killed before it (in
 * the post-dump hook, say) leaves the tree running and no images a
 * restore would take for its last state. Not with --lazy-pages (its
 * destination takes the images while the tree is frozen), to a page
 * server (the inventory goes there before the pages' end) nor in a pid
 * namespace's agent (criu outside rules on its images: ns_dump_run()).
 */
static bool late_inventory(void)
{
	return !opts.leave_running && !opts.leave_stopped && !opts.snapshot && !opts.lazy_pages &&
	       !opts.page_server && !ns_dump_in_agent();
}

static int write_tree_images(struct dump_tree *t, pid_t root)
{
	struct cr_img *img;
	int ret = 0;

	for (int i = 0; i < t->nr; i++)
		if (!t->p[i].zombie && write_task_images(&t->p[i]))
			return -1;
	if (dump_files(t->dfd, &t->files) || shmem_dump_all(&t->files, t->dfd) || ipc_sysv_dump(t->dfd) ||
	    mntns_dump(t->dfd))
		return -1;
	if ((opts.file_locks && file_locks_dump(t->dfd)) || external_dump(t->dfd) || net_lock_write(t->dfd) ||
	    cgroup_dump_write(t->dfd))
		return -1;
	img = open_image_at(t->dfd, CR_FD_PSTREE, O_DUMP);
	if (!img)
		return -1;
	for (int i = 0; i < t->nr && !ret; i++)
		ret = write_pstree_entry(img, &t->p[i]);
	if (!ret)
		ret = ns_dump_write(t->dfd);
	if (finish_image(img, ret))
		return -1;
	/* --snapshot: written once the pages are (snapshot_copy()); a dump that kills: just before (late_inventory()) */
	return opts.snapshot || late_inventory() ? 0 : write_inventory(t->dfd, root, false, &t->p[0]);
}

/*
 * Our pid namespace's init ignores our SIGKILL: criu kills it from
 * outside once we are done (criu/ns/pid.c), and us with it.
 */
static int ns_init_left(struct dump_ctx *dc)
{
	return dc->pid == 1 && ns_dump_in_agent();
}

/* Returns -1 when a process that had to be killed or stopped could not be (it runs on). */
/*
 * A killed process frees its memory in its exit, before the exit reaches
 * us: for 1 GiB some 40-90 ms of the dump's wall clock after the frozen
 * time. process_mrelease() (5.15) frees it from here at the same time,
 * on another core, which about halves that. It has to come before the
 * process detaches its memory in its exit (ESRCH after that), so the
 * pidfd is opened before the kill (release_open()) and the call follows
 * the kill at once (release_memory()). Best effort: where it fails (too
 * late, memory shared with a process that lives on, an older kernel) the
 * exit frees it all as before.
 */
static int release_open(struct dump_ctx *p)
{
	/* ours until we reap it (we trace it): the pid can't be another's */
	return p->vm_from ? -1 : syscall(SYS_pidfd_open, p->pid, 0);
}

static void release_memory(struct dump_ctx *p, int pidfd)
{
	if (pidfd < 0)
		return;
	if (syscall(SYS_process_mrelease, pidfd, 0))
		pr_debug("process_mrelease(%d): %s (its exit frees its memory)\n", p->pid, strerror(errno));
	close(pidfd);
}

/*
 * Once the first process is killed, the images are the tree's last state
 * and all of it has to go: should we die among the kills (a SIGKILL, a
 * timeout of our caller's), those we had not reached would run on, and a
 * restore would make second copies of them. So every one gets
 * PTRACE_O_EXITKILL first (one thread is enough: its SIGKILL kills the
 * process), and our tracing thread's exit kills whatever is left. A
 * network lock keeper kills them too, sooner (net_keeper_victim()).
 */
static void exit_kill_tree(struct dump_tree *t)
{
	const long opts_ = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;

	for (int i = 0; i < t->nr; i++) {
		struct dump_ctx *p = &t->p[i];
		int j;

		if (p->zombie || !p->th || ns_init_left(p))
			continue;
		for (j = 0; j < p->nr_th; j++)
			if (!ptrace(PTRACE_SETOPTIONS, p->th[j].tid, NULL, (void *)(opts_ | PTRACE_O_SUSPEND_SECCOMP)) ||
			    !ptrace(PTRACE_SETOPTIONS, p->th[j].tid, NULL, (void *)opts_))
				break;
		if (j == p->nr_th)
			pr_warn("can't mark %d to die with us (%s): should we die among the kills, it may run on\n",
				p->pid, strerror(errno));
	}
}

int finish_tree(struct dump_tree *t, int ok, uint64_t t_frozen)
{
	int status, ret = 0, kill_init = 0;
	char *alive;

	if (!ok || opts.leave_running || opts.leave_stopped) {
		/*
		 * Processes in a group stop go first, and the others once those
		 * show 'T' again: let go before them, a parent would see its
		 * stopped child in our traced stop ('t') or on its way back into
		 * its stop ('R') for a moment.
		 */
		for (int pass = 0; pass < 2; pass++) {
			for (int i = 0; i < t->nr; i++)
				if (!t->p[i].zombie && t->p[i].th && (t->p[i].state == COMPEL_TASK_STOPPED) == !pass &&
				    finish_task(&t->p[i], ok, &t->st.frozen_time, t_frozen))
					ret = -1;
			for (int i = 0; !pass && !opts.leave_stopped && i < t->nr; i++)
				if (!t->p[i].zombie && t->p[i].th && t->p[i].state == COMPEL_TASK_STOPPED)
					wait_group_stopped(t->p[i].pid);
		}
		return ret;
	}
	/*
	 * In a pid namespace the tree's death may be its init's and so ours:
	 * the stats go out first (the frozen time ends with the kills), and the
	 * result too (if the init is the tree's, the result is the commit:
	 * criu outside kills the init once told, and the rest with it).
	 */
	if (ns_dump_in_agent()) {
		for (int i = 0; i < t->nr; i++)
			kill_init |= ns_init_left(&t->p[i]);
		t->st.frozen_time = now_us() - t_frozen;
		/* the images are whole: the kills may end us before the end of the dump */
		dedup_chain(t);
		write_dump_stats(t->dfd, &t->st);
		if (!kill_init)
			ns_dump_agent_report(1, 0);
	}
	alive = calloc(t->nr + 1, 1);
	if (!alive)
		return -1;
	/*
	 * Kill every process before reaping any: the frozen time ends with the
	 * first kill (the tree is dying from then on; the memory freed between
	 * the kills is not frozen time).
	 */
	if (!ns_dump_in_agent())
		t->st.frozen_time = now_us() - t_frozen;
	/*
	 * The lock stays once the first of them dies, even if we die now
	 * (net_keeper_commit()). The init criu outside kills is the one then:
	 * it dies only if we live to report, and it runs on (its connections
	 * wanting the keeper's undo) if we die before.
	 */
	{
		pid_t victim = 0;
		int n = 0;

		for (int i = 0; i < t->nr; i++)
			n += !t->p[i].zombie && t->p[i].th && !ns_init_left(&t->p[i]);
		/* the kills of more than one process are one commit only with a keeper */
		if (!kill_init && n > 1)
			net_keeper_for_kills();
		for (int i = 0; i < t->nr && !victim; i++)
			if (!t->p[i].zombie && t->p[i].th && ns_init_left(&t->p[i]) == kill_init)
				victim = t->p[i].pid;
		net_keeper_commit(victim, kill_init);
	}
	/*
	 * The init's death is all of it's: criu outside kills it once told,
	 * one kill for the whole tree, and nothing dies before. Should criu
	 * outside die first, the tree runs on whole (agent_wait_init_kill()).
	 */
	if (kill_init) {
		free(alive);
		net_release_listeners();
		net_ns_dump_quiesce();
		ns_dump_agent_report(1, kill_init);
		return 0;
	}
	/* criu outside, should we die before our end, must know whether all of them got their kill */
	if (ns_dump_in_agent()) {
		int n = 0;

		for (int i = 0; i < t->nr; i++)
			if (!t->p[i].zombie && t->p[i].th && !ns_init_left(&t->p[i])) {
				ns_dump_agent_victim(t->p[i].pid);
				n++;
			}
		ns_dump_agent_victims(n);
	}
	for (int i = 0; i < t->nr; i++)
		if (!t->p[i].zombie && t->p[i].th && !ns_init_left(&t->p[i]))
			net_keeper_victim(t->p[i].pid);
	net_keeper_killed();
	exit_kill_tree(t);
	for (int i = 0; i < t->nr; i++) {
		int pidfd;

		if (t->p[i].zombie || !t->p[i].th || ns_init_left(&t->p[i]))
			continue;
		pidfd = release_open(&t->p[i]);
		if (signal_task(t->p[i].pid, SIGKILL)) {
			/* waiting for an end that does not come would hang us: it runs on */
			release_threads(&t->p[i]);
			alive[i] = 1;
			ret = -1;
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		release_memory(&t->p[i], pidfd);
	}
	/* each is dying, its listeners with it: new connections meet a closed port, not a queue that dies */
	net_release_listeners();
	/* every process is dying: the keeper may go (the init only once criu outside is told: ns_dump_agent_report()) */
	if (!kill_init)
		net_keeper_end();
	/* we trace every thread; a leader's exit comes only after all its threads' */
	/* children first: a nested pid namespace's init waits in its exit for its namespace to be reaped */
	for (int i = t->nr - 1; i >= 0; i--)
		for (int j = t->p[i].zombie || alive[i] || ns_init_left(&t->p[i]) ? -1 : t->p[i].nr_th - 1; j >= 0; j--)
			while (compel_wait(t->p[i].th[j].tid, &status) == t->p[i].th[j].tid &&
			       !WIFEXITED(status) && !WIFSIGNALED(status))
				ptrace(PTRACE_CONT, t->p[i].th[j].tid, NULL, NULL);
	free(alive);
	if (!ret)
		net_ns_dump_quiesce();
	ns_dump_agent_report(1, kill_init);
	return ret;
}

/* Every image of a dump carries its id (image.h): one left from another dump is not taken for its own. */
uint64_t new_dump_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id))
		id = now_us() ^ ((uint64_t)getpid() << 40);
	return id ?: 1;
}

/* The tree's namespaces: saved if its own, refused by name if they can't be restored. */
static int check_ns(struct dump_tree *t)
{
	struct ns_task *nt = calloc(t->nr, sizeof(*nt));
	int ret;

	if (!nt) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < t->nr; i++) {
		nt[i].pid = t->p[i].pid;
		nt[i].ppid = t->p[i].ppid;
		nt[i].zombie = t->p[i].zombie;
	}
	ret = ns_dump_collect(nt, t->nr);
	free(nt);
	return ret;
}

static int dump_tree_of(pid_t pid);

/*
 * dump --lazy-pages: an area a child may share copy-on-write with its
 * parent (cow_parent_vma()) is filled before the fork at restore (cow.c),
 * so that the sharing comes back; it can't be filled lazily. Such areas
 * of both are dumped as usual.
 */
static int keep_cow_areas(struct dump_tree *t)
{
	for (int i = 0; i < t->nr; i++) {
		const struct mm_parent *par = &t->p[i].parent;
		const struct mm_dump *md = &t->p[i].md;

		if (!par->md || t->p[i].zombie || t->p[i].vm_from)
			continue;
		for (size_t k = 0; k < md->nr_vmas; k++) {
			const VmaEntry *pv = cow_parent_vma(&md->vmas[k], par->md->vma_ptrs, par->md->nr_vmas);

			if (pv && (lazy_dump_keep(t->p[i].pid, md->vmas[k].start) || lazy_dump_keep(par->pid, pv->start)))
				return -1;
		}
	}
	return 0;
}

int cr_dump_tasks(pid_t pid)
{
	struct proc_pid_stat st;

	int ret;

	if (check_privileges())
		return -1;
	/* before its namespaces are looked at: a zombie leader has none to show */
	if (!parse_pid_stat(pid, &st) && st.state == 'Z' && leader_gone_threads_live(pid))
		return -1;
	if (opts.status_fd >= 0 && !opts.lazy_pages) {
		pr_err("--status-fd: a dump says when it is ready only with --lazy-pages\n");
		return -1;
	}
	if (ns_init_self())
		return -1;
	/* in criu's network namespace: the dump may enter the tree's later */
	if (opts.lazy_pages && lazy_dump_listen())
		return -1;
	/* in the tree's pid namespace, if it is not ours */
	ret = ns_dump_run(pid, dump_tree_of);
	lazy_dump_fini();
	return ret;
}

static int dump_tree_of(pid_t pid)
{
	struct dump_tree t = { .dfd = -1, .prev_dfd = -1,
			       .track = { .prev_dfd = -1, .tracker_pidfd = -1, .state_fd = -1 } };
	struct dump_ctx probe = { .pid = pid };
	uint64_t t_start, t_frozen = 0;
	int ret = -1, locked = 0;

	t.dfd = open(opts.imgs_dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (t.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return -1;
	}
	if (faccessat(t.dfd, ".", W_OK, AT_EACCESS)) {
		pr_perror("images dir %s is not writable", opts.imgs_dir);
		goto out_close;
	}
	if (check_task(&probe) || ns_dump_join_net(pid)) {
		free_pid_status(&probe.status);
		goto out_close;
	}
	free_pid_status(&probe.status);
	if (opts.snapshot && snapshot_begin(&t))
		goto out_close;
	if (run_hook(HOOK_PRE_DUMP, 0, -1) || dump_live_rounds(pid) || cgroup_dump_init())
		goto out_close;
	preload_covers(&t);
	preread_tree(&t.preread, pid);

	/* a failure from here on goes through out_resume, which lets it go */
	inet_dump_hold_listeners(pid);
	t_start = now_us();
	if (freeze_all(&t, pid) || check_interrupted())
		goto out_resume;
	t_frozen = now_us();
	locked = 1;
	if (run_hook(HOOK_NETWORK_LOCK, 0, -1))
		goto out_resume;
	t.st.freezing_time = t_frozen - t_start;
	pr_info("%d processes seized in %lu us\n", t.nr, (unsigned long)t.st.freezing_time);
	if (check_ipc(&t) || check_ns(&t))
		goto out_resume;

	if (mark_vm_children(&t))
		goto out_resume;
	preread_verify(&t.preread, &t);
	for (int i = 0; i < t.nr; i++)
		if (check_interrupted() || (!t.p[i].zombie && collect_process(&t.p[i])))
			goto out_resume;
	mntns_dump_task(pid);
	if (resolve_socket_vmas(&t.files))
		goto out_resume;
	if (check_sid_pgid(&t) || check_exit_signals(&t) || check_sharing(&t) || check_ttys(&t) || files_check_tree(&t.files) ||
	    check_unix_sockets(&t.files) || file_locks_check_waiters() || check_epolls(&t) || tun_check_queues() ||
	    inet_dump_streams(&t.files))
		goto out_resume;
	for (int i = 0; i < t.nr; i++) {
		struct dump_ctx *p = tree_find(&t, t.p[i].ppid);

		if (p && !p->zombie)
			t.p[i].parent = (struct mm_parent){ .pid = p->pid, .md = &p->md };
	}
	if (opts.lazy_pages && keep_cow_areas(&t))
		goto out_resume;
	/* From here on images get written: an older dump here is no longer whole. */
	unlinkat(t.dfd, "inventory.img", 0);
	unlinkat(t.dfd, "track.img", 0);
	img_set_dump_id(new_dump_id());
	if (open_prev_images(&t) || (track_protects() && track_invalidate(&t.track)))
		goto out_resume;
	for (int i = 0; i < t.nr; i++)
		if (check_interrupted() || (!t.p[i].zombie && run_parasite(&t.p[i])))
			goto out_resume;
	pr_debug("parasites done\n");
	if (opts.snapshot && snapshot_protect(&t))
		goto out_resume;
	if (check_interrupted() || write_tree_images(&t, pid) || check_interrupted())
		goto out_resume;
	pr_debug("images written\n");
	/* the pages at the page server must be written there before the tree may go (--snapshot: after the copy) */
	if (!opts.snapshot && ps_finish())
		goto out_resume;
	/* the last word before the tree is killed: a failure here leaves it running */
	if (run_hook(HOOK_POST_DUMP, 0, -1))
		goto out_resume;
	/*
	 * Signals that came meanwhile (the hook's too) are the tree's: read
	 * as late as the images may still change. Not after the serving of
	 * --lazy-pages: its destination reads the images and runs the tree
	 * as soon as the dump says they are whole, and once it has every
	 * page a failure here would leave the original running beside it.
	 */
	if (!opts.leave_running && !opts.leave_stopped && (recheck_signals(&t) || inet_dump_commit()))
		goto out_resume;
	/* --lazy-pages: the tree stays frozen while the destination takes its lazy pages */
	if (lazy_dump_serve())
		goto out_resume;
	if (late_inventory() && write_inventory(t.dfd, pid, false, &t.p[0]))
		goto out_resume;
	ret = 0;
out_resume:
	if (ret)
		unlinkat(t.dfd, "inventory.img", 0);
	fileobj_dump_fini(&t.files, ret == 0);
	/* connections of a tree that goes on leave repair mode and the lock goes, before it runs */
	inet_dump_fini(ret == 0 && !opts.leave_running && !opts.leave_stopped);
	/* Frozen until the tasks are let go or killed; reaping them is not their time. */
	/* a tree that stays is frozen again (as it was) before it is let go, not after */
	if (ret || opts.leave_running || opts.leave_stopped)
		cgfreeze_refreeze();
	pr_debug("ending the tree\n");
	if (finish_tree(&t, ret == 0, t_frozen) && !ret) {
		pr_err("dump of %d: the images are whole, but not every process could be ended as asked\n", pid);
		ret = -1;
	}
	/* the syscall counters go once the tree may run (closing them waits for RCU) */
	preread_free(&t.preread);
	/* the freezer cgroup's other threads go, and its cgroups get their states back */
	cgfreeze_end();
	if (locked && (ret || opts.leave_running || opts.leave_stopped) && run_hook(HOOK_NETWORK_UNLOCK, 0, -1))
		ret = -1;
	/* --snapshot: the tree runs; its pages now, the inventory last */
	if (opts.snapshot && !ret && (snapshot_copy(&t) || write_inventory(t.dfd, pid, false, &t.p[0]) || ps_finish())) {
		unlinkat(t.dfd, "inventory.img", 0);
		ret = -1;
	}
	snapshot_end(&t);
	if (ret == 0 && track_protects()) {
		if (track_commit(&t.track, t.dfd))
			pr_warn("memory tracking could not go on: the next dump will be a full one\n");
		track_close(&t.track, true);
	} else {
		/* a dead tree needs no tracker; a failed dump leaves it as it was */
		track_close(&t.track, ret == 0 && !opts.leave_running && !opts.leave_stopped);
	}
	if (ret == 0) {
		dedup_chain(&t);
		if (!ns_dump_in_agent() || opts.leave_running || opts.leave_stopped)
			write_dump_stats(t.dfd, &t.st);
		pr_info("dump of %d done: %d processes, %lu pages written, frozen for %lu us\n", pid, t.nr,
			(unsigned long)t.st.pages_written, (unsigned long)t.st.frozen_time);
	} else if (interrupted()) {
		pr_err("dump of %d interrupted by signal %d; rolled back, the tree was left running\n", pid,
		       interrupted());
	} else {
		pr_err("dump of %d failed; the tree was left running\n", pid);
	}
out_close:
	snapshot_end(&t);
	landlock_probes_stop();
	for (int i = 0; i < t.nr; i++)
		free_ctx(&t.p[i]);
	free(t.p);
	resolve_socket_vmas(NULL);
	pidmap_free(&t.idx);
	free_covers(&t);
	preread_free(&t.preread);
	file_table_free(&t.files);
	file_locks_free();
	external_free();
	mntns_dump_fini();
	cgroup_dump_fini();
	netns_free_all();
	tun_dump_fini();
	ns_dump_free();
	if (t.prev_dfd >= 0)
		close(t.prev_dfd);
	ps_close();
	close(t.dfd);
	return ret;
}
