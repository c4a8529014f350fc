/*
 * The parasite: runs inside a dumped task as a compel daemon, reports the
 * state only the task itself can read, and vmsplices its memory into pipes
 * the dumper gave it.
 */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/prctl.h>
#include <asm/prctl.h>
#ifndef ARCH_GET_XCOMP_PERM
#define ARCH_GET_XCOMP_PERM	0x1022
#endif
#include <asm/unistd.h>

#include "compel/blob.h"
#include "parasite.h"
#include "timer-pend.h"

#ifndef SPLICE_F_NONBLOCK
#define SPLICE_F_NONBLOCK	0x02
#endif

static int pipes[2 * PARASITE_MAX_PIPES];	/* write ends, then read ends */
static int nr_pipes;

/*
 * CPUID.(EAX=7,ECX=0):ECX.OSPKE: the kernel turned protection keys on.
 * Without them pkey_alloc() fails with ENOSPC too, as when all are taken.
 */
static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *c)
{
	uint32_t b, d;
	/* a task may have made cpuid fault (ARCH_SET_CPUID 0): let it through here only */
	int faulting = sys_arch_prctl(ARCH_GET_CPUID, 0) == 0;

	if (faulting)
		sys_arch_prctl(ARCH_SET_CPUID, 1);
	*a = leaf;
	*c = 0;
	asm volatile("cpuid" : "+a"(*a), "=b"(b), "+c"(*c), "=d"(d));
	if (faulting)
		sys_arch_prctl(ARCH_SET_CPUID, 0);
}

static int ospke(void)
{
	uint32_t a, c;

	cpuid(0, &a, &c);
	if (a < 7)
		return 0;
	cpuid(7, &a, &c);
	return !!(c & (1U << 4));
}

/*
 * The mm's allocated protection keys. The kernel shows no list of them:
 * every key pkey_alloc() still hands out is a free one; the others are the
 * task's. The keys taken are given back at once. pkey_alloc() also opens
 * each key in this thread's PKRU: compel puts the whole XSAVE state, PKRU
 * with it, back when the parasite leaves.
 */
static long dump_pkeys(struct parasite_misc *m)
{
	uint32_t taken = 0;
	long k;

	m->pkeys = 0;
	if (!ospke())
		return 0;
	while ((k = __S(__NR_pkey_alloc, 0, 0, 0, 0, 0, 0)) > 0 && k < 32)
		taken |= 1U << k;
	for (int i = 1; i < 32; i++)
		if (taken & (1U << i))
			__S(__NR_pkey_free, i, 0, 0, 0, 0, 0);
	/* ENOSPC: none left; anything else and we know nothing */
	if (k != -ENOSPC)
		return k < 0 ? k : -ERANGE;
	/* keys 1..15 exist on x86; key 0 is every mm's own */
	m->pkeys = ~taken & 0xfffe;
	return 0;
}

/*
 * A periodic timer's pending signal: how many times it ran over so far is
 * known only to whoever takes the signal. Taken (with every signal
 * blocked, it was the first of its number: the dump checked), it is made
 * pending again at once, the timer armed at the expiry that queued it
 * (timer-pend.h): the task finds it as it was, but for timer_getoverrun(),
 * which reads 0 until the signal is taken, and the spec is the one after.
 */
