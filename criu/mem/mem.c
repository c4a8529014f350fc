/*
 * Memory: which areas a task has and how each comes back, and the page
 * path: PAGEMAP_SCAN finds the pages worth saving, the parasite vmsplices
 * them into pipes, and we splice the pipes into the pages file while the
 * parasite checksums the same pages (on another CPU if there is one).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "aio.h"
#include "compel/compel.h"
#include "cow.h"
#include "csum.h"
#include "crtools.h"
#include "ipc-sysv.h"
#include "fileobj.h"
#include "image.h"
#include "log.h"
#include "mntns.h"
#include "mem.h"
#include "pagemap.pb-c.h"
#include "pagerange.h"
#include "parasite.h"
#include "shmem.h"
#include "sk-packet.h"
#include "util.h"

#define NR_PIPES	8

static int vma_is_private_mem(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

static int refuse_vma(pid_t pid, const struct proc_vma *p, const char *why)
{
	pr_err("can't dump task %d: memory area %lx-%lx (%s%s): %s\n", pid, (unsigned long)p->start,
	       (unsigned long)p->end, p->name ? p->name : "anonymous", p->deleted ? ", deleted" : "", why);
	return -1;
}

/*
 * The last file area's file: areas of one file come in runs (a library's
 * text, data...), and each would cost two stat()s and a lookup in the
 * file table otherwise.
 */
struct file_memo {
	char *path;
	dev_t dev;
	ino_t ino;
	int flags;
	uint32_t id;
};

static int classify_file_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v, struct file_table *ft,
			     struct file_memo *memo)
{
	struct stat pst;
	int flags;

	if (p->shared && p->deleted && !strcmp(p->name, "/dev/zero")) {
		v->kind = VMA_KIND__VMA_SHMEM;
		v->flags = MAP_SHARED;
		v->has_shmem_id = true;
		return shmem_add_vma(ft, pid, p->start, p->end, &v->shmem_id);
	}
	if (p->shared && p->deleted && !strncmp(p->name, "/SYSV", 5))
		return sysvshm_add_vma(pid, p, v);
	v->kind = p->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	v->flags = p->shared ? MAP_SHARED : MAP_PRIVATE;
	v->has_file_id = true;
	flags = (p->shared && (p->prot & PROT_WRITE)) ? O_RDWR : O_RDONLY;
	if (p->deleted)		/* an unlinked file or a memfd: its contents travel in files.img */
		return fileobj_add_vma(ft, pid, p, flags, &v->file_id);

	/* maps names the mapped file's device and inode: the file at that path must still be it */
	if (memo->path && memo->flags == flags && memo->ino == p->ino &&
	    memo->dev == makedev(p->dev_maj, p->dev_min) && !strcmp(memo->path, p->name)) {
		v->file_id = memo->id;
		return 0;
	}
	char at[PATH_MAX + 64];

	/* the path as the task sees it: in its mount namespace */
	if (stat(mntns_path(p->name, at, sizeof(at)), &pst) || pst.st_ino != p->ino ||
	    pst.st_dev != makedev(p->dev_maj, p->dev_min))
		return refuse_vma(pid, p, "the file at that path is not the mapped one any more");
	if (!S_ISREG(pst.st_mode) && !S_ISCHR(pst.st_mode))
		return refuse_vma(pid, p, "not a regular file");
	if (file_table_add_path(ft, p->name, flags, &pst, &v->file_id))
		return -1;
	free(memo->path);
	memo->path = strdup(p->name);
	memo->dev = pst.st_dev;
	memo->ino = pst.st_ino;
	memo->flags = flags;
	memo->id = v->file_id;
	return 0;
}

/* Mappings of sockets, named once every fd of the tree is known. */
struct socket_vma {
	pid_t pid;
	uint64_t ino;
	VmaEntry *v;
};

static struct socket_vma *socket_vmas;
static size_t nr_socket_vmas;

static int classify_socket_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v)
{
	struct socket_vma *n;

	if (!p->shared)
		return refuse_vma(pid, p, "a private mapping of a socket is not supported");
	n = realloc(socket_vmas, (nr_socket_vmas + 1) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	socket_vmas = n;
	n[nr_socket_vmas++] = (struct socket_vma){ .pid = pid, .ino = p->ino, .v = v };
	v->kind = VMA_KIND__VMA_PACKET_RING;
	v->flags = MAP_SHARED;
	return 0;
}

int resolve_socket_vmas(struct file_table *ft)
{
	int ret = 0;

	for (size_t i = 0; ft && i < nr_socket_vmas && !ret; i++)
		ret = packet_ring_vma(ft, socket_vmas[i].pid, socket_vmas[i].ino, socket_vmas[i].v);
	free(socket_vmas);
	socket_vmas = NULL;
	nr_socket_vmas = 0;
	return ret;
}

static int classify_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v, struct file_table *ft,
			struct file_memo *memo)
{
	const char *name = p->name;

