/* Running syscalls and a parasite blob inside a seized task. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/user.h>
#include <elf.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compel/frame.h"
#include "compel/rpc.h"
#include "internal.h"
#include "log.h"

#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK	0x420b
#endif

#define PARASITE_STACK_SIZE	(64 * 1024)
#define PAGE_SZ			4096UL
#define ALIGN_PAGE(x)		(((x) + PAGE_SZ - 1) & ~(PAGE_SZ - 1))

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO	0x420e
#endif
#define SYSCALL_INFO_ENTRY	1
#define SYSCALL_INFO_EXIT	2
#define NR_RT_SIGRETURN		15

struct syscall_info_hdr {
	uint8_t op;
	uint8_t pad[3];
	uint32_t arch;
	uint64_t instruction_pointer;
	uint64_t stack_pointer;
};

/*
 * Code the task already has, to run syscalls from while no blob of ours is
 * mapped (and to remove it): "syscall" followed by nothing but
 * "xor reg, reg" up to a "ret" (the vDSO's fallbacks, libc's wrappers),
 * and "mov $15, %rax; syscall" (the rt_sigreturn restorer every libc has).
 * A syscall run there with %rsp at the heal frame returns into the task's
 * own state by itself, whenever we let go of it.
 */
static int is_sys_ret(const unsigned char *p, size_t n)
{
	size_t i = 2;

	if (n < 3 || p[0] != 0x0f || p[1] != 0x05)
		return 0;
	while (i < n && i < 24) {
		if (p[i] == 0xc3)
			return 1;
		if (p[i] == 0x31 && i + 1 < n && (p[i + 1] & 0xc0) == 0xc0 && (p[i + 1] >> 3 & 7) == (p[i + 1] & 7))
			i += 2;
		else if ((p[i] == 0x45 || p[i] == 0x48 || p[i] == 0x4d) && i + 2 < n && p[i + 1] == 0x31 &&
			 (p[i + 2] & 0xc0) == 0xc0 && (p[i + 2] >> 3 & 7) == (p[i + 2] & 7))
			i += 3;
		else
			return 0;
	}
	return 0;
}