static int timer_overruns(struct parasite_timer *t)
{
	uint64_t set = 1ULL << (t->signo - 1);
	struct { int64_t sec, nsec; } zero = { 0, 0 };
	int32_t info[32];
	long ret;

	t->sig_overrun = 0;
	if (!t->spec.interval_sec && !t->spec.interval_nsec)
		return 0;	/* a one-shot timer: no overruns, nothing to take */
	if (t->signo < 1 || t->signo > 64)
		return -EINVAL;
	ret = __S(__NR_rt_sigtimedwait, &set, info, &zero, 8, 0, 0);
	if (ret != t->signo)
		return ret < 0 ? ret : -EINVAL;
	if (info[2] != -2 /* SI_TIMER */ || info[4] != t->id) {
		/* not the timer's after all: back in place (first of its number, as it was) */
		__S(__NR_rt_tgsigqueueinfo, __S(__NR_getpid, 0, 0, 0, 0, 0, 0), __S(__NR_gettid, 0, 0, 0, 0, 0, 0),
		    t->signo, info, 0, 0);
		return -EINVAL;
	}
	t->sig_overrun = info[5];
	ret = __S(__NR_timer_gettime, t->id, &t->spec, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	return timer_pend_signal(t->id, t->clock, t->signo, &t->spec,
				 t->spec.value_sec * 1000000000LL + t->spec.value_nsec, t->sig_overrun, 1);
}

static int dump_misc(struct parasite_misc *m)
{
	long ret;
	int i;

	for (i = 0; i < NR_SIGNALS; i++) {
		m->sa[i].handler = m->sa[i].flags = m->sa[i].restorer = m->sa[i].mask = 0;
		if (i + 1 == SIGKILL || i + 1 == SIGSTOP || (m->sa_skip & SIGMASK_BIT(i + 1)))
			continue;
		ret = sys_rt_sigaction(i + 1, 0, &m->sa[i], 8);
		if (ret < 0) {
			m->err_where = 1;
			return ret;
		}
	}
	ret = sys_sigaltstack(0, &m->altstack);
	if (ret < 0) {
		m->err_where = 2;
		return ret;
	}
	for (i = 0; i < NR_RLIMITS; i++) {
		ret = sys_prlimit64(0, i, 0, &m->rlim[i]);
		if (ret < 0) {
			m->err_where = 3;
			return ret;
		}
	}
	m->brk = sys_brk(0);
	for (i = 0; i < NR_ITIMERS; i++) {
		ret = __S(__NR_getitimer, i, &m->itimer[i], 0, 0, 0, 0);
		if (ret < 0) {
			m->err_where = 4;
			return ret;
		}
	}
	m->timer_slack = sys_prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (sys_prctl(PR_GET_CHILD_SUBREAPER, &m->child_subreaper, 0, 0, 0) < 0)
		m->child_subreaper = 0;
	m->thp_disabled = sys_prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) > 0;
	m->memory_merge = sys_prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	/* per mm, and only the mm's own task can ask (Linux 6.3+) */
	m->membarrier = __S(__NR_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0, 0, 0, 0);
	ret = dump_pkeys(m);
	if (ret < 0) {
		m->err_where = 6;
		return ret;
	}
	for (i = 0; i < m->nr_timers && i < MAX_POSIX_TIMERS; i++) {
		ret = __S(__NR_timer_gettime, m->timers[i].id, &m->timers[i].spec, 0, 0, 0, 0);
		if (ret < 0) {
			m->err_where = 5;
			return ret;
		}
		m->timers[i].overrun = __S(__NR_timer_getoverrun, m->timers[i].id, 0, 0, 0, 0, 0);
	}
	for (i = 0; i < m->nr_timers && i < MAX_POSIX_TIMERS; i++) {
		ret = m->timers[i].pending ? timer_overruns(&m->timers[i]) : 0;
		if (ret < 0) {
			m->err_where = 7;
			return ret;
		}
	}
	if (sys_prctl(PR_GET_TID_ADDRESS, &m->tid_address, 0, 0, 0) < 0)
		m->tid_address = 0;
	m->dumpable = sys_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	m->secbits = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (sys_prctl(PR_GET_TSC, &m->tsc, 0, 0, 0) < 0)
		m->tsc = 0;
	m->cpuid = sys_arch_prctl(ARCH_GET_CPUID, 0);
	m->mce_kill = sys_prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
	/*
	 * kcmp() about ourselves must work first (no sandbox in the way): then a refusal is the domain's.
	 * Else no answer (0): the args area holds what an earlier command left there.
	 */
	m->landlock_kcmp = 0;
	if (m->landlock_probe > 0 && !__S(__NR_kcmp, sys_getpid(), sys_getpid(), 1 /* KCMP_VM */, 0, 0, 0))
		m->landlock_kcmp = __S(__NR_kcmp, sys_getpid(), m->landlock_probe, 1 /* KCMP_VM */, 0, 0, 0);
	if (sys_arch_prctl(ARCH_GET_XCOMP_PERM, &m->xcomp_perm))
		m->xcomp_perm = 0;
	if (__S(__NR_get_mempolicy, &m->mempolicy, m->mempolicy_nodes, MEMPOLICY_NODES, 0, 0, 0))
		m->mempolicy = -1;
	for (i = 0; i < NR_SPEC_CTRL; i++)
		m->spec[i] = sys_prctl(PR_GET_SPECULATION_CTRL, i, 0, 0, 0);
	m->mdwe = sys_prctl(PR_GET_MDWE, 0, 0, 0, 0);
	if (m->mdwe < 0)
		m->mdwe = 0;
	ret = sys_prctl(PR_GET_PDEATHSIG, &m->pdeath_sig, 0, 0, 0);
	if (ret < 0)
		m->pdeath_sig = 0;
	/* umask(2) can only be read by setting it: set it back at once. */
	m->umask = sys_umask(0);
	sys_umask(m->umask);
	return 0;
}

