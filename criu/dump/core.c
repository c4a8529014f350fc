/*
 * A task's core image: per thread, registers, FPU state, signal state,
 * creds and seccomp; per process, the task-wide settings (scheduling,
 * rlimits, timers, proc knobs) that come back before the task runs.
 */
#include <dirent.h>
#include <linux/kcmp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dump.h"

/*
 * The syscall a thread in restart_syscall restarts. A stop (an earlier
 * pre-dump or dump -R, a debugger, SIGSTOP, a cgroup freeze) cut short a
 * restart-block syscall (nanosleep, poll, a futex wait with a timeout):
 * the thread then went on in restart_syscall, whose restart block is the
 * kernel's only record of the syscall, and is lost with the dump. Its
 * arguments are still in the registers; its number is in the code that
 * made it, when that is "mov $NR, %eax; syscall" (as libc's wrappers
 * are). 0 if the code is another.
 */
static long restarted_syscall(pid_t tid, const struct user_regs_struct *r)
{
	unsigned char code[7];
	struct iovec lv = { code, sizeof(code) }, rv = { (void *)(r->rip - sizeof(code)), sizeof(code) };
	uint32_t nr;

	if (process_vm_readv(tid, &lv, 1, &rv, 1, 0) != sizeof(code) || code[0] != 0xb8 || code[5] != 0x0f ||
	    code[6] != 0x05)
		return 0;
	memcpy(&nr, code + 1, sizeof(nr));
	return nr == __NR_restart_syscall ? 0 : nr;
}

/*
 * A task stopped inside a syscall resumes by re-running it; see restore.
 * Returns the -ERESTART* code it had (0: none), which restore gives back
 * at the very end so that a signal arriving then interrupts the syscall
 * as it would have (restart_at_exit() in restore.c).
 */
static int fixup_syscall_restart(pid_t tid, struct user_regs_struct *r)
{
	int code = (int)r->rax;
	long nr;

	if ((long)r->orig_rax < 0)
		return 0;
	switch ((long)(int)r->rax) {
	case -ERESTART_RESTARTBLOCK:
		/* 64-bit: for int 0x80, 219 is madvise */
		if (r->orig_rax == __NR_restart_syscall && r->cs == 0x33) {
			nr = restarted_syscall(tid, r);
			if (!nr) {
				/* as the kernel does when restart_syscall has no block to go on with */
				pr_warn("thread %d restarts a syscall criu can't name: it will return EINTR\n", tid);
				r->rax = -EINTR;
				return 0;
			}
			pr_debug("thread %d restarts syscall %ld\n", tid, nr);
			r->orig_rax = nr;
		}
		/* fall through */
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		/*
		 * The restart block can't be carried over, so a restart-block
		 * syscall (nanosleep, poll, futex with timeout) runs again with
		 * its original arguments: timeouts count from the restore.
		 */
		r->rax = r->orig_rax;
		r->rip -= 2;
		return code;
	}
	return 0;
}

static void fill_regs(UserRegsX86Entry *g, const struct user_regs_struct *r)
{
	g->r15 = r->r15; g->r14 = r->r14; g->r13 = r->r13; g->r12 = r->r12;
	g->bp = r->rbp; g->bx = r->rbx; g->r11 = r->r11; g->r10 = r->r10;
	g->r9 = r->r9; g->r8 = r->r8; g->ax = r->rax; g->cx = r->rcx;
	g->dx = r->rdx; g->si = r->rsi; g->di = r->rdi; g->orig_ax = r->orig_rax;
	g->ip = r->rip; g->cs = r->cs; g->flags = r->eflags; g->sp = r->rsp;
	g->ss = r->ss; g->fs_base = r->fs_base; g->gs_base = r->gs_base;
	g->ds = r->ds; g->es = r->es; g->fs = r->fs; g->gs = r->gs;
}

static int read_int_file_base(pid_t pid, const char *name, long *val, int base)
{
	char *buf = read_proc_file(pid, name, NULL);

	if (!buf) {
		pr_perror("can't read /proc/%d/%s", pid, name);
		return -1;
	}
	*val = strtol(buf, NULL, base);
	free(buf);
	return 0;
}

static int read_int_file(pid_t pid, const char *name, long *val)
{
	return read_int_file_base(pid, name, val, 10);
}

