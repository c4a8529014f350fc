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

#include "compel/compel.h"
#include "core.pb-c.h"
#include "clone-vm.h"
#include "cow.h"
#include "cr_options.h"
#include "creds.h"
#include "crtools.h"
#include "files.h"
#include "file-lock.h"
#include "fsnotify.h"
#include "external.h"
#include "image.h"
#include "inventory.pb-c.h"
#include "ipc-sysv.h"
#include "log.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pagerange.h"
#include "pgrp.h"
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

static struct rst_ctx *task_of(struct rst_tree *tr, pid_t pid);

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
	struct late_fd late[64];	/* pidfds, for the restorer */
	int nr_late;
	uint32_t nr_shmem;
	int shmem_base;
	InventoryEntry *inv;
	PstreeEntry *pe;
	CoreEntry *core;		/* the leader's */
	CoreEntry **tcores;		/* the other threads', in pstree order */
	size_t nr_tcores;
	MmEntry *mm;
	PagemapEntry **pms;
	size_t nr_pms;
	uint64_t nr_pages;
	struct rst_files files;
	char pages_name[32];
	int sync_pipe[2];
	uint64_t bootstrap, bootstrap_len;
	struct restore_stats st;
	struct cow_task cow;		/* private memory shared with the parent (cow.c) */
	int fs_child, files_child;	/* made with CLONE_FS, CLONE_FILES: shares the parent's */
	int shares_files;		/* its fd table is another process's too */
	int own_slots;			/* a sharer's pages, exe and mapped-file fds, or -1 */
	int clone_parent;		/* forked by a zombie sibling leading its session (CLONE_PARENT) */
	int vm_child;			/* shares the parent's memory and signal handlers (CLONE_VM | CLONE_SIGHAND) */
};

struct rst_tree {
	struct rst_ctx *t;		/* t[0] is the root */
	int nr;
	int dfd;
	InventoryEntry *inv;
	struct rst_files files;
	uint32_t nr_ids;
	int svc_base;			/* service fds, the same in every task */
	int files_base;			/* fds for mapped files */
	int shmem_base;			/* fd of shared memory object N at shmem_base + N */
	uint32_t nr_shmem;
	int obj_base;			/* fd of the memfd or unlinked file of file N at obj_base + N */
	int scratch_base;		/* pipe ends waiting to be placed */
	int own_base, own_span;		/* per-process slots of processes sharing an fd table */
	int sync_pipe[2];
	struct cow_tree cow;
};

/* ---- reading and checking the images ---- */

static int read_one(int dfd, int type, void **msg, ...)
{
	struct cr_img *img;
	va_list ap;
	int id, ret;

	va_start(ap, msg);
	id = va_arg(ap, int);
	va_end(ap);
	img = open_image_at(dfd, type, O_RDONLY, id);
	if (!img)
		return -1;
	ret = pb_read_one_required(img, msg);
	if (ret == 0) {
		/* keep the message; the image descriptor goes */
	}
	close_image(img);
	return ret;
}

static int read_inventory(struct rst_ctx *rc)
{
	if (!image_exists(rc->dfd, CR_FD_INVENTORY)) {
		pr_err("%s has no inventory.img: not a complete dump\n", opts.imgs_dir);
		return -1;
	}
	if (read_one(rc->dfd, CR_FD_INVENTORY, (void **)&rc->inv, 0))
		return -1;
	if (rc->inv->img_version > IMG_FORMAT_VERSION) {
		pr_err("images in %s have format version %u, made by criu %s; this criu (%s) reads up to version %d\n",
		       opts.imgs_dir, rc->inv->img_version, rc->inv->tool_version, CR_VERSION, IMG_FORMAT_VERSION);
		return -1;
	}
	if (rc->inv->has_page_size && rc->inv->page_size != PAGE_SIZE) {
		pr_err("images were made with %u-byte pages\n", rc->inv->page_size);
		return -1;
	}
	if (rc->inv->shell_job && !opts.shell_job)
		pr_warn("the dump was made with --shell-job; restoring without it\n");
	return 0;
}

static int vma_private(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

static int check_mm(struct rst_ctx *rc)
{
	MmEntry *mm = rc->mm;
	uint64_t prev_end = 0;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		VmaEntry *v = mm->vmas[i];

		if (v->start >= v->end || (v->start | v->end) & (PAGE_SIZE - 1) || v->start < prev_end ||
		    v->end > kdat.task_size) {
			pr_err("mm-%d.img: memory area %zu (%lx-%lx) is malformed or out of order\n", rc->pid, i,
			       (unsigned long)v->start, (unsigned long)v->end);
			return -1;
		}
		if (v->kind == VMA_KIND__VMA_SHMEM && (!v->has_shmem_id || !v->shmem_id || v->shmem_id > rc->nr_shmem)) {
			pr_err("mm-%d.img: shared memory at %lx names no known object\n", rc->pid,
			       (unsigned long)v->start);
			return -1;
		}
		if (v->kind == VMA_KIND__VMA_SYSVSHM &&
		    (!v->has_shmid || v->pgoff + (v->end - v->start) > ipc_sysv_shm_size(v->shmid))) {
			pr_err("mm-%d.img: SysV shm at %lx names no segment of ipc-ns.img it fits in\n", rc->pid,
			       (unsigned long)v->start);
			return -1;
		}
		if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) &&
		    (!v->has_file_id || !find_file(&rc->files, v->file_id) ||
		     !find_file(&rc->files, v->file_id)->reg)) {
			pr_err("mm-%d.img: file mapping at %lx names no known file\n", rc->pid, (unsigned long)v->start);
			return -1;
		}
		prev_end = v->end;
	}
	if (!find_file(&rc->files, mm->exe_file_id) || !find_file(&rc->files, mm->exe_file_id)->reg) {
		pr_err("mm-%d.img: the executable names no known file\n", rc->pid);
		return -1;
	}
	return 0;
}

/* Every page must land in a private area, and come from inside the pages file. */
static int check_pagemap_entry(struct rst_ctx *rc, PagemapEntry *pe, uint64_t file_size)
{
	MmEntry *mm = rc->mm;
	uint64_t addr = pe->vaddr, end = pe->vaddr + pe->nr_pages * PAGE_SIZE;

	/* pages the parent has (cow.c) take no room in the pages file */
	if (pe->has_in_parent && pe->in_parent) {
		file_size = UINT64_MAX;
		pe->off = 0;
	}
	if (!pe->nr_pages || pe->vaddr & (PAGE_SIZE - 1) || pe->off & (PAGE_SIZE - 1) || end <= addr ||
	    pe->off + pe->nr_pages * PAGE_SIZE > file_size || pe->off + pe->nr_pages * PAGE_SIZE < pe->off) {
		pr_err("pagemap-%d.img: entry %lx+%u pages at offset %lu does not fit the %lu-byte pages file "
		       "(truncated or corrupt image)\n", rc->pid, (unsigned long)pe->vaddr, pe->nr_pages,
		       (unsigned long)pe->off, (unsigned long)file_size);
		return -1;
	}
	for (size_t i = mm_vma_lower_bound(mm, addr); addr < end; i++) {
		if (i >= mm->n_vmas || mm->vmas[i]->start > addr || !vma_private(mm->vmas[i])) {
			pr_err("pagemap-%d.img: pages at %lx are outside any private memory area\n", rc->pid,
			       (unsigned long)addr);
			return -1;
		}
		addr = mm->vmas[i]->end;
	}
	return 0;
}