static int is_sigret(const unsigned char *p, size_t n, size_t *skip)
{
	static const unsigned char a[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	static const unsigned char b[] = { 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

	if (n >= sizeof(a) && !memcmp(p, a, sizeof(a)))
		return 1;
	if (n >= sizeof(b) && !memcmp(p, b, sizeof(b)))
		return 1;
	(void)skip;
	return 0;
}

struct gadgets {
	unsigned long sys_ip;		/* any "syscall" */
	unsigned long sys_ret_ip;	/* "syscall; [xor r, r]...; ret" */
	unsigned long sigret_ip;	/* "mov $15, %rax; syscall" */
};

/*
 * A file's gadgets, by offset: the same libraries and programs are in most
 * tasks of a tree. Every area scanned stays (a program of 200 MiB is
 * scanned once per dump, not once per process).
 */
static struct gadget_cache {
	dev_t dev;
	ino_t ino;
	unsigned long pgoff, len;
	long sys, sys_ret, sigret;	/* offsets in the area, -1 if none */
} *gcache;
static unsigned int gcache_nr, gcache_cap;

/*
 * Every gadget ends a "syscall" (0f 05): its places are found with
 * memchr() (a scan of a whole program's text costs a copy of it), and
 * each is looked at as a syscall, the start of a syscall-ret, and the end
 * of either form of the rt_sigreturn code.
 */
static void scan_buf(const unsigned char *buf, size_t n, unsigned long a, struct gadgets *g)
{
	const unsigned char *p = buf, *end = buf + n;
	size_t skip = 0;

	while (p + 1 < end && (p = memchr(p, 0x0f, end - p - 1))) {
		size_t i = p - buf;

		if (p[1] == 0x05) {
			if (!g->sys_ip)
				g->sys_ip = a + i;
			if (!g->sys_ret_ip && is_sys_ret(p, end - p))
				g->sys_ret_ip = a + i;
			if (!g->sigret_ip && i >= 7 && is_sigret(p - 7, end - p + 7, &skip))
				g->sigret_ip = a + i - 7;
			if (!g->sigret_ip && i >= 5 && is_sigret(p - 5, end - p + 5, &skip))
				g->sigret_ip = a + i - 5;
			if (g->sys_ip && g->sys_ret_ip && g->sigret_ip)
				return;
		}
		p++;
	}
}

static void scan_area(pid_t pid, unsigned long start, unsigned long end, struct gadgets *g)
{
	static unsigned char buf[(1 << 20) + 32];
	unsigned long a = start;

	while (a < end && (!g->sys_ret_ip || !g->sigret_ip || !g->sys_ip)) {
		size_t want = end - a < sizeof(buf) ? end - a : sizeof(buf);
		struct iovec l = { buf, want }, r = { (void *)a, want };
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

		if (n <= 0)
			return;
		scan_buf(buf, n, a, g);
		if ((size_t)n < want || (size_t)n <= 32)
			return;
		a += n - 32;	/* overlap: a pattern may straddle two reads */
	}
}

static void scan_file_area(pid_t pid, unsigned long start, unsigned long end, unsigned long pgoff, dev_t dev,
			   ino_t ino, struct gadgets *g)
{
	struct gadgets local = { 0 };
	struct gadget_cache *c = NULL;

	for (unsigned int i = 0; i < gcache_nr; i++)
		if (gcache[i].dev == dev && gcache[i].ino == ino && gcache[i].pgoff == pgoff &&
		    gcache[i].len == end - start)
			c = &gcache[i];
	if (!c) {
		scan_area(pid, start, end, &local);
		if (gcache_nr == gcache_cap) {
			unsigned int cap = gcache_cap ? gcache_cap * 2 : 64;
			struct gadget_cache *n = realloc(gcache, cap * sizeof(*n));

			if (!n) {
				/* not remembered: what was found serves this task */
				*g = (struct gadgets){ g->sys_ip ?: local.sys_ip, g->sys_ret_ip ?: local.sys_ret_ip,
						       g->sigret_ip ?: local.sigret_ip };
				return;
			}
			gcache = n;
			gcache_cap = cap;
		}
		c = &gcache[gcache_nr++];
		*c = (struct gadget_cache){ dev, ino, pgoff, end - start,
					    local.sys_ip ? (long)(local.sys_ip - start) : -1,
					    local.sys_ret_ip ? (long)(local.sys_ret_ip - start) : -1,
					    local.sigret_ip ? (long)(local.sigret_ip - start) : -1 };
	}
	if (!g->sys_ip && c->sys >= 0)
		g->sys_ip = start + c->sys;
	if (!g->sys_ret_ip && c->sys_ret >= 0)
		g->sys_ret_ip = start + c->sys_ret;
	if (!g->sigret_ip && c->sigret >= 0)
		g->sigret_ip = start + c->sigret;
}

/* PROCMAP_QUERY (Linux 6.11): one area of /proc/PID/maps per ioctl, filtered by the kernel. */
#ifndef PROCMAP_QUERY
#define PROCMAP_QUERY_VMA_READABLE		0x01
#define PROCMAP_QUERY_VMA_EXECUTABLE		0x04
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA	0x10
struct procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define PROCMAP_QUERY	_IOWR('f', 17, struct procmap_query)
#endif

/* An executable area of the task, as find_gadgets() looks at them. */
struct xarea {
	unsigned long start, end, pgoff, ino;
	dev_t dev;
	int vdso;
};

struct xareas {
	struct xarea *a;
	size_t nr, cap;
};

static int xareas_add(struct xareas *x, struct xarea a)
{
	if (x->nr == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct xarea *n = realloc(x->a, cap * sizeof(*n));

		if (!n) {
			cpr_err("out of memory\n");
			return -1;
		}
		x->a = n;
		x->cap = cap;
	}
	x->a[x->nr++] = a;
	return 0;
}

/*
 * fgets() of /proc text, telling an error from the end, which fgets()
 * alone reports alike: 1, 0 at the end, -1 (reported).
 */
static int proc_line(FILE *f, char *buf, int size, const char *path)
{
	size_t len;
	int c;

	errno = 0;
	if (!fgets(buf, size, f)) {
		if (feof(f) && !ferror(f))
			return 0;
		if (!errno)
			errno = EIO;
		cpr_perror("read %s", path);
		return -1;
	}
	len = strlen(buf);
	if (len < (size_t)size - 1 || buf[len - 1] == '\n')
		return 1;
	/*
	 * Only the heads of lines are of interest here (the fields of maps,
	 * status's Seccomp:), and status's Groups: has any length: the rest of
	 * a long line is skipped, never taken for a line of its own.
	 */
	while ((c = getc(f)) != EOF && c != '\n')
		;
	if (ferror(f)) {
		cpr_perror("read %s", path);
		return -1;
	}
	return 1;
}

/*
 * The readable and executable areas of @pid, asked of the kernel: a task
 * with thousands of data mappings has a handful of these, and the text of
 * its maps costs a line (and a sscanf) per mapping. 1 if the kernel has no
 * PROCMAP_QUERY, -1 on error.
 */
static int xareas_query(pid_t pid, struct xareas *x)
{
	char path[64], name[64];
	unsigned long addr = 0;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cpr_perror("open %s", path);
		return -1;
	}
	for (;;) {
		struct procmap_query q = {
			.size = sizeof(q),
			.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_VMA_READABLE |
				       PROCMAP_QUERY_VMA_EXECUTABLE,
			.query_addr = addr,
			.vma_name_size = sizeof(name),
			.vma_name_addr = (uint64_t)(unsigned long)name,
		};

		if (ioctl(fd, PROCMAP_QUERY, &q)) {
			if (errno == ENOENT)
				break;
			if (errno == ENOTTY || errno == EINVAL)
				ret = 1;	/* an older kernel: the text of maps instead */
			else if (errno == ENAMETOOLONG) {
				/* a file with a long path: not one of the special areas */
				q.vma_name_size = 0;
				q.vma_name_addr = 0;
				if (!ioctl(fd, PROCMAP_QUERY, &q))
					goto got;
				cpr_perror("PROCMAP_QUERY of %s at %#lx", path, addr);
			} else
				cpr_perror("PROCMAP_QUERY of %s at %#lx", path, addr);
			goto out;
		}
got:
		addr = q.vma_end;
		if (q.vma_name_size && !strcmp(name, "[uprobes]"))
			continue;
		if (xareas_add(x, (struct xarea){ q.vma_start, q.vma_end, q.vma_offset, q.inode,
						   makedev(q.dev_major, q.dev_minor),
						   q.vma_name_size && !strcmp(name, "[vdso]") }))
			goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The same from the text of /proc/PID/maps. */
static int xareas_text(pid_t pid, struct xareas *x)
{
	/* a line holds a path of up to PATH_MAX and what comes before it */
	char path[64], line[PATH_MAX + 256];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		cpr_perror("open %s", path);
		return -1;
	}
	while ((r = proc_line(f, line, sizeof(line), path)) > 0) {
		unsigned long start, end, pgoff, ino, maj, min;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s %lx %lx:%lx %lu", &start, &end, perms, &pgoff, &maj, &min, &ino) != 7 ||
		    perms[2] != 'x' || perms[0] != 'r' || strstr(line, "[vsyscall]") || strstr(line, "[uprobes]"))
			continue;
		if (xareas_add(x, (struct xarea){ start, end, pgoff, ino, makedev(maj, min),
						   strstr(line, "[vdso]") != NULL })) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return r < 0 ? -1 : 0;
}

/* The vDSO first, then the other areas smallest first. */
static int cmp_size(const void *a, const void *b)
{
	const struct xarea *x = a, *y = b;
	unsigned long lx = x->end - x->start, ly = y->end - y->start;

	if (x->vdso != y->vdso)
		return x->vdso ? -1 : 1;
	return lx < ly ? -1 : lx > ly;
}

/*
 * The vDSO first, then the other executable areas, smallest first, until
 * all three are found: libc has them all, and a program of hundreds of
 * MiB (a browser) is not read through for them.
 */
static int find_gadgets(pid_t pid, struct gadgets *g)
{
	struct xareas x = { 0 };
	int ret;

	memset(g, 0, sizeof(*g));
	ret = xareas_query(pid, &x);
	if (ret > 0) {
		x.nr = 0;
		ret = xareas_text(pid, &x);
	}
	if (ret) {
		free(x.a);
		return -1;
	}
	if (x.nr)
		qsort(x.a, x.nr, sizeof(*x.a), cmp_size);
	for (size_t i = 0; i < x.nr && (!g->sys_ip || !g->sys_ret_ip || !g->sigret_ip); i++) {
		if (x.a[i].ino && !x.a[i].vdso)
			scan_file_area(pid, x.a[i].start, x.a[i].end, x.a[i].pgoff, x.a[i].dev, x.a[i].ino, g);
		else
			scan_area(pid, x.a[i].start, x.a[i].end, g);
	}
	free(x.a);
	if (!g->sys_ip) {
		cpr_err("task %d has no syscall instruction to run syscalls from (no vDSO?)\n", pid);
		return -1;
	}
	if (!g->sys_ret_ip || !g->sigret_ip)
		cpr_debug("task %d: no syscall-ret or rt_sigreturn code of its own: bare syscalls\n", pid);
	return 0;
}

/*
 * The task's seccomp mode (0, 1 strict, 2 filter), or -1 (reported): how
 * it is healed hangs on it; and the signals it catches.
 */
/* What compel needs of /proc/TID/status. */
struct task_status {
	uint64_t pending;	/* SigPnd | ShdPnd */
	uint64_t caught;	/* SigCgt */
	int seccomp;		/* -1 if the line is missing */
};

static int read_status(pid_t tid, struct task_status *st)
{
	char path[64], line[256];
	FILE *f;
	int r;

	*st = (struct task_status){ .seccomp = -1 };
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f) {
		cpr_perror("open %s", path);
		return -1;
	}
	while ((r = proc_line(f, line, sizeof(line), path)) > 0) {
		unsigned long long v;

		if (sscanf(line, "SigPnd: %llx", &v) == 1 || sscanf(line, "ShdPnd: %llx", &v) == 1)
			st->pending |= v;
		else if (sscanf(line, "SigCgt: %llx", &v) == 1)
			st->caught = v;
		else if (sscanf(line, "Seccomp: %d", &st->seccomp) == 1)
			break;
	}
	fclose(f);
	return r < 0 ? -1 : 0;
}

static int seccomp_mode(pid_t pid, uint64_t *caught)
{
	struct task_status st;

	if (read_status(pid, &st))
		return -1;
	if (st.seccomp < 0)
		cpr_err("/proc/%d/status has no Seccomp: line\n", pid);
	*caught = st.caught;
	return st.seccomp;
}

/*
 * The waits that end with a bare -EINTR when their task merely stops
 * (signal(7)): sigtimedwait(), epoll_wait(), semop(). Our interrupt is such
 * a stop: the task would see an EINTR that no signal of its own caused (a
 * sigwaitinfo() loop that takes EINTR for an error gives up). Had we not
 * come, it would still wait: so it is left as a syscall that restarts
 * unless a handler runs (-ERESTARTNOHAND, pause()'s code), which gives
 * back the EINTR of a signal that is pending for a handler. The images
 * carry that code too. A timeout counts from the restart, as a sleep's.
 */
static void eintr_wait_restarts(struct user_regs_struct *r)
{
	if ((long)(int)r->rax != -EINTR || r->cs != 0x33)	/* 64-bit syscall numbers */
		return;
	switch ((long)r->orig_rax) {
	case __NR_rt_sigtimedwait:
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
	case __NR_semop:
	case __NR_semtimedop:
		r->rax = -514;	/* ERESTARTNOHAND */
		break;
	}
}

/*
 * A ctl for @tid with its state saved and its heal frame written (nothing
 * of the task's own is changed yet). @leader, if given, lends its blob for
 * running syscalls; otherwise they run from a syscall insn of the task's.
 */
static struct parasite_ctl *prepare(pid_t tid, struct parasite_ctl *leader)
{
	struct parasite_ctl *ctl;
	int mode;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		cpr_err("out of memory\n");
		return NULL;
	}
	ctl->pid = tid;
	ctl->sock = ctl->listen_sock = -1;
	if (compel_get_thread_state(tid, &ctl->orig))
		goto err;
	eintr_wait_restarts(&ctl->orig.regs);
	if (leader) {
		ctl->blob = leader->blob;
		ctl->remote_map = leader->remote_map;
		ctl->borrowed = 1;
	} else {
		struct gadgets g;

		if (find_gadgets(tid, &g))
			goto err;
		ctl->sys_ip = g.sys_ip;
		if (g.sys_ret_ip && g.sigret_ip) {
			ctl->sys_ret_ip = g.sys_ret_ip;
			ctl->sigret_ip = g.sigret_ip;
		}
	}
	mode = seccomp_mode(tid, &ctl->caught);
	if (mode < 0)
		goto err;
	ctl->strict_seccomp = mode == 1;
	ctl->seccomp_filter = mode == 2;
	if (compel_write_frame(ctl, ctl->remote_map ? ctl->remote_map + ctl->blob->heal_off : ctl->sigret_ip))
		goto err;
	return ctl;
err:
	compel_free_thread_state(&ctl->orig);
	free(ctl);
	return NULL;
}