	vma_entry__init(v);
	v->start = p->start;
	v->end = p->end;
	v->pgoff = p->pgoff;
	v->prot = p->prot;
	v->flags = MAP_PRIVATE | MAP_ANONYMOUS;

	if (!name || !strncmp(name, "[anon:", 6)) {
		if (p->shared)
			return refuse_vma(pid, p, "shared memory with no object behind it is not supported");
		v->kind = VMA_KIND__VMA_ANON_PRIVATE;
		v->pgoff = 0;
		return 0;
	}
	if (!strcmp(name, "[heap]")) {
		v->kind = VMA_KIND__VMA_HEAP;
		v->pgoff = 0;
		return 0;
	}
	if (!strcmp(name, "[stack]")) {
		v->kind = VMA_KIND__VMA_STACK;
		v->flags |= MAP_GROWSDOWN;
		v->pgoff = 0;
		return 0;
	}
	if (!strcmp(name, "[vdso]")) {
		v->kind = VMA_KIND__VMA_VDSO;
		return 0;
	}
	if (!strcmp(name, "[vvar]")) {
		v->kind = VMA_KIND__VMA_VVAR;
		return 0;
	}
	if (!strcmp(name, "[vvar_vclock]")) {
		v->kind = VMA_KIND__VMA_VVAR_VCLOCK;
		return 0;
	}
	if (aio_is_ring(p))
		return aio_dump_ring(pid, p, v);
	if (name[0] == '/')
		return classify_file_vma(pid, p, v, ft, memo);
	if (!strncmp(name, "memfd:", 6))
		return refuse_vma(pid, p, "memfd mappings are not supported yet");
	if (!strncmp(name, "socket:[", 8))
		return classify_socket_vma(pid, p, v);
	return refuse_vma(pid, p, "this kind of memory area is not supported");
}

/*
 * VmFlags of /proc/PID/smaps: what madvise/mlock/mseal set on an area is
 * not in maps but must come back. An advice sets bit N of vma_entry.madv
 * (madvise(N)); the MADV_LOCK pseudo-advice means mlock. The others are
 * properties of the area (VMF_*).
 */
enum {
	VMF_GROWSDOWN	= 1 << 0,	/* gd */
	VMF_MAYWRITE	= 1 << 1,	/* mw */
	VMF_GUARD	= 1 << 2,	/* gu: may hold guard regions */
	VMF_DROPPABLE	= 1 << 3,	/* dp: MAP_DROPPABLE */
	VMF_NORESERVE	= 1 << 4,	/* nr: MAP_NORESERVE */
	VMF_SEALED	= 1 << 5,	/* sl: mseal() */
	VMF_HUGETLB	= 1 << 6,	/* ht: hugetlbfs */
	VMF_ACCOUNT	= 1 << 7,	/* ac: VM_ACCOUNT, it was writable once */
};

struct vmflag {
	char name[3];
	int advice;		/* madvise(advice), or -1 */
	int prop;		/* a VMF_* */
	const char *why;	/* refused, unless the area is one of the kernel's [...] */
};

static const struct vmflag vmflags[] = {
	{ "dc", MADV_DONTFORK },
	{ "dd", MADV_DONTDUMP },
	{ "wf", MADV_WIPEONFORK },
	{ "hg", MADV_HUGEPAGE },
	{ "nh", MADV_NOHUGEPAGE },
	{ "mg", MADV_MERGEABLE },
	{ "sr", MADV_SEQUENTIAL },
	{ "rr", MADV_RANDOM },
	{ "lo", VMA_MADV_LOCK },
	{ "gd", -1, VMF_GROWSDOWN },
	{ "mw", -1, VMF_MAYWRITE },
	{ "gu", -1, VMF_GUARD },
	{ "dp", -1, VMF_DROPPABLE },
	{ "nr", -1, VMF_NORESERVE },
	{ "sl", -1, VMF_SEALED },
	{ "ht", -1, VMF_HUGETLB },
	{ "ac", -1, VMF_ACCOUNT },
	{ "um", -1, 0, "memory registered with userfaultfd is not supported" },
	{ "uw", -1, 0, "memory registered with userfaultfd is not supported" },
	{ "ui", -1, 0, "memory registered with userfaultfd is not supported" },
	{ "io", -1, 0, "device (VM_IO) memory is not supported" },
	{ "pf", -1, 0, "device (PFN) memory is not supported" },
};