static void close_pipes(void)
{
	for (int i = 0; i < 2 * nr_pipes; i++)
		sys_close(pipes[i]);
	nr_pipes = 0;
}

/*
 * The write ends we vmsplice into, then their read ends: holding those
 * too, a pipe never loses its readers, so a dumper that dies under us
 * can't get the task a SIGPIPE (blocked now, it would hit the task later).
 */
static int take_pipes(int nr)
{
	int ret;

	if (nr <= 0 || nr > PARASITE_MAX_PIPES)
		return -EINVAL;
	close_pipes();
	ret = compel_blob_recv_fds(pipes, 2 * nr);
	if (ret)
		return ret;
	nr_pipes = nr;
	return 0;
}

/*
 * A userfaultfd of this mm made through /dev/userfaultfd (the dumper's fd,
 * received and closed here): unlike the syscall's, one that kernel-mode
 * faults wait on too, whatever the task's privileges (snapshot.c). It goes
 * back to the dumper and is closed here: the fd table is as before.
 */
#define PARASITE_USERFAULTFD_IOC_NEW	0xaa00	/* _IO(0xAA, 0x00) */

static int new_uffd(uint32_t flags)
{
	int dev, fd, ret;

	ret = compel_blob_recv_fds(&dev, 1);
	if (ret)
		return ret;
	fd = __S(__NR_ioctl, dev, PARASITE_USERFAULTFD_IOC_NEW, flags, 0, 0, 0);
	sys_close(dev);
	if (fd < 0)
		return fd;
	ret = compel_blob_send_fds(&fd, 1);
	sys_close(fd);
	return ret;
}

static long splice_iovs(int fd, struct iovec *iov, unsigned int nr)
{
	long total = 0;

	while (nr) {
		long ret = sys_vmsplice(fd, iov, nr, SPLICE_F_NONBLOCK);

		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EIO;
		total += ret;
		/* Skip what went in; the pipe was sized for all of it. */
		while (nr && (unsigned long)ret >= iov->iov_len) {
			ret -= iov->iov_len;
			iov++;
			nr--;
		}
		if (nr && ret) {
			iov->iov_base = (char *)iov->iov_base + ret;
			iov->iov_len -= ret;
		}
	}
	return total;
}

#define PAGE_SZ	4096UL