struct parasite_ctl *compel_prepare_thread(struct parasite_ctl *leader, pid_t tid)
{
	if (!leader->remote_map) {
		cpr_err("thread %d: its leader has no parasite\n", tid);
		return NULL;
	}
	return prepare(tid, leader);
}

struct parasite_ctl *compel_prepare(pid_t pid)
{
	return prepare(pid, NULL);
}

const struct compel_thread_state *compel_orig_state(struct parasite_ctl *ctl)
{
	return &ctl->orig;
}

static int set_regs(struct parasite_ctl *ctl, struct user_regs_struct *regs)
{
	/* where the task goes next hangs on it: once more before giving up */
	if (cptrace(PTRACE_SETREGS, ctl->pid, NULL, regs)) {
		cpr_perror("PTRACE_SETREGS of %d", ctl->pid);
		return -1;
	}
	return 0;
}

#define K_ERESTARTSYS		(-512)
#define K_ERESTARTNOHAND	(-514)
#define K_ERESTART_RESTARTBLOCK	(-516)

/*
 * Block every signal, so that nothing interrupts our code. Only ever done
 * with the registers already on a heal path, which ends in rt_sigreturn
 * of the frame and so gives the task its own mask back.
 */
static int arm(struct parasite_ctl *ctl)
{
	uint64_t all = ~0ULL;

	if (ctl->armed)
		return 0;
	if (cptrace(PTRACE_SETSIGMASK, ctl->pid, (void *)sizeof(all), &all)) {
		cpr_perror("blocking signals of %d", ctl->pid);
		return -1;
	}
	ctl->armed = 1;
	return 0;
}

static int write_task(pid_t pid, unsigned long addr, const void *buf, size_t len);

/* The frame returns -EINTR just past the syscall insn, as after a caught signal. */
static int frame_eintr(struct parasite_ctl *ctl)
{
	uint64_t rax = -EINTR, rip = ctl->orig.regs.rip;

	if (ctl->frame_eintr)
		return 0;
	if (write_task(ctl->pid, ctl->frame + offsetof(struct compel_sigframe, uc.mc.rax), &rax, sizeof(rax)) ||
	    write_task(ctl->pid, ctl->frame + offsetof(struct compel_sigframe, uc.mc.rip), &rip, sizeof(rip)))
		return -1;
	cpr_debug("task %d: a caught signal is pending: its syscall returns EINTR\n", ctl->pid);
	ctl->frame_eintr = 1;
	return 0;
}

/*
 * While the frame returns into no blob of ours (before the blob is in, at
 * the cure's munmap) only the tool can settle it (frame.h): before each
 * syscall it injects there, a caught signal the task's mask lets through
 * already pending makes the frame return EINTR where the kernel would
 * have (for ERESTARTSYS once its SA_RESTART is read, after that syscall:
 * settle_by_sa_restart()). Signals stay blocked all along: one taken off
 * the queue and given back would go behind those that came after it.
 */
static int settle_from_proc(struct parasite_ctl *ctl, int can_ask)
{
	struct task_status st;
	uint64_t want;

	if (ctl->frame_eintr || ctl->query_sig || ctl->querying || ctl->settle_failed)
		return 0;
	if (ctl->restart_code != K_ERESTARTSYS && ctl->restart_code != K_ERESTARTNOHAND &&
	    ctl->restart_code != K_ERESTART_RESTARTBLOCK)
		return 0;
	if (ctl->restart_code == K_ERESTARTSYS && !can_ask)
		return 0;
	want = ctl->caught & ~ctl->orig.sigmask & ~ctl->sa_restart;
	if (!want)
		return 0;
	if (read_status(ctl->pid, &st)) {
		ctl->settle_failed = 1;	/* reported: the cure fails for it, nothing else is held up */
		return 0;
	}
	want &= st.pending;
	if (!want)
		return 0;
	if (ctl->restart_code != K_ERESTARTSYS) {
		if (frame_eintr(ctl))
			ctl->settle_failed = 1;
		return 0;
	}
	ctl->query_sig = __builtin_ctzll(want) + 1;
	return 0;
}