static int parse_vmflags(pid_t pid, const struct proc_vma *p, const char *flags, uint64_t *madv, int *props)
{
	*madv = 0;
	*props = 0;
	for (const char *f = flags; *f && *f != '\n'; ) {
		while (*f == ' ')
			f++;
		if (!f[0] || !f[1] || f[0] == '\n' || f[1] == '\n')
			break;
		for (size_t i = 0; i < ARRAY_SIZE(vmflags); i++) {
			if (f[0] != vmflags[i].name[0] || f[1] != vmflags[i].name[1])
				continue;
			/* the vDSO and friends are special mappings: the kernel's business */
			if (vmflags[i].why && !(p->name && p->name[0] == '['))
				return refuse_vma(pid, p, vmflags[i].why);
			if (vmflags[i].advice >= 0)
				*madv |= 1ULL << vmflags[i].advice;
			*props |= vmflags[i].prop;
		}
		f += 2;
	}
	return 0;
}

/*
 * A shared file area that may become writable (mprotect) needs the file
 * opened for writing, whatever its protection is now.
 */
static int shared_maywrite(pid_t pid, VmaEntry *v, const char *path, struct file_table *ft)
{
	char mf[128];
	struct stat st;
	int ret = fileobj_view_flags(ft, &v->file_id, O_RDWR);

	if (ret)
		return ret < 0 ? -1 : 0;
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->start, (unsigned long)v->end);
	if (stat(mf, &st)) {
		pr_perror("can't stat %s", mf);
		return -1;
	}
	return file_table_add_path(ft, path, O_RDWR, &st, &v->file_id);
}

static int private_anon(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_HEAP ||
	       v->kind == VMA_KIND__VMA_STACK;
}

/* What the VmFlags (and the page size) of an area say, applied to its entry. */
static int apply_vmflags(pid_t pid, struct mm_dump *md, size_t vi, const struct proc_vma *p, uint64_t madv,
			 int props, unsigned long kpage, struct file_table *ft)
{
	VmaEntry *v = &md->vmas[vi];

	v->has_madv = madv != 0;
	v->madv = madv;
	if (props & VMF_GROWSDOWN)
		v->flags |= MAP_GROWSDOWN;
	if ((props & VMF_MAYWRITE) && v->kind == VMA_KIND__VMA_FILE_SHARED && !(v->prot & PROT_WRITE) &&
	    shared_maywrite(pid, v, p->name, ft))
		return -1;
	if ((props & VMF_MAYWRITE) && v->kind == VMA_KIND__VMA_SYSVSHM)
		v->flags &= ~SHM_RDONLY;
	if ((props & VMF_DROPPABLE) && v->kind == VMA_KIND__VMA_ANON_PRIVATE)
		v->flags = (v->flags & ~MAP_TYPE) | MAP_DROPPABLE;
	if ((props & VMF_NORESERVE) && (private_anon(v) || v->kind == VMA_KIND__VMA_FILE_PRIVATE))
		v->flags |= MAP_NORESERVE;
	if (props & VMF_SEALED)
		v->has_sealed = v->sealed = true;
	v->has_accounted = true;
	v->accounted = !!(props & VMF_ACCOUNT);
	if (props & VMF_GUARD)
		md->may_guard[vi] = 1;
	if (props & VMF_HUGETLB) {
		/* huge pages of a memfd shared with its fd (MFD_HUGETLB): the file carries them */
		if (v->kind != VMA_KIND__VMA_FILE_SHARED || !p->name || strncmp(p->name, "/memfd:", 7))
			return refuse_vma(pid, p, "hugetlbfs memory is supported only as a shared mapping of an "
					  "MFD_HUGETLB memfd");
		v->has_page_size = true;
		v->page_size = kpage << 10;
	}
	return 0;
}

/* ---- guard regions ---- */

static int add_guard(VmaEntry *v, uint64_t start, uint64_t nr_pages)
{
	GuardEntry *g, *last = v->n_guards ? v->guards[v->n_guards - 1] : NULL, **n;

	/* neighbours come from one scan in address order: merge them */
	if (last && last->start + last->nr_pages * PAGE_SIZE == start) {
		last->nr_pages += nr_pages;
		return 0;
	}
	g = malloc(sizeof(*g));
	n = v->guards;
	/* capacity doubles at every power of two */
	if (!(v->n_guards & (v->n_guards - 1)))
		n = realloc(v->guards, (v->n_guards ? 2 * v->n_guards : 1) * sizeof(*n));
	if (!g || !n) {
		free(g);
		pr_err("out of memory\n");
		return -1;
	}
	v->guards = n;
	guard_entry__init(g);
	g->start = start;
	g->nr_pages = nr_pages;
	v->guards[v->n_guards++] = g;
	return 0;
}