static int page_is_zero(const uint64_t *w)
{
	for (unsigned int i = 0; i < PAGE_SZ / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return 0;
	return 1;
}

/*
 * Copy @n iovs to @out, leaving out all-zero pages when asked. Returns the
 * number of iovs written, or -E2BIG when @max is too small.
 */
static long filter_iovs(const struct iovec *in, unsigned int n, struct iovec *out, unsigned int max,
			int skip_zero, uint64_t *zero)
{
	unsigned int nr = 0;

	for (unsigned int i = 0; i < n; i++) {
		char *base = in[i].iov_base;

		if (!skip_zero) {
			if (nr == max)
				return -E2BIG;
			out[nr++] = in[i];
			continue;
		}
		for (unsigned long off = 0; off < in[i].iov_len; off += PAGE_SZ) {
			char *page = base + off;

			if (page_is_zero((const uint64_t *)page)) {
				(*zero)++;
				continue;
			}
			if (nr && (char *)out[nr - 1].iov_base + out[nr - 1].iov_len == page) {
				out[nr - 1].iov_len += PAGE_SZ;
				continue;
			}
			if (nr == max)
				return -E2BIG;
			out[nr].iov_base = page;
			out[nr].iov_len = PAGE_SZ;
			nr++;
		}
	}
	return nr;
}

static int dump_pages(struct parasite_pages *p)
{
	unsigned int i, in = 0, out = 0;

	if (p->first_pipe > (unsigned int)nr_pipes || p->nr_pipes > (unsigned int)nr_pipes - p->first_pipe)
		return -EINVAL;
	p->zero_pages = 0;
	for (i = 0; i < p->nr_pipes; i++) {
		long ret;

		if (p->nr_iovs[i] > PARASITE_MAX_IOVS - in)
			return -E2BIG;
		ret = filter_iovs(&p->iovs[in], p->nr_iovs[i], &p->out[out], PARASITE_MAX_IOVS - out,
				  p->skip_zero, &p->zero_pages);
		if (ret < 0)
			return ret;
		p->nr_out[i] = ret;
		p->nr_bytes[i] = 0;
		if (ret) {
			/* splice_iovs consumes its iovs: hand it a copy, keep out[] for the tool */
			struct iovec tmp[64];
			long done = 0;

			for (long k = 0; k < ret; k += 64) {
				long cnt = ret - k < 64 ? ret - k : 64, r;

				memcpy(tmp, &p->out[out + k], cnt * sizeof(*tmp));
				r = splice_iovs(pipes[p->first_pipe + i], tmp, cnt);
				if (r < 0)
					return r;
				done += r;
			}
			p->nr_bytes[i] = done;
		}
		in += p->nr_iovs[i];
		out += ret;
	}
	return 0;
}

static int fd_flags(struct parasite_fd_flags *f)
{
	for (uint32_t i = 0; i < f->nr && i < PARASITE_MAX_FDS; i++)
		f->flags[i] = __S(__NR_fcntl, f->fd[i], F_GETFD, 0, 0, 0, 0);
	return 0;
}

static int vma_policy(struct parasite_vma_policy *v)
{
	for (uint32_t i = 0; i < v->nr && i < PARASITE_MAX_VMAS; i++) {
		int mode = 0;
		long ret = __S(__NR_get_mempolicy, &mode, 0, 0, v->addr[i], 2 /* MPOL_F_ADDR */, 0);

		v->mode[i] = ret ? ret : mode;
	}
	return 0;
}

static int handle_cmd(unsigned int cmd, void *data)
{
	union parasite_args *args = data;

	switch (cmd) {
	case PARASITE_CMD_DUMP_MISC:
		return dump_misc(&args->misc);
	case PARASITE_CMD_TAKE_PIPES:
		return take_pipes(args->nr_pipes);
	case PARASITE_CMD_DUMP_PAGES:
		return dump_pages(&args->pages);
	case PARASITE_CMD_FD_FLAGS:
		return fd_flags(&args->fd_flags);
	case PARASITE_CMD_NEW_UFFD:
		return new_uffd(args->uffd_flags);
	case PARASITE_CMD_VMA_POLICY:
		return vma_policy(&args->vma_policy);
	case COMPEL_CMD_FINI:
		close_pipes();
		return 0;
	}
	return -ENOSYS;
}

/* Returns only when the dumper is gone: the task is then put back by compel. */
long blob_main(void *args)
{
	long ret = compel_daemon(args, handle_cmd);

	if (!((struct compel_args *)args)->no_close)
		close_pipes();
	return ret;
}