static int settle_pending(struct parasite_ctl *ctl)
{
	if (ctl->blob_heals || ctl->borrowed)
		return 0;
	return settle_from_proc(ctl, 1);
}

/* Resume to the next syscall stop; *op is SYSCALL_INFO_ENTRY or _EXIT. */
static int next_syscall_stop(struct parasite_ctl *ctl, int *op)
{
	struct syscall_info_hdr info;
	int status;

	if (cptrace(PTRACE_SYSCALL, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_SYSCALL of %d", ctl->pid);
		return -1;
	}
	while (1) {
		if (compel_wait_stop_nointr(ctl->pid, &status) < 0) {
			cpr_perror("waitpid(%d)", ctl->pid);
			return -1;
		}
		if (!WIFSTOPPED(status)) {
			cpr_err("task %d died while running injected code (status 0x%x)\n", ctl->pid, status);
			return -1;
		}
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			memset(&info, 0, sizeof(info));
			if (cptrace(PTRACE_GET_SYSCALL_INFO, ctl->pid, (void *)sizeof(info), &info) < 0) {
				cpr_perror("PTRACE_GET_SYSCALL_INFO of %d", ctl->pid);
				return -1;
			}
			*op = info.op;
			return 0;
		}
		/* a group-stop trap left over: the task is ours, let it go on */
		if ((status >> 16) == PTRACE_EVENT_STOP) {
			if (cptrace(PTRACE_SYSCALL, ctl->pid, NULL, NULL)) {
				cpr_perror("PTRACE_SYSCALL of %d", ctl->pid);
				return -1;
			}
			continue;
		}
		cpr_err("task %d stopped unexpectedly with signal %d (status 0x%x)\n", ctl->pid,
			WSTOPSIG(status), status);
		return -1;
	}
}

static int syscall_stop(struct parasite_ctl *ctl, int want)
{
	int op;

	if (next_syscall_stop(ctl, &op))
		return -1;
	if (op != want) {
		cpr_err("task %d: syscall %s stop expected, got %d\n", ctl->pid,
			want == SYSCALL_INFO_ENTRY ? "entry" : "exit", op);
		return -1;
	}
	return 0;
}

static void syscall_args(struct user_regs_struct *r, const unsigned long *a)
{
	r->rdi = a[0];
	r->rsi = a[1];
	r->rdx = a[2];
	r->r10 = a[3];
	r->r8 = a[4];
	r->r9 = a[5];
}

/* On the heal path without a blob: at the task's syscall insn, about to rt_sigreturn. */
static void heal_regs(struct parasite_ctl *ctl, struct user_regs_struct *r)
{
	*r = ctl->orig.regs;
	r->rip = ctl->sys_ip;
	r->rax = NR_RT_SIGRETURN;
	r->rsp = ctl->frame + 8;	/* rt_sigreturn reads the frame at %rsp - 8 */
	r->orig_rax = -1;
}

/*
 * A syscall from the task's own syscall insn (no blob): set for rt_sigreturn
 * of the frame, then changed into @nr at its entry stop. From that entry
 * stop until the registers are set back at its exit stop the task is not on
 * a heal path (Documentation/compel.md, "windows").
 */
static int syscall_at(struct parasite_ctl *ctl, unsigned long ip, long nr, const unsigned long *a,
		      struct user_regs_struct *out);

static int syscall_bare(struct parasite_ctl *ctl, long nr, const unsigned long *a, struct user_regs_struct *out,
			int keep_at_exit)
{
	struct user_regs_struct regs;

	/* the task's own "syscall; ret" and restorer: healing at every instant */
	if (ctl->sys_ret_ip)
		return syscall_at(ctl, ctl->sys_ret_ip, nr, a, out);

	heal_regs(ctl, &regs);
	if (settle_pending(ctl) || set_regs(ctl, &regs) || arm(ctl) || syscall_stop(ctl, SYSCALL_INFO_ENTRY))
		return -1;
	regs.orig_rax = nr;
	regs.rax = -38;		/* -ENOSYS, as at any syscall entry */
	syscall_args(&regs, a);
	if (set_regs(ctl, &regs) || syscall_stop(ctl, SYSCALL_INFO_EXIT))
		return -1;
	if (cptrace(PTRACE_GETREGS, ctl->pid, NULL, out)) {
		cpr_perror("PTRACE_GETREGS of %d", ctl->pid);
		return -1;
	}
	if (keep_at_exit)
		return 0;
	heal_regs(ctl, &regs);
	return set_regs(ctl, &regs);
}

/*
 * A syscall from the blob's "syscall; ret", with %rsp at the heal frame:
 * whenever the task is let go, it returns into its own state by itself.
 */
static int syscall_at(struct parasite_ctl *ctl, unsigned long ip, long nr, const unsigned long *a,
		      struct user_regs_struct *out)
{
	struct user_regs_struct regs = ctl->orig.regs;

	regs.rip = ip;
	regs.rsp = ctl->frame;
	regs.rax = nr;
	regs.orig_rax = -1;
	syscall_args(&regs, a);
	if (ctl->strict_seccomp) {
		/*
		 * Seccomp judges a syscall after its entry stop: a tool dying
		 * there would leave a strict task to be killed for it. It
		 * enters as rt_sigreturn of the frame and becomes @nr only
		 * at the stop (with %rsp back at the frame for the ret).
		 */
		regs.rax = NR_RT_SIGRETURN;
		regs.rsp = ctl->frame + 8;
		if (settle_pending(ctl) || set_regs(ctl, &regs) || arm(ctl) || syscall_stop(ctl, SYSCALL_INFO_ENTRY))
			return -1;
		if (cptrace(PTRACE_GETREGS, ctl->pid, NULL, &regs)) {
			cpr_perror("PTRACE_GETREGS of %d", ctl->pid);
			return -1;
		}
		regs.orig_rax = nr;
		regs.rsp = ctl->frame;
		if (set_regs(ctl, &regs) || syscall_stop(ctl, SYSCALL_INFO_EXIT))
			return -1;
	} else if (settle_pending(ctl) || set_regs(ctl, &regs) || arm(ctl) || syscall_stop(ctl, SYSCALL_INFO_ENTRY) ||
		   syscall_stop(ctl, SYSCALL_INFO_EXIT))
		return -1;
	if (cptrace(PTRACE_GETREGS, ctl->pid, NULL, out)) {
		cpr_perror("PTRACE_GETREGS of %d", ctl->pid);
		return -1;
	}
	return 0;
}