/* The guard pages of an area: PAGEMAP_SCAN's GUARD category (6.16), or pagemap bit 58 (6.15). */
static int scan_guards(int pm_fd, VmaEntry *v)
{
	if (kdat.has_pagemap_scan_guard) {
		struct page_region r[64];
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = v->start,
			.end = v->end,
			.vec = (unsigned long)r,
			.vec_len = ARRAY_SIZE(r),
			.category_mask = PAGE_IS_GUARD,
			.return_mask = PAGE_IS_GUARD,
		};

		while (arg.start < v->end) {
			long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);

			if (n < 0) {
				pr_perror("PAGEMAP_SCAN for guards at %lx-%lx", (unsigned long)arg.start, (unsigned long)v->end);
				return -1;
			}
			for (long i = 0; i < n; i++)
				if (add_guard(v, r[i].start, (r[i].end - r[i].start) >> PAGE_SHIFT))
					return -1;
			if (arg.walk_end <= arg.start)
				break;
			arg.start = arg.walk_end;
		}
		return 0;
	}
	for (uint64_t addr = v->start; addr < v->end;) {
		uint64_t buf[512];
		size_t n = (v->end - addr) >> PAGE_SHIFT;

		if (n > ARRAY_SIZE(buf))
			n = ARRAY_SIZE(buf);
		if (pread(pm_fd, buf, n * 8, (addr >> PAGE_SHIFT) * 8) != (ssize_t)(n * 8)) {
			pr_perror("reading pagemap at %lx", (unsigned long)addr);
			return -1;
		}
		for (size_t i = 0; i < n; i++, addr += PAGE_SIZE)
			if ((buf[i] & PM_GUARD) && add_guard(v, addr, 1))
				return -1;
	}
	return 0;
}

/* Only areas whose VmFlags say they may hold guards ("gu") are looked at. */
static int collect_guards(pid_t pid, struct mm_dump *md)
{
	char path[64];
	int fd = -1, ret = 0;

	for (size_t i = 0; i < md->nr_vmas && !ret; i++) {
		if (!md->may_guard[i])
			continue;
		if (fd < 0) {
			snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				pr_perror("can't open %s", path);
				return -1;
			}
		}
		ret = scan_guards(fd, &md->vmas[i]);
		if (!ret && md->vmas[i].n_guards)
			pr_info("task %d: %zu guard regions in %lx-%lx\n", pid, md->vmas[i].n_guards,
				(unsigned long)md->vmas[i].start, (unsigned long)md->vmas[i].end);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

int collect_vmas(pid_t pid, struct proc_vma *pv, int nr, struct file_table *ft, struct mm_dump *md)
{
	struct file_memo memo = { 0 };
	int ret = -1;

	md->vmas = calloc(nr ? nr : 1, sizeof(*md->vmas));
	md->vma_ptrs = calloc(nr ? nr : 1, sizeof(*md->vma_ptrs));
	md->may_guard = calloc(nr ? nr : 1, 1);
	if (!md->vmas || !md->vma_ptrs || !md->may_guard) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < nr; i++) {
		size_t vi = md->nr_vmas;
		uint64_t madv;
		int props;

		if (pv[i].name && !strcmp(pv[i].name, "[vsyscall]"))
			continue;
		if (classify_vma(pid, &pv[i], &md->vmas[vi], ft, &memo))
			goto out;
		md->vma_ptrs[vi] = &md->vmas[vi];
		md->nr_vmas++;
		if (!pv[i].vmflags) {
			pr_err("no VmFlags for the area at %lx of %d\n", (unsigned long)pv[i].start, pid);
			goto out;
		}
		if (parse_vmflags(pid, &pv[i], pv[i].vmflags, &madv, &props) ||
		    apply_vmflags(pid, md, vi, &pv[i], madv, props, pv[i].kpage_kb, ft))
			goto out;
	}
	ret = collect_guards(pid, md);
out:
	free(memo.path);
	return ret;
}

void free_mm_dump(struct mm_dump *md)
{
	for (size_t i = 0; md->vmas && i < md->nr_vmas; i++) {
		for (size_t k = 0; k < md->vmas[i].n_guards; k++)
			free(md->vmas[i].guards[k]);
		free(md->vmas[i].guards);
		aio_free(md->vmas[i].aio);
	}
	free(md->may_guard);
	md->may_guard = NULL;
	free(md->vmas);
	free(md->vma_ptrs);
	md->vmas = NULL;
	md->vma_ptrs = NULL;
}

/* ---- finding pages ---- */

#define SCAN_VEC	4096

static struct page_list *list_of(const VmaEntry *v, struct page_list *anon, struct page_list *file,
				 struct page_list *hidden)
{
	return !(v->prot & PROT_READ) ? hidden : v->kind == VMA_KIND__VMA_FILE_PRIVATE ? file : anon;
}