static int read_pagemap(struct rst_ctx *rc)
{
	struct cr_img *img = open_image_at(rc->dfd, CR_FD_PAGEMAP, O_RDONLY, rc->pid);
	PagemapHead *head = NULL;
	struct stat st;
	void *msg;
	int ret = -1, r;

	if (!img)
		return -1;
	if (pb_read_one_required(img, (void **)&head))
		goto out;
	snprintf(rc->pages_name, sizeof(rc->pages_name), "pages-%u.img", head->pages_id);
	if (fstatat(rc->dfd, rc->pages_name, &st, 0)) {
		pr_perror("can't stat %s/%s", opts.imgs_dir, rc->pages_name);
		goto out;
	}
	while ((r = pb_read_one(img, &msg)) == 1) {
		PagemapEntry *pe = msg, **n;

		if (check_pagemap_entry(rc, pe, st.st_size)) {
			pb_free(img, msg);
			goto out;
		}
		n = realloc(rc->pms, (rc->nr_pms + 1) * sizeof(*n));
		if (!n) {
			pb_free(img, msg);
			goto out;
		}
		rc->pms = n;
		rc->pms[rc->nr_pms++] = pe;
		if (pe->has_in_parent && pe->in_parent)
			rc->st.pages_cow += pe->nr_pages;
		else
			rc->nr_pages += pe->nr_pages;
	}
	if (r < 0)
		goto out;
	ret = 0;
out:
	if (head)
		pb_free(img, head);
	close_image(img);
	return ret;
}

static int check_pid_free(pid_t pid)
{
	char path[64], comm[64] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
	pr_err("can't restore: pid %d is in use by another process (%s)\n", pid, comm);
	return -1;
}

/* The registers must fit this CPU: every XSAVE feature the task used must be here. */
static int check_fpu(struct rst_ctx *rc)
{
	UserFpregsX86Entry *fp = rc->core->thread->fpregs;
	unsigned int eax, ebx, ecx, edx, lo, hi;
	uint64_t xcr0;

	if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx)) {
		pr_err("this CPU has no XSAVE; can't restore FPU state\n");
		return -1;
	}
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = ((uint64_t)hi << 32) | lo;
	if (fp->xfeatures & ~xcr0) {
		pr_err("can't restore %d: it used CPU state components %#lx this CPU lacks (it has %#lx)\n",
		       rc->pid, (unsigned long)(fp->xfeatures & ~xcr0), (unsigned long)xcr0);
		return -1;
	}
	if (fp->xsave.len > ebx) {
		pr_err("can't restore %d: its FPU state is %zu bytes, more than this CPU's %u\n", rc->pid,
		       fp->xsave.len, ebx);
		return -1;
	}
	return 0;
}

static int read_thread_cores(struct rst_ctx *rc)
{
	rc->tcores = calloc(rc->pe->n_threads + 1, sizeof(*rc->tcores));
	if (!rc->tcores)
		return -1;
	for (size_t i = 0; i < rc->pe->n_threads; i++) {
		pid_t tid = rc->pe->threads[i];
		CoreEntry *c;

		if (tid == rc->pid)
			continue;
		if (tid <= 0 || read_one(rc->dfd, CR_FD_CORE, (void **)&c, tid))
			return -1;
		rc->tcores[rc->nr_tcores++] = c;
		if (c->thread->tid != tid || !c->thread->fpregs || !c->thread->altstack) {
			pr_err("core-%d.img does not describe thread %d\n", tid, tid);
			return -1;
		}
	}
	return 0;
}

static int read_task_images(struct rst_ctx *rc)
{
	if (read_one(rc->dfd, CR_FD_CORE, (void **)&rc->core, rc->pid))
		return -1;
	if (!rc->core->tc) {
		pr_err("core-%d.img has no process state: is %d a thread?\n", rc->pid, rc->pid);
		return -1;
	}
	if (read_thread_cores(rc))
		return -1;
	/* memory shared with the parent is the parent's: its mm, read before ours, is ours */
	if (rc->vm_child) {
		rc->mm = task_of(rc->tree, rc->pe->ppid)->mm;
		return check_fpu(rc);
	}
	if (read_one(rc->dfd, CR_FD_MM, (void **)&rc->mm, rc->pid))
		return -1;
	if (check_mm(rc) || read_pagemap(rc) || check_fpu(rc))
		return -1;
	return 0;
}

/* ---- the child ---- */

struct self_vdso {
	struct rst_vdso_part part[VDSO_NR_PARTS];
};

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

/* Can this kernel's vDSO simply be moved to where the task's was? */
static int vdso_layout_same(struct self_vdso *sv, struct rst_vdso_part *tgt)
{
	for (int p = 0; p < VDSO_NR_PARTS; p++) {
		uint64_t sl = sv->part[p].end - sv->part[p].start, tl = tgt[p].end - tgt[p].start;

		if (sl != tl)
			return 0;
		if (tl && (int64_t)(sv->part[p].start - sv->part[VDSO_PART_VDSO].start) !=
			  (int64_t)(tgt[p].start - tgt[VDSO_PART_VDSO].start))
			return 0;
	}
	return 1;
}

static uint64_t find_bootstrap_hole(struct rst_ctx *rc, struct proc_vma *self, int nr_self, uint64_t len);

/*
 * Different layout: our vDSO goes to a free spot, and the task's old vDSO
 * address gets trampolines into it (see vdso.c).
 */
static int plan_vdso_proxy(struct rst_ctx *rc, struct self_vdso *sv, struct restore_args *a,
			   struct rst_vdso_part *tgt, uint8_t *proxy_buf)
{
	struct vdso_symtab old = { 0 }, new;
	struct proc_vma boot[2] = {
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

static int overlaps(uint64_t s, uint64_t e, uint64_t s2, uint64_t e2)
{
	return s < e2 && s2 < e;
}

/* A hole free both in the child now and in the task to be. */
static uint64_t find_bootstrap_hole(struct rst_ctx *rc, struct proc_vma *self, int nr_self, uint64_t len)
{
	uint64_t cand = kdat.task_size - (1ULL << 32);	/* stay well below the stack */

	while (cand > (1ULL << 32)) {
		uint64_t end = cand + len, lowest = cand;
		int hit = 0;

		for (size_t i = 0; i < rc->mm->n_vmas; i++)
			if (overlaps(cand, end, rc->mm->vmas[i]->start, rc->mm->vmas[i]->end)) {
				hit = 1;
				if (rc->mm->vmas[i]->start < lowest)
					lowest = rc->mm->vmas[i]->start;
			}
		for (int i = 0; i < nr_self; i++)
			if (overlaps(cand, end, self[i].start, self[i].end)) {
				hit = 1;
				if (self[i].start < lowest)
					lowest = self[i].start;
			}
		if (!hit)
			return cand;
		cand = ((lowest - len) & ~(PAGE_SIZE - 1)) - PAGE_SIZE;
	}
	return 0;
}

static void *bump(char **p, size_t size)
{
	void *ret = (void *)(((uintptr_t)*p + 63) & ~63UL);

	*p = (char *)ret + size;
	return ret;
}

/* Service fds live from svc_base up, above every fd the task will have. */
enum {
	SVC_LOG,
	SVC_DIR,
	SVC_TTY,
	SVC_PAGES,
	SVC_EXE,
	SVC_INHERIT,		/* --inherit-fd fds, up to MAX_INHERIT_FD */
	SVC_TRANSIT = 16,	/* descriptions passed to children, then mapped files */
};
_Static_assert(SVC_INHERIT + MAX_INHERIT_FD <= SVC_TRANSIT, "--inherit-fd slots overlap the transit ones");

struct child_fds {
	int base;
	int pages, exe;		/* slots of the pages file and the executable */
	int files;		/* slot of the first mapped file */
};

static int svc_fd(struct child_fds *cf, int fd, int slot)
{
	int to = cf->base + slot;

	if (fd < 0)
		return -1;
	if (move_fd(fd, to) < 0) {
		pr_perror("can't move fd %d to %d", fd, to);
		return -1;
	}
	return to;
}

static int fill_vmas(struct rst_ctx *rc, struct restore_args *a, struct child_fds *cf)
{
	uint32_t *ids = calloc(rc->mm->n_vmas + 1, sizeof(*ids));
	int *fds = calloc(rc->mm->n_vmas + 1, sizeof(*fds));
	int nr_files = 0, ret = -1;

	if (!ids || !fds)
		goto out;
	for (size_t i = 0; i < rc->mm->n_vmas; i++) {
		VmaEntry *v = rc->mm->vmas[i];
		struct rst_vma *r;

		if (vdso_part_of(v) >= 0)
			continue;
		r = &a->vmas[a->nr_vmas++];
		r->start = v->start;
		r->end = v->end;
		r->pgoff = v->pgoff;
		r->prot = v->prot;
		r->flags = v->flags & (MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN);
		r->fd = -1;
		r->kind = RST_VMA_ANON;
		r->madv = v->has_madv ? v->madv : 0;
		r->premap = cow_slot(&rc->cow, v->start);
		if (v->kind == VMA_KIND__VMA_SHMEM) {
			r->kind = RST_VMA_FILE_SHARED;
			r->flags = MAP_SHARED;
			r->fd = rc->tree->shmem_base + v->shmem_id;
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
		for (int j = 0; j < nr_files; j++)
			if (ids[j] == v->file_id)
				r->fd = fds[j];
		if (r->fd >= 0)
			continue;
		r->fd = svc_fd(cf, open_file(&rc->files, v->file_id, find_file(&rc->files, v->file_id)->reg->flags & O_ACCMODE),
			       cf->files + nr_files);
		if (r->fd < 0)
			goto out;
		ids[nr_files] = v->file_id;
		fds[nr_files++] = r->fd;
	}
	ret = 0;
out:
	free(ids);
	free(fds);
	return ret;
}

static int have_cap_sys_resource(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32)));
}