/*
 * A caught signal is pending while the thread's ERESTARTSYS syscall was
 * interrupted (settle_pending()): without SA_RESTART it would have
 * returned EINTR. Its action is read into the stack below the frame,
 * which nothing uses.
 */
static int settle_by_sa_restart(struct parasite_ctl *ctl)
{
	struct { uint64_t handler, flags, restorer, mask; } act;
	struct iovec l = { &act, sizeof(act) }, r = { (void *)(ctl->frame - 64), sizeof(act) };
	int sig = ctl->query_sig, err;
	long ret;

	ctl->querying = 1;
	err = compel_syscall(ctl, __NR_rt_sigaction, &ret, sig, 0, ctl->frame - 64, sizeof(act.mask), 0, 0);
	ctl->querying = 0;
	ctl->query_sig = 0;
	if (err)
		goto fail;
	if (ret) {
		cpr_err("task %d: can't read the action of its signal %d: %s\n", ctl->pid, sig, strerror(-ret));
		goto fail;
	}
	if (process_vm_readv(ctl->pid, &l, 1, &r, 1, 0) != sizeof(act)) {
		cpr_perror("task %d: reading the action of its signal %d", ctl->pid, sig);
		goto fail;
	}
	if (!(act.flags & SA_RESTART))
		return frame_eintr(ctl) ? (ctl->settle_failed = 1, 0) : 0;
	ctl->sa_restart |= 1ULL << (sig - 1);	/* not asked again */
	return 0;
fail:
	ctl->settle_failed = 1;	/* reported: the cure fails for it, nothing else is held up */
	return 0;
}

int compel_syscall(struct parasite_ctl *ctl, long nr, long *ret,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5, unsigned long a6)
{
	unsigned long a[6] = { a1, a2, a3, a4, a5, a6 };
	struct user_regs_struct regs;
	int err;

	if (ctl->running) {
		cpr_err("task %d runs its parasite: no syscalls meanwhile\n", ctl->pid);
		return -1;
	}
	if (ctl->remote_map)
		err = syscall_at(ctl, ctl->remote_map + ctl->blob->syscall_off, nr, a, &regs);
	else
		err = syscall_bare(ctl, nr, a, &regs, 0);
	if (!err)
		*ret = regs.rax;
	cpr_debug("task %d: syscall %ld = %ld\n", ctl->pid, nr, err ? -1L : (long)regs.rax);
	if (!err && ctl->query_sig && !ctl->querying && settle_by_sa_restart(ctl))
		err = -1;
	return err;
}

/*
 * An abstract name is only seen in the network namespace it was bound in:
 * a task in another one gets a socket made in its namespace.
 */
static int socket_in_netns(pid_t pid)
{
	char path[64];
	struct stat a, b;
	int self, target, sk;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &a) || stat("/proc/self/ns/net", &b) || (a.st_ino == b.st_ino && a.st_dev == b.st_dev))
		return socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
		cpr_perror("can't enter the network namespace of %d", pid);
		sk = -1;
		goto out;
	}
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (setns(self, CLONE_NEWNET)) {
		cpr_perror("can't come back to our network namespace");
		if (sk >= 0)
			close(sk);
		sk = -1;
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return sk;
}

/*
 * Let the task, its own state back, run to the interrupt stop queued for
 * it; a signal of its own may come first: it is delivered, the trap
 * follows. 0, or -1 (@after says after what it did not stop).
 */
static int run_to_stop(struct parasite_ctl *ctl, const char *after)
{
	int status;

	if (cptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_CONT of %d", ctl->pid);
		return -1;
	}
	while (1) {
		if (compel_wait_stop_nointr(ctl->pid, &status) < 0 || !WIFSTOPPED(status)) {
			cpr_err("task %d did not stop after %s (status 0x%x)\n", ctl->pid, after, status);
			return -1;
		}
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return 0;
		if (cptrace(PTRACE_CONT, ctl->pid, NULL,
			   (void *)(long)((status >> 16) == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80) ?
					  WSTOPSIG(status) : 0))) {
			cpr_perror("PTRACE_CONT of %d", ctl->pid);
			return -1;
		}
	}
}

/*
 * Give the task its own state back and leave it in an interrupt stop, from
 * any stop. The registers go last, in one call: until then it is on a heal
 * path, from then on it is itself. Leaving through the kernel's signal
 * path (the interrupt we queue first) lets it restart an interrupted
 * syscall exactly as it would have (restart block included).
 */