/*
 * Pages that hold data: present or swapped, not the zero page, not page
 * cache (shared memory and unwritten file pages are that), not a guard.
 * One scan over the whole address space, however many areas: the regions
 * come in address order and are dealt out to the private areas they lie in.
 */
static int scan_pagemap_scan(int pm_fd, struct mm_dump *md, struct page_list *anon, struct page_list *file,
			     struct page_list *hidden)
{
	uint64_t guard = kdat.has_pagemap_scan_guard ? PAGE_IS_GUARD : 0;
	struct page_region *r = malloc(SCAN_VEC * sizeof(*r));
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = md->vmas[0].start,
		.end = md->vmas[md->nr_vmas - 1].end,
		.vec = (unsigned long)r,
		.vec_len = SCAN_VEC,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE | guard,
		.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE | guard,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	uint64_t done = 0;
	size_t vi = 0;
	int ret = -1;

	if (!r) {
		pr_err("out of memory\n");
		return -1;
	}
	while (arg.start < arg.end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			pr_perror("PAGEMAP_SCAN %lx-%lx", (unsigned long)arg.start, (unsigned long)arg.end);
			goto out;
		}
		/* a region cut short by a full vector is reported again, whole, by the next call */
		for (long k = 0; k < n; k++)
			for (uint64_t s = r[k].start > done ? r[k].start : done, e = r[k].end; s < e; done = s) {
				const VmaEntry *v;
				uint64_t ce;

				while (vi < md->nr_vmas && md->vmas[vi].end <= s)
					vi++;
				if (vi == md->nr_vmas || md->vmas[vi].start >= e)
					break;
				v = &md->vmas[vi];
				if (s < v->start)
					s = v->start;
				ce = e < v->end ? e : v->end;
				if (vma_is_private_mem(v) &&
				    page_list_add(list_of(v, anon, file, hidden), s, (ce - s) >> PAGE_SHIFT)) {
					pr_perror("page list");
					goto out;
				}
				s = ce;
			}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	ret = 0;
out:
	free(r);
	return ret;
}

/* Without PAGEMAP_SCAN: read the 64-bit pagemap entries. */
static int scan_vma_pagemap(int pm_fd, const VmaEntry *v, struct page_list *pl)
{
	uint64_t buf[4096];
	uint64_t addr = v->start;

	while (addr < v->end) {
		size_t n = (v->end - addr) >> PAGE_SHIFT;
		ssize_t ret;

		if (n > ARRAY_SIZE(buf))
			n = ARRAY_SIZE(buf);
		ret = pread(pm_fd, buf, n * 8, (addr >> PAGE_SHIFT) * 8);
		if (ret != (ssize_t)(n * 8)) {
			pr_perror("reading pagemap at %lx", (unsigned long)addr);
			return -1;
		}
		for (size_t i = 0; i < n; i++, addr += PAGE_SIZE)
			if ((buf[i] & (PM_PRESENT | PM_SWAP)) && !(buf[i] & (PM_FILE | PM_GUARD)) && page_list_add(pl, addr, 1))
				return -1;
	}
	return 0;
}

/* ---- moving pages ---- */

struct page_xfer {
	struct parasite_ctl *ctl;
	struct parasite_pages *args;
	int pipes[NR_PIPES][2];
	uint64_t pipe_pages;
	int pages_fd;
	uint64_t off;			/* end of data in the pages file */
	struct cr_img *pagemap;
	struct dump_stats *st;
};

static int write_pagemap(struct page_xfer *x, uint64_t vaddr, uint64_t nr_pages, uint64_t off, uint64_t *csum)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = vaddr;
	pe.nr_pages = nr_pages;
	pe.off = off;
	pe.n_csum = nr_pages;
	pe.csum = csum;
	return pb_write_one(x->pagemap, &pe);
}

/* Explicit offsets: each pipe's data has its own place, whoever writes it. */
static int drain_pipe(struct page_xfer *x, int pipe_rd, uint64_t len, uint64_t off)
{
	loff_t pos = off;

	while (len) {
		ssize_t n = splice(pipe_rd, NULL, x->pages_fd, &pos, len, SPLICE_F_MOVE);

		if (n <= 0) {
			pr_perror("splicing pages into the pages file (%lu bytes left)", (unsigned long)len);
			return -1;
		}
		len -= n;
	}
	return 0;
}