static void fill_regs(struct rst_sigcontext *sc, const UserRegsX86Entry *g)
{
	sc->r8 = g->r8; sc->r9 = g->r9; sc->r10 = g->r10; sc->r11 = g->r11;
	sc->r12 = g->r12; sc->r13 = g->r13; sc->r14 = g->r14; sc->r15 = g->r15;
	sc->rdi = g->di; sc->rsi = g->si; sc->rbp = g->bp; sc->rbx = g->bx;
	sc->rdx = g->dx; sc->rax = g->ax; sc->rcx = g->cx; sc->rsp = g->sp;
	sc->rip = g->ip; sc->eflags = g->flags;
	sc->cs = 0x33;
	sc->ss = 0x2b;
}

#define XFEATURE_XTILEDATA	18
#define XSAVE_HDR_END		576	/* legacy area + XSAVE header */
#define XSAVE_HDR_XSTATE_BV	512
#define ARCH_REQ_XCOMP_PERM	0x1023

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
	unsigned int eax, ebx, ecx, edx;
	uint32_t end = XSAVE_HDR_END;

	for (int i = 2; i < 63; i++) {
		if (!(features & (1ULL << i)) || !__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			continue;
		if (ecx & 1)	/* supervisor state: not in the user layout */
			continue;
		if (ebx + eax > end)
			end = ebx + eax;
	}
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
	f->uc.uc_stack.ss_sp = th->altstack->sp;
	f->uc.uc_stack.ss_flags = th->altstack->flags;
	f->uc.uc_stack.ss_size = th->altstack->size;
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
	uint32_t *sw = (uint32_t *)(xsave + 464);

	sw[0] = XSTATE_MAGIC1;
	sw[1] = size + 4;
	memcpy(&sw[2], &features, 8);
	sw[4] = size;
	*(uint32_t *)(xsave + size) = XSTATE_MAGIC2;
	f->uc.uc_mcontext.fpstate = (uint64_t)xsave;
	return 0;
}

static int fill_task(struct rst_ctx *rc, struct restore_args *a)
{
	TaskCoreEntry *tc = rc->core->tc;
	ThreadCoreEntry *th = rc->core->thread;
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
		if (r->max > cur.rlim_max && !have_cap_sys_resource()) {
			pr_err("can't restore %d: its hard limit %u is %lu, above ours (%lu), and raising it "
			       "needs CAP_SYS_RESOURCE\n", rc->pid, r->resource, (unsigned long)r->max,
			       (unsigned long)cur.rlim_max);
			return -1;
		}
		a->rlim[r->resource].cur = r->cur;
		a->rlim[r->resource].max = r->max;
		if (r->resource + 1 > a->nr_rlim)
			a->nr_rlim = r->resource + 1;
	}
	if (tc->creds->n_groups > RST_MAX_GROUPS) {
		pr_err("can't restore %d: it has %zu supplementary groups, more than %d\n", rc->pid,
		       tc->creds->n_groups, RST_MAX_GROUPS);
		return -1;
	}
	creds_to_rst(&a->creds, tc->creds);
	a->dumpable = tc->dumpable;
	a->pdeath_sig = tc->has_pdeath_sig ? tc->pdeath_sig : 0;
	if (a->pdeath_sig && rc == &rc->tree->t[0] && opts.restore_detached && !opts.restore_sibling) {
		/* criu would be its parent, and criu exits at once with -d */
		pr_err("can't restore %d detached: it has a parent-death signal (%d), which would fire as soon as "
		       "criu exits; restore it without -d or with --restore-sibling\n", rc->pid, a->pdeath_sig);
		return -1;
	}
	a->no_new_privs = tc->has_no_new_privs && tc->no_new_privs;
	a->stopped = tc->has_stopped && tc->stopped;
	for (size_t i = 0; i < tc->n_itimers && i < 3; i++) {
		a->itimer[i].value_sec = tc->itimers[i]->value_us / 1000000;
		a->itimer[i].value_usec = tc->itimers[i]->value_us % 1000000;
		a->itimer[i].interval_sec = tc->itimers[i]->interval_us / 1000000;
		a->itimer[i].interval_usec = tc->itimers[i]->interval_us % 1000000;
	}
	for (size_t i = 0; i < tc->n_posix_timers; i++) {
		PosixTimerEntry *p = tc->posix_timers[i];
		struct rst_timer *t = &a->timers[i];

		t->id = p->id;
		t->clock = p->clock;
		t->signo = p->signo;
		t->notify = p->notify;
		t->tid = p->has_notify_tid ? p->notify_tid : 0;
		t->value = p->sigev_value;
		t->spec.value_sec = p->value_ns / 1000000000ULL;
		t->spec.value_nsec = p->value_ns % 1000000000ULL;
		t->spec.interval_sec = p->interval_ns / 1000000000ULL;
		t->spec.interval_nsec = p->interval_ns % 1000000000ULL;
		/* a disarmed timer has value 0; an armed one that is due now must still fire */
		if (!p->value_ns && p->interval_ns)
			t->spec.value_nsec = 1;
	}
	a->nr_timers = tc->n_posix_timers;
	a->timer_slack = tc->has_timer_slack_ns ? tc->timer_slack_ns : 0;
	a->child_subreaper = tc->has_child_subreaper && tc->child_subreaper;
	a->thp_disabled = tc->has_thp_disabled && tc->thp_disabled;
	if (tc->has_sched_policy && tc->has_nice) {
		a->has_sched = 1;
		a->sched_policy = tc->sched_policy;
		a->sched_prio = tc->has_sched_prio ? tc->sched_prio : 0;
		a->nice = tc->nice;
	}
	if (th->rseq && th->rseq->size) {
		a->rseq_ptr = th->rseq->ptr;
		a->rseq_size = th->rseq->size;
		a->rseq_sig = th->rseq->signature;
	}
	a->clear_child_tid = th->has_clear_child_tid ? th->clear_child_tid : 0;
	a->robust_list = th->has_robust_list ? th->robust_list : 0;
	a->robust_len = th->has_robust_list_len ? th->robust_list_len : 0;
	a->fs_base = th->gpregs->fs_base;
	a->gs_base = th->gpregs->gs_base;
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
	if (s->mode > 2) {
		pr_err("core-%d.img: unknown seccomp mode %u\n", th->tid, s->mode);
		return -1;
	}
	if (s->mode != 2)
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
	}
	s->nr = th->n_seccomp_filters;
	return 0;
}

static size_t seccomp_size(ThreadCoreEntry *th)
{
	size_t len = 64 + th->n_seccomp_filters * (sizeof(struct rst_filter) + 64);

	for (size_t i = 0; i < th->n_seccomp_filters; i++)
		len += th->seccomp_filters[i].len;
	return len;
}

