/*
 * The restorer's arguments: everything the blob needs to map the task's
 * memory back and become it (areas, registers and FPU state, threads,
 * signals, seccomp, the vDSO plan), laid out in one bootstrap area.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>
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

#include "aio.h"
#include "rst.h"


static const char *rlimit_name(unsigned int res)
{
	static const char *const names[] = {
		"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
		"RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
		"RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
	};

	return res < sizeof(names) / sizeof(names[0]) ? names[res] : "rlimit";
}

static const char *rlim_str(char *buf, size_t len, unsigned long v)
{
	if (v == (unsigned long)RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, len, "%lu", v);
	return buf;
}

static uint64_t find_bootstrap_hole(struct rst_ctx *rc, const struct span *self, size_t nr_self, uint64_t len);

static int find_self_vdso(struct self_vdso *sv, struct proc_vma *vmas, int nr)
{
	memset(sv, 0, sizeof(*sv));
	for (int i = 0; i < nr; i++) {
		int p = -1;

		if (!vmas[i].name)
			continue;
		if (!strcmp(vmas[i].name, "[vvar]"))
			p = VDSO_PART_VVAR;
		else if (!strcmp(vmas[i].name, "[vvar_vclock]"))
			p = VDSO_PART_VCLOCK;
		else if (!strcmp(vmas[i].name, "[vdso]"))
			p = VDSO_PART_VDSO;
		if (p >= 0) {
			sv->part[p].start = vmas[i].start;
			sv->part[p].end = vmas[i].end;
		}
	}
	return 0;
}

static int vdso_part_of(const VmaEntry *v)
{
	switch (v->kind) {
	case VMA_KIND__VMA_VVAR: return VDSO_PART_VVAR;
	case VMA_KIND__VMA_VVAR_VCLOCK: return VDSO_PART_VCLOCK;
	case VMA_KIND__VMA_VDSO: return VDSO_PART_VDSO;
	default: return -1;
	}
}

static void target_vdso(struct rst_ctx *rc, struct rst_vdso_part *tgt)
{
	memset(tgt, 0, sizeof(*tgt) * VDSO_NR_PARTS);
	for (size_t i = 0; i < rc->mm->n_vmas; i++) {
		int p = vdso_part_of(rc->mm->vmas[i]);

		if (p >= 0) {
			tgt[p].start = rc->mm->vmas[i]->start;
			tgt[p].end = rc->mm->vmas[i]->end;
		}
	}
}

/*
 * Can this kernel's vDSO parts simply be moved to where the task had
 * them? Each part the task has must be one of ours of the same size.
 * Where they are relative to each other is the task's business: it may
 * have moved or unmapped parts (those it lacks stay out).
 */
static int vdso_layout_same(struct self_vdso *sv, struct rst_vdso_part *tgt)
{
	for (int p = 0; p < VDSO_NR_PARTS; p++) {
		uint64_t sl = sv->part[p].end - sv->part[p].start, tl = tgt[p].end - tgt[p].start;

		if (tl && sl != tl)
			return 0;
	}
	return 1;
}

/*
 * Different layout: our vDSO goes to a free spot, and the task's old vDSO
 * address gets trampolines into it (see vdso.c).
 */
static int plan_vdso_proxy(struct rst_ctx *rc, struct self_vdso *sv, struct restore_args *a,
			   struct rst_vdso_part *tgt, uint8_t *proxy_buf)
{
	struct vdso_symtab old = { 0 }, new;
	struct span boot[2] = {
		{ .start = rc->bootstrap, .end = rc->bootstrap + rc->bootstrap_len },
		{ .start = rc->tree->cow.base, .end = rc->tree->cow.base + rc->tree->cow.len },
	};
	uint64_t lo = UINT64_MAX, hi = 0, base;

	if (!tgt[VDSO_PART_VDSO].end || !sv->part[VDSO_PART_VDSO].end) {
		pr_err("can't restore %d: no vDSO on one side\n", rc->pid);
		return -1;
	}
	if (!rc->mm->n_vdso_syms) {
		pr_err("can't restore %d on a kernel with another vDSO layout: the images list no vDSO functions\n",
		       rc->pid);
		return -1;
	}
	for (size_t i = 0; i < rc->mm->n_vdso_syms && i < VDSO_MAX_SYMS; i++) {
		snprintf(old.sym[i].name, VDSO_NAME_LEN, "%s", rc->mm->vdso_syms[i]->name);
		old.sym[i].off = rc->mm->vdso_syms[i]->offset;
		old.nr++;
	}
	if (vdso_parse_symtab((const uint8_t *)sv->part[VDSO_PART_VDSO].start,
			      sv->part[VDSO_PART_VDSO].end - sv->part[VDSO_PART_VDSO].start, &new))
		return -1;
	for (int p = 0; p < VDSO_NR_PARTS; p++) {
		if (!sv->part[p].end)
			continue;
		lo = sv->part[p].start < lo ? sv->part[p].start : lo;
		hi = sv->part[p].end > hi ? sv->part[p].end : hi;
	}
	base = find_bootstrap_hole(rc, boot, 2, hi - lo);
	if (!base) {
		pr_err("no room for this kernel's vDSO in the address space of %d\n", rc->pid);
		return -1;
	}
	a->proxy_start = tgt[VDSO_PART_VDSO].start;
	a->proxy_len = tgt[VDSO_PART_VDSO].end - tgt[VDSO_PART_VDSO].start;
	a->proxy_image = proxy_buf;
	for (int p = 0; p < VDSO_NR_PARTS; p++) {
		tgt[p].start = sv->part[p].end ? base + (sv->part[p].start - lo) : 0;
		tgt[p].end = sv->part[p].end ? base + (sv->part[p].end - lo) : 0;
	}
	/* Whoever looks the vDSO up later must find a real one. */
	for (size_t i = 0; i + 1 < rc->mm->n_auxv; i += 2)
		if (rc->mm->auxv[i] == AT_SYSINFO_EHDR)
			a->auxv[i + 1] = tgt[VDSO_PART_VDSO].start;
	pr_info("%d: vDSO proxy at %lx, this kernel's vDSO moves to %lx\n", rc->pid,
		(unsigned long)a->proxy_start, (unsigned long)tgt[VDSO_PART_VDSO].start);
	return vdso_build_proxy(proxy_buf, a->proxy_len, &old, &new, tgt[VDSO_PART_VDSO].start);
}