static int xfer_setup(struct page_xfer *x)
{
	int wr[2 * NR_PIPES];	/* write ends, then read ends (see take_pipes() in the parasite) */
	long sz = kdat.pipe_max_size;

	for (int i = 0; i < NR_PIPES; i++) {
		if (pipe2(x->pipes[i], O_CLOEXEC)) {
			pr_perror("pipe");
			return -1;
		}
		if (fcntl(x->pipes[i][1], F_SETPIPE_SZ, sz) < 0 &&
		    fcntl(x->pipes[i][1], F_SETPIPE_SZ, sz = 1 << 20) < 0) {
			pr_perror("F_SETPIPE_SZ");
			return -1;
		}
		sz = fcntl(x->pipes[i][1], F_GETPIPE_SZ);
		wr[i] = x->pipes[i][1];
		wr[NR_PIPES + i] = x->pipes[i][0];
	}
	/* every page may come back as its own iovec: keep a round within out[] */
	x->pipe_pages = sz / PAGE_SIZE;
	if (x->pipe_pages > PARASITE_MAX_IOVS / NR_PIPES)
		x->pipe_pages = PARASITE_MAX_IOVS / NR_PIPES;

	if (x->pipe_pages * NR_PIPES > PARASITE_MAX_PAGES)
		x->pipe_pages = PARASITE_MAX_PAGES / NR_PIPES;

	((union parasite_args *)x->args)->nr_pipes = NR_PIPES;
	if (compel_rpc_call(x->ctl, PARASITE_CMD_TAKE_PIPES) || compel_send_fds(x->ctl, wr, 2 * NR_PIPES) ||
	    compel_rpc_sync(x->ctl, PARASITE_CMD_TAKE_PIPES) < 0) {
		pr_perror("handing pipes to the parasite");
		return -1;
	}
	return 0;
}

/* Which build of the checksums the parasite runs, and what of the task's state it saves around it. */
static void csum_setup(struct page_xfer *x)
{
	struct parasite_pages *p = x->args;
	size_t size;

	p->csum_isa = csum_isa();
	p->xsave_mask = csum_xsave_mask(&size);
	if (size > PARASITE_XSAVE_SIZE) {
		pr_warn("XSAVE of the vector state takes %zu bytes: checksumming pages without SIMD\n", size);
		p->csum_isa = CSUM_SCALAR;
		p->xsave_mask = 0;
	}
}

static void xfer_close(struct page_xfer *x)
{
	for (int i = 0; i < NR_PIPES; i++)
		for (int j = 0; j < 2; j++)
			if (x->pipes[i][j] > 0)
				close(x->pipes[i][j]);
}

/* One round: fill up to NR_PIPES pipes in the task, then drain them here. */
static int xfer_round_one(struct page_xfer *x, const struct page_list *pl, struct page_cursor *cur, int skip_zero,
			  int *done);

static int xfer_round(struct page_xfer *x, const struct page_list *pl, struct page_cursor *cur, int skip_zero,
		      int *done)
{
	if (check_interrupted())
		return -1;
	return xfer_round_one(x, pl, cur, skip_zero, done);
}

static int xfer_round_one(struct page_xfer *x, const struct page_list *pl, struct page_cursor *cur, int skip_zero,
		      int *done)
{
	struct parasite_pages *p = x->args;
	uint64_t t0, drained = 0;
	size_t used = 0;
	uint32_t np = 0;

	while (np < NR_PIPES && used < PARASITE_MAX_IOVS) {
		uint64_t pages;
		size_t n = page_list_next_batch(pl, cur, x->pipe_pages, &p->iovs[used],
						PARASITE_MAX_IOVS - used, &pages);

		if (!n)
			break;
		p->nr_iovs[np++] = n;
		used += n;
	}
	if (!np) {
		*done = 1;
		return 0;
	}
	p->nr_pipes = np;
	p->skip_zero = skip_zero;

	/* The parasite needs the iovecs in the task's terms: they are already task addresses. */
	t0 = now_us();
	if (compel_rpc_call_sync(x->ctl, PARASITE_CMD_DUMP_PAGES) < 0) {
		pr_perror("parasite failed to vmsplice pages");
		return -1;
	}
	x->st->memdump_time += now_us() - t0;
	x->st->pages_zero += p->zero_pages;

	/* the parasite checksums the pages while we move them */
	t0 = now_us();
	if (compel_rpc_call(x->ctl, PARASITE_CMD_CSUM_PAGES))
		return -1;
	for (uint32_t i = 0, k = 0; i < np; i++) {
		uint64_t expect = 0;

		if (p->nr_out[i] > PARASITE_MAX_IOVS - k) {
			pr_err("parasite reported %u iovecs for pipe %u\n", p->nr_out[i], i);
			goto wait;
		}
		for (uint32_t j = 0; j < p->nr_out[i]; j++, k++)
			expect += p->out[k].iov_len;
		if (p->nr_bytes[i] != expect) {
			pr_err("parasite spliced %lu bytes instead of %lu\n", (unsigned long)p->nr_bytes[i],
			       (unsigned long)expect);
			goto wait;
		}
		if (drain_pipe(x, x->pipes[i][0], expect, x->off + drained))
			goto wait;
		drained += expect;
	}
	if (compel_rpc_sync(x->ctl, PARASITE_CMD_CSUM_PAGES) < 0) {
		pr_perror("parasite failed to checksum pages");
		return -1;
	}
	for (uint32_t i = 0, k = 0, pg = 0; i < np; i++)
		for (uint32_t j = 0; j < p->nr_out[i]; j++, k++) {
			uint64_t n = p->out[k].iov_len >> PAGE_SHIFT;

			if (write_pagemap(x, (unsigned long)p->out[k].iov_base, n, x->off, &p->csum[pg]))
				return -1;
			x->off += p->out[k].iov_len;
			pg += n;
		}
	x->st->pages_written += drained >> PAGE_SHIFT;
	x->st->memwrite_time += now_us() - t0;
	return 0;
wait:
	/* the parasite's answer is still due: take it, so the channel stays in step */
	compel_rpc_sync(x->ctl, PARASITE_CMD_CSUM_PAGES);
	return -1;
}