static int fill_threads(struct rst_ctx *rc, struct restore_args *a, char **p)
{
	for (size_t i = 0; i < rc->nr_tcores; i++) {
		ThreadCoreEntry *th = rc->tcores[i]->thread;
		struct rst_thread *t = &a->threads[i];
		uint8_t *xsave;

		memset(t, 0, sizeof(*t));
		t->tid = th->tid;
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
		snprintf(t->comm, sizeof(t->comm), "%s", th->comm ? th->comm : "");
		t->sigframe = bump(p, sizeof(struct rst_sigframe));
		xsave = bump(p, th->fpregs->xsave.len + 64);
		t->stack = (uint64_t)bump(p, RST_THREAD_STACK);
		t->stack_size = RST_THREAD_STACK;
		if (fill_sigframe(rc, th, t->sigframe, xsave) || fill_seccomp(th, &t->seccomp, p))
			return -1;
		t->creds = &a->creds;
		if (!th->creds)
			continue;
		if (th->creds->n_groups > RST_MAX_GROUPS) {
			pr_err("can't restore thread %d: it has %zu supplementary groups, more than %d\n", t->tid,
			       th->creds->n_groups, RST_MAX_GROUPS);
			return -1;
		}
		t->creds = bump(p, sizeof(struct rst_creds));
		creds_to_rst(t->creds, th->creds);
	}
	a->nr_threads = rc->nr_tcores;
	return 0;
}

/* Bytes of the bootstrap area all threads but the leader need. */
static size_t threads_size(struct rst_ctx *rc)
{
	size_t len = 0;

	for (size_t i = 0; i < rc->nr_tcores; i++)
		len += sizeof(struct rst_thread) + sizeof(struct rst_sigframe) +
		       rc->tcores[i]->thread->fpregs->xsave.len + RST_THREAD_STACK + 4 * 64 +
		       seccomp_size(rc->tcores[i]->thread) +
		       (rc->tcores[i]->thread->creds ? sizeof(struct rst_creds) + 64 : 0);
	return len;
}

static int check_siginfo_sizes(struct rst_ctx *rc)
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
static int plan_bootstrap(struct rst_ctx *rc)
{
	ThreadCoreEntry *th = rc->core->thread;
	struct proc_vma *self;
	struct self_vdso sv;
	size_t nr_sig, len;
	int nr_self, ret = -1;
	void *mem;

	if (parse_maps(0, &self, &nr_self))
		return -1;
	find_self_vdso(&sv, self, nr_self);
	nr_sig = nr_siginfo(rc);
	len = restorer_blob.mem_size + sizeof(struct restore_args) + 64 * 16 +
	      rc->mm->n_vmas * sizeof(struct rst_vma) + (rc->nr_pms + rc->cow.nr_areas) * sizeof(struct rst_pagemap) +
	      nr_sig * (128 + 4) + sizeof(struct rst_sigframe) + th->fpregs->xsave.len + 64 * 1024 +
	      threads_size(rc) + seccomp_size(th) + rc->core->tc->n_posix_timers * sizeof(struct rst_timer);
	len = PAGE_ALIGN(len) + vdso_park_size(&sv) + RESTORER_STACK + old_vdso_size(rc) + PAGE_SIZE;

	rc->bootstrap = find_bootstrap_hole(rc, self, nr_self, len);
	if (!rc->bootstrap) {
		pr_err("no room for the restorer in the address space of %d\n", rc->pid);
		goto out;
	}
	mem = mmap((void *)rc->bootstrap, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mem != (void *)rc->bootstrap) {
		pr_perror("can't reserve room for the restorer at %lx", (unsigned long)rc->bootstrap);
		goto out;
	}
	rc->bootstrap_len = len;
	ret = 0;
out:
	free_maps(self, nr_self);
	return ret;
}

/* Where build_bootstrap() puts the restorer's args in a process's bootstrap area. */
static struct restore_args *args_in(struct rst_ctx *rc)
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

/* In the child: fill the reserved area. Returns the restorer's args, or NULL. */
static struct restore_args *build_bootstrap(struct rst_ctx *rc, struct child_fds *cf, int pages_fd)
{
	ThreadCoreEntry *th = rc->core->thread;
	size_t nr_sig = nr_siginfo(rc);
	size_t len = rc->bootstrap_len, park;
	struct proc_vma *self;
	struct self_vdso sv;
	struct restore_args *a;
	int nr_self;
	char *p, *mem;

	if (parse_maps(0, &self, &nr_self))
		return NULL;
	find_self_vdso(&sv, self, nr_self);
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
	a->pms = bump(&p, (rc->nr_pms + rc->cow.nr_areas) * sizeof(struct rst_pagemap));
	a->siginfo = bump(&p, nr_sig * 128);
	a->siginfo_tid = bump(&p, nr_sig * sizeof(int32_t));
	a->threads = bump(&p, rc->nr_tcores * sizeof(struct rst_thread));
	a->timers = bump(&p, rc->core->tc->n_posix_timers * sizeof(struct rst_timer));
	a->sigframe = bump(&p, sizeof(struct rst_sigframe));
	uint8_t *xsave = bump(&p, th->fpregs->xsave.len + 64);
	uint8_t *proxy = bump(&p, old_vdso_size(rc));

	if (fill_threads(rc, a, &p) || fill_seccomp(th, &a->seccomp, &p))
		goto err;

	a->vdso_park = PAGE_ALIGN((uintptr_t)p);
	if (a->vdso_park + park + 4096 > rc->bootstrap + len - RESTORER_STACK) {
		pr_err("bootstrap area layout overflow\n");
		goto err;
	}

	/* what cow_premap() filled is not filled again */
	ssize_t nr_pms = cow_restorer_pagemap(&rc->cow, a->pms, rc->nr_pms + rc->cow.nr_areas);

	if (nr_pms < 0)
		goto err;
	a->nr_pms = nr_pms;
	a->premap_start = rc->tree->cow.base;
	a->premap_len = rc->tree->cow.len;
	a->pages_fd = pages_fd;
	a->log_fd = cf->base + SVC_LOG;
	a->log_level = log_get_level();
	/* a shared fd table is cleaned by criu once every sharer is done with it */
	a->close_from = rc->shares_files ? -1 : cf->base + SVC_DIR;
	if (fill_task(rc, a) || fill_siginfo(rc, a) || fill_sigframe(rc, rc->core->thread, a->sigframe, xsave))
		goto err;
	if (rc->vm_child)
		a->shares_mm = 1;
	else if (plan_vdso(rc, &sv, a, proxy) || fill_vmas(rc, a, cf))
		goto err;
	fill_vm_kids(rc, a);
	free_maps(self, nr_self);
	return a;
err:
	free_maps(self, nr_self);
	return NULL;
}

static int setup_session(struct rst_ctx *rc)
{
	int root = rc == &rc->tree->t[0];

	if (rc->pe->sid == rc->pid) {
		if (setsid() < 0) {
			pr_perror("setsid");
			return -1;
		}
		return 0;
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
	} else if (!root && rc->pe->pgid_gone && rc->pe->pgid != getpgrp()) {
		return join_leaderless_group(rc->pe->pgid);
	} else if (!root && rc->pe->pgid != getpgrp() && setpgid(0, rc->pe->pgid)) {
		pr_perror("%d: setpgid to %d", rc->pid, rc->pe->pgid);
		return -1;
	}
	return 0;
}

static int open_shell_tty(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd))
			return fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return -1;
}

static int raise_nofile(int need)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return -1;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
	if ((rlim_t)need > r.rlim_cur) {
		pr_err("the task had fd %d, but we may only open up to %lu\n", need, (unsigned long)r.rlim_cur);
		return -1;
	}
	return 0;
}