/* Scheduling policy and priority, nice, OOM score adjustment, login uid, the mm's core dump filter. */
static int fill_sched(struct dump_ctx *dc, TaskCoreEntry *tc)
{
	struct sched_param sp;
	long v;
	int policy;

	policy = sched_getscheduler(dc->pid);
	if (policy < 0 || sched_getparam(dc->pid, &sp)) {
		pr_perror("can't read the scheduling policy of %d", dc->pid);
		return -1;
	}
	tc->has_sched_policy = tc->has_sched_prio = true;
	tc->sched_policy = policy;
	tc->sched_prio = sp.sched_priority;
	errno = 0;
	v = getpriority(PRIO_PROCESS, dc->pid);
	if (errno) {
		pr_perror("can't read the nice value of %d", dc->pid);
		return -1;
	}
	tc->has_nice = true;
	tc->nice = v;
	if (read_int_file(dc->pid, "oom_score_adj", &v))
		return -1;
	tc->has_oom_score_adj = true;
	tc->oom_score_adj = v;
	if (read_int_file(dc->pid, "loginuid", &v) == 0) {
		tc->has_loginuid = true;
		tc->loginuid = (uint32_t)v;
	}
	/* "/autogroup-N nice X": the nice of the session's autogroup (kernels with them) */
	{
		char *ag = read_proc_file(dc->pid, "autogroup", NULL), *n = ag ? strstr(ag, " nice ") : NULL;

		if (n && sscanf(n, " nice %ld", &v) == 1 && v) {
			tc->has_autogroup_nice = true;
			tc->autogroup_nice = v;
		}
		free(ag);
	}
	/* hex, as the kernel shows it */
	if (read_int_file_base(dc->pid, "coredump_filter", &v, 16))
		return -1;
	tc->has_coredump_filter = true;
	tc->coredump_filter = (uint32_t)v;
	return 0;
}