static int put_back(struct parasite_ctl *ctl)
{
	struct iovec iov = { .iov_base = ctl->orig.xsave, .iov_len = ctl->orig.xsave_size };
	int ret = 0;

	if (cptrace(PTRACE_INTERRUPT, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_INTERRUPT of %d", ctl->pid);
		return -1;
	}
	if (ctl->armed && cptrace(PTRACE_SETREGSET, ctl->pid, (void *)NT_X86_XSTATE, &iov)) {
		cpr_perror("PTRACE_SETREGSET(NT_X86_XSTATE) of %d", ctl->pid);
		ret = -1;
	}
	/*
	 * Between its own mask and its own registers the task is on a heal
	 * path with its signals let through: were we to die there, a pending
	 * one would run its handler first and the heal would find it gone.
	 * The frame is settled for it now (no syscall to ask SA_RESTART with).
	 */
	if (ctl->armed)
		settle_from_proc(ctl, 0);
	if (cptrace(PTRACE_SETSIGMASK, ctl->pid, (void *)sizeof(ctl->orig.sigmask), &ctl->orig.sigmask)) {
		cpr_perror("PTRACE_SETSIGMASK of %d", ctl->pid);
		ret = -1;
	}
	if (set_regs(ctl, &ctl->orig.regs))
		return -1;
	ctl->armed = 0;
	if (ctl->settle_failed)
		ret = -1;
	return run_to_stop(ctl, "we put its state back") ?: ret;
}

struct syscall_info_entry {
	struct syscall_info_hdr h;
	uint64_t nr;
	uint64_t args[6];
};

/*
 * A trapped syscall made the real one: from here until the task has gone
 * through seccomp's check of it, a tool that dies would leave the task to
 * be killed for it. Run it to its exit stop at once, asleep meanwhile (a
 * task sharing our CPU runs now); the daemon's trapped syscalls don't
 * block (its vmsplice is non-blocking, the fds it takes were sent first).
 */
/*
 * Any trap clears a pending PTRACE_INTERRUPT: while we stop the daemon
 * (ctl->stopping), it is made again before each syscall stop is left.
 */
static int strict_resume(struct parasite_ctl *ctl, int req)
{
	if (ctl->stopping && cptrace(PTRACE_INTERRUPT, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_INTERRUPT of %d", ctl->pid);
		return -1;
	}
	if (cptrace(req, ctl->pid, NULL, NULL)) {
		cpr_perror("resuming the parasite in %d", ctl->pid);
		return -1;
	}
	return 0;
}

static int run_trapped(struct parasite_ctl *ctl)
{
	int status;

	if (strict_resume(ctl, PTRACE_SYSCALL)) {
		cpr_perror("resuming the parasite in %d", ctl->pid);
		return -1;
	}
	if (compel_wait_stop_nointr(ctl->pid, &status) < 0) {
		cpr_perror("waitpid(%d)", ctl->pid);
		return -1;
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
		cpr_err("parasite in %d: no exit stop after its syscall (status 0x%x)\n", ctl->pid, status);
		if (!WIFSTOPPED(status))
			ctl->running = 0;
		return -1;
	}
	return strict_resume(ctl, PTRACE_SYSCALL);
}

/*
 * Strict seccomp: the daemon is at a syscall stop (just reported). At the
 * entry of one of its trapped syscalls (rt_sigreturn, the real number in
 * %r12: compel/blob.h) make it the real one; let it go on to its next
 * stop. 0; 1 if it was the daemon's own rt_sigreturn (it lost us and
 * healed: it then runs free, its syscalls no longer stopped); -1.
 */
int compel_strict_step(struct parasite_ctl *ctl)
{
	struct syscall_info_entry info;
	struct user_regs_struct regs;
	int req = PTRACE_SYSCALL, ret = 0;

	memset(&info, 0, sizeof(info));
	if (cptrace(PTRACE_GET_SYSCALL_INFO, ctl->pid, (void *)sizeof(info), &info) < 0) {
		cpr_perror("PTRACE_GET_SYSCALL_INFO of %d", ctl->pid);
		return -1;
	}
	if (info.h.op == SYSCALL_INFO_ENTRY && info.nr == NR_RT_SIGRETURN) {
		/* __blob_sigreturn: "movl $15, %eax; syscall", 7 bytes */
		if (info.h.instruction_pointer == ctl->remote_map + ctl->blob->sigreturn_off + 7) {
			req = PTRACE_CONT;
			ret = 1;
		} else {
			if (cptrace(PTRACE_GETREGS, ctl->pid, NULL, &regs)) {
				cpr_perror("PTRACE_GETREGS of %d", ctl->pid);
				return -1;
			}
			regs.orig_rax = regs.r12;
			if (set_regs(ctl, &regs))
				return -1;
			return run_trapped(ctl);
		}
	}
	if (strict_resume(ctl, req))
		return -1;
	return ret;
}

static int make_listen_sock(struct parasite_ctl *ctl, struct compel_args *a)
{
	static unsigned int seq;
	int len, sk;

	sk = socket_in_netns(ctl->pid);
	if (sk < 0) {
		cpr_perror("socket");
		return -1;
	}
	memset(&a->addr, 0, sizeof(a->addr));
	a->addr.sun_family = AF_UNIX;
	len = snprintf(a->addr.sun_path + 1, sizeof(a->addr.sun_path) - 1, "compel-%d-%d-%u",
		       getpid(), ctl->pid, seq++);
	a->addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + len;
	if (bind(sk, (struct sockaddr *)&a->addr, a->addr_len) || listen(sk, 1)) {
		cpr_perror("binding the control socket");
		close(sk);
		return -1;
	}
	ctl->listen_sock = sk;
	return 0;
}

static int write_task(pid_t pid, unsigned long addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };

	if (process_vm_writev(pid, &l, 1, &r, 1, 0) != (ssize_t)len) {
		cpr_perror("writing %zu bytes into %d at 0x%lx", len, pid, addr);
		return -1;
	}
	return 0;
}

/* Map @len bytes of the task's area at @remote here, at @local, shared and writable. */
static int map_here(struct parasite_ctl *ctl, unsigned long remote, size_t len, void *local)
{
	char path[128];
	void *m;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", ctl->pid, remote, remote + len);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EPERM) {
		/* e.g. criu run as root of a user namespace: capable there only */
		cpr_err("open %s: the kernel opens another task's map_files only for a process with "
			"CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) in the initial user namespace\n", path);
		return -1;
	}
	if (fd < 0) {
		cpr_perror("open %s", path);
		return -1;
	}
	m = mmap(local, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		cpr_perror("mmap of %s", path);
		return -1;
	}
	return 0;
}

static long remote_mmap(struct parasite_ctl *ctl, unsigned long addr, size_t len, int prot, int flags)
{
	long remote;

	if (compel_syscall(ctl, __NR_mmap, &remote, addr, len, prot, flags, -1, 0))
		return -EIO;
	return remote;
}

/*
 * The blob's area in the task, shared with a view of ours. One mapping,
 * writable and executable; or, in a task under PR_SET_MDWE (memory-deny-
 * write-execute), where that is refused, the code executable only and
 * the data (from @data_off) writable only, as two mappings side by side.
 */
static int map_shared_area(struct parasite_ctl *ctl, size_t size, size_t data_off)
{
	long remote;

	remote = remote_mmap(ctl, 0, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS);
	if (remote == -EACCES && data_off && data_off < size) {
		cpr_debug("task %d refuses writable code: the blob's code and data mapped apart\n", ctl->pid);
		long data, ret;

		remote = remote_mmap(ctl, 0, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS);
		if (remote < 0 && remote > -4096)
			goto err;
		/* before remote_map is set: compel_syscall() would use the blob's code, not there yet */
		data = remote_mmap(ctl, remote + data_off, size - data_off, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
		if (data < 0 && data > -4096) {
			compel_syscall(ctl, __NR_munmap, &ret, remote, size, 0, 0, 0, 0);
			remote = data;
			goto err;
		}
		ctl->remote_map = remote;
		ctl->map_size = size;
	} else {
		if (remote < 0 && remote > -4096)
			goto err;
		ctl->remote_map = remote;
		ctl->map_size = size;
		data_off = size;
	}

	/* ours: a reservation the one or two views go into, at the same offsets */
	ctl->local_map = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctl->local_map == MAP_FAILED) {
		ctl->local_map = NULL;
		cpr_perror("mmap of %zu bytes", size);
		return -1;
	}
	if (map_here(ctl, ctl->remote_map, data_off, ctl->local_map))
		return -1;
	if (data_off < size && map_here(ctl, ctl->remote_map + data_off, size - data_off, (char *)ctl->local_map + data_off))
		return -1;
	return 0;
err:
	cpr_err("mmap of %zu bytes in task %d failed: %s\n", size, ctl->pid, strerror(-remote));
	return -1;
}

/*
 * A task under a seccomp filter: the daemon must not heal it while we are
 * dying but still trace it (its filters suspended). It waits for our
 * pidfd to become readable, which comes after our tracees are detached
 * (Documentation/compel.md, "If the tool dies").
 */
static int send_pidfd(struct parasite_ctl *ctl)
{
	int fd = syscall(SYS_pidfd_open, getpid(), 0), ret;

	if (fd < 0) {
		cpr_perror("pidfd_open of ourselves");
		return -1;
	}
	ret = compel_send_fds(ctl, &fd, 1);
	close(fd);
	return ret;
}

/*
 * The task's fd numbers, ascending, -1 at the end (malloc'ed), or NULL
 * (reported). /proc lists them in order.
 */