static int plan_vdso(struct rst_ctx *rc, struct self_vdso *sv, struct restore_args *a, uint8_t *proxy_buf)
{
	struct rst_vdso_part tgt[VDSO_NR_PARTS];

	target_vdso(rc, tgt);
	if (opts.force_vdso_proxy || !vdso_layout_same(sv, tgt)) {
		if (plan_vdso_proxy(rc, sv, a, tgt, proxy_buf))
			return -1;
	}
	memcpy(a->self_vdso, sv->part, sizeof(sv->part));
	memcpy(a->tgt_vdso, tgt, sizeof(tgt));
	return 0;
}

/* A hole free both in the child now (@self) and in the task to be. */
static uint64_t find_bootstrap_hole(struct rst_ctx *rc, const struct span *self, size_t nr_self, uint64_t len)
{
	struct span_set ss = { 0 };
	uint64_t hole = 0;

	for (size_t i = 0; i < nr_self; i++)
		if (span_set_add(&ss, self[i].start, self[i].end))
			goto out;
	for (size_t i = 0; i < rc->mm->n_vmas; i++)
		if (span_set_add(&ss, rc->mm->vmas[i]->start, rc->mm->vmas[i]->end))
			goto out;
	hole = find_free_hole(&ss, len, PAGE_SIZE);
out:
	free(ss.s);
	return hole;
}

static void *bump(char **p, size_t size)
{
	void *ret = (void *)(((uintptr_t)*p + 63) & ~63UL);

	*p = (char *)ret + size;
	return ret;
}

/* Guard regions and the seal of an area, for the restorer. */
static void fill_vma_extras(const VmaEntry *v, struct rst_vma *r, struct rst_range **guards)
{
	r->guards = *guards;
	r->nr_guards = v->n_guards;
	for (size_t k = 0; k < v->n_guards; k++) {
		(*guards)[k].start = v->guards[k]->start;
		(*guards)[k].len = v->guards[k]->nr_pages * PAGE_SIZE;
	}
	*guards += v->n_guards;
	r->sealed = v->has_sealed && v->sealed;
}

/*
 * The fd to map a file-backed or shared memory area from, in its premap
 * slot (cow.c): a memfd's own file, the object of anonymous shared memory,
 * or the file opened as the dump saw it (checked to be the same file).
 */