int write_core(struct dump_ctx *dc, struct dump_thread *t)
{
	CoreEntry core = CORE_ENTRY__INIT;
	TaskCoreEntry tc = TASK_CORE_ENTRY__INIT;
	ThreadCoreEntry th = THREAD_CORE_ENTRY__INIT;
	UserRegsX86Entry gp = USER_REGS_X86_ENTRY__INIT;
	UserFpregsX86Entry fp = USER_FPREGS_X86_ENTRY__INIT;
	SigaltstackEntry ss = SIGALTSTACK_ENTRY__INIT;
	CredsEntry cr, tcr;
	SigactionEntry sa[NR_SIGNALS], *sap[NR_SIGNALS];
	RlimitEntry rl[NR_RLIMITS], *rlp[NR_RLIMITS];
	SiginfoEntry *sp[512], *ssp[512];
	uint32_t spec[NR_SPEC_CTRL];
	struct cr_img *img;
	char personality[32];
	char *pers;
	int ret;

	struct user_regs_struct r = t->regs.regs;
	int restart = fixup_syscall_restart(t->tid, &r);

	fill_regs(&gp, &r);
	fp.xsave.len = t->regs.xsave_size;
	fp.xsave.data = t->regs.xsave;
	fp.xfeatures = t->regs.xfeatures;

	ss.sp = t->altstack.sp;
	ss.size = t->altstack.size;
	ss.flags = t->altstack.flags;

	th.tid = t->tid;
	th.gpregs = &gp;
	th.fpregs = &fp;
	th.blk_sigset = t->regs.sigmask;
	th.altstack = &ss;
	th.comm = t->comm;
	th.has_in_syscall = true;
	th.in_syscall = (long)r.orig_rax;
	th.has_syscall_restart = restart != 0;
	th.syscall_restart = restart;
	th.has_clear_child_tid = true;
	th.clear_child_tid = t->clear_child_tid;
	th.has_seccomp_mode = true;
	th.seccomp_mode = t->seccomp_mode;
	th.n_seccomp_filters = t->nr_filters;
	th.seccomp_filters = t->filters;
	th.n_seccomp_filter_flags = t->nr_filters;
	th.seccomp_filter_flags = t->filter_flags;
	th.has_robust_list = th.has_robust_list_len = true;
	th.robust_list = t->robust_list;
	th.robust_list_len = t->robust_len;
	th.n_cpu_affinity = t->cpu_words;
	th.cpu_affinity = (uint64_t *)t->cpu_mask;
	th.has_ioprio = true;
	th.ioprio = t->ioprio;
	th.has_tsc = true;
	th.tsc = t->tsc;
	th.has_cpuid_faulting = true;
	th.cpuid_faulting = t->cpuid == 0;
	th.has_mce_kill = t->mce_kill == PR_MCE_KILL_EARLY || t->mce_kill == PR_MCE_KILL_LATE;
	th.mce_kill = t->mce_kill;
	if (t->mempolicy > 0) {
		size_t n = ARRAY_SIZE(t->mempolicy_nodes);

		while (n && !t->mempolicy_nodes[n - 1])
			n--;
		th.has_mempolicy = true;
		th.mempolicy = t->mempolicy;
		th.n_mempolicy_nodes = n;
		th.mempolicy_nodes = t->mempolicy_nodes;
	}
	/* an unknown or unaffected one (< 0, 0) is no state to restore */
	for (int i = 0; i < NR_SPEC_CTRL; i++)
		spec[i] = t->spec[i] > 0 ? t->spec[i] : 0;
	th.n_spec_ctrl = NR_SPEC_CTRL;
	th.spec_ctrl = (uint32_t *)spec;
	th.has_sched_policy = th.has_sched_prio = th.has_nice = true;
	th.sched_policy = t->sched_policy;
	th.sched_prio = t->sched_prio;
	th.nice = t->nice;
	th.has_timer_slack_ns = th.has_pdeath_sig = th.has_no_new_privs = true;
	th.timer_slack_ns = t->timer_slack;
	th.pdeath_sig = t->pdeath_sig;
	th.no_new_privs = t->status.nonewprivs;
	if (t->nr_sig > ARRAY_SIZE(sp) || dc->nr_sig_shared > ARRAY_SIZE(ssp)) {
		pr_err("task %d has more than %zu queued signals\n", t->tid, ARRAY_SIZE(sp));
		return -1;
	}
	for (size_t i = 0; i < t->nr_sig; i++)
		sp[i] = &t->sig[i];
	for (size_t i = 0; i < dc->nr_sig_shared; i++)
		ssp[i] = &dc->sig_shared[i];
	RseqEntry rs = RSEQ_ENTRY__INIT;

	if (t->rseq.size) {
		rs.ptr = t->rseq.ptr;
		rs.size = t->rseq.size;
		rs.signature = t->rseq.signature;
		rs.has_flags = true;
		rs.flags = t->rseq.flags;
		th.rseq = &rs;
	}
	th.n_pending = t->nr_sig;
	th.pending = sp;

	for (int i = 0; i < NR_SIGNALS; i++) {
		sigaction_entry__init(&sa[i]);
		sa[i].sig = i + 1;
		sa[i].handler = dc->misc.sa[i].handler;
		sa[i].flags = dc->misc.sa[i].flags;
		sa[i].restorer = dc->misc.sa[i].restorer;
		sa[i].mask = dc->misc.sa[i].mask;
		sap[i] = &sa[i];
	}
	for (int i = 0; i < NR_RLIMITS; i++) {
		rlimit_entry__init(&rl[i]);
		rl[i].resource = i;
		rl[i].cur = dc->misc.rlim[i].cur;
		rl[i].max = dc->misc.rlim[i].max;
		rlp[i] = &rl[i];
	}

	creds_fill_entry(&cr, &dc->status, dc->misc.secbits);
	/* as the task sees them, in its user namespace */
	if (ns_creds_inside(&cr))
		return -1;
	/* a thread that changed its creds with raw syscalls keeps its own */
	if (t->tid != dc->pid && creds_differ(&t->status, t->secbits, &dc->status, dc->misc.secbits)) {
		creds_fill_entry(&tcr, &t->status, t->secbits);
		if (ns_creds_inside(&tcr))
			return -1;
		th.creds = &tcr;
	}

	/* the process part goes into the leader's core only */
	if (t->tid != dc->pid)
		goto write;
	pers = read_proc_file(dc->pid, "personality", NULL);
	if (!pers) {
		pr_perror("can't read /proc/%d/personality", dc->pid);
		return -1;
	}
	snprintf(personality, sizeof(personality), "%s", pers);
	free(pers);

	tc.comm = dc->stat.comm;
	tc.personality = strtoul(personality, NULL, 16);
	tc.umask = dc->misc.umask;
	tc.n_sigactions = NR_SIGNALS;
	tc.sigactions = sap;
	tc.n_rlimits = NR_RLIMITS;
	tc.rlimits = rlp;
	tc.creds = &cr;
	tc.n_shared_pending = dc->nr_sig_shared;
	tc.shared_pending = ssp;
	tc.dumpable = dc->misc.dumpable;
	tc.has_pdeath_sig = true;
	tc.pdeath_sig = dc->misc.pdeath_sig;
	tc.has_no_new_privs = true;
	tc.no_new_privs = dc->status.nonewprivs;
	ItimerEntry it[NR_ITIMERS], *itp[NR_ITIMERS];

	for (int i = 0; i < NR_ITIMERS; i++) {
		itimer_entry__init(&it[i]);
		it[i].value_us = dc->misc.itimer[i].value_sec * 1000000ULL + dc->misc.itimer[i].value_usec;
		it[i].interval_us = dc->misc.itimer[i].interval_sec * 1000000ULL + dc->misc.itimer[i].interval_usec;
		itp[i] = &it[i];
	}
	tc.n_itimers = NR_ITIMERS;
	tc.itimers = itp;
	tc.has_timer_slack_ns = true;
	tc.timer_slack_ns = dc->misc.timer_slack;
	tc.has_child_subreaper = true;
	tc.child_subreaper = dc->misc.child_subreaper;
	tc.has_thp_disabled = true;
	tc.thp_disabled = dc->misc.thp_disabled;
	tc.has_memory_merge = true;
	tc.memory_merge = dc->misc.memory_merge > 0;
	tc.has_mdwe = true;
	tc.mdwe = dc->misc.mdwe;
	tc.has_xcomp_perm = true;
	tc.xcomp_perm = dc->misc.xcomp_perm;
	tc.has_mlock_future = true;
	tc.mlock_future = dc->mlock_future;
	if (dc->misc.membarrier > 0) {
		tc.has_membarrier = true;
		tc.membarrier = dc->misc.membarrier;
	}
	if (dc->misc.pkeys) {
		tc.has_pkeys = true;
		tc.pkeys = dc->misc.pkeys;
	}
	if (fill_sched(dc, &tc))
		return -1;
	PosixTimerEntry pt[MAX_POSIX_TIMERS], *ptp[MAX_POSIX_TIMERS];

	for (int i = 0; i < dc->nr_timers; i++) {
		struct k_itimerspec *sp = &dc->misc.timers[i].spec;

		posix_timer_entry__init(&pt[i]);
		pt[i].id = dc->timers[i].id;
		pt[i].clock = dc->timers[i].clock;
		pt[i].signo = dc->timers[i].signo;
		pt[i].notify = dc->timers[i].notify;
		pt[i].has_notify_tid = true;
		pt[i].notify_tid = dc->timers[i].tid;
		pt[i].sigev_value = dc->timers[i].value;
		pt[i].value_ns = sp->value_sec * 1000000000ULL + sp->value_nsec;
		pt[i].interval_ns = sp->interval_sec * 1000000000ULL + sp->interval_nsec;
		pt[i].has_overrun = true;
		pt[i].overrun = dc->misc.timers[i].overrun;
		if (dc->timers[i].pending) {
			pt[i].has_sig_pending = pt[i].sig_pending = true;
			pt[i].has_sig_overrun = true;
			pt[i].sig_overrun = dc->misc.timers[i].sig_overrun;
		}
		ptp[i] = &pt[i];
	}
	tc.n_posix_timers = dc->nr_timers;
	tc.posix_timers = ptp;
	tc.has_stopped = true;
	tc.stopped = dc->state == COMPEL_TASK_STOPPED;
	if (tc.stopped) {
		tc.has_stop_signo = true;
		tc.stop_signo = dc->stopsig;
	}
	tc.has_exit_signal = true;
	tc.exit_signal = dc->stat.exit_signal;

	core.tc = &tc;
write:
	core.thread = &th;

	img = open_image_at(dc->dfd, CR_FD_CORE, O_DUMP, t->tid);
	if (!img)
		return -1;
	ret = pb_write_one(img, &core);
	return finish_image(img, ret);
}