/*
 * Areas the task can't read (PROT_NONE, write-only) can't be vmspliced;
 * /proc/PID/mem reads them with FOLL_FORCE.
 */
static int copy_unreadable(struct page_xfer *x, pid_t pid, const struct page_list *pl)
{
	uint64_t csum[64];
	char path[64], *buf;
	int fd, ret = -1;

	if (!pl->nr)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = malloc(PAGE_SIZE * 64);
	if (fd < 0 || !buf) {
		pr_perror("can't open %s", path);
		goto out;
	}
	/* an entry per 64 pages: its checksums are known before it is written */
	for (size_t i = 0; i < pl->nr; i++) {
		uint64_t addr = pl->r[i].start, left = pl->r[i].nr_pages * PAGE_SIZE;

		while (left) {
			size_t chunk = left > PAGE_SIZE * 64 ? PAGE_SIZE * 64 : left;

			if (pread(fd, buf, chunk, addr) != (ssize_t)chunk) {
				pr_perror("reading memory of %d at %lx", pid, (unsigned long)addr);
				goto out;
			}
			csum_pages(buf, chunk >> PAGE_SHIFT, csum);
			if (write_pagemap(x, addr, chunk >> PAGE_SHIFT, x->off, csum))
				goto out;
			if (pwrite(x->pages_fd, buf, chunk, x->off) != (ssize_t)chunk) {
				pr_perror("writing the pages file");
				goto out;
			}
			x->off += chunk;
			addr += chunk;
			left -= chunk;
		}
		x->st->pages_written += pl->r[i].nr_pages;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/*
 * Three lists: anonymous memory (where an all-zero page needs no saving),
 * private file memory (where it does: zero is not what the file has), and
 * areas the task itself can't read.
 */
static int collect_pages(pid_t pid, struct mm_dump *md, struct page_list *anon, struct page_list *file,
			 struct page_list *hidden, struct dump_stats *st)
{
	char path[64];
	int fd, ret = 0;

	if (!md->nr_vmas)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	for (size_t i = 0; i < md->nr_vmas && !ret; i++) {
		const VmaEntry *v = &md->vmas[i];

		if (!vma_is_private_mem(v))
			continue;
		st->pages_scanned += (v->end - v->start) >> PAGE_SHIFT;
		if (!kdat.has_pagemap_scan)
			ret = scan_vma_pagemap(fd, v, list_of(v, anon, file, hidden));
	}
	if (!ret && kdat.has_pagemap_scan)
		ret = scan_pagemap_scan(fd, md, anon, file, hidden);
	close(fd);
	return ret;
}

/*
 * The pages of md->live_* may change under the parasite's feet, between its
 * checksum and our copy: they leave @anon and @file for @live, which is
 * read and checksummed here, from one copy.
 */
static int split_live(const struct mm_dump *md, struct page_list *anon, struct page_list *file, struct page_list *live)
{
	uint64_t start = md->live_start & ~(PAGE_SIZE - 1), end = PAGE_ALIGN(md->live_end);
	struct page_list sel, in[2], out[2], *l[2] = { anon, file };
	int ret = 0;

	page_list_init(live);
	if (md->live_end <= md->live_start)
		return 0;
	page_list_init(&sel);
	if (page_list_add(&sel, start, (end - start) >> PAGE_SHIFT)) {
		page_list_free(&sel);
		return -1;
	}
	for (int i = 0; i < 2 && !ret; i++) {
		ret = page_list_split(l[i], &sel, &in[i], &out[i]);
		if (ret)
			break;
		page_list_free(l[i]);
		*l[i] = out[i];
		/* the area is in one mapping: in anonymous memory or a file's, not both */
		if (in[i].nr && !live->nr)
			*live = in[i];
		else
			page_list_free(&in[i]);
	}
	page_list_free(&sel);
	return ret;
}

/* Pages the parent has: an entry with no data. */
static int write_in_parent(struct page_xfer *x, const struct page_list *pl)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.has_in_parent = true;
	pe.in_parent = true;
	for (size_t i = 0; i < pl->nr; i++) {
		pe.vaddr = pl->r[i].start;
		pe.nr_pages = pl->r[i].nr_pages;
		if (pb_write_one(x->pagemap, &pe))
			return -1;
		x->st->pages_in_parent += pl->r[i].nr_pages;
	}
	return 0;
}

/* Leave out of @anon, @file and @hidden what the task shares with its parent; it goes to @inh. */
static int split_inherited(pid_t pid, struct mm_dump *md, const struct mm_parent *parent, struct page_list *anon,
			   struct page_list *file, struct page_list *hidden, struct page_list *inh)
{
	struct page_list l[3] = { *anon, *file, *hidden };
	int ret = cow_split_inherited(pid, md, parent, l, 3, inh);

	*anon = l[0];
	*file = l[1];
	*hidden = l[2];
	if (!ret)
		pr_info("task %d: %lu pages still shared with its parent %d left out\n", pid,
			(unsigned long)(inh[0].total_pages + inh[1].total_pages + inh[2].total_pages), parent->pid);
	return ret;
}

int dump_pages(struct parasite_ctl *ctl, pid_t pid, int dfd, struct mm_dump *md, struct dump_stats *st,
	       uint32_t pages_id, const struct mm_parent *parent)
{
	struct page_xfer x = { .ctl = ctl, .args = compel_parasite_args(ctl), .st = st };
	PagemapHead ph = PAGEMAP_HEAD__INIT;
	struct page_list anon, file, hidden, inh[3], live;
	struct page_cursor cur = { 0 };
	struct cr_img *pages = NULL;
	int done = 0, ret = -1;

	page_list_init(&anon);
	page_list_init(&file);
	page_list_init(&hidden);
	for (int i = 0; i < 3; i++)
		page_list_init(&inh[i]);
	page_list_init(&live);
	memset(x.pipes, -1, sizeof(x.pipes));
	if (collect_pages(pid, md, &anon, &file, &hidden, st))
		goto out;
	if (split_live(md, &anon, &file, &live))
		goto out;
	if (parent && split_inherited(pid, md, parent, &anon, &file, &hidden, inh))
		goto out;
	pr_info("task %d: %lu pages to dump (%lu anonymous, %lu of files, %lu in unreadable areas) of %lu scanned\n",
		pid, (unsigned long)(anon.total_pages + file.total_pages + hidden.total_pages),
		(unsigned long)anon.total_pages, (unsigned long)file.total_pages, (unsigned long)hidden.total_pages,
		(unsigned long)st->pages_scanned);

	x.pagemap = open_image_at(dfd, CR_FD_PAGEMAP, O_DUMP, pid);
	pages = open_image_at(dfd, CR_FD_PAGES, O_DUMP, pages_id);
	if (!x.pagemap || !pages || img_buffer_writes(x.pagemap))
		goto out;
	x.pages_fd = pages->fd;
	ph.pages_id = pages_id;
	if (pb_write_one(x.pagemap, &ph))
		goto out;
	if (xfer_setup(&x))
		goto out;
	csum_setup(&x);
	while (!done)
		if (xfer_round(&x, &anon, &cur, 1, &done))
			goto out;
	memset(&cur, 0, sizeof(cur));
	done = 0;
	while (!done)
		if (xfer_round(&x, &file, &cur, 0, &done))
			goto out;
	pr_info("task %d: %lu all-zero pages left out\n", pid, (unsigned long)st->pages_zero);
	if (copy_unreadable(&x, pid, &hidden) || copy_unreadable(&x, pid, &live))
		goto out;
	if (write_in_parent(&x, &inh[0]) || write_in_parent(&x, &inh[1]) || write_in_parent(&x, &inh[2]) ||
	    img_flush(x.pagemap))
		goto out;
	ret = 0;
out:
	xfer_close(&x);
	ret = finish_image(x.pagemap, ret);
	ret = finish_image(pages, ret);
	page_list_free(&anon);
	page_list_free(&file);
	page_list_free(&hidden);
	for (int i = 0; i < 3; i++)
		page_list_free(&inh[i]);
	page_list_free(&live);
	return ret;
}