/* glibc registers 32 bytes but may report the smaller feature size. */
static int unregister_rseq(void)
{
	void *area = (char *)__builtin_thread_pointer() + __rseq_offset;

	if (!syscall(__NR_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return 0;
	return syscall(__NR_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG);
}

/* Write @val to /proc/self/@name unless it is there already. */
static int write_self_int(const char *name, long val, const char *what)
{
	char path[64], buf[32];
	long cur;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0) {
		pr_perror("can't read %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf[n] = '\0';
	cur = strtol(buf, NULL, 10);
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

static int restore_proc_ints(struct rst_ctx *rc)
{
	TaskCoreEntry *tc = rc->core->tc;

	if (tc->has_oom_score_adj && write_self_int("oom_score_adj", tc->oom_score_adj, "the OOM score adjustment"))
		return -1;
	if (tc->has_loginuid && write_self_int("loginuid", (long)tc->loginuid, "the login uid"))
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

static pid_t clone_with_pid(pid_t pid, int flags, int exit_signal)
{
	struct clone_args ca;
	long ret;

	memset(&ca, 0, sizeof(ca));
	ca.flags = flags;
	ca.exit_signal = exit_signal;
	ca.set_tid = (uintptr_t)&pid;
	ca.set_tid_size = 1;
	ret = syscall(__NR_clone3, &ca, sizeof(ca));
	if (ret < 0) {
		if (errno == EEXIST)
			pr_err("can't restore: pid %d is in use by another process\n", pid);
		else
			pr_perror("clone3 with pid %d", pid);
		return -1;
	}
	return ret;
}

/* A zombie: exit the way it did; its parent reaps it when it wants to. */
static void __attribute__((noreturn)) become_zombie(struct rst_ctx *rc)
{
	int st = rc->exit_code;

	if (WIFSIGNALED(st)) {
		sigset_t none;

		signal(WTERMSIG(st), SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		kill(getpid(), WTERMSIG(st));
	}
	_exit(WEXITSTATUS(st));
}

static int restore_task(struct rst_ctx *rc);

static void vm_child_main(void *arg)
{
	struct rst_ctx *c = arg;

	restore_task(c);
	pr_err("restore of %d failed before the restorer\n", c->pid);
	_exit(1);
}

/*
 * Fork the children, each with its pid; they go on in restore_task().
 * Those that share our fd table come last, after the others took their
 * copies of it.
 */
static int fork_children(struct rst_ctx *rc)
{
	for (int pass = 0; pass < 3; pass++)
		for (int i = 0; i < rc->nr_children; i++) {
			struct rst_ctx *c = &rc->tree->t[rc->children[i]];
			int flags = (c->fs_child ? CLONE_FS : 0) | (c->files_child ? CLONE_FILES : 0) |
				    (c->clone_parent ? CLONE_PARENT : 0);
			pid_t pid;

			/*
			 * Children sharing our memory come last: they change criu's
			 * globals in it (pipes, ptys...) as they restore their fds.
			 */
			if ((c->vm_child ? 2 : c->files_child) != pass)
				continue;
			if (c->vm_child) {
				if (clone_vm_child(c->pid, flags, vm_child_main, c) < 0)
					return -1;
				continue;
			}
			/* with CLONE_PARENT the exit signal is the caller's own (SIGCHLD) */
			pid = clone_with_pid(c->pid, flags, c->clone_parent ? 0 : SIGCHLD);
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
 * The root: wait for the go, lift criu's own fds (log, image dir, tty,
 * --inherit-fd) into the service slots, close everything else and make
 * what the whole tree inherits. The tty slot's fd, or -1.
 */
static int root_fd_space(struct rst_tree *tr, struct child_fds *cf)
{
	int tty, keep_to;
	char go;

	close(tr->sync_pipe[1]);
	if (read(tr->sync_pipe[0], &go, 1) != 1)
		_exit(1);
	close(tr->sync_pipe[0]);
	/* Our own fds go up out of the way, everything else of ours goes. */
	keep_to = inherit_fd_lift(cf->base + SVC_INHERIT);
	if (keep_to < 0)
		return -2;
	tty = opts.shell_job ? open_shell_tty() : -1;
	log_set_fd(svc_fd(cf, fcntl(log_get_fd(), F_DUPFD_CLOEXEC, 0), SVC_LOG));
	tr->dfd = svc_fd(cf, tr->dfd, SVC_DIR);
	if (tty >= 0)
		tty = svc_fd(cf, tty, SVC_TTY);
	if (tr->dfd < 0 || syscall(SYS_close_range, 0, cf->base - 1, 0) ||
	    syscall(SYS_close_range, cf->base + SVC_TTY + 1, cf->base + SVC_INHERIT - 1, 0) ||
	    syscall(SYS_close_range, keep_to, ~0U, 0)) {
		pr_perror("can't set up service fds");
		return -2;
	}
	/* shared memory objects, for the whole tree to inherit */
	if (shmem_restore_all(tr->dfd, tr->shmem_base) || fileobj_make_all(&tr->files, tr->obj_base))
		return -2;
	/* SysV objects of the new ipc namespace, before the children inherit it */
	if (ipc_sysv_restore(tr->dfd))
		return -2;
	return tty;
}

/* The fd table a task starts its restore with: the tty slot's fd, -1 if none, or -2 on error. */
static int task_fd_space(struct rst_ctx *rc, struct child_fds *cf)
{
	struct rst_tree *tr = rc->tree;
	int tty = tr->svc_base + SVC_TTY;

	if (rc == &tr->t[0])
		return root_fd_space(tr, cf);
	/* the parent's pipe ends waiting in its table are not ours */
	pipes_restore_forget();
	/* a shared table is the parent's, restored already */
	if (rc->files_child)
		return tty;
	if (syscall(SYS_close_range, 0, cf->base - 1, 0) || syscall(SYS_close_range, tr->scratch_base, ~0U, 0)) {
		pr_perror("can't drop the parent's fds");
		return -2;
	}
	return fcntl(tty, F_GETFD) < 0 ? -1 : tty;
}

static int restore_task(struct rst_ctx *rc)
{
	struct rst_tree *tr = rc->tree;
	struct child_fds cf = { .base = tr->svc_base, .pages = SVC_PAGES, .exe = SVC_EXE,
				.files = tr->files_base - tr->svc_base };
	struct rst_transit transit = { .base = tr->svc_base + SVC_TRANSIT, .nr_ids = tr->nr_ids, .need = rc->need };
	struct restore_args *a;
	TaskCoreEntry *tc;
	int max_fd, tty, pages_fd, exe_fd;
	sigset_t all;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	tty = task_fd_space(rc, &cf);
	if (tty < -1)
		return -1;
	rc->dfd = tr->dfd;

	if (setup_session(rc))
		return -1;
	if (rc->zombie) {
		/* the members of its session, its siblings, are born in it before it dies */
		if (fork_children(rc))
			return -1;
		become_zombie(rc);
	}
	tc = rc->core->tc;

	pipes_restore_init(tr->scratch_base);
	if (!rc->files_child && restore_fds(rc->dfd, rc->pid, &rc->files, tty, &max_fd, &transit, rc->late,
					    &rc->nr_late, ARRAY_SIZE(rc->late)))
		return -1;
	/* its fds are the parent's, but the terminal's session and foreground group may be its own */
	if (rc->files_child && tty_restore_session(&rc->files, rc->pid, &transit))
		return -1;
	if (!rc->vm_child && cow_premap(&tr->cow, rc - tr->t, rc->dfd, rc->pages_name))
		return -1;
	if (fork_children(rc))
		return -1;
	/* what the children needed is theirs now (a shared table keeps it for the other sharers) */
	if (!rc->shares_files)
		syscall(SYS_close_range, transit.base, transit.base + tr->nr_ids, 0);
	if (rc->own_slots >= 0) {
		cf.pages = rc->own_slots - cf.base;
		cf.exe = cf.pages + 1;
		cf.files = cf.pages + 2;
	}

	/* the memory of a child sharing it is the parent's: no pages, no exe */
	pages_fd = exe_fd = -1;
	if (!rc->vm_child) {
		pages_fd = svc_fd(&cf, openat(rc->dfd, rc->pages_name, O_RDONLY | O_CLOEXEC), cf.pages);
		exe_fd = svc_fd(&cf, open_file(&rc->files, rc->mm->exe_file_id, O_RDONLY), cf.exe);
		if (pages_fd < 0 || exe_fd < 0) {
			pr_perror("can't open the pages file or the executable");
			return -1;
		}
	}

	a = build_bootstrap(rc, &cf, pages_fd);
	if (!a || a != args_in(rc))
		return -1;
	a->mm.exe_fd = exe_fd;
	memcpy(a->pidfds, rc->late, sizeof(rc->late));
	a->nr_pidfds = rc->nr_late;
	if (file_locks_prepare(rc->dfd, rc->pid, a))
		return -1;

	/* a CLONE_FS child has the parent's fs, which the parent restores */
	if (!rc->fs_child) {
		if (restore_fs(rc->dfd, rc->pid))
			return -1;
		umask(tc->umask);
	}
	if (restore_proc_ints(rc))
		return -1;
	if (personality(tc->personality) < 0)
		pr_warn("can't set personality %x: %s\n", tc->personality, strerror(errno));
	prctl(PR_SET_NAME, tc->comm);
	prctl(PR_SET_PDEATHSIG, 0);

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

/* ---- the parent ---- */

static struct rst_ctx *task_of(struct rst_tree *tr, pid_t pid)
{
	for (int i = 0; i < tr->nr; i++)
		if (tr->t[i].pid == pid)
			return &tr->t[i];
	return NULL;
}

/*
 * Run the restore until every thread of every process sits on the
 * restorer's final trap and every zombie has exited. The whole tree is
 * traced from birth (PTRACE_O_TRACEFORK/CLONE).
 */
static int is_final_trap(struct rst_tree *tr, uint64_t ip)
{
	for (int i = 0; i < tr->nr; i++)
		if (!tr->t[i].zombie && ip == tr->t[i].bootstrap + restorer_sym_restorer_final_trap + 1)
			return 1;
	return 0;
}

static int wait_final_traps(struct rst_tree *tr, pid_t *trapped, size_t want, size_t zombies)
{
	size_t got = 0, gone = 0;
	struct user_regs_struct regs;
	int status;

	while (got < want || gone < zombies) {
		pid_t t = waitpid(-1, &status, __WALL);
		struct rst_ctx *rc;

		if (t < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("waiting for the restored tree");
			return -1;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			rc = task_of(tr, t);
			if (!rc)
				continue;	/* a thread gone with its leader: reported with it */
			/* a re-killed zombie may differ in the core-dump bit only */
			if (rc->zombie && (status & ~0x80) == (rc->exit_code & ~0x80)) {
				gone++;
				continue;
			}
			pr_err("restore of %d failed: the restoring process %s %d (see the log)\n", t,
			       WIFEXITED(status) ? "exited with" : "was killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return -1;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) == SIGTRAP && (status >> 16) == 0) {
			if (ptrace(PTRACE_GETREGS, t, NULL, &regs)) {
				pr_perror("PTRACE_GETREGS of %d", t);
				return -1;
			}
			if (got == want || !is_final_trap(tr, regs.rip)) {
				pr_err("restore: thread %d trapped at %llx, not at a restorer's end\n", t, regs.rip);
				return -1;
			}
			trapped[got++] = t;
			continue;
		}
		if ((status >> 16) == PTRACE_EVENT_STOP || (status >> 16) == PTRACE_EVENT_CLONE ||
		    (status >> 16) == PTRACE_EVENT_FORK) {
			ptrace(PTRACE_CONT, t, NULL, NULL);
			continue;
		}
		if (WSTOPSIG(status) == SIGSEGV || WSTOPSIG(status) == SIGBUS || WSTOPSIG(status) == SIGILL) {
			ptrace(PTRACE_GETREGS, t, NULL, &regs);
			pr_err("restore: the restorer crashed in %d with signal %d at %llx\n", t,
			       WSTOPSIG(status), regs.rip);
			return -1;
		}
		/* SIGCHLDs of the restore's own making (zombies exiting) are dropped */
		ptrace(PTRACE_CONT, t, NULL, (void *)(long)(WSTOPSIG(status) == SIGCHLD ? 0 : WSTOPSIG(status)));
	}
	return 0;
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

/* Every thread now runs its own registers: remove the bootstrap areas from under them. */
/* Events the restore's own opens queued on inotify and fanotify fds (fsnotify.c). */
static int drain_notifications(struct rst_tree *tr)
{
	pid_t *pids = calloc(tr->nr, sizeof(*pids));
	int nr = 0, ret;

	if (!pids) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < tr->nr; i++)
		if (!tr->t[i].zombie && !tr->t[i].files_child)
			pids[nr++] = tr->t[i].pid;
	ret = fsnotify_drain(tr->dfd, &tr->files, pids, nr);
	free(pids);
	return ret;
}

static int finish_restore(struct rst_tree *tr, pid_t *tids, size_t nr)
{
	/* from here on the tasks' own seccomp filters are in force: not for our syscalls */
	for (size_t i = 0; i < nr; i++)
		if (ptrace(PTRACE_SETOPTIONS, tids[i], NULL,
			   (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP)) &&
		    ptrace(PTRACE_SETOPTIONS, tids[i], NULL, (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
			pr_perror("PTRACE_SETOPTIONS of %d", tids[i]);
			return -1;
		}
	for (size_t i = 0; i < nr; i++)
		if (step_syscall(tids[i]) || step_syscall(tids[i]))
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
		/* every sharer of this fd table is past its restorer: the service fds go */
		if (rc->shares_files &&
		    (compel_syscall(ctl, __NR_close_range, &ret, tr->svc_base, ~0U, 0, 0, 0, 0) || ret)) {
			pr_err("can't close the service fds of %d\n", rc->pid);
			compel_cure(ctl);
			return -1;
		}
		if (compel_cure(ctl))
			return -1;
	}
	if (drain_notifications(tr) || ipc_sysv_restore_finish(tr->t[0].pid))
		return -1;
	/* a task that was stopped (its restorer stopped it again) goes back into its group stop */
	for (size_t i = 0; i < nr; i++)
		if (ptrace(PTRACE_DETACH, tids[i], NULL, NULL)) {
			pr_perror("PTRACE_DETACH of %d", tids[i]);
			return -1;
		}
	return 0;
}

static void free_ctx(struct rst_ctx *rc)
{
	if (rc->pe)
		pstree_entry__free_unpacked(rc->pe, NULL);
	if (rc->core)
		core_entry__free_unpacked(rc->core, NULL);
	for (size_t i = 0; i < rc->nr_tcores; i++)
		core_entry__free_unpacked(rc->tcores[i], NULL);
	free(rc->tcores);
	if (rc->mm && !rc->vm_child)
		mm_entry__free_unpacked(rc->mm, NULL);
	for (size_t i = 0; i < rc->nr_pms; i++)
		pagemap_entry__free_unpacked(rc->pms[i], NULL);
	free(rc->pms);
	free(rc->children);
	free(rc->uses);
	free(rc->uses_shared);
	free(rc->need);
	cow_task_free(&rc->cow);
}

static void free_tree(struct rst_tree *tr)
{
	for (int i = 0; i < tr->nr; i++)
		free_ctx(&tr->t[i]);
	free(tr->t);
	free(tr->cow.t);
	if (tr->inv)
		inventory_entry__free_unpacked(tr->inv, NULL);
	free_files(&tr->files);
	ipc_sysv_free();
	if (tr->dfd >= 0)
		close(tr->dfd);
}

/* pstree.img: every process, the root first, each parent before its children. */
/* An fs or fd table shared with the parent that cloned the process. */
static int read_sharing(struct rst_ctx *rc, struct rst_ctx *parent)
{
	PstreeEntry *pe = rc->pe;

	rc->fs_child = pe->has_fs_from && pe->fs_from;
	rc->files_child = pe->has_files_from && pe->files_from;
	if ((rc->fs_child && pe->fs_from != pe->ppid) || (rc->files_child && pe->files_from != pe->ppid)) {
		pr_err("pstree.img: process %d shares its fs or fd table with %d, not its parent %d\n", rc->pid,
		       rc->fs_child ? pe->fs_from : pe->files_from, pe->ppid);
		return -1;
	}
	if ((rc->fs_child || rc->files_child) && rc->zombie) {
		pr_err("pstree.img: zombie %d shares its parent's fs or fd table\n", rc->pid);
		return -1;
	}
	if (rc->files_child)
		rc->shares_files = parent->shares_files = 1;
	rc->vm_child = pe->has_vm_from && pe->vm_from;
	if (!rc->vm_child)
		return 0;
	if (pe->vm_from != pe->ppid || rc->zombie || parent->vm_child) {
		pr_err("pstree.img: process %d shares the memory of %d, which is not its parent %d or shares "
		       "another's\n", rc->pid, pe->vm_from, pe->ppid);
		return -1;
	}
	return 0;
}

/* A child sharing its parent's memory is started from the parent's restorer: no children of its own. */
static int check_vm_children(struct rst_tree *tr)
{
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];
		int kids = 0;

		for (int j = 0; j < rc->nr_children; j++)
			kids += tr->t[rc->children[j]].vm_child;
		if (kids > RST_MAX_VM_KIDS || (rc->vm_child && rc->nr_children)) {
			pr_err("pstree.img: process %d shares memory with its parent and has children, or has more "
			       "than %d children sharing its memory\n", rc->pid, RST_MAX_VM_KIDS);
			return -1;
		}
	}
	return 0;
}

/*
 * A process in the session of a zombie sibling that led it: the sibling,
 * alive at first, forks it with CLONE_PARENT after setsid(), so it is a
 * child of the zombie in the restore's tree.
 */
static int zombie_sessions(struct rst_tree *tr)
{
	for (int i = 1; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i], *z, *parent;
		PstreeEntry *pe = rc->pe;

		if (!pe->has_session_from || !pe->session_from)
			continue;
		z = task_of(tr, pe->session_from);
		parent = task_of(tr, pe->ppid);
		if (!z || !z->zombie || z->pe->sid != z->pid || z->pe->ppid != pe->ppid || pe->sid != z->pid ||
		    rc->fs_child || rc->files_child || rc->vm_child) {
			pr_err("pstree.img: process %d can't be forked by %d into its session\n", rc->pid,
			       pe->session_from);
			return -1;
		}
		for (int j = 0; j < parent->nr_children; j++)
			if (parent->children[j] == i)
				parent->children[j] = parent->children[--parent->nr_children];
		int *c = realloc(z->children, (z->nr_children + 1) * sizeof(int));

		if (!c)
			return -1;
		z->children = c;
		z->children[z->nr_children++] = i;
		rc->clone_parent = 1;
	}
	return 0;
}

static int read_pstree(struct rst_tree *tr)
{
	struct cr_img *img = open_image_at(tr->dfd, CR_FD_PSTREE, O_RDONLY);
	void *msg;
	int r;

	if (!img)
		return -1;
	while ((r = pb_read_one(img, &msg)) == 1) {
		struct rst_ctx *n = realloc(tr->t, (tr->nr + 1) * sizeof(*n));

		if (!n) {
			pb_free(img, msg);
			r = -1;
			break;
		}
		tr->t = n;
		memset(&tr->t[tr->nr], 0, sizeof(*n));
		tr->t[tr->nr].pe = msg;
		tr->t[tr->nr].pid = ((PstreeEntry *)msg)->pid;
		tr->nr++;
	}
	close_image(img);
	if (r < 0)
		return -1;
	if (!tr->nr || tr->t[0].pid != tr->inv->root_pid) {
		pr_err("pstree.img and inventory.img disagree about the root pid\n");
		return -1;
	}
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i], *parent;

		rc->tree = tr;
		rc->zombie = rc->pe->has_zombie && rc->pe->zombie;
		rc->exit_code = rc->pe->has_exit_code ? rc->pe->exit_code : 0;
		if (!rc->zombie && rc->pe->n_threads < 1) {
			pr_err("pstree.img: process %d has no threads\n", rc->pid);
			return -1;
		}
		if (i == 0)
			continue;
		parent = NULL;
		for (int j = 0; j < i; j++)
			if (tr->t[j].pid == rc->pe->ppid)
				parent = &tr->t[j];
		if (!parent || parent->zombie || task_of(tr, rc->pid) != rc) {
			pr_err("pstree.img: process %d has no (live) parent %d before it\n", rc->pid, rc->pe->ppid);
			return -1;
		}
		if (read_sharing(rc, parent))
			return -1;
		int *c = realloc(parent->children, (parent->nr_children + 1) * sizeof(int));

		if (!c)
			return -1;
		parent->children = c;
		parent->children[parent->nr_children++] = i;
	}
	if (tr->t[0].zombie) {
		pr_err("pstree.img: the root is a zombie\n");
		return -1;
	}
	return zombie_sessions(tr) ?: check_vm_children(tr);
}

/* need[] of a task: the file ids any of its descendants uses. */
static void add_needs(struct rst_tree *tr, struct rst_ctx *rc)
{
	for (int i = 0; i < rc->nr_children; i++) {
		struct rst_ctx *c = &tr->t[rc->children[i]];

		add_needs(tr, c);
		for (uint32_t id = 0; id < tr->nr_ids; id++)
			if (c->uses_shared[id] || c->need[id])
				rc->need[id] = 1;
	}
}

/*
 * The process that adds an epoll target uses the epoll, whether it holds
 * it or not: it gets it passed down like any shared description. A process
 * sharing its parent's fd table restores no fds: the table's owner adds.
 */
static int epoll_adders_use(struct rst_tree *tr)
{
	for (size_t i = 0; i < tr->files.nr; i++) {
		FileEntry *fe = tr->files.fe[i];
		EpollEntry *e = fe->type == FILE_TYPE__FT_EPOLL ? fe->epoll : NULL;

		if (e && e->n_tfd_pids && e->n_tfd_pids != e->n_tfds) {
			pr_err("files.img: epoll file %u has %zu targets but %zu adders\n", fe->id, e->n_tfds,
			       e->n_tfd_pids);
			return -1;
		}
		for (size_t j = 0; e && j < e->n_tfd_pids && fe->id < tr->nr_ids; j++) {
			struct rst_ctx *rc = task_of(tr, e->tfd_pids[j]);

			while (rc && rc->files_child)
				rc = task_of(tr, rc->pe->ppid);
			if (!rc || rc->zombie) {
				pr_err("files.img: epoll file %u names %d to add its target fd %d, which is no live "
				       "process of the tree\n", fe->id, e->tfd_pids[j], e->tfds[j]->tfd);
				return -1;
			}
			e->tfd_pids[j] = rc->pid;
			rc->uses[fe->id] = rc->uses_shared[fe->id] = 1;
		}
	}
	return 0;
}

static int read_tree_images(struct rst_tree *tr)
{
	int max_fd = -1, max_vmas = 0;

	if (read_files(tr->dfd, &tr->files) || inherit_fd_prepare(tr->dfd, &tr->files) ||
	    shmem_count(tr->dfd, &tr->nr_shmem) || ipc_sysv_read(tr->dfd))
		return -1;
	for (size_t i = 0; i < tr->files.nr; i++)
		if (tr->files.fe[i]->id + 1 > tr->nr_ids)
			tr->nr_ids = tr->files.fe[i]->id + 1;
	if (tr->nr_ids > 65536) {
		pr_err("files.img: file ids up to %u are more than we handle\n", tr->nr_ids);
		return -1;
	}
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];

		rc->dfd = tr->dfd;
		rc->inv = tr->inv;
		rc->files = tr->files;
		rc->uses = calloc(tr->nr_ids + 1, 1);
		rc->uses_shared = calloc(tr->nr_ids + 1, 1);
		rc->need = calloc(tr->nr_ids + 1, 1);
		if (!rc->uses || !rc->need || !rc->uses_shared)
			return -1;
		if (rc->zombie)
			continue;
		rc->nr_shmem = tr->nr_shmem;
		if (read_task_images(rc) || check_siginfo_sizes(rc) ||
		    read_fd_ids(tr->dfd, rc->pid, &rc->max_fd, rc->uses, tr->nr_ids))
			return -1;
		tty_session_uses(&tr->files, rc->pid, rc->pe->sid, rc->pe->pgid, rc->uses, tr->nr_ids);
		memcpy(rc->uses_shared, rc->uses, tr->nr_ids);
		if (rc->max_fd > max_fd)
			max_fd = rc->max_fd;
		if ((int)rc->mm->n_vmas > max_vmas)
			max_vmas = rc->mm->n_vmas;
	}
	if (epoll_adders_use(tr))
		return -1;
	/* only descriptions used by two tasks or more need passing down */
	uint8_t *users = calloc(tr->nr_ids + 1, 1);
	int *first = calloc(tr->nr_ids + 1, sizeof(*first));

	if (!users || !first) {
		free(users);
		free(first);
		return -1;
	}
	for (int i = 0; i < tr->nr; i++)
		for (uint32_t id = 0; id < tr->nr_ids; id++)
			if (tr->t[i].uses[id] && users[id] < 2 && !users[id]++)
				first[id] = i;	/* bits 0-1: tasks using it (up to 2); bit 2: linked to one */
	/*
	 * The two ends of a pipe are two descriptions but one pipe (so are the
	 * files of a pty, and connected sockets are made together): if
	 * different tasks hold them, all must come from one place above.
	 */
	for (size_t a = 0; a < tr->files.nr; a++)
		for (size_t b = a + 1; b < tr->files.nr; b++) {
			FileEntry *fa = tr->files.fe[a], *fb = tr->files.fe[b];
			uint32_t x = fa->id, y = fb->id;

			/* linked and held by two different tasks: both pass down */
			if (x >= tr->nr_ids || y >= tr->nr_ids || !users[x] || !users[y] ||
			    ((users[x] & 3) == 1 && (users[y] & 3) == 1 && first[x] == first[y]) || !files_linked(fa, fb))
				continue;
			users[x] |= 4;
			users[y] |= 4;
		}
	free(first);
	for (int i = 0; i < tr->nr; i++)
		for (uint32_t id = 0; id < tr->nr_ids; id++)
			if (users[id] < 2)
				tr->t[i].uses_shared[id] = 0;
	free(users);
	add_needs(tr, &tr->t[0]);
	for (int i = 0; i < tr->nr; i++)
		tty_limit_needs(&tr->files, tr->t[i].pe->sid, tr->t[i].need, tr->nr_ids);
	tr->svc_base = max_fd < 100 ? 100 : max_fd + 1;
	tr->files_base = tr->svc_base + SVC_TRANSIT + tr->nr_ids + 1;
	tr->shmem_base = tr->files_base + max_vmas + 1;
	tr->obj_base = tr->shmem_base + tr->nr_shmem + 1;
	tr->scratch_base = tr->obj_base + tr->nr_ids + 1;
	/* processes sharing an fd table open their pages, exe and mapped files in slots of their own */
	tr->own_base = tr->scratch_base + 4 * tr->nr_ids + 16;
	tr->own_span = max_vmas + 3;
	int nr_own = 0;

	for (int i = 0; i < tr->nr; i++)
		tr->t[i].own_slots = tr->t[i].shares_files ? tr->own_base + tr->own_span * nr_own++ : -1;
	return raise_nofile(tr->own_base + tr->own_span * nr_own);
}

static int check_pids_free(struct rst_tree *tr)
{
	for (int i = 0; i < tr->nr; i++) {
		PstreeEntry *pe = tr->t[i].pe;

		if (check_pid_free(pe->pid) || (pe->pgid_gone && check_pid_free(pe->pgid)))
			return -1;
		for (size_t j = 0; j < pe->n_threads; j++)
			if (pe->threads[j] != pe->pid && check_pid_free(pe->threads[j]))
				return -1;
	}
	return 0;
}

/* Only what we made and trace is ours to kill: a pid may be anyone's. */
static int traced_by_us(pid_t pid)
{
	struct proc_status st;
	int ours;

	if (parse_pid_status(pid, &st))
		return 0;
	ours = st.tracer_pid == getpid();
	free_pid_status(&st);
	return ours;
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
		rc->cow.nr_pms = rc->nr_pms;
		tr->cow.t[i] = &rc->cow;
	}
	return cow_plan(&tr->cow);
}

/* Returns the exit code for criu. */
int cr_restore_tasks(void)
{
	struct rst_tree tr = { .dfd = -1 };
	struct rst_ctx *root;
	uint64_t t0 = now_us(), t1;
	size_t want = 0, zombies = 0;
	pid_t *trapped = NULL, pid;
	struct restore_stats st = { 0 };
	uint64_t pages = 0;
	int ret = 1, status;

	if (check_privileges())
		return 1;
	if (!kdat.has_clone3_set_tid || !kdat.has_prctl_mm_map) {
		pr_err("this kernel lacks clone3 set_tid or PR_SET_MM_MAP; see criu check\n");
		return 1;
	}
	tr.dfd = open(opts.imgs_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (tr.dfd < 0) {
		pr_perror("can't open images dir %s", opts.imgs_dir);
		return 1;
	}
	{
		struct rst_ctx probe = { .dfd = tr.dfd };

		if (read_inventory(&probe))
			goto out;
		tr.inv = probe.inv;
	}
	if (read_pstree(&tr) || read_tree_images(&tr) || check_pids_free(&tr) || plan_cow(&tr))
		goto out;
	root = &tr.t[0];
	for (int i = 0; i < tr.nr; i++) {
		if (tr.t[i].zombie) {
			zombies++;
			continue;
		}
		want += 1 + tr.t[i].nr_tcores;
		pages += tr.t[i].nr_pages;
		st.pages_cow += tr.t[i].st.pages_cow;
		/* reserve every task's bootstrap area in our layout: they all start as our copies */
		if (plan_bootstrap(&tr.t[i]))
			goto out;
	}
	if (cow_reserve(&tr.cow))
		goto out;
	trapped = calloc(want + 1, sizeof(*trapped));
	if (!trapped || pipe2(tr.sync_pipe, O_CLOEXEC)) {
		pr_perror("pipe");
		goto out;
	}

	pid = clone_with_pid(root->pid, (opts.restore_sibling ? CLONE_PARENT : 0) | ipc_sysv_clone_flags(),
			     opts.restore_sibling ? 0 : SIGCHLD);
	if (pid < 0)
		goto out;
	if (pid == 0) {
		restore_task(root);
		pr_err("restore of %d failed before the restorer\n", root->pid);
		_exit(1);
	}
	close(tr.sync_pipe[0]);
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK))) {
		pr_perror("can't trace the restoring process %d", pid);
		kill(pid, SIGKILL);
		goto reap;
	}
	t1 = now_us();
	st.forking_time = t1 - t0;
	if (write(tr.sync_pipe[1], "g", 1) != 1)
		goto kill;
	close(tr.sync_pipe[1]);

	if (wait_final_traps(&tr, trapped, want, zombies) < 0)
		goto kill;
	if (finish_restore(&tr, trapped, want))
		goto kill;
	st.restore_time = now_us() - t1;
	st.pages_restored = pages;
	pr_info("restored %d (%d processes) in %lu us (%lu pages)\n", pid, tr.nr, (unsigned long)(now_us() - t0),
		(unsigned long)pages);
	write_restore_stats(tr.dfd, &st);
	fileobj_restore_done(&tr.files);
	if (opts.pidfile && write_pidfile(opts.pidfile, pid))
		pr_warn("the task runs, but its pidfile could not be written\n");
	ret = 0;
	if (opts.restore_detached || opts.restore_sibling)
		goto out;
	free(trapped);
	free_tree(&tr);
	/* Without -d we stand in for the task: its exit status is ours. */
	if (waitpid(pid, &status, 0) != pid) {
		pr_perror("waiting for %d", pid);
		return 1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
kill:
	/* nothing half-alive: the whole tree goes (it is traced with EXITKILL too) */
	for (int i = tr.nr - 1; i >= 0; i--)
		if (traced_by_us(tr.t[i].pid))
			kill(tr.t[i].pid, SIGKILL);
reap:
	if (!opts.restore_sibling)
		waitpid(pid, &status, 0);
	ret = 1;
out:
	free(trapped);
	free_tree(&tr);
	return ret;
}