static int *list_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		cpr_perror("opendir %s", path);
		return NULL;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (nr + 1 >= cap) {
			int *n = realloc(fds, (cap = cap ? cap * 2 : 64) * sizeof(*n));

			if (!n) {
				errno = ENOMEM;
				break;
			}
			fds = n;
		}
		fds[nr++] = atoi(de->d_name);
	}
	if (errno) {
		cpr_perror("reading %s", path);
		closedir(d);
		free(fds);
		return NULL;
	}
	closedir(d);
	if (!fds && !(fds = malloc(sizeof(*fds)))) {
		cpr_err("out of memory\n");
		return NULL;
	}
	fds[nr] = -1;
	return fds;
}

int compel_infect(struct parasite_ctl *ctl, const struct compel_blob *blob, size_t args_size)
{
	size_t blob_size = ALIGN_PAGE(blob->mem_size);
	size_t args_off = blob_size + PARASITE_STACK_SIZE;
	size_t size = args_off + ALIGN_PAGE(sizeof(struct compel_args) + args_size);
	struct user_regs_struct regs;
	struct compel_args *a;
	uint64_t pretcode;

	if (map_shared_area(ctl, size, blob->data_off))
		return -1;

	compel_blob_load(blob, ctl->local_map, ctl->remote_map);
	ctl->blob = blob;
	/*
	 * From now on the blob's "syscall; ret" returns into the frame too,
	 * through the blob's heal code (a signal blocked meanwhile must end
	 * an interrupted pause() as it would have: frame.h). Until here only
	 * the tool could settle the frame: the sooner the better.
	 */
	pretcode = ctl->remote_map + blob->heal_off;
	if (write_task(ctl->pid, ctl->frame, &pretcode, sizeof(pretcode)))
		return -1;
	ctl->blob_heals = 1;
	cpr_debug("task %d: heals through the blob\n", ctl->pid);
	a = ctl->args = (char *)ctl->local_map + args_off;
	a->magic = COMPEL_ARGS_MAGIC;
	a->user_off = sizeof(*a);
	a->user_size = args_size;
	a->frame = ctl->frame;
	a->no_close = ctl->strict_seccomp;
	a->wait_tool = ctl->seccomp_filter;
	a->sock_fd = -1;
	a->pidfd = -1;
	if (make_listen_sock(ctl, a))
		return -1;
	/* what the daemon opens is ours to close, even one whose number it had no time to write down */
	ctl->fds_before = list_fds(ctl->pid);
	if (!ctl->fds_before)
		return -1;
	/* the daemon heals the task by itself if it can't reach us or loses us */
	regs = ctl->orig.regs;
	regs.rip = ctl->remote_map + blob->entry;
	regs.rsp = ctl->remote_map + args_off;	/* stack grows down from the args */
	regs.rdi = ctl->remote_map + args_off;
	regs.orig_rax = -1;
	if (set_regs(ctl, &regs) || arm(ctl))
		return -1;
	/* strict seccomp: every syscall of the daemon's stops (compel_strict_wait()) */
	if (cptrace(ctl->strict_seccomp ? PTRACE_SYSCALL : PTRACE_CONT, ctl->pid, NULL, NULL)) {
		cpr_perror("starting the parasite in %d", ctl->pid);
		return -1;
	}
	ctl->running = 1;

	if (compel_wait_sock(ctl, ctl->listen_sock))
		return -1;
	ctl->sock = accept4(ctl->listen_sock, NULL, NULL, SOCK_CLOEXEC);
	if (ctl->sock < 0) {
		cpr_perror("accepting the parasite's connection from %d", ctl->pid);
		return -1;
	}
	/* The name is guessable: make sure it is our parasite that called. */
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (getsockopt(ctl->sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.pid != ctl->pid) {
		cpr_err("control socket of %d was connected by pid %d, not by the parasite\n", ctl->pid,
			cl == sizeof(cred) ? cred.pid : -1);
		return -1;
	}
	close(ctl->listen_sock);
	ctl->listen_sock = -1;
	if (a->wait_tool && send_pidfd(ctl))
		return -1;
	cpr_debug("task %d: parasite %s running at 0x%lx\n", ctl->pid, blob->name, ctl->remote_map);
	return 0;
}

void *compel_parasite_args(struct parasite_ctl *ctl)
{
	return compel_user_args(ctl->args);
}

unsigned long compel_remote_addr(struct parasite_ctl *ctl, const void *local)
{
	return ctl->remote_map + ((const char *)local - (const char *)ctl->local_map);
}

/*
 * FINI, and its answer. Answers to commands we gave up on may come first
 * (a reply we failed to read is still queued): they are skipped, or the
 * task would be stopped before the handler cleaned up (the parasite's
 * pipes left open in it). A call that fails is made once more, as
 * cptrace() does: a broken channel fails again, and the daemon then heals
 * by itself.
 */
static int fini_daemon(struct parasite_ctl *ctl)
{
	struct compel_ctl_msg m = { .cmd = COMPEL_CMD_FINI };
	int failed = 0, stale = 0;

	while (send(ctl->sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		if (failed++)
			return -1;
		cpr_warn("sending FINI to the parasite of %d failed (%s): once more\n", ctl->pid, strerror(errno));
	}
	while (stale < 16) {
		if (compel_wait_sock_how(ctl, ctl->sock, 0)) {
			if (!ctl->running || failed++)
				return -1;
			continue;
		}
		if (read(ctl->sock, &m, sizeof(m)) != sizeof(m)) {
			if (failed++)
				return -1;
			cpr_warn("reading the parasite's answer to FINI from %d failed (%s): once more\n", ctl->pid,
				 strerror(errno));
			continue;
		}
		if (m.cmd == COMPEL_CMD_FINI)
			return 0;
		stale++;
	}
	return -1;
}

/*
 * Stop the daemon where it waits (after FINI: for the channel to close) and
 * take it out of its syscall. The task is then in an interrupt stop, still
 * on the daemon's heal path.
 */
static int stop_daemon(struct parasite_ctl *ctl)
{
	int status, ret = 0;

	if (ctl->sock >= 0 && fini_daemon(ctl)) {
		cpr_err("parasite in %d did not acknowledge the end\n", ctl->pid);
		ret = -1;
	}
	if (!ctl->running)
		return ret;
	ctl->running = 0;
	ctl->stopping = 1;
	if (cptrace(PTRACE_INTERRUPT, ctl->pid, NULL, NULL)) {
		cpr_perror("PTRACE_INTERRUPT of %d", ctl->pid);
		return -1;
	}
	while (1) {
		if (compel_wait_stop_nointr(ctl->pid, &status) < 0 || !WIFSTOPPED(status)) {
			cpr_err("task %d did not stop after its parasite (status 0x%x)\n", ctl->pid, status);
			return -1;
		}
		if ((status >> 16) == PTRACE_EVENT_STOP)
			return ret;
		if (ctl->strict_seccomp && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			/* one of its syscalls on the way to the trap: made what it is */
			if (compel_strict_step(ctl) < 0)
				return -1;
			continue;
		}
		/* a crash (or a stop signal) of the parasite's: drop it, take the trap */
		cpr_err("parasite in %d stopped with signal %d\n", ctl->pid, WSTOPSIG(status));
		ret = -1;
		if (cptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
			cpr_perror("PTRACE_CONT of %d", ctl->pid);
			return -1;
		}
	}
}

/*
 * The daemon gave up on us and put the task back itself (it could not
 * connect): the task runs its own code again, with our area still mapped.
 * Start over from where it is now, to remove the area.
 */
static int rebase(struct parasite_ctl *ctl)
{
	compel_free_thread_state(&ctl->orig);
	ctl->armed = 0;
	ctl->blob_heals = 0;
	ctl->sa_restart = 0;
	/* it ran its own code: its handlers may have changed */
	if (compel_get_thread_state(ctl->pid, &ctl->orig))
		return -1;
	eintr_wait_restarts(&ctl->orig.regs);
	if (seccomp_mode(ctl->pid, &ctl->caught) < 0 || compel_write_frame(ctl, ctl->sigret_ip))
		return -1;
	return 0;
}

/*
 * Remove the area through the task's own syscall insn, then give the task
 * its state back at the munmap's exit stop. Between the munmap's entry and
 * that stop the task is on no heal path: the one window of a cure.
 */
static int unmap_and_put_back(struct parasite_ctl *ctl)
{
	struct iovec iov = { .iov_base = ctl->orig.xsave, .iov_len = ctl->orig.xsave_size };
	unsigned long a[6] = { ctl->remote_map, ctl->map_size };
	struct user_regs_struct regs;
	int ret = 0;

	/* the FPU state first, while the registers still lead to rt_sigreturn */
	if (ctl->armed && cptrace(PTRACE_SETREGSET, ctl->pid, (void *)NT_X86_XSTATE, &iov)) {
		cpr_perror("PTRACE_SETREGSET(NT_X86_XSTATE) of %d", ctl->pid);
		ret = -1;
	}
	/*
	 * The munmap's "ret" must not return into the area it removes: the
	 * frame is the tool's to settle again, while the blob can still run
	 * the syscall that may take (settle_by_sa_restart()).
	 */
	ctl->blob_heals = 0;
	if (settle_pending(ctl) || (ctl->query_sig && settle_by_sa_restart(ctl)))
		ret = -1;
	if (ctl->sys_ret_ip && write_task(ctl->pid, ctl->frame, &ctl->sigret_ip, sizeof(ctl->sigret_ip)))
		return -1;
	cpr_debug("task %d: heals through its own restorer\n", ctl->pid);
	if (syscall_bare(ctl, __NR_munmap, a, &regs, 1))
		return -1;
	if (regs.rax) {
		cpr_err("can't unmap the parasite from %d at 0x%lx: %s\n", ctl->pid, ctl->remote_map,
			strerror(-(long)regs.rax));
		ret = -1;
	}
	/* the interrupt first: leaving through the signal path restarts its syscall right */
	if (cptrace(PTRACE_INTERRUPT, ctl->pid, NULL, NULL) ||
	    cptrace(PTRACE_SETSIGMASK, ctl->pid, (void *)sizeof(ctl->orig.sigmask), &ctl->orig.sigmask) ||
	    set_regs(ctl, &ctl->orig.regs)) {
		cpr_perror("putting the state of %d back", ctl->pid);
		return -1;
	}
	ctl->armed = 0;
	return run_to_stop(ctl, "its cure") ?: ret;
}

/*
 * The daemon may have closed it itself when the channel broke, just
 * before we stopped it (EBADF then: nothing in the task opened a file
 * since, so the number was not taken again).
 */
static int close_remote(struct parasite_ctl *ctl, int32_t *fd)
{
	unsigned long args[6] = { (unsigned long)*fd };
	struct user_regs_struct regs;

	if (*fd < 0)
		return 0;
	if (syscall_at(ctl, ctl->remote_map + ctl->blob->syscall_off, __NR_close, args, &regs) ||
	    (regs.rax && (long)regs.rax != -EBADF)) {
		cpr_err("can't close the parasite's fd %d in %d\n", *fd, ctl->pid);
		return -1;
	}
	*fd = -1;
	return 0;
}

/*
 * The sockets and pidfds the task has now that it had not before the
 * daemon ran: the daemon's, among them one it was stopped before it noted
 * (its socket between socket() and the store of its number). The task's
 * threads are all stopped; only a process outside the tree sharing its fd
 * table (CLONE_FILES) could have opened others meanwhile, so only the
 * kinds the daemon makes are taken.
 */
static int close_new_fds(struct parasite_ctl *ctl)
{
	int *now = list_fds(ctl->pid), *b = ctl->fds_before, ret = 0;

	if (!now)
		return -1;
	for (int *n = now; *n >= 0; n++) {
		char path[64], target[64];
		int32_t fd = *n;
		ssize_t len;

		while (*b >= 0 && *b < fd)
			b++;
		if (*b == fd)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctl->pid, fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0) {
			if (errno != ENOENT) {	/* else closed meanwhile */
				cpr_perror("readlink %s", path);
				ret = -1;
			}
			continue;
		}
		target[len] = '\0';
		if (strncmp(target, "socket:", 7) && strcmp(target, "anon_inode:[pidfd]") &&
		    strncmp(target, "pidfd:", 6))
			continue;
		cpr_debug("task %d: closing fd %d the parasite left\n", ctl->pid, fd);
		if (close_remote(ctl, &fd))
			ret = -1;
	}
	free(now);
	return ret;
}

int compel_cure(struct parasite_ctl *ctl)
{
	struct compel_args *a;
	int ret = 0;
	long sret;

	if (!ctl)
		return 0;
	a = ctl->args;
	if (ctl->running && stop_daemon(ctl))
		ret = -1;
	if (a && a->healed && rebase(ctl))
		ret = -1;
	/* the daemon's end of the channel and our pidfd, if it still has them: closed in the task */
	if (a && !a->healed && (close_remote(ctl, &a->sock_fd) || close_remote(ctl, &a->pidfd)))
		ret = -1;
	if (a && !a->healed && ctl->fds_before && close_new_fds(ctl))
		ret = -1;
	if (ctl->sock >= 0)
		close(ctl->sock);
	if (ctl->listen_sock >= 0)
		close(ctl->listen_sock);
	if (ctl->local_map)
		munmap(ctl->local_map, ctl->map_size);
	ctl->args = NULL;

	if (ctl->remote_map && !ctl->borrowed) {
		if (unmap_and_put_back(ctl))
			ret = -1;
	} else if (ctl->armed || ctl->borrowed || ctl->remote_map) {
		if (put_back(ctl))
			ret = -1;
	}
	(void)sret;
	/* a look at its pending signals failed (reported then): the work done is not to be trusted whole */
	if (ctl->settle_failed)
		ret = -1;
	compel_free_thread_state(&ctl->orig);
	free(ctl->fds_before);
	free(ctl);
	return ret;
}