int premap_open(void *priv, const VmaEntry *v)
{
	struct rst_ctx *rc = priv;
	int fd;

	if (v->kind == VMA_KIND__VMA_SHMEM) {
		fd = fcntl(rc->tree->shmem_base + v->shmem_id, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			pr_perror("can't take shared memory object %u", v->shmem_id);
		return fd;
	}
	fd = fileobj_map_fd(rc->files, v->file_id);
	/* mmap() would touch the file's access time: the restore is no access of the task's */
	if (fd < 0)
		fd = open_file(rc->files, v->file_id,
			       (find_file(rc->files, v->file_id)->reg->flags & O_ACCMODE) | O_NOATIME);
	return fd;
}

/*
 * The fd the restorer maps a file area from: one slot per file, for the
 * first COW_DIRECT_FILES files of the task (the areas of any others were
 * premapped, cow.c).
 */
static int direct_file_fd(struct rst_ctx *rc, struct child_fds *cf, const VmaEntry *v, struct pidmap *slots)
{
	int32_t slot = pidmap_get(slots, v->file_id + 1);
	int fd;

	if (slot >= 0)
		return cf->base + cf->files + slot;
	if (slots->nr >= COW_DIRECT_FILES) {
		pr_err("%d: more than %d files mapped the direct way\n", rc->pid, COW_DIRECT_FILES);
		return -1;
	}
	slot = slots->nr;
	fd = svc_fd(cf, premap_open(rc, v), cf->files + slot);
	if (fd < 0 || pidmap_set(slots, v->file_id + 1, slot))
		return -1;
	return fd;
}

/* A packet socket whose rings area @i maps (take_ring_fds() copied it), in the slot of its file. */
static int ring_fd(struct rst_ctx *rc, struct child_fds *cf, const VmaEntry *v, size_t i, struct pidmap *slots)
{
	int32_t slot = pidmap_get(slots, v->file_id + 1);
	int fd = rc->ring_fds ? rc->ring_fds[i] : -1;

	if (rc->ring_fds)
		rc->ring_fds[i] = -1;
	if (slot >= 0) {
		if (fd >= 0)
			close(fd);
		return cf->base + cf->files + slot;
	}
	if (slots->nr >= COW_DIRECT_FILES) {
		pr_err("%d: more than %d files mapped the direct way\n", rc->pid, COW_DIRECT_FILES);
		return -1;
	}
	slot = slots->nr;
	fd = svc_fd(cf, fd, cf->files + slot);
	if (fd < 0 || pidmap_set(slots, v->file_id + 1, slot))
		return -1;
	return fd;
}

/*
 * --allow-changed-files takes a file whose size changed as it is, but a
 * file that shrank under a mapping leaves pages of the area past its end:
 * the task would die of SIGBUS at its first touch there (and the restorer
 * itself, filling a dumped private page there). Refused, not restored to
 * crash. Pages past the end at dump time were so already: not counted.
 */
static int vma_past_eof(struct rst_ctx *rc, const VmaEntry *v, int fd)
{
	FileEntry *fe = find_file(rc->files, v->file_id);
	uint64_t now, was, from = v->pgoff, to = v->pgoff + (v->end - v->start);
	struct stat st;

	if (!opts.allow_changed_files || !fe || !fe->reg || !fe->reg->has_size || fe->reg->has_same_as ||
	    fileobj_is_holder(fe))
		return 0;
	if (fd >= 0 ? fstat(fd, &st) : stat(fe->reg->path, &st))
		return 0;	/* not reached by path here: opening it says what is wrong */
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size >= fe->reg->size)
		return 0;
	now = ((uint64_t)st.st_size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	was = (fe->reg->size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	if (to <= now || from >= was)
		return 0;
	pr_err("can't restore %d: %s is %lu bytes now (%lu at dump time), and its area at %#lx-%#lx maps it "
	       "from offset %#lx up to %#lx: past its end the task would get SIGBUS\n", rc->pid, fe->reg->path,
	       (unsigned long)st.st_size, (unsigned long)fe->reg->size, (unsigned long)v->start,
	       (unsigned long)v->end, (unsigned long)from, (unsigned long)to);
	return -1;
}

static int fill_vmas(struct rst_ctx *rc, struct restore_args *a, struct child_fds *cf, struct rst_range *guards)
{
	struct pidmap slots = { 0 };
	int ret = -1;

	for (size_t i = 0; i < rc->mm->n_vmas; i++) {
		VmaEntry *v = rc->mm->vmas[i];
		struct rst_vma *r;

		if (vdso_part_of(v) >= 0 || v->kind == VMA_KIND__VMA_AIO)
			continue;	/* the vDSO moves, an AIO ring is made (fill_aios()) */
		r = &a->vmas[a->nr_vmas++];
		r->start = v->start;
		r->end = v->end;
		r->pgoff = v->pgoff;
		r->prot = v->prot;
		r->flags = v->flags & (MAP_TYPE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_NORESERVE);
		r->fd = -1;
		r->kind = RST_VMA_ANON;
		r->madv = v->has_madv ? v->madv : 0;
		r->pkey = v->has_pkey ? v->pkey : 0;
		r->premap = cow_slot(&rc->cow, v->start);
		r->huge_from = cow_huge_slot(&rc->cow, v->start);
		r->lazy = opts.lazy_pages && lazy_area_used(rc, i);
		if (r->lazy && lazy_restore_sk() >= 0) {
			a->lazy_sk = lazy_restore_sk();
			a->uffd_dev = lazy_uffd_dev();
		}
		r->map_prot = cow_map_prot(v, rc->vma_pages && rc->vma_pages[i]);
		fill_vma_extras(v, r, &guards);
		if (v->kind == VMA_KIND__VMA_SHMEM) {
			r->kind = RST_VMA_FILE_SHARED;
			r->flags = MAP_SHARED;
			r->fd = rc->tree->shmem_base + v->shmem_id;
			continue;
		}
		if (v->kind == VMA_KIND__VMA_PACKET_RING) {
			/* the restored socket's own rings, made and filled when it was opened */
			r->kind = RST_VMA_FILE_SHARED;
			r->flags = MAP_SHARED;
			r->pgoff = 0;
			if ((r->fd = ring_fd(rc, cf, v, i, &slots)) < 0)
				goto out;
			continue;
		}
		if (v->kind == VMA_KIND__VMA_SYSVSHM) {
			r->kind = RST_VMA_SYSVSHM;
			r->flags = v->flags;	/* shmat() flags */
			r->fd = v->shmid;
			r->shm_size = ipc_sysv_shm_size(v->shmid);
			continue;
		}
		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
			continue;
		r->kind = v->kind == VMA_KIND__VMA_FILE_SHARED ? RST_VMA_FILE_SHARED : RST_VMA_FILE_PRIVATE;
		if (!r->premap && (r->fd = direct_file_fd(rc, cf, v, &slots)) < 0)
			goto out;
		if (vma_past_eof(rc, v, r->premap ? -1 : r->fd))
			goto out;
	}
	ret = 0;
out:
	pidmap_free(&slots);
	return ret;
}

/* The bootstrap room fill_aios() takes. */
static size_t aios_size(struct rst_ctx *rc)
{
	size_t len = 0;

	for (size_t i = 0; i < rc->mm->n_vmas; i++)
		if (rc->mm->vmas[i]->kind == VMA_KIND__VMA_AIO)
			len += sizeof(struct rst_aio) + 64 + rc->mm->vmas[i]->aio->events.len + 64;
	return len;
}

static int fill_aios(struct rst_ctx *rc, struct restore_args *a, char **p)
{
	size_t nr = 0;

	for (size_t i = 0; i < rc->mm->n_vmas; i++)
		nr += rc->mm->vmas[i]->kind == VMA_KIND__VMA_AIO;
	a->aios = bump(p, nr * sizeof(struct rst_aio));
	for (size_t i = 0; i < rc->mm->n_vmas; i++) {
		VmaEntry *v = rc->mm->vmas[i];
		struct rst_aio *r;
		char who[96];

		if (v->kind != VMA_KIND__VMA_AIO)
			continue;
		r = &a->aios[a->nr_aios++];
		snprintf(who, sizeof(who), "can't restore task %d: AIO context %lx", rc->pid, (unsigned long)v->start);
		r->start = v->start;
		r->len = v->end - v->start;
		r->nr_req = aio_nr_for_len(r->len, who);
		if (!r->nr_req)
			return -1;
		r->nr = v->aio->nr;
		r->head = v->aio->head;
		r->tail = v->aio->tail;
		r->events = (uintptr_t)bump(p, v->aio->events.len);
		if (v->aio->events.len)
			memcpy((void *)(uintptr_t)r->events, v->aio->events.data, v->aio->events.len);
	}
	return 0;
}

static void fill_regs(struct compel_sigcontext *sc, const UserRegsX86Entry *g)
{
	sc->r8 = g->r8; sc->r9 = g->r9; sc->r10 = g->r10; sc->r11 = g->r11;
	sc->r12 = g->r12; sc->r13 = g->r13; sc->r14 = g->r14; sc->r15 = g->r15;
	sc->rdi = g->di; sc->rsi = g->si; sc->rbp = g->bp; sc->rbx = g->bx;
	sc->rdx = g->dx; sc->rax = g->ax; sc->rcx = g->cx; sc->rsp = g->sp;
	sc->rip = g->ip; sc->eflags = g->flags;
	sc->cs = USER_CS;
	sc->ss = USER_DS;
}

/*
 * rt_sigreturn takes an XSAVE image only up to the task's own user size;
 * anything bigger silently falls back to the legacy FX part (ymm and up
 * lost). ptrace hands out the largest layout, which on a CPU with AMX
 * includes the tile data that the kernel leaves out of a task's default
 * state. So the frame is cut to the end of the last component it needs,
 * and a task that had tile data in use asks for the permission first.
 */
static uint32_t xstate_end(uint64_t features)
{
	/* cpuid is slow in a VM (it traps): every thread asks the same, remember the last answer */
	static uint64_t last_features;
	static uint32_t last_end;
	unsigned int eax, ebx, ecx, edx;
	uint32_t end = XSAVE_HDR_END;

	if (last_end && features == last_features)
		return last_end;

	for (int i = 2; i < 63; i++) {
		if (!(features & (1ULL << i)) || !__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			continue;
		if (ecx & 1)	/* supervisor state: not in the user layout */
			continue;
		if (ebx + eax > end)
			end = ebx + eax;
	}
	last_features = features;
	last_end = end;
	return end;
}

static int xstate_request_tiles(pid_t pid)
{
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) {
		pr_perror("can't restore %d: arch_prctl(ARCH_REQ_XCOMP_PERM, AMX tile data)", pid);
		return -1;
	}
	return 0;
}

static int fill_sigframe(struct rst_ctx *rc, ThreadCoreEntry *th, struct rst_sigframe *f, uint8_t *xsave)
{
	ProtobufCBinaryData *x = &th->fpregs->xsave;
	uint64_t features, bv;
	uint32_t size;

	memset(f, 0, sizeof(*f));
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f->uc.uc_stack.sp = th->altstack->sp;
	f->uc.uc_stack.flags = th->altstack->flags;
	f->uc.uc_stack.size = th->altstack->size;
	f->uc.uc_sigmask = th->blk_sigset;
	fill_regs(&f->uc.uc_mcontext, th->gpregs);

	if (x->len < 576 || x->len > 64 * 1024) {
		pr_err("core-%d.img: the FPU state has an impossible size (%zu)\n", th->tid, x->len);
		return -1;
	}
	memcpy(xsave, x->data, x->len);
	memcpy(&bv, xsave + XSAVE_HDR_XSTATE_BV, 8);
	features = th->fpregs->xfeatures;
	if (!(bv & (1ULL << XFEATURE_XTILEDATA)))
		features &= ~(1ULL << XFEATURE_XTILEDATA);
	else if (xstate_request_tiles(rc->pid))
		return -1;
	bv &= features;
	memcpy(xsave + XSAVE_HDR_XSTATE_BV, &bv, 8);
	size = xstate_end(features);
	if (size > x->len)
		size = x->len;

	/* The software-reserved bytes tell rt_sigreturn this is a full XSAVE image. */
	uint32_t *sw = (uint32_t *)(xsave + XSAVE_SW_BYTES);

	sw[0] = XSTATE_MAGIC1;
	sw[1] = size + 4;
	memcpy(&sw[2], &features, 8);
	sw[4] = size;
	*(uint32_t *)(xsave + size) = XSTATE_MAGIC2;
	f->uc.uc_mcontext.fpstate = (uint64_t)xsave;
	return 0;
}

/*
 * The signal a task dumped in a group stop stops again with: the one that
 * stopped it, which the parent's waitid() reports, where it would still
 * stop the task (default action, group not orphaned); else SIGSTOP,
 * which always does.
 */
static int stop_signal(struct rst_ctx *rc, struct restore_args *a)
{
	TaskCoreEntry *tc = rc->core->tc;
	int sig = tc->has_stop_signo ? tc->stop_signo : SIGSTOP;

	if (!tc->has_stopped || !tc->stopped)
		return 0;
	if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return SIGSTOP;
	if (a->sa[sig - 1].handler != (uint64_t)SIG_DFL || rc->pgrp_orphaned) {
		pr_warn("%d comes back stopped by SIGSTOP, not %d: %s\n", rc->pid, sig,
			rc->pgrp_orphaned ? "its process group is orphaned" : "the signal has a handler now");
		return SIGSTOP;
	}
	return sig;
}

static int fill_task(struct rst_ctx *rc, struct restore_args *a, uint32_t *groups)
{
	TaskCoreEntry *tc = rc->core->tc;
	MmEntry *mm = rc->mm;

	a->mm.start_code = mm->start_code;
	a->mm.end_code = mm->end_code;
	a->mm.start_data = mm->start_data;
	a->mm.end_data = mm->end_data;
	a->mm.start_brk = mm->start_brk;
	a->mm.brk = mm->brk;
	a->mm.start_stack = mm->start_stack;
	a->mm.arg_start = mm->arg_start;
	a->mm.arg_end = mm->arg_end;
	a->mm.env_start = mm->env_start;
	a->mm.env_end = mm->env_end;
	if (mm->n_auxv > ARRAY_SIZE(a->auxv)) {
		pr_err("mm-%d.img: auxv too long\n", rc->pid);
		return -1;
	}
	memcpy(a->auxv, mm->auxv, mm->n_auxv * 8);
	a->mm.auxv_size = mm->n_auxv * 8;

	for (size_t i = 0; i < tc->n_sigactions; i++) {
		SigactionEntry *s = tc->sigactions[i];

		if (s->sig < 1 || s->sig > NR_SIGNALS)
			continue;
		a->sa[s->sig - 1].handler = s->handler;
		a->sa[s->sig - 1].flags = s->flags;
		a->sa[s->sig - 1].restorer = s->restorer;
		a->sa[s->sig - 1].mask = s->mask;
	}
	for (size_t i = 0; i < tc->n_rlimits && i < NR_RLIMITS; i++) {
		struct rlimit cur;
		RlimitEntry *r = tc->rlimits[i];

		if (r->resource >= NR_RLIMITS)
			continue;
		getrlimit(r->resource, &cur);
		if (r->max > cur.rlim_max && !has_cap_sys_resource()) {
			char was[24], ours[24];

			pr_err("can't restore %d: its hard %s is %s, above ours (%s), and raising it "
			       "needs CAP_SYS_RESOURCE\n", rc->pid, rlimit_name(r->resource),
			       rlim_str(was, sizeof(was), r->max), rlim_str(ours, sizeof(ours), cur.rlim_max));
			return -1;
		}
		a->rlim[r->resource].cur = r->cur;
		a->rlim[r->resource].max = r->max;
		if (r->resource + 1 > a->nr_rlim)
			a->nr_rlim = r->resource + 1;
	}
	creds_to_rst(&a->creds, tc->creds, groups);
	a->dumpable = tc->dumpable;
	a->pdeath_sig = tc->has_pdeath_sig ? tc->pdeath_sig : 0;
	if (a->pdeath_sig && rc == &rc->tree->t[0] && opts.restore_detached && !opts.restore_sibling) {
		/* criu would be its parent, and criu exits at once with -d */
		pr_err("can't restore %d detached: it has a parent-death signal (%d), which would fire as soon as "
		       "criu exits; restore it without -d or with --restore-sibling\n", rc->pid, a->pdeath_sig);
		return -1;
	}
	a->no_new_privs = tc->has_no_new_privs && tc->no_new_privs;
	a->stop_signo = stop_signal(rc, a);
	for (size_t i = 0; i < tc->n_itimers && i < NR_ITIMERS; i++) {
		a->itimer[i].value_sec = tc->itimers[i]->value_us / 1000000;
		a->itimer[i].value_usec = tc->itimers[i]->value_us % 1000000;
		a->itimer[i].interval_sec = tc->itimers[i]->interval_us / 1000000;
		a->itimer[i].interval_usec = tc->itimers[i]->interval_us % 1000000;
		/*
		 * A periodic timer that expired while the tree was frozen reads 0 left
		 * (the kernel re-arms it when its pending signal is taken): a 0 value
		 * would disarm it, so it comes back one interval away.
		 */
		if (!tc->itimers[i]->value_us && tc->itimers[i]->interval_us) {
			a->itimer[i].value_sec = a->itimer[i].interval_sec;
			a->itimer[i].value_usec = a->itimer[i].interval_usec;
		}
	}
	for (size_t i = 0; i < tc->n_posix_timers; i++) {
		PosixTimerEntry *p = tc->posix_timers[i];
		struct rst_timer *t = &a->timers[i];

		t->id = p->id;
		t->clock = p->clock;
		t->sev.signo = p->signo;
		t->sev.notify = p->notify;
		t->sev.tid = p->has_notify_tid ? p->notify_tid : 0;
		t->sev.value = p->sigev_value;
		t->spec.value_sec = p->value_ns / 1000000000ULL;
		t->spec.value_nsec = p->value_ns % 1000000000ULL;
		t->spec.interval_sec = p->interval_ns / 1000000000ULL;
		t->spec.interval_nsec = p->interval_ns % 1000000000ULL;
		t->overrun = p->has_overrun && p->overrun > 0 ? p->overrun : 0;
		t->sig_pending = p->has_sig_pending && p->sig_pending;
		t->sig_overrun = p->has_sig_overrun && p->sig_overrun > 0 ? p->sig_overrun : 0;
		/* a disarmed timer has value 0; an armed one that is due now must still fire */
		if (!p->value_ns && p->interval_ns)
			t->spec.value_nsec = 1;
	}
	a->nr_timers = tc->n_posix_timers;
	a->timer_slack = tc->has_timer_slack_ns ? tc->timer_slack_ns : 0;
	a->child_subreaper = tc->has_child_subreaper && tc->child_subreaper;
	a->thp_disabled = tc->has_thp_disabled && tc->thp_disabled;
	a->memory_merge = tc->has_memory_merge && tc->memory_merge;
	a->mlock_future = tc->has_mlock_future ? tc->mlock_future : 0;
	a->mdwe = tc->has_mdwe ? tc->mdwe : 0;
	a->personality = tc->personality & READ_IMPLIES_EXEC ? tc->personality : 0;
	a->membarrier = tc->has_membarrier ? tc->membarrier & MEMBARRIER_REGISTRATIONS : 0;
	a->pkeys = tc->has_pkeys ? tc->pkeys : 0;
	if (tc->has_sched_policy && tc->has_nice) {
		a->has_sched = 1;
		a->sched_policy = tc->sched_policy;
		a->sched_prio = tc->has_sched_prio ? tc->sched_prio : 0;
		a->nice = tc->nice;
	}
	a->pid = rc->pid;
	return 0;
}

static void add_siginfo(struct restore_args *a, ThreadCoreEntry *th, int32_t tid, uint32_t *n)
{
	for (size_t i = 0; i < th->n_pending; i++) {
		memcpy(a->siginfo[*n], th->pending[i]->siginfo.data, 128);
		a->siginfo_tid[(*n)++] = tid;
	}
}

static int fill_siginfo(struct rst_ctx *rc, struct restore_args *a)
{
	TaskCoreEntry *tc = rc->core->tc;
	uint32_t n = 0;

	for (size_t i = 0; i < tc->n_shared_pending; i++) {
		memcpy(a->siginfo[n], tc->shared_pending[i]->siginfo.data, 128);
		a->siginfo_tid[n++] = 0;
	}
	add_siginfo(a, rc->core->thread, rc->pid, &n);
	for (size_t i = 0; i < rc->nr_tcores; i++)
		add_siginfo(a, rc->tcores[i]->thread, rc->tcores[i]->thread->tid, &n);
	a->nr_siginfo = n;
	for (uint32_t i = 0; i < n; i++) {
		int sig = *(int32_t *)a->siginfo[i];

		if (sig < 1 || sig > NR_SIGNALS) {
			pr_err("core-%d.img: a pending signal has number %d\n", rc->pid, sig);
			return -1;
		}
	}
	return 0;
}

/*
 * A periodic ITIMER_REAL that has fired is not armed again until its SIGALRM
 * is taken (the kernel re-arms it in dequeue_signal()): dumped meanwhile it
 * reads as a value of 0 with its interval, and setitimer() with a value of 0
 * disarms it and drops the interval. With a SIGALRM pending, the task would
 * have it armed again one interval on when it takes the signal: so it is.
 * Without one, the timer fired after the dump read the pending signals
 * (before the parasite read the timer): armed to fire at once, the
 * kernel's signal comes and re-arms it with its interval.
 */
static void rearm_fired_itimer(struct restore_args *a)
{
	struct k_itimerval *it = &a->itimer[ITIMER_REAL];

	if (it->value_sec || it->value_usec || (!it->interval_sec && !it->interval_usec))
		return;
	for (uint32_t i = 0; i < a->nr_siginfo; i++) {
		if (*(int32_t *)a->siginfo[i] == SIGALRM) {
			it->value_sec = it->interval_sec;
			it->value_usec = it->interval_usec;
			return;
		}
	}
	it->value_usec = 1;
}

static size_t nr_siginfo(struct rst_ctx *rc)
{
	size_t n = rc->core->tc->n_shared_pending + rc->core->thread->n_pending;

	for (size_t i = 0; i < rc->nr_tcores; i++)
		n += rc->tcores[i]->thread->n_pending;
	return n;
}

static int fill_seccomp(ThreadCoreEntry *th, struct rst_seccomp *s, char **p)
{
	s->mode = th->has_seccomp_mode ? th->seccomp_mode : 0;
	if (s->mode > SECCOMP_MODE_FILTER_) {
		pr_err("core-%d.img: unknown seccomp mode %u\n", th->tid, s->mode);
		return -1;
	}
	if (s->mode != SECCOMP_MODE_FILTER_)
		return 0;
	s->f = bump(p, th->n_seccomp_filters * sizeof(*s->f));
	for (size_t i = 0; i < th->n_seccomp_filters; i++) {
		ProtobufCBinaryData *b = &th->seccomp_filters[i];
		void *insns;

		if (!b->len || b->len % 8 || b->len > 4096 * 8) {
			pr_err("core-%d.img: a seccomp filter of %zu bytes\n", th->tid, b->len);
			return -1;
		}
		insns = bump(p, b->len);
		memcpy(insns, b->data, b->len);
		s->f[i].len = b->len / 8;
		s->f[i].insns = (uint64_t)insns;
		s->f[i].flags = i < th->n_seccomp_filter_flags ? th->seccomp_filter_flags[i] & SECCOMP_FILTER_FLAG_LOG : 0;
	}
	s->nr = th->n_seccomp_filters;
	return 0;
}

static int same_filter(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/*
 * How many of the oldest filters every thread has alike: those were
 * installed for the whole process (TSYNC, or before the threads were
 * made) and are one filter shared by all threads, which a later TSYNC
 * install needs. Restored so, with TSYNC (restorer.c).
 */
static uint32_t shared_filters(struct rst_ctx *rc)
{
	ThreadCoreEntry *l = rc->core->thread;
	size_t n = l->n_seccomp_filters;

	if (!rc->nr_tcores || !l->has_seccomp_mode || l->seccomp_mode != SECCOMP_MODE_FILTER_)
		return 0;
	for (size_t t = 0; t < rc->nr_tcores; t++) {
		ThreadCoreEntry *th = rc->tcores[t]->thread;
		size_t k = 0;

		if (!th->has_seccomp_mode || th->seccomp_mode != SECCOMP_MODE_FILTER_)
			return 0;
		while (k < n && k < th->n_seccomp_filters && same_filter(&l->seccomp_filters[k], &th->seccomp_filters[k]))
			k++;
		n = k;
	}
	return n;
}

static size_t seccomp_size(ThreadCoreEntry *th)
{
	size_t len = 64 + th->n_seccomp_filters * (sizeof(struct rst_filter) + 64);

	for (size_t i = 0; i < th->n_seccomp_filters; i++)
		len += th->seccomp_filters[i].len;
	return len;
}

/* Thread @i of the process: 0 is the leader, the others in pstree order. */
static ThreadCoreEntry *thread_core(struct rst_ctx *rc, size_t i)
{
	return i ? rc->tcores[i - 1]->thread : rc->core->thread;
}

/*
 * One rst_thread per thread, the leader's first: what each sets for
 * itself. The leader runs on the restorer's stack and has the process's
 * creds; another thread gets a stack and, if it had its own, its creds.
 */
static int fill_threads(struct rst_ctx *rc, struct restore_args *a, char **p)
{
	TaskCoreEntry *tc = rc->core->tc;

	/* a permission asked for and not used yet (no tile data in any thread's state) */
	if (tc->has_xcomp_perm && (tc->xcomp_perm & (1ULL << XFEATURE_XTILEDATA)) && xstate_request_tiles(rc->pid))
		return -1;
	for (size_t i = 0; i <= rc->nr_tcores; i++) {
		ThreadCoreEntry *th = thread_core(rc, i);
		struct rst_thread *t = &a->threads[i];
		uint8_t *xsave;

		memset(t, 0, sizeof(*t));
		t->tid = i ? th->tid : rc->pid;
		t->fs_base = th->gpregs->fs_base;
		t->gs_base = th->gpregs->gs_base;
		if (th->rseq && th->rseq->size) {
			t->rseq_ptr = th->rseq->ptr;
			t->rseq_size = th->rseq->size;
			t->rseq_sig = th->rseq->signature;
		}
		t->clear_child_tid = th->has_clear_child_tid ? th->clear_child_tid : 0;
		t->robust_list = th->has_robust_list ? th->robust_list : 0;
		t->robust_len = th->has_robust_list_len ? th->robust_list_len : 0;
		if (th->n_cpu_affinity > RST_CPU_WORDS) {
			pr_err("thread %d: a CPU affinity of more than %d CPUs\n", t->tid, RST_CPU_WORDS * 64);
			return -1;
		}
		if (th->n_cpu_affinity)	/* none: no array at all, and memcpy() must not see NULL */
			memcpy(t->cpu_mask, th->cpu_affinity, th->n_cpu_affinity * sizeof(uint64_t));
		t->cpu_mask_len = th->n_cpu_affinity * sizeof(uint64_t);
		t->ioprio = th->has_ioprio ? th->ioprio : 0;
		t->tsc = th->has_tsc ? th->tsc : 0;
		t->cpuid_faulting = th->has_cpuid_faulting && th->cpuid_faulting;
		t->mce_kill = th->has_mce_kill ? th->mce_kill : PR_MCE_KILL_DEFAULT;
		t->mempolicy = th->has_mempolicy ? th->mempolicy : 0;
		if (th->n_mempolicy_nodes > ARRAY_SIZE(t->mempolicy_nodes)) {
			pr_err("thread %d: a memory policy naming NUMA nodes past %d\n", t->tid, MEMPOLICY_NODES);
			return -1;
		}
		if (th->n_mempolicy_nodes)
			memcpy(t->mempolicy_nodes, th->mempolicy_nodes, th->n_mempolicy_nodes * sizeof(uint64_t));
		for (size_t k = 0; k < th->n_spec_ctrl && k < NR_SPEC_CTRL; k++)
			t->spec[k] = th->spec_ctrl[k];
		if (i && th->has_timer_slack_ns && th->has_pdeath_sig && th->has_no_new_privs) {
			t->has_own = 1;
			t->timer_slack = th->timer_slack_ns;
			t->pdeath_sig = th->pdeath_sig;
			t->no_new_privs = th->no_new_privs;
		}
		if (i && th->has_sched_policy && th->has_nice) {
			t->has_sched = 1;
			t->sched_policy = th->sched_policy;
			t->sched_prio = th->has_sched_prio ? th->sched_prio : 0;
			t->nice = th->nice;
		}
		snprintf(t->comm, sizeof(t->comm), "%s", th->comm ? th->comm : rc->core->tc->comm);
		t->sigframe = bump(p, sizeof(struct rst_sigframe));
		xsave = bump(p, th->fpregs->xsave.len + 64);
		if (i) {
			t->stack = (uint64_t)bump(p, RST_THREAD_STACK);
			t->stack_size = RST_THREAD_STACK;
		}
		if (fill_sigframe(rc, th, t->sigframe, xsave) || fill_seccomp(th, &t->seccomp, p))
			return -1;
		t->creds = &a->creds;
		if (!i || !th->creds)
			continue;
		t->creds = bump(p, sizeof(struct rst_creds));
		creds_to_rst(t->creds, th->creds, bump(p, th->creds->n_groups * sizeof(uint32_t)));
	}
	a->nr_threads = rc->nr_tcores + 1;
	return 0;
}

/* Bytes of the bootstrap area the threads need, the leader's included. */
static size_t threads_size(struct rst_ctx *rc)
{
	size_t len = 0;

	for (size_t i = 0; i <= rc->nr_tcores; i++) {
		ThreadCoreEntry *th = thread_core(rc, i);

		len += sizeof(struct rst_thread) + sizeof(struct rst_sigframe) + th->fpregs->xsave.len +
		       (i ? RST_THREAD_STACK : 0) + 4 * 64 + seccomp_size(th) +
		       (i && th->creds ? sizeof(struct rst_creds) + 128 + th->creds->n_groups * sizeof(uint32_t) : 0);
	}
	return len;
}

int check_siginfo_sizes(struct rst_ctx *rc)
{
	ThreadCoreEntry *th = rc->core->thread;
	TaskCoreEntry *tc = rc->core->tc;

	for (size_t i = 0; i < th->n_pending; i++)
		if (th->pending[i]->siginfo.len != 128)
			goto bad;
	for (size_t t = 0; t < rc->nr_tcores; t++)
		for (size_t i = 0; i < rc->tcores[t]->thread->n_pending; i++)
			if (rc->tcores[t]->thread->pending[i]->siginfo.len != 128)
				goto bad;
	for (size_t i = 0; i < tc->n_shared_pending; i++)
		if (tc->shared_pending[i]->siginfo.len != 128)
			goto bad;
	return 0;
bad:
	pr_err("core-%d.img: a pending signal record has the wrong size\n", rc->pid);
	return -1;
}

/*
 * Lay out the bootstrap area: blob, args, arrays, sigframe with XSAVE,
 * vDSO parking room, stack. Returns the args, or NULL.
 */
static size_t old_vdso_size(struct rst_ctx *rc)
{
	struct rst_vdso_part tgt[VDSO_NR_PARTS];

	target_vdso(rc, tgt);
	return tgt[VDSO_PART_VDSO].end - tgt[VDSO_PART_VDSO].start;
}

static size_t vdso_park_size(struct self_vdso *sv)
{
	size_t park = 0;

	for (int i = 0; i < VDSO_NR_PARTS; i++)
		park += sv->part[i].end - sv->part[i].start;
	return park;
}

/*
 * In the parent, before forking: size the bootstrap area, find a hole for
 * it and reserve the hole, so the child inherits the reservation.
 */
int plan_bootstrap(struct rst_ctx *rc, struct span_set *taken, struct self_vdso *sv)
{
	size_t nr_sig, len;
	void *mem;

	nr_sig = nr_siginfo(rc);
	len = restorer_blob.mem_size + sizeof(struct restore_args) + 64 * 17 +
	      rc->mm->n_vmas * sizeof(struct rst_vma) + (rc->nr_guards + rc->cow.huge.nr) * sizeof(struct rst_range) +
	      (rc->nr_pms + rc->cow.nr_areas + rc->cow.huge.nr + rc->mm->n_vmas) * sizeof(struct rst_pagemap) +
	      rc->nr_pages * sizeof(uint64_t) + 64 +
	      nr_sig * (128 + 4) + 64 * 1024 + threads_size(rc) + rc->core->tc->n_posix_timers * sizeof(struct rst_timer) +
	      rc->core->tc->creds->n_groups * sizeof(uint32_t) + 64 +
	      aios_size(rc);
	len = PAGE_ALIGN(len) + vdso_park_size(sv) + RESTORER_STACK + old_vdso_size(rc) + PAGE_SIZE;

	rc->bootstrap = find_bootstrap_hole(rc, taken->s, taken->n, len);
	if (!rc->bootstrap) {
		pr_err("no room for the restorer in the address space of %d\n", rc->pid);
		return -1;
	}
	mem = mmap((void *)rc->bootstrap, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mem != (void *)rc->bootstrap) {
		pr_perror("can't reserve room for the restorer at %lx", (unsigned long)rc->bootstrap);
		return -1;
	}
	rc->bootstrap_len = len;
	/* the next process's area goes elsewhere: all are reserved in our layout, which they inherit */
	return span_set_add(taken, rc->bootstrap, rc->bootstrap + len);
}

/* criu's own layout, once, for plan_bootstrap(): the areas and the vDSO. */
int self_layout(struct span_set *taken, struct self_vdso *sv)
{
	struct proc_vma *self;
	int nr_self, ret = 0;

	if (parse_maps(0, &self, &nr_self))
		return -1;
	find_self_vdso(sv, self, nr_self);
	for (int i = 0; i < nr_self && !ret; i++)
		ret = span_set_add(taken, self[i].start, self[i].end);
	free_maps(self, nr_self);
	return ret;
}

/* Where build_bootstrap() puts the restorer's args in a process's bootstrap area. */
struct restore_args *args_in(struct rst_ctx *rc)
{
	char *p = (char *)rc->bootstrap + restorer_blob.mem_size;

	return bump(&p, sizeof(struct restore_args));
}

/* Children sharing our memory wait in their bootstrap areas (built already) until it is back. */
static void fill_vm_kids(struct rst_ctx *rc, struct restore_args *a)
{
	for (int i = 0; i < rc->nr_children; i++) {
		struct rst_ctx *c = &rc->tree->t[rc->children[i]];

		if (!c->vm_child)
			continue;
		a->vm_kids[a->nr_vm_kids].start = c->bootstrap;
		a->vm_kids[a->nr_vm_kids].len = c->bootstrap_len;
		a->vm_kids[a->nr_vm_kids++].ready = &args_in(c)->mm_ready;
	}
}

/* The pages' checksums go where the restorer finds them (the pieces point into criu's memory until now). */
static void copy_page_csums(struct restore_args *a, char **p)
{
	uint64_t total = 0, *c;

	/*
	 * One block for all (plan_bootstrap() counts nr_pages of them): a
	 * bump() per piece would pad each to 64 bytes, and the many small
	 * entries of an incremental dump overflowed the area.
	 */
	for (uint32_t i = 0; i < a->nr_pms; i++)
		total += a->pms[i].nr_pages;
	c = bump(p, total * sizeof(uint64_t));
	for (uint32_t i = 0; i < a->nr_pms; i++) {
		struct rst_pagemap *pm = &a->pms[i];

		memcpy(c, pm->csum, pm->nr_pages * sizeof(uint64_t));
		pm->csum = c;
		c += pm->nr_pages;
	}
}

/* In the child: fill the reserved area. Returns the restorer's args, or NULL. */
struct restore_args *build_bootstrap(struct rst_ctx *rc, struct child_fds *cf, int pages_fd)
{
	size_t nr_sig = nr_siginfo(rc);
	size_t len = rc->bootstrap_len, park;
	/* a restore process is criu's fork: its vDSO is where criu's is */
	struct self_vdso sv = rc->tree->self_vdso;
	struct restore_args *a;
	char *p, *mem;

	park = vdso_park_size(&sv);
	mem = mmap((void *)rc->bootstrap, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (mem != (void *)rc->bootstrap) {
		pr_perror("can't map the restorer at %lx", (unsigned long)rc->bootstrap);
		goto err;
	}
	compel_blob_load(&restorer_blob, mem, rc->bootstrap);

	p = mem + restorer_blob.mem_size;
	a = bump(&p, sizeof(*a));
	memset(a, 0, sizeof(*a));
	a->bootstrap_start = rc->bootstrap;
	a->bootstrap_len = len;
	a->task_size = kdat.task_size;
	a->vmas = bump(&p, rc->mm->n_vmas * sizeof(struct rst_vma));
	struct rst_range *guards = bump(&p, rc->nr_guards * sizeof(struct rst_range));
	struct rst_range *huge_runs = bump(&p, rc->cow.huge.nr * sizeof(struct rst_range));
	/* lazy_split() may cut a piece at each area's bounds */
	size_t max_pms = rc->nr_pms + rc->cow.nr_areas + rc->cow.huge.nr + (rc->vm_child ? 0 : rc->mm->n_vmas);

	a->pms = bump(&p, max_pms * sizeof(struct rst_pagemap));
	a->siginfo = bump(&p, nr_sig * 128);
	a->siginfo_tid = bump(&p, nr_sig * sizeof(int32_t));
	a->threads = bump(&p, (rc->nr_tcores + 1) * sizeof(struct rst_thread));
	a->timers = bump(&p, rc->core->tc->n_posix_timers * sizeof(struct rst_timer));
	uint8_t *proxy = bump(&p, old_vdso_size(rc));
	uint32_t *groups, shared;

	/* what cow_premap() filled is not filled again */
	ssize_t nr_pms = cow_restorer_pagemap(&rc->cow, a->pms, rc->nr_pms + rc->cow.nr_areas + rc->cow.huge.nr);

	/* --lazy-pages: the lazy-pages daemon fills the lazy areas */
	if (nr_pms > 0 && opts.lazy_pages && !rc->vm_child)
		nr_pms = lazy_split(rc, a->pms, nr_pms, max_pms, false);
	if (nr_pms < 0)
		goto err;
	/* pages with the dumping host (no checksum here) can only come through the daemon */
	for (ssize_t k = 0; k < nr_pms; k++) {
		/* the restorer reads one file: a second file's pages were gathered (gather_chained()) */
		if (a->pms[k].file) {
			pr_err("pagemap-%d.img: the pages at %lx, of the second pages file, were not gathered\n",
			       rc->pid, (unsigned long)a->pms[k].vaddr);
			goto err;
		}
		if (!a->pms[k].csum) {
			pr_err("pagemap-%d.img: the pages at %lx are with the dumping host (dump --lazy-pages), but "
			       "their area is not one filled lazily (not private anonymous, or mlock()ed)\n", rc->pid,
			       (unsigned long)a->pms[k].vaddr);
			goto err;
		}
	}
	a->nr_pms = nr_pms;
	copy_page_csums(a, &p);
	if (fill_threads(rc, a, &p) || (!rc->vm_child && fill_aios(rc, a, &p)))
		goto err;
	groups = bump(&p, rc->core->tc->creds->n_groups * sizeof(uint32_t));
	shared = shared_filters(rc);
	for (uint32_t i = 0; i < a->nr_threads; i++)
		a->threads[i].seccomp.shared = shared;

	a->vdso_park = PAGE_ALIGN((uintptr_t)p);
	if (a->vdso_park + park + 4096 > rc->bootstrap + len - RESTORER_STACK) {
		pr_err("bootstrap area layout overflow\n");
		goto err;
	}

	a->premap_start = rc->tree->cow.base;
	a->premap_len = rc->tree->cow.len;
	a->huge_runs = huge_runs;
	a->nr_huge_runs = rc->cow.huge.nr;
	for (size_t k = 0; k < rc->cow.huge.nr; k++)
		huge_runs[k] = (struct rst_range){ rc->cow.huge.r[k].start, rc->cow.huge.r[k].nr_pages * PAGE_SIZE };
	a->pages_fd = pages_fd;
	a->lazy_sk = a->uffd_dev = -1;
	snprintf(a->pages_name, sizeof(a->pages_name), "%s", rc->pages_what);
	a->csum_isa = csum_restorer_isa();
	a->log_fd = cf->base + SVC_LOG;
	a->err_fd = log_to_file() ? cf->base + SVC_ERR : -1;
	a->log_level = log_get_level();
	a->fault_at = fault_restorer_step();
	a->log_start_us = log_start_us();
	/* a shared fd table is cleaned by criu once every sharer is done with it */
	a->close_from = rc->shares_files ? -1 : cf->base + SVC_DIR;
	if (fill_task(rc, a, groups) || fill_siginfo(rc, a))
		goto err;
	rearm_fired_itimer(a);
	if (rc->vm_child)
		a->shares_mm = 1;
	else if (plan_vdso(rc, &sv, a, proxy) || fill_vmas(rc, a, cf, guards))
		goto err;
	fill_vm_kids(rc, a);
	return a;
err:
	return NULL;
}
