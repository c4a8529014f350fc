/*
 * Memory: which areas a task has and how each comes back, and the page
 * path: PAGEMAP_SCAN finds the pages worth saving, the parasite vmsplices
 * them into pipes, and we splice the pipes into the pages file a piece at
 * a time, checksumming each piece while that copy left it in the cache
 * (splice_hashed()).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "compress.h"
#include "cow.h"
#include "cr_options.h"
#include "csum.h"
#include "crtools.h"
#include "ipc-sysv.h"
#include "fileobj.h"
#include "image.h"
#include "lazy.h"
#include "log.h"
#include "mntns.h"
#include "mem.h"
#include "pagemap.pb-c.h"
#include "page-server.h"
#include "pagerange.h"
#include "parasite.h"
#include "shmem.h"
#include "sk-packet.h"
#include "track.h"
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
 * (madvise(N)); the VMA_MADV_LOCK pseudo-advice means mlock, with
 * VMA_MADV_LOCKONFAULT mlock2(MLOCK_ONFAULT). The others are
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
	VMF_UFFD_WP	= 1 << 8,	/* uw: write-protect registration; ours (track.c) if asynchronous */
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
	{ "lf", VMA_MADV_LOCKONFAULT },
	{ "gd", -1, VMF_GROWSDOWN },
	{ "mw", -1, VMF_MAYWRITE },
	{ "gu", -1, VMF_GUARD },
	{ "dp", -1, VMF_DROPPABLE },
	{ "nr", -1, VMF_NORESERVE },
	{ "sl", -1, VMF_SEALED },
	{ "ht", -1, VMF_HUGETLB },
	{ "ac", -1, VMF_ACCOUNT },
	{ "um", -1, 0, "memory registered with userfaultfd is not supported" },
	{ "uw", -1, VMF_UFFD_WP },	/* asynchronous write-protect (our tracking) is checked by check_uffd_areas() */
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
	v->has_pkey = p->pkey != 0;
	v->pkey = p->pkey;
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
	if (props & VMF_UFFD_WP)
		md->wp[vi] = MD_WP_OLD;
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

/*
 * An area registered with a userfaultfd in asynchronous write-protect
 * mode is one our dirty tracking registered (track.c): the task never
 * waits on it, and it comes back unregistered. Any other registration
 * (the task's own, where a fault waits for a monitor) is refused.
 */
static int check_uffd_areas(pid_t pid, struct mm_dump *md)
{
	for (size_t i = 0; i < md->nr_vmas; i++) {
		struct proc_vma p = { .start = md->vmas[i].start, .end = md->vmas[i].end };
		int r;

		if (!(md->wp[i] & MD_WP_OLD))
			continue;
		r = track_area_async(pid, md->vmas[i].start, md->vmas[i].end);
		if (r < 0)
			return -1;
		if (!r)
			return refuse_vma(pid, &p, "memory registered with userfaultfd is not supported");
	}
	return 0;
}

int collect_vmas(pid_t pid, struct proc_vma *pv, int nr, struct file_table *ft, struct mm_dump *md)
{
	struct file_memo memo = { 0 };
	int ret = -1;

	md->vmas = calloc(nr ? nr : 1, sizeof(*md->vmas));
	md->vma_ptrs = calloc(nr ? nr : 1, sizeof(*md->vma_ptrs));
	md->may_guard = calloc(nr ? nr : 1, 1);
	md->wp = calloc(nr ? nr : 1, 1);
	if (!md->vmas || !md->vma_ptrs || !md->may_guard || !md->wp) {
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
	ret = collect_guards(pid, md) || check_uffd_areas(pid, md) ? -1 : 0;
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
	free(md->wp);
	md->wp = NULL;
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
 * PAGE_IS_FILE costs the kernel a look at every present page's struct page
 * (a cache miss each: some 25 ms per GiB here), where every other category
 * comes from the page table entry alone (2-10 ms per GiB). Only a private
 * file mapping needs it (its unwritten pages are page cache); in anonymous
 * memory a present page is anonymous or the zero page.
 */
static uint64_t scan_exclude(int file)
{
	return PAGE_IS_PFNZERO | (file ? PAGE_IS_FILE : 0) | (kdat.has_pagemap_scan_guard ? PAGE_IS_GUARD : 0);
}

/* Private anonymous areas of at least this many pages are scanned without PAGE_IS_FILE. */
#define SCAN_ANON_ALONE	256

static int scan_anon_alone(const VmaEntry *v)
{
	return vma_is_private_mem(v) && v->kind != VMA_KIND__VMA_FILE_PRIVATE &&
	       ((v->end - v->start) >> PAGE_SHIFT) >= SCAN_ANON_ALONE;
}

/*
 * Pages that hold data: present or swapped, not the zero page, not page
 * cache (shared memory and unwritten file pages are that), not a guard.
 * One scan over [start, end), however many areas: the regions come in
 * address order and are dealt out to the private areas they lie in
 * (*vi: the first area that may hold them).
 */
static int scan_pagemap_scan(int pm_fd, struct mm_dump *md, uint64_t start, uint64_t end, int file, size_t *vi,
			     struct page_list *anon, struct page_list *filel, struct page_list *hidden,
			     struct page_region *r)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (unsigned long)r,
		.vec_len = SCAN_VEC,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = scan_exclude(file),
		.category_mask = scan_exclude(file),
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};
	uint64_t done = 0;

	while (arg.start < arg.end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			pr_perror("PAGEMAP_SCAN %lx-%lx", (unsigned long)arg.start, (unsigned long)arg.end);
			return -1;
		}
		/* a region cut short by a full vector is reported again, whole, by the next call */
		for (long k = 0; k < n; k++)
			for (uint64_t s = r[k].start > done ? r[k].start : done, e = r[k].end; s < e; done = s) {
				const VmaEntry *v;
				uint64_t ce;

				while (*vi < md->nr_vmas && md->vmas[*vi].end <= s)
					(*vi)++;
				if (*vi == md->nr_vmas || md->vmas[*vi].start >= e)
					break;
				v = &md->vmas[*vi];
				if (s < v->start)
					s = v->start;
				ce = e < v->end ? e : v->end;
				if (vma_is_private_mem(v) &&
				    page_list_add(list_of(v, anon, filel, hidden), s, (ce - s) >> PAGE_SHIFT)) {
					pr_perror("page list");
					return -1;
				}
				s = ce;
			}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
}

/*
 * The whole address space in as few scans as possible: big private
 * anonymous areas (runs of them) each in a scan without PAGE_IS_FILE, the
 * rest between them in one scan each.
 */
static int scan_all(int pm_fd, struct mm_dump *md, struct page_list *anon, struct page_list *file,
		    struct page_list *hidden)
{
	struct page_region *r = malloc(SCAN_VEC * sizeof(*r));
	size_t i = 0, vi = 0;
	int ret = 0;

	if (!r) {
		pr_err("out of memory\n");
		return -1;
	}
	while (i < md->nr_vmas && !ret) {
		int alone = scan_anon_alone(&md->vmas[i]);
		size_t j = i + 1;

		while (j < md->nr_vmas && scan_anon_alone(&md->vmas[j]) == alone)
			j++;
		ret = scan_pagemap_scan(pm_fd, md, md->vmas[i].start, md->vmas[j - 1].end, !alone, &vi, anon, file,
					hidden, r);
		i = j;
	}
	free(r);
	return ret;
}

/*
 * Pages that hold data: present or swapped, not the zero page, not page
 * cache. @clean (tracked areas): pages not written since the last round
 * go there instead. @wp: the area is registered for asynchronous
 * write-protect; @protect: write-protect what is reported, for the next
 * round (atomically: a page written after it is reported is written
 * again).
 */
static int scan_range_pagemap_scan(int pm_fd, uint64_t start, uint64_t end, struct page_list *pl,
				   struct page_list *clean, int wp, int protect, int file)
{
	struct page_region r[512];
	uint64_t done = start;
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = (wp ? PM_SCAN_CHECK_WPASYNC : 0) | (wp && protect ? PM_SCAN_WP_MATCHING : 0),
		.start = start,
		.end = end,
		.vec = (unsigned long)r,
		.vec_len = ARRAY_SIZE(r),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = scan_exclude(file),
		.category_mask = scan_exclude(file),
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | (clean ? PAGE_IS_WRITTEN : 0),
	};

	while (arg.start < end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			pr_perror("PAGEMAP_SCAN %lx-%lx", (unsigned long)arg.start, (unsigned long)end);
			return -1;
		}
		/*
		 * A region cut short by a full vector comes again from its start
		 * with the next call: what was taken is skipped, and keeps what the
		 * first report said of it (the first call may have protected it since).
		 */
		for (long i = 0; i < n; i++) {
			struct page_list *to = clean && !(r[i].categories & PAGE_IS_WRITTEN) ? clean : pl;
			uint64_t s = r[i].start > done ? r[i].start : done;

			if (s >= r[i].end)
				continue;
			if (page_list_add(to, s, (r[i].end - s) >> PAGE_SHIFT)) {
				pr_perror("page list");
				return -1;
			}
			done = r[i].end;
		}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	return 0;
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

/*
 * A round the parasite has put into its pipes, as it reported it (a copy:
 * the parasite fills the next round's pipes meanwhile, writing its args).
 */
struct page_round {
	uint32_t np;			/* pipes used; 0: nothing waiting */
	uint32_t first;			/* of x->pipes[] */
	uint32_t nr_out[NR_PIPES];
	uint64_t len[NR_PIPES];
	struct iovec out[PARASITE_MAX_IOVS];
};

struct page_xfer {
	struct parasite_ctl *ctl;
	struct parasite_pages *args;
	int pipes[2 * NR_PIPES][2];	/* two sets: the parasite fills one while we drain the other */
	int nr_sets;			/* 2 when the pages take more than one round */
	int set;			/* the set of the next round */
	struct page_round *round;	/* filled, not yet drained */
	struct hasher *hasher;		/* more than a round (nr_sets 2): hashes behind the splice */
	uint64_t pipe_pages;
	int pages_fd;
	uint64_t off;			/* end of data in the pages file */
	struct cr_img *pagemap;
	struct dump_stats *st;
	int nr_pipes;			/* as many as the pages need, up to NR_PIPES */
	struct page_comp *comp;		/* --compress, or NULL */
	char *buf;			/* a pipe's data, with --compress or --page-server */
	bool ps;			/* --page-server: everything goes there instead (page-server.c) */
	uint64_t *csum;			/* checksums of pages we read ourselves (page_csums()) */
	uint64_t csum_cap;
	uint64_t *round_csum;		/* a round's checksums, in the order of its pages (drain_round()) */
	char *chunk[2];			/* COPY_CHUNK bytes for each thread of drain_round() */
	int map_fd;			/* the pages file, read-only (map_setup()), or -1 */
	/*
	 * Two writers (pages_files()): the odd pipes of every round go to a
	 * second file, pages-ID.1.img, spliced and hashed by a thread of
	 * their own (drain_pipes()): each file's inode lock has one writer.
	 */
	struct cr_img *pages1;		/* the second file, or NULL */
	int fd1, map_fd1;		/* its fd and read-only fd (as map_fd), or -1 */
	uint64_t off1;			/* end of data in it */
	/*
	 * splice_hashed()'s read-only windows, one for each thread of
	 * drain_pipes(), SPLICE_WINDOW long and moved as the file grows: a
	 * mmap()/munmap() per pipe cost a TLB flush on every CPU we run on.
	 */
	char *swin[2];			/* or MAP_FAILED / NULL: none yet */
	uint64_t swin_off[2];
	int swin_file[2];		/* the file it maps */
	uint64_t ahead[2];		/* each file's size set ahead of its data (size_ahead()), or 0 */
	/*
	 * A pre-dump's writer thread (predump_copy_via()): store_pages()
	 * writes to file @wfile (pages_fd is that file's) and keeps its
	 * entries in @ents, written to the pagemap after the threads.
	 */
	uint32_t wfile;
	struct live_ents *ents;
};

/* The pagemap entries of a writer thread, with their checksums: written after it, in address order. */
struct live_ent {
	uint64_t vaddr, nr, off, csum;	/* csum: the first checksum's index in live_ents.csum */
	uint32_t file;			/* the pages file, and so the writer */
};

struct live_ents {
	struct live_ent *e;
	size_t n, cap;
	uint64_t *csum;
	uint64_t nr_csum, csum_cap;
};

static int live_ent_add(struct live_ents *le, uint64_t vaddr, uint64_t nr, uint64_t off, const uint64_t *csum,
			uint32_t file)
{
	if (le->n == le->cap) {
		size_t cap = le->cap ? 2 * le->cap : 256;
		struct live_ent *e = realloc(le->e, cap * sizeof(*e));

		if (!e)
			return -1;
		le->e = e;
		le->cap = cap;
	}
	if (le->nr_csum + nr > le->csum_cap) {
		uint64_t cap = le->csum_cap ? 2 * le->csum_cap : 4096;
		uint64_t *c;

		while (cap < le->nr_csum + nr)
			cap *= 2;
		c = realloc(le->csum, cap * sizeof(*c));
		if (!c)
			return -1;
		le->csum = c;
		le->csum_cap = cap;
	}
	memcpy(le->csum + le->nr_csum, csum, nr * sizeof(*csum));
	le->e[le->n++] = (struct live_ent){ .vaddr = vaddr, .nr = nr, .off = off, .csum = le->nr_csum, .file = file };
	le->nr_csum += nr;
	return 0;
}

static int write_pagemap_in(struct page_xfer *x, uint64_t vaddr, uint64_t nr_pages, uint64_t off, uint64_t *csum,
			    uint32_t file)
{
	if (x->ps) {
		pr_err("BUG: a pagemap entry without its data to the page server\n");
		return -1;
	}
	if (x->ents) {
		if (live_ent_add(x->ents, vaddr, nr_pages, off, csum, file)) {
			pr_err("out of memory for the pagemap entries\n");
			return -1;
		}
		return 0;
	}
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = vaddr;
	pe.nr_pages = nr_pages;
	pe.off = off;
	pe.n_csum = nr_pages;
	pe.csum = csum;
	if (file) {
		pe.has_file = true;
		pe.file = file;
	}
	return pb_write_one(x->pagemap, &pe);
}

static int write_pagemap(struct page_xfer *x, uint64_t vaddr, uint64_t nr_pages, uint64_t off, uint64_t *csum)
{
	return write_pagemap_in(x, vaddr, nr_pages, off, csum, 0);
}

/* Checksums of @nr pages at @data that we read ourselves (not through the parasite's pipes). */
static uint64_t *page_csums(struct page_xfer *x, const char *data, uint64_t nr)
{
	if (nr > x->csum_cap) {
		uint64_t *n = realloc(x->csum, nr * sizeof(*n));

		if (!n) {
			pr_err("out of memory for page checksums\n");
			return NULL;
		}
		x->csum = n;
		x->csum_cap = nr;
	}
	csum_pages(data, nr, x->csum);
	return x->csum;
}

/* All of @len at @off: a short write (a full disk) goes on to its error, so errno tells it. */
static int pwrite_whole(int fd, const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * @nr pages of data for @vaddr at the end of the pages file: one entry,
 * or with --compress one entry per frame of up to COMP_FRAME_PAGES pages.
 * @csum: their checksums (of the uncompressed bytes), or NULL to take
 * them here.
 */
static int store_pages(struct page_xfer *x, uint64_t vaddr, uint64_t nr, const char *data, uint64_t *csum)
{
	if (!csum && !(csum = page_csums(x, data, nr)))
		return -1;
	if (x->ps && !x->comp)
		return ps_send_pages(vaddr, nr, 0, csum, data, nr * PAGE_SIZE);
	if (!x->comp) {
		if (write_pagemap_in(x, vaddr, nr, x->off, csum, x->wfile) ||
		    pwrite_whole(x->pages_fd, data, nr * PAGE_SIZE, x->off)) {
			pr_perror("writing the pages file");
			return -1;
		}
		x->off += nr * PAGE_SIZE;
		return 0;
	}
	while (nr) {
		uint64_t n = nr > COMP_FRAME_PAGES ? COMP_FRAME_PAGES : nr;
		PagemapEntry pe = PAGEMAP_ENTRY__INIT;
		const void *frame = data;
		size_t len = comp_frame(x->comp, data, n, &frame);

		pe.vaddr = vaddr;
		pe.nr_pages = n;
		pe.off = x->off;
		pe.n_csum = n;
		pe.csum = csum;
		if (len) {
			pe.has_clen = true;
			pe.clen = len;
		} else {
			len = n * PAGE_SIZE;
		}
		if (x->ps) {
			if (ps_send_pages(vaddr, n, pe.has_clen ? len : 0, csum, frame, len))
				return -1;
		} else if (pb_write_one(x->pagemap, &pe) || pwrite_whole(x->pages_fd, frame, len, x->off)) {
			pr_perror("writing the pages file");
			return -1;
		}
		/* frames start page-aligned, as the pages of uncompressed entries do (restore checks offsets so) */
		x->off += PAGE_ALIGN(len);
		vaddr += n * PAGE_SIZE;
		data += n * PAGE_SIZE;
		csum += n;
		nr -= n;
	}
	return 0;
}

/* --compress: the pipe's bytes come here, then go out frame by frame. */
static int read_pipe(int pipe_rd, char *buf, uint64_t len)
{
	while (len) {
		ssize_t n = read(pipe_rd, buf, len);

		if (n <= 0) {
			pr_perror("reading pages from a pipe (%lu bytes left)", (unsigned long)len);
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}


static int drain_pipe_to(int fd, int pipe_rd, uint64_t len, uint64_t off)
{
	loff_t pos = off;

	while (len) {
		ssize_t n = splice(pipe_rd, NULL, fd, &pos, len, SPLICE_F_MOVE);

		if (n <= 0) {
			pr_perror("splicing pages into the pages file (%lu bytes left)", (unsigned long)len);
			return -1;
		}
		len -= n;
	}
	return 0;
}

static int drain_pipe(struct page_xfer *x, int pipe_rd, uint64_t len, uint64_t off)
{
	return drain_pipe_to(x->pages_fd, pipe_rd, len, off);
}

/*
 * Checksums at dump: every page is read from memory once, by the copy
 * that puts it into the pages file (splice() here, in the kernel); the
 * hash has to read it while that copy left it in the cache, as XXH3 runs
 * at tens of GB/s over cached data and a few GB/s from memory
 * (Documentation/dump-flow.md, section 6). So a pipe goes to the file
 * COPY_CHUNK at a time, and each piece is hashed right after, through a
 * read-only mapping of the file's pages it was just copied into (x->map_fd).
 * Where the file can't be mapped, the pipe is read into @buf, hashed
 * there and written from there: one copy more, in the cache.
 */
#define COPY_CHUNK	(256UL << 10)

static int copy_pipe(int fd, int pipe_rd, uint64_t len, uint64_t off, char *buf, uint64_t *csum)
{
	while (len) {
		size_t n = len < COPY_CHUNK ? len : COPY_CHUNK;

		if (read_pipe(pipe_rd, buf, n))
			return -1;
		csum_pages(buf, n >> PAGE_SHIFT, csum);
		if (pwrite(fd, buf, n, off) != (ssize_t)n) {
			pr_perror("writing the pages file at %lu", (unsigned long)off);
			return -1;
		}
		csum += n >> PAGE_SHIFT;
		off += n;
		len -= n;
	}
	return 0;
}

#define SPLICE_WINDOW	(64UL << 20)

/*
 * @len bytes at @off of @file mapped for reading by thread @t: its window
 * moved if it must; NULL where it can't be.
 */
static char *swin_at(struct page_xfer *x, int t, int file, uint64_t off, uint64_t len)
{
	int map_fd = file ? x->map_fd1 : x->map_fd;
	char **w = &x->swin[t];

	if (map_fd < 0 || (off & (PAGE_SIZE - 1)) || len > SPLICE_WINDOW)
		return NULL;
	if (*w && *w != MAP_FAILED && x->swin_file[t] == file && off >= x->swin_off[t] &&
	    off + len <= x->swin_off[t] + SPLICE_WINDOW)
		return *w + (off - x->swin_off[t]);
	if (*w && *w != MAP_FAILED)
		munmap(*w, SPLICE_WINDOW);
	/* the file is shorter than the window for now: only what the splice wrote is read */
	*w = mmap(NULL, SPLICE_WINDOW, PROT_READ, MAP_SHARED, map_fd, off);
	x->swin_off[t] = off;
	x->swin_file[t] = file;
	return *w == MAP_FAILED ? NULL : *w;
}

static void swin_free(struct page_xfer *x)
{
	for (int i = 0; i < 2; i++) {
		if (x->swin[i] && x->swin[i] != MAP_FAILED)
			munmap(x->swin[i], SPLICE_WINDOW);
		x->swin[i] = NULL;
	}
}

/* Into the pages file @file (0, or 1 with two writers), by thread @t (0 or 1) of drain_pipes(). */
static int splice_hashed(struct page_xfer *x, int t, int file, int pipe_rd, uint64_t len, uint64_t off, char *buf,
			 uint64_t *csum)
{
	int fd = file ? x->fd1 : x->pages_fd;
	char *map = swin_at(x, t, file, off, len);
	int ret = 0;

	if (!map)
		return copy_pipe(fd, pipe_rd, len, off, buf, csum);
	for (uint64_t done = 0; done < len && !ret; done += COPY_CHUNK) {
		size_t n = len - done < COPY_CHUNK ? len - done : COPY_CHUNK;

		ret = drain_pipe_to(fd, pipe_rd, n, off + done);
		if (ret)
			break;
		csum_pages(map + done, n >> PAGE_SHIFT, csum + (done >> PAGE_SHIFT));
	}
	return ret;
}

/*
 * The pages files' sizes set ahead of what a round splices into them,
 * SIZE_AHEAD at a time, before their pages are hashed through a mapping:
 * the kernel maps a large folio of the page cache whole on its first
 * fault only where the file goes on past it (filemap_map_pages(), to
 * keep SIGBUS beyond the end of the file); the piece just spliced ended
 * the file, so it took a fault per 64 KiB (the fault-around) instead of
 * one per 256 KiB piece, and those faults cost more than the hash
 * (perf of a 1 GiB dump). size_exact() cuts the files back to their
 * data at the end. Where it fails, only the faults are more.
 */
#define SIZE_AHEAD	(64UL << 20)

static void size_ahead(struct page_xfer *x, const uint64_t *end)
{
	for (int f = 0; f < (x->pages1 ? 2 : 1); f++) {
		int fd = f ? x->fd1 : x->pages_fd;

		if ((f ? x->map_fd1 : x->map_fd) < 0 || end[f] + PAGE_SIZE <= x->ahead[f])
			continue;
		if (ftruncate(fd, end[f] + SIZE_AHEAD)) {
			pr_pwarn("can't set the size of a pages file ahead");
			continue;
		}
		x->ahead[f] = end[f] + SIZE_AHEAD;
	}
}

static int size_exact(struct page_xfer *x)
{
	for (int f = 0; f < 2; f++) {
		int fd = f ? x->fd1 : x->pages_fd;

		if (x->ahead[f] && ftruncate(fd, f ? x->off1 : x->off)) {
			pr_perror("can't cut pages file %d back to %lu bytes", f, (unsigned long)(f ? x->off1 : x->off));
			return -1;
		}
		x->ahead[f] = 0;
	}
	return 0;
}

/* A read-only fd of a pages file, to map what was spliced into it; -1 where that fails (no harm). */
static int map_open(int fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		pr_warn("can't open %s to read it (%s): pages are checksummed from a copy\n", path,
			strerror(errno));
	return ro;
}

static void map_setup(struct page_xfer *x)
{
	x->map_fd = map_open(x->pages_fd);
	if (x->pages1)
		x->map_fd1 = map_open(x->fd1);
}

/*
 * A dump of more than one round: one thread splices (the only writer of
 * the pages file, so none waits on its inode lock, spinning) and the
 * hasher, a thread of its own, checksums the pipes already spliced
 * through a read-only window mapped on the file, while the next ones
 * are spliced; it sleeps when it has caught up. When it falls behind
 * (no core free for it: the machine is busy), the splicing thread
 * hashes the next pipe itself, 256 KiB at a time right after each
 * piece's splice, while the copy left it in its cache (the cheapest
 * way in CPU); at the end of a round it takes what the hasher has not
 * begun. The windows move HASH_WINDOW at a time, not a mmap()/munmap()
 * per pipe; where one can't be mapped, the file is read (from the page
 * cache) instead.
 */
#define HASH_WINDOW	(64UL << 20)

struct hash_win {
	int fd;				/* the pages file, read-only (x->map_fd) */
	char *map;			/* or MAP_FAILED */
	uint64_t off;
	char *buf;			/* COPY_CHUNK, where the window can't be mapped */
};

struct hasher {
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t more;		/* a pipe spliced, or stop */
	pthread_cond_t caught_up;	/* a pipe hashed */
	const struct page_round *r;	/* the round being drained */
	const uint64_t *off;		/* its pipes' offsets in the file */
	uint64_t *csum;			/* its checksums, from r's first page */
	uint64_t base;			/* the file offset of csum[0] */
	uint32_t spliced;		/* pipes below this are in the file */
	uint32_t nr_hashed;		/* pipes hashed, by either thread */
	bool taken[NR_PIPES];		/* pipes someone hashes */
	bool stop;
	int err;			/* an errno met hashing */
	struct hash_win win;		/* the hasher's */
	struct hash_win own;		/* the splicing thread's */
};

static int hash_piece(struct hash_win *w, uint64_t pos, uint64_t len, uint64_t *csum)
{
	if (w->map == MAP_FAILED || pos < w->off || pos + len > w->off + HASH_WINDOW) {
		if (w->map != MAP_FAILED)
			munmap(w->map, HASH_WINDOW);
		w->off = pos;
		w->map = mmap(NULL, HASH_WINDOW, PROT_READ, MAP_SHARED, w->fd, pos);
	}
	if (w->map != MAP_FAILED) {
		csum_pages(w->map + (pos - w->off), len >> PAGE_SHIFT, csum);
		return 0;
	}
	if (pread(w->fd, w->buf, len, pos) != (ssize_t)len)
		return errno ? errno : EIO;
	csum_pages(w->buf, len >> PAGE_SHIFT, csum);
	return 0;
}

static int hash_pipe(struct hasher *h, struct hash_win *w, uint32_t i)
{
	uint64_t pos = h->off[i], end = pos + h->r->len[i];

	while (pos < end) {
		uint64_t n = end - pos < COPY_CHUNK ? end - pos : COPY_CHUNK;
		int err = hash_piece(w, pos, n, h->csum + ((pos - h->base) >> PAGE_SHIFT));

		if (err)
			return err;
		pos += n;
	}
	return 0;
}

/* Under h->lock: the first pipe spliced that nobody hashes, taken; or -1. */
static int take_pipe(struct hasher *h)
{
	for (uint32_t i = 0; i < h->spliced; i++)
		if (!h->taken[i]) {
			h->taken[i] = true;
			return i;
		}
	return -1;
}

/* Under h->lock: pipe @i hashed (@err: an errno, or 0). */
static void hashed(struct hasher *h, int err)
{
	if (err && !h->err)
		h->err = err;
	h->nr_hashed++;
	pthread_cond_signal(&h->caught_up);
}

static void *hasher_run(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		int i = h->r ? take_pipe(h) : -1, err;

		if (i < 0) {
			if (h->stop)
				break;
			pthread_cond_wait(&h->more, &h->lock);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		err = hash_pipe(h, &h->win, i);
		pthread_mutex_lock(&h->lock);
		hashed(h, err);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void win_init(struct hash_win *w, int fd)
{
	w->fd = fd;
	w->map = MAP_FAILED;
}

static void win_free(struct hash_win *w)
{
	if (w->map != MAP_FAILED)
		munmap(w->map, HASH_WINDOW);
	free(w->buf);
}

/* The hasher for @x, or none (then drain_round() hashes as it splices). */
static void hasher_start(struct page_xfer *x)
{
	struct hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return;
	win_init(&h->win, x->map_fd);
	win_init(&h->own, x->map_fd);
	h->win.buf = malloc(COPY_CHUNK);
	h->own.buf = malloc(COPY_CHUNK);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->more, NULL);
	pthread_cond_init(&h->caught_up, NULL);
	if (!h->win.buf || !h->own.buf || pthread_create(&h->th, NULL, hasher_run, h)) {
		win_free(&h->win);
		win_free(&h->own);
		free(h);
		return;
	}
	x->hasher = h;
}

static void hasher_stop(struct page_xfer *x)
{
	struct hasher *h = x->hasher;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->more);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->th, NULL);
	win_free(&h->win);
	win_free(&h->own);
	free(h);
	x->hasher = NULL;
}

/* Pipe @i spliced at its offset and hashed here, a piece at a time while it is in our cache. */
static int splice_own(struct page_xfer *x, struct hasher *h, uint32_t i, int *err)
{
	uint64_t pos = h->off[i], end = pos + h->r->len[i];
	int rd = x->pipes[h->r->first + i][0];

	while (pos < end) {
		uint64_t n = end - pos < COPY_CHUNK ? end - pos : COPY_CHUNK;

		if (drain_pipe(x, rd, n, pos))
			return -1;
		if (!*err)
			*err = hash_piece(&h->own, pos, n, h->csum + ((pos - h->base) >> PAGE_SHIFT));
		pos += n;
	}
	return 0;
}

/* A round's pipes spliced in turn at @off, the hasher behind (or this thread, when it is behind). */
static int splice_round(struct page_xfer *x, const struct page_round *r, const uint64_t *off)
{
	struct hasher *h = x->hasher;
	int ret = 0, err;

	pthread_mutex_lock(&h->lock);
	h->r = r;
	h->off = off;
	h->csum = x->round_csum;
	h->base = x->off;
	h->spliced = h->nr_hashed = 0;
	memset(h->taken, 0, sizeof(h->taken));
	pthread_mutex_unlock(&h->lock);
	for (uint32_t i = 0; i < r->np && !ret; i++) {
		bool own;

		pthread_mutex_lock(&h->lock);
		/* the pipe before not begun yet: the hasher is behind, this one is ours */
		own = i > 0 && !h->taken[i - 1];
		h->taken[i] = own;
		pthread_mutex_unlock(&h->lock);
		err = 0;
		if (own)
			ret = splice_own(x, h, i, &err);
		else
			ret = drain_pipe(x, x->pipes[r->first + i][0], r->len[i], off[i]);
		pthread_mutex_lock(&h->lock);
		if (!ret) {
			h->spliced = i + 1;
			pthread_cond_signal(&h->more);
		}
		if (own)
			hashed(h, err);
		pthread_mutex_unlock(&h->lock);
	}
	/* what the hasher has not begun is hashed here */
	pthread_mutex_lock(&h->lock);
	for (int i; (i = take_pipe(h)) >= 0;) {
		pthread_mutex_unlock(&h->lock);
		err = hash_pipe(h, &h->own, i);
		pthread_mutex_lock(&h->lock);
		hashed(h, err);
	}
	while (h->nr_hashed < h->spliced + (ret && h->taken[h->spliced] ? 1 : 0))
		pthread_cond_wait(&h->caught_up, &h->lock);
	err = h->err;
	h->err = 0;
	h->r = NULL;
	pthread_mutex_unlock(&h->lock);
	if (err) {
		errno = err;
		pr_perror("checksumming the pages file");
		return -1;
	}
	return ret;
}

/*
 * The second set's pipes, from @first on, all of size @sz, or none (they
 * are worth a little time, not a failed dump): pipe buffers count
 * against the user's pipe-user-pages limits, shared with every other
 * criu that root runs. true if made.
 */
static bool second_set(struct page_xfer *x, int first, long sz)
{
	int n = 2 * x->nr_pipes;

	for (int i = first; i < n; i++)
		if (pipe2(x->pipes[i], O_CLOEXEC) || fcntl(x->pipes[i][1], F_SETPIPE_SZ, sz) < 0) {
			pr_pwarn("no second set of pipes of %ld bytes (each round drained after it is filled)", sz);
			for (int j = first; j <= i; j++)
				for (int k = 0; k < 2; k++)
					if (x->pipes[j][k] >= 0) {
						close(x->pipes[j][k]);
						x->pipes[j][k] = -1;
					}
			x->nr_sets = 1;
			return false;
		}
	return true;
}

/*
 * Pipes for @pages pages: a few pages (an incremental dump) get one small
 * pipe, not NR_PIPES of the biggest size: making those is downtime too.
 */
static int xfer_setup(struct page_xfer *x, uint64_t pages)
{
	int wr[4 * NR_PIPES];	/* write ends, then read ends (see take_pipes() in the parasite) */
	int n;
	long sz = kdat.pipe_max_size, want = 1L << 16;

	while (want < sz && (uint64_t)want < pages * PAGE_SIZE)
		want <<= 1;
	sz = want < sz ? want : sz;
	x->nr_pipes = (pages * PAGE_SIZE + sz - 1) / sz;
	if (x->nr_pipes < 1)
		x->nr_pipes = 1;
	if (x->nr_pipes > NR_PIPES)
		x->nr_pipes = NR_PIPES;
	/* more than a round: a second set, for the parasite to fill while the first is drained */
	x->nr_sets = pages * PAGE_SIZE > (uint64_t)x->nr_pipes * sz ? 2 : 1;
	n = x->nr_sets * x->nr_pipes;
	for (int i = 0; i < x->nr_pipes; i++) {
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
	}
	if (x->nr_sets > 1 && !second_set(x, x->nr_pipes, sz))
		n = x->nr_pipes;
	for (int i = 0; i < n; i++) {
		wr[i] = x->pipes[i][1];
		wr[n + i] = x->pipes[i][0];
	}
	/* every page may come back as its own iovec: keep a round within out[] */
	x->pipe_pages = sz / PAGE_SIZE;
	if (x->pipe_pages > PARASITE_MAX_IOVS / NR_PIPES)
		x->pipe_pages = PARASITE_MAX_IOVS / NR_PIPES;

	if (x->pipe_pages * NR_PIPES > PARASITE_MAX_PAGES)
		x->pipe_pages = PARASITE_MAX_PAGES / NR_PIPES;

	x->round = calloc(1, sizeof(*x->round));
	if (!x->round) {
		pr_err("out of memory for the page path\n");
		return -1;
	}
	if (!x->buf && !x->round_csum) {
		x->round_csum = malloc(PARASITE_MAX_PAGES * sizeof(*x->round_csum));
		x->chunk[0] = malloc(2 * COPY_CHUNK);
		x->chunk[1] = x->chunk[0] + COPY_CHUNK;
		if (!x->round_csum || !x->chunk[0]) {
			pr_err("out of memory for the page path\n");
			return -1;
		}
		/* CRIU_PAGES_COPY=1: the fallback always, a measuring and testing switch like CRIU_CSUM_OFF */
		if (!getenv("CRIU_PAGES_COPY"))
			map_setup(x);
	}
	/* two writers hash each its own pipes: no hasher behind them */
	if (x->map_fd >= 0 && x->nr_sets > 1 && !x->hasher && !x->pages1 && csum_isa() != CSUM_NONE)
		hasher_start(x);

	((union parasite_args *)x->args)->nr_pipes = n;
	if (compel_rpc_call(x->ctl, PARASITE_CMD_TAKE_PIPES) || compel_send_fds(x->ctl, wr, 2 * n) ||
	    compel_rpc_sync(x->ctl, PARASITE_CMD_TAKE_PIPES) < 0) {
		pr_perror("handing pipes to the parasite");
		return -1;
	}
	return 0;
}

/* --compress: the compressor, and room for a pipe's data. */
static int comp_setup(struct page_xfer *x, PagemapHead *ph, long pipe_bytes)
{
	if (!opts.compress && !x->ps)
		return 0;
	x->comp = opts.compress ? comp_new() : NULL;
	x->buf = pipe_bytes ? malloc(pipe_bytes) : NULL;
	if ((opts.compress && !x->comp) || (pipe_bytes && !x->buf)) {
		pr_err("out of memory for --compress or --page-server\n");
		return -1;
	}
	if (opts.compress) {
		ph->has_compress = true;
		ph->compress = COMP_ZSTD;
	}
	return 0;
}

/*
 * Two pages files, each with a splicing thread of its own: a local dump
 * (no page server, no --compress, no --lazy-pages) of 64 MiB or more
 * through the parasite's pipes. Two threads splicing into one file take
 * turns on its inode lock, and so one file can't be written faster than
 * one write(); with two, 1 GiB of random memory is dumped in 0.27 s
 * instead of 0.36 s (write() of the same bytes 0.26 s; incremental.md,
 * "Several writers"). The restore reads the second file's huge runs where
 * they are and gathers the rest (a few MiB); a --lazy-pages restore
 * gathers none of the lazy areas' pages, which the daemon reads from both
 * files. Below 64 MiB one file: a second costs an open, and gains nothing
 * on a dump of a few rounds. CRIU_PAGES_FILES=1 or 2 forces one or two.
 */
#define PAGES_FILES_MIN	((64ULL << 20) / PAGE_SIZE)

static int pages_files(uint64_t pages)
{
	const char *e = getenv("CRIU_PAGES_FILES");

	if (!pages || opts.compress || opts.lazy_pages || opts.snapshot)
		return 1;
	if (e && !strcmp(e, "2"))
		return 2;
	if (e && !strcmp(e, "1"))
		return 1;
	return pages >= PAGES_FILES_MIN ? 2 : 1;
}

/* The images of @pid: here, or at the page server; @pages to go through the pipes (0: not that way). */
static int open_page_images(struct page_xfer *x, PagemapHead *ph, int dfd, pid_t pid, uint32_t pages_id,
			    long pipe_bytes, uint64_t pages, struct cr_img **pages_img)
{
	x->ps = ps_active();
	ph->pages_id = pages_id;
	if (csum_kind() != CSUM_KIND_XXH3) {
		ph->has_csum_kind = true;
		ph->csum_kind = csum_kind();
	}
	if (x->ps) {
		x->pages_fd = -1;
		return comp_setup(x, ph, pipe_bytes) ||
		       ps_send(PS_OPEN, (opts.compress ? PS_F_COMPRESS : 0) | (ph->has_csum_kind ? PS_F_CSUM_AES : 0),
			       pid, pages_id, 0, NULL, 0) ? -1 : 0;
	}
	x->pagemap = open_image_at(dfd, CR_FD_PAGEMAP, O_DUMP, pid);
	*pages_img = open_image_at(dfd, CR_FD_PAGES, O_DUMP, pages_id);
	if (!x->pagemap || !*pages_img || img_buffer_writes(x->pagemap))
		return -1;
	x->pages_fd = (*pages_img)->fd;
	if (pages_files(pages) == 2) {
		x->pages1 = open_image_at(dfd, CR_FD_PAGES_1, O_DUMP, pages_id);
		if (!x->pages1)
			return -1;
		x->fd1 = x->pages1->fd;
		ph->has_nr_files = true;
		ph->nr_files = 2;
		pr_info("task %d: two pages files, two writers\n", pid);
	}
	return comp_setup(x, ph, pipe_bytes) || pb_write_one(x->pagemap, ph) ? -1 : 0;
}

static int close_page_images(struct page_xfer *x)
{
	return x->ps ? ps_send(PS_CLOSE, 0, 0, 0, 0, NULL, 0) : img_flush(x->pagemap);
}

/* Sealed if @ret is 0, dropped unsealed if not (image.h); none here with --page-server. */
static int close_images(struct page_xfer *x, struct cr_img *pages, int ret)
{
	swin_free(x);
	if (!ret)
		ret = size_exact(x);
	if (x->pagemap)
		ret = finish_image(x->pagemap, ret);
	if (pages)
		ret = finish_image(pages, ret);
	if (x->map_fd1 >= 0)
		close(x->map_fd1);
	x->map_fd1 = -1;
	if (x->pages1)
		ret = finish_image(x->pages1, ret);
	x->pages1 = NULL;
	return ret;
}

static void xfer_close(struct page_xfer *x)
{
	for (int i = 0; i < 2 * NR_PIPES; i++)
		for (int j = 0; j < 2; j++)
			if (x->pipes[i][j] > 0)
				close(x->pipes[i][j]);
	hasher_stop(x);
	free(x->round);
}

/*
 * Draining a round's pipes into the pages file: each pipe's data has its
 * offset (and its checksums' place) known beforehand, so two threads
 * splice and hash them side by side (the file's inode lock lets one
 * splice in at a time; the other hashes meanwhile).
 */
struct drain_job {
	struct page_xfer *x;
	const struct page_round *r;
	uint32_t first, np;		/* pipes first, first + 2, ... below np */
	uint64_t off[NR_PIPES];		/* in the pipe's file (pipe_file()) */
	uint64_t cidx[NR_PIPES];	/* its first page's place in the round's checksums */
	char *buf;			/* COPY_CHUNK bytes of this job's own */
	int ret;
};

/* The file of a round's pipe @i: with two writers, the odd pipes go to the second (drain_some()'s split). */
static int pipe_file(const struct page_xfer *x, uint32_t i)
{
	return x->pages1 ? (int)(i & 1) : 0;
}

static int drain_one(struct drain_job *j, uint32_t i)
{
	struct page_xfer *x = j->x;
	int rd = x->pipes[j->r->first + i][0];
	uint64_t len = j->r->len[i];
	uint64_t *csum = x->round_csum + j->cidx[i];
	int f = pipe_file(x, i);

	/* CRIU_CSUM_OFF: what the page path costs without checksums, splice() as it was */
	if (csum_isa() == CSUM_NONE) {
		memset(csum, 0, (len >> PAGE_SHIFT) * sizeof(*csum));
		return drain_pipe_to(f ? x->fd1 : x->pages_fd, rd, len, j->off[i]);
	}
	return splice_hashed(x, j->first, f, rd, len, j->off[i], j->buf, csum);
}

static void *drain_some(void *arg)
{
	struct drain_job *j = arg;

	for (uint32_t i = j->first; i < j->np && !j->ret; i += 2)
		j->ret = drain_one(j, i);
	return NULL;
}

/*
 * The round the parasite reports, copied out of its args (they are the
 * next round's once we call it again) and checked: the sizes of each
 * pipe's iovecs must add up to what it says went into the pipe.
 */
static int take_round(struct page_xfer *x, uint32_t np, uint32_t first)
{
	struct parasite_pages *p = x->args;
	struct page_round *r = x->round;
	uint32_t k = 0;

	for (uint32_t i = 0; i < np; i++) {
		uint64_t expect = 0;

		if (p->nr_out[i] > PARASITE_MAX_IOVS - k) {
			pr_err("parasite reported %u iovecs for pipe %u\n", p->nr_out[i], i);
			return -1;
		}
		for (uint32_t j = 0; j < p->nr_out[i]; j++, k++)
			expect += p->out[k].iov_len;
		if (p->nr_bytes[i] != expect) {
			pr_err("parasite spliced %lu bytes instead of %lu\n", (unsigned long)p->nr_bytes[i],
			       (unsigned long)expect);
			return -1;
		}
		r->nr_out[i] = p->nr_out[i];
		r->len[i] = expect;
	}
	memcpy(r->out, p->out, k * sizeof(*r->out));
	r->first = first;
	r->np = np;
	return 0;
}

/*
 * The pipes into the file at @a->off: the hasher behind us, or (a round
 * or less in all) hashed as they go, by two threads for a big round.
 * Without checksums one thread: a second would only wait on the file's
 * inode lock, spinning; with two files, two threads always, one a file.
 */
static int drain_pipes(struct page_xfer *x, struct drain_job *a, uint64_t total)
{
	struct drain_job b = *a;
	pthread_t th;

	if (x->hasher)
		return splice_round(x, a->r, a->off);
	b.first = 1;
	b.buf = x->chunk[1];
	if (a->np > 1 && total >= (256 << 10) && (csum_isa() != CSUM_NONE || x->pages1) &&
	    pthread_create(&th, NULL, drain_some, &b) == 0) {
		drain_some(a);
		pthread_join(th, NULL);
		return a->ret || b.ret ? -1 : 0;
	}
	for (uint32_t i = 0; i < a->np && !a->ret; i++)
		a->ret = drain_one(a, i);
	return a->ret ? -1 : 0;
}

/*
 * Into the pages file: the pipes spliced and hashed (by two threads when
 * it is worth it), then the pagemap entries with the checksums.
 */
static int drain_round(struct page_xfer *x, const struct page_round *r)
{
	struct drain_job a = { .x = x, .r = r, .first = 0, .np = r->np, .buf = x->chunk[0] };
	uint64_t off[2] = { x->off, x->off1 }, total = 0;
	uint32_t np = r->np;

	for (uint32_t i = 0; i < np; i++) {
		int f = pipe_file(x, i);

		a.cidx[i] = total >> PAGE_SHIFT;
		a.off[i] = off[f];
		off[f] += r->len[i];
		total += r->len[i];
	}
	if ((total >> PAGE_SHIFT) > PARASITE_MAX_PAGES) {
		pr_err("parasite spliced %lu pages in a round, more than %u\n", (unsigned long)(total >> PAGE_SHIFT),
		       PARASITE_MAX_PAGES);
		return -1;
	}
	if (csum_isa() != CSUM_NONE)
		size_ahead(x, off);
	if (drain_pipes(x, &a, total))
		return -1;
	for (uint32_t i = 0, k = 0, pg = 0; i < np; i++) {
		uint64_t o = a.off[i];

		for (uint32_t j = 0; j < r->nr_out[i]; j++, k++) {
			uint64_t n = r->out[k].iov_len >> PAGE_SHIFT;

			if (write_pagemap_in(x, (unsigned long)r->out[k].iov_base, n, o, &x->round_csum[pg],
					     pipe_file(x, i)))
				return -1;
			o += r->out[k].iov_len;
			pg += n;
		}
	}
	x->off = off[0];
	x->off1 = off[1];
	x->st->pages_written += total >> PAGE_SHIFT;
	return 0;
}

/*
 * --compress or --page-server: each pipe's bytes come here, are
 * checksummed here as they are (uncompressed), and go out from here.
 */
static int buffer_round(struct page_xfer *x, const struct page_round *r)
{
	for (uint32_t i = 0, k = 0; i < r->np; i++) {
		char *d = x->buf;

		if (read_pipe(x->pipes[r->first + i][0], x->buf, r->len[i]))
			return -1;
		for (uint32_t j = 0; j < r->nr_out[i]; j++, k++) {
			if (store_pages(x, (unsigned long)r->out[k].iov_base, r->out[k].iov_len >> PAGE_SHIFT, d, NULL))
				return -1;
			d += r->out[k].iov_len;
		}
		x->st->pages_written += r->len[i] >> PAGE_SHIFT;
	}
	return 0;
}

/* The round the parasite filled last, out of its pipes; none waiting after. */
static int drain_waiting(struct page_xfer *x)
{
	struct page_round *r = x->round;
	uint64_t t0 = now_us();
	int ret;

	if (!r || !r->np)
		return 0;
	ret = x->buf ? buffer_round(x, r) : drain_round(x, r);
	r->np = 0;
	x->st->memwrite_time += now_us() - t0;
	return ret;
}

/*
 * One round: the parasite fills up to NR_PIPES pipes of one set while we
 * drain the round before from the other set (with one set, a round is
 * drained right after it is filled). The round filled now waits for the
 * next call, or for drain_waiting() after the last.
 */
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
	uint32_t first = x->set * x->nr_pipes;
	size_t used = 0;
	uint32_t np = 0;
	uint64_t t0, waited;
	int ret;

	while (np < (uint32_t)x->nr_pipes && used < PARASITE_MAX_IOVS) {
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
	p->first_pipe = first;
	p->skip_zero = skip_zero;

	/* The parasite needs the iovecs in the task's terms: they are already task addresses. */
	t0 = now_us();
	if (compel_rpc_call(x->ctl, PARASITE_CMD_DUMP_PAGES)) {
		pr_perror("parasite failed to vmsplice pages");
		return -1;
	}
	waited = now_us() - t0;
	/* the parasite vmsplices into one set while the other is drained here */
	ret = drain_waiting(x);
	t0 = now_us();
	if (compel_rpc_sync(x->ctl, PARASITE_CMD_DUMP_PAGES) < 0) {
		pr_perror("parasite failed to vmsplice pages");
		return -1;
	}
	x->st->memdump_time += waited + now_us() - t0;
	if (ret)
		return -1;
	x->st->pages_zero += p->zero_pages;
	if (take_round(x, np, first))
		return -1;
	if (x->nr_sets < 2)
		return drain_waiting(x);
	x->set ^= 1;
	return 0;
}

/*
 * Areas the task can't read (PROT_NONE, write-only) can't be vmspliced;
 * /proc/PID/mem reads them with FOLL_FORCE.
 */
static int copy_unreadable(struct page_xfer *x, pid_t pid, const struct page_list *pl)
{
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
			if (store_pages(x, addr, chunk >> PAGE_SHIFT, buf, NULL))
				goto out;
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
 * A few runs of pages (what an incremental dump of an idle tree finds
 * written): read here through /proc/PID/mem, checksummed while they are
 * in the cache, and written with one pwrite() a batch, without pipes and
 * the parasite's rounds (each a wait for the task to be scheduled, in
 * the frozen time). All-zero anonymous pages are left out, as the
 * parasite does. Not process_vm_readv(): its read-only pin of an
 * anonymous page shared copy-on-write with a parent or child makes the
 * kernel give the task a copy of its own (unshare), which changes the
 * tree and hides the sharing (cow_fork found it); /proc/PID/mem reads
 * without pinning.
 */
#define DIRECT_MAX_PAGES	2048	/* 8 MiB, as live rounds leave at most (predump.c) */
#define DIRECT_MAX_RANGES	256	/* a pread() each: 5-9 us here, where the parasite's rounds cost ms */
#define DIRECT_BATCH		256	/* pages a write */

static int all_zero(const char *p);

/* The runs of data of a batch, moved to the front of @buf, one entry each, then one write. */
static int direct_store(struct page_xfer *x, const struct iovec *remote, size_t n, char *buf, int skip_zero,
			uint64_t *csum)
{
	char *src = buf, *w = buf;

	for (size_t k = 0; k < n; src += remote[k++].iov_len) {
		uint64_t addr = (unsigned long)remote[k].iov_base, np = remote[k].iov_len >> PAGE_SHIFT;

		for (uint64_t i = 0, j; i < np; i = j) {
			if (skip_zero && all_zero(src + i * PAGE_SIZE)) {
				x->st->pages_zero++;
				j = i + 1;
				continue;
			}
			for (j = i + 1; j < np && !(skip_zero && all_zero(src + j * PAGE_SIZE)); j++)
				;
			if (x->ps || x->comp) {
				if (store_pages(x, addr + i * PAGE_SIZE, j - i, src + i * PAGE_SIZE, NULL))
					return -1;
			} else {
				uint64_t *c = csum + (w - buf) / PAGE_SIZE;

				if (w != src + i * PAGE_SIZE)
					memmove(w, src + i * PAGE_SIZE, (j - i) * PAGE_SIZE);
				csum_pages(w, j - i, c);
				if (write_pagemap(x, addr + i * PAGE_SIZE, j - i, x->off + (w - buf), c))
					return -1;
				w += (j - i) * PAGE_SIZE;
			}
			x->st->pages_written += j - i;
		}
	}
	if (w > buf) {
		if (pwrite(x->pages_fd, buf, w - buf, x->off) != w - buf) {
			pr_perror("writing the pages file");
			return -1;
		}
		x->off += w - buf;
	}
	return 0;
}

static int copy_direct(struct page_xfer *x, int mem_fd, pid_t pid, const struct page_list *pl, int skip_zero,
		       char *buf, uint64_t *csum)
{
	struct iovec remote[DIRECT_BATCH];
	struct page_cursor cur = { 0 };
	uint64_t pages;
	size_t n;

	while ((n = page_list_next_batch(pl, &cur, DIRECT_BATCH, remote, DIRECT_BATCH, &pages))) {
		char *d = buf;

		for (size_t k = 0; k < n; d += remote[k++].iov_len)
			if (pread(mem_fd, d, remote[k].iov_len, (unsigned long)remote[k].iov_base) !=
			    (ssize_t)remote[k].iov_len) {
				pr_perror("reading memory of %d at %lx", pid, (unsigned long)remote[k].iov_base);
				return -1;
			}
		if (direct_store(x, remote, n, buf, skip_zero, csum))
			return -1;
	}
	return 0;
}

static int xfer_direct(struct page_xfer *x, pid_t pid, const struct page_list *anon, const struct page_list *file)
{
	char *buf = malloc(DIRECT_BATCH * PAGE_SIZE), path[64];
	uint64_t *csum = malloc(DIRECT_BATCH * sizeof(*csum));
	uint64_t t0 = now_us();
	int ret = -1, fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open %s", path);
	else if (!buf || !csum)
		pr_err("out of memory\n");
	else
		ret = copy_direct(x, fd, pid, anon, 1, buf, csum) || copy_direct(x, fd, pid, file, 0, buf, csum) ? -1 : 0;
	x->st->memwrite_time += now_us() - t0;
	if (fd >= 0)
		close(fd);
	free(buf);
	free(csum);
	return ret;
}

/*
 * The pages of a process by what becomes of them: data in three lists
 * (anonymous memory, where an all-zero page needs no saving; private file
 * memory, where it does: zero is not what the file has; areas the task
 * itself can't read), pages the parent images hold unchanged (in_prev),
 * and pages still shared with the parent process (in_parent, cow.c).
 */
struct page_sets {
	struct page_list anon, file, hidden;
	struct page_list prev;
	struct page_list inh[5];	/* anon, file, hidden, and the two clean lists (collect_pages()) */
};

static void page_sets_init(struct page_sets *ps)
{
	page_list_init(&ps->anon);
	page_list_init(&ps->file);
	page_list_init(&ps->hidden);
	page_list_init(&ps->prev);
	for (int i = 0; i < 5; i++)
		page_list_init(&ps->inh[i]);
}

static void page_sets_free(struct page_sets *ps)
{
	page_list_free(&ps->anon);
	page_list_free(&ps->file);
	page_list_free(&ps->hidden);
	page_list_free(&ps->prev);
	for (int i = 0; i < 5; i++)
		page_list_free(&ps->inh[i]);
}

/* Pages of @clean the parent images have go to @prev, the others back to @data. */
static int split_clean(struct page_list *clean, const struct page_list *cover, struct page_list *data,
		       struct page_list *prev)
{
	struct page_list in, out, a, b;

	if (page_list_split(clean, cover, &in, &out))
		return -1;
	if (page_list_merge(data, &out, &a) || page_list_merge(prev, &in, &b)) {
		page_list_free(&in);
		page_list_free(&out);
		return -1;
	}
	page_list_free(&in);
	page_list_free(&out);
	page_list_free(data);
	page_list_free(prev);
	*data = a;
	*prev = b;
	return 0;
}

/*
 * The scan of a big address space is split in two halves by pages, each
 * walked by its own thread: PAGEMAP_SCAN visits every page table entry
 * (tens of ms per GiB of 4 KiB pages here), and with the tree frozen that
 * is downtime.
 */
struct scan_part {
	pid_t pid;
	const struct mm_dump *md;
	const struct page_opts *po;
	uint64_t from, to;		/* the addresses of this part */
	struct page_list l[3];		/* anon, file, hidden */
	struct page_list clean[2];	/* anon, hidden: not written since the last round (tracked areas) */
	int ret;
};

static void *scan_part_run(void *arg)
{
	struct scan_part *sp = arg;
	const struct track_task *tt = sp->po ? sp->po->tt : NULL;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", sp->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		sp->ret = -1;
		return NULL;
	}
	for (size_t i = 0; i < sp->md->nr_vmas && !sp->ret; i++) {
		const VmaEntry *v = &sp->md->vmas[i];
		int hidden = !(v->prot & PROT_READ), file = v->kind == VMA_KIND__VMA_FILE_PRIVATE;
		struct page_list *l = &sp->l[hidden ? 2 : file ? 1 : 0];
		int tracked = tt && tt->since_prev && (sp->md->wp[i] & MD_WP_OLD) && !file;
		int protect = sp->po && sp->po->protect && sp->md->wp[i];
		uint64_t s = v->start > sp->from ? v->start : sp->from, e = v->end < sp->to ? v->end : sp->to;

		if (!vma_is_private_mem(v) || s >= e)
			continue;
		if (kdat.has_pagemap_scan)
			sp->ret = scan_range_pagemap_scan(fd, s, e, l, tracked ? &sp->clean[hidden] : NULL,
							  tracked || protect, protect, file);
		else
			sp->ret = scan_vma_pagemap(fd, v, l);
	}
	close(fd);
	return NULL;
}

static void scan_part_free(struct scan_part *sp)
{
	for (int i = 0; i < 3; i++)
		page_list_free(&sp->l[i]);
	page_list_free(&sp->clean[0]);
	page_list_free(&sp->clean[1]);
}

/* The address where half of the private pages lie below, or 0 when not worth two threads. */
static uint64_t scan_split(const struct mm_dump *md, uint64_t total)
{
	uint64_t below = 0;

	if (!kdat.has_pagemap_scan || total < (64ULL << 20) / PAGE_SIZE)
		return 0;
	for (size_t i = 0; i < md->nr_vmas; i++) {
		const VmaEntry *v = &md->vmas[i];
		uint64_t n = (v->end - v->start) >> PAGE_SHIFT;

		if (!vma_is_private_mem(v))
			continue;
		if (below + n >= total / 2)
			return v->start + (total / 2 - below) * PAGE_SIZE;
		below += n;
	}
	return 0;
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

/* Both parts' lists, the lower one's first: they are in address order. */
static int join_lists(struct page_list *a, struct page_list *b, struct page_list *out)
{
	struct page_list m;

	if (page_list_merge(a, b, &m))
		return -1;
	page_list_free(out);
	*out = m;
	return 0;
}

static int collect_pages(pid_t pid, struct mm_dump *md, struct page_sets *ps, struct dump_stats *st,
			 const struct page_opts *po, const struct mm_parent *parent)
{
	const struct track_task *tt = po ? po->tt : NULL;
	struct scan_part part[2] = {
		{ .pid = pid, .md = md, .po = po, .from = 0, .to = UINT64_MAX },
		{ .pid = pid, .md = md, .po = po, .from = UINT64_MAX, .to = UINT64_MAX },
	};
	struct page_list clean[2];	/* anon, hidden */
	uint64_t total = 0, mid;
	pthread_t th;
	int ret = 0, threaded = 0;

	page_list_init(&clean[0]);
	page_list_init(&clean[1]);
	if (!md->nr_vmas)
		return 0;
	for (size_t i = 0; i < md->nr_vmas; i++)
		if (vma_is_private_mem(&md->vmas[i]))
			total += (md->vmas[i].end - md->vmas[i].start) >> PAGE_SHIFT;
	st->pages_scanned += total;
	if (kdat.has_pagemap_scan && !(tt && tt->since_prev) && !(po && po->protect)) {
		/* no tracking: one scan over the whole address space, however many areas */
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't open %s", path);
			return -1;
		}
		ret = scan_all(fd, md, &ps->anon, &ps->file, &ps->hidden);
		close(fd);
		if (ret)
			return -1;
		goto split;
	}
	mid = scan_split(md, total);
	if (mid) {
		part[0].to = part[1].from = mid;
		threaded = pthread_create(&th, NULL, scan_part_run, &part[1]) == 0;
		if (!threaded)
			part[0].to = UINT64_MAX;
	}
	scan_part_run(&part[0]);
	if (threaded)
		pthread_join(th, NULL);
	ret = part[0].ret || part[1].ret;
	if (!ret)
		ret = join_lists(&part[0].l[0], &part[1].l[0], &ps->anon) ||
		      join_lists(&part[0].l[1], &part[1].l[1], &ps->file) ||
		      join_lists(&part[0].l[2], &part[1].l[2], &ps->hidden) ||
		      join_lists(&part[0].clean[0], &part[1].clean[0], &clean[0]) ||
		      join_lists(&part[0].clean[1], &part[1].clean[1], &clean[1]);
	scan_part_free(&part[0]);
	scan_part_free(&part[1]);
	if (ret)
		goto out;
split:
	pr_debug("task %d: page tables scanned\n", pid);
	if (parent) {
		struct page_list l[5] = { ps->anon, ps->file, ps->hidden, clean[0], clean[1] };

		ret = cow_split_inherited(pid, md, parent, l, 5, ps->inh);
		ps->anon = l[0];
		ps->file = l[1];
		ps->hidden = l[2];
		clean[0] = l[3];
		clean[1] = l[4];
		if (ret)
			goto out;
		pr_info("task %d: %lu pages still shared with its parent %d left out\n", pid,
			(unsigned long)(ps->inh[0].total_pages + ps->inh[1].total_pages + ps->inh[2].total_pages +
					ps->inh[3].total_pages + ps->inh[4].total_pages), parent->pid);
	}
	if (tt && tt->since_prev) {
		ret = split_clean(&clean[0], &tt->cover, &ps->anon, &ps->prev) ||
		      split_clean(&clean[1], &tt->cover, &ps->hidden, &ps->prev);
		if (!ret)
			pr_info("task %d: %lu pages unchanged since the previous dump left out\n", pid,
				(unsigned long)ps->prev.total_pages);
	}
out:
	page_list_free(&clean[0]);
	page_list_free(&clean[1]);
	return ret ? -1 : 0;
}

/* Pages with no data here: the parent process's (in_parent) or the previous images' (in_prev). */
static int write_dataless(struct cr_img *pagemap, const struct page_list *pl, int prev, uint64_t *count)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	if (!pagemap) {	/* the page server's */
		for (size_t i = 0; i < pl->nr; i++) {
			if (ps_send(PS_DATALESS, prev ? PS_F_IN_PREV : PS_F_IN_PARENT, pl->r[i].start, pl->r[i].nr_pages,
				    0, NULL, 0))
				return -1;
			*count += pl->r[i].nr_pages;
		}
		return 0;
	}

	if (prev)
		pe.has_in_prev = pe.in_prev = true;
	else
		pe.has_in_parent = pe.in_parent = true;
	for (size_t i = 0; i < pl->nr; i++) {
		pe.vaddr = pl->r[i].start;
		pe.nr_pages = pl->r[i].nr_pages;
		if (pb_write_one(pagemap, &pe))
			return -1;
		*count += pl->r[i].nr_pages;
	}
	return 0;
}

/*
 * dump --lazy-pages: the pages of the areas a restore fills lazily
 * (lazy_vma(), not shared copy-on-write: keep_cow_areas() in dump.c) are
 * taken out of @anon into @lazy; they stay in the tree.
 */
static int lazy_take(pid_t pid, const struct mm_dump *md, struct page_list *anon, struct page_list *lazy)
{
	struct page_list sel, rest;
	int ret = -1;

	page_list_init(&sel);
	page_list_init(lazy);
	if (!opts.lazy_pages)
		return 0;
	for (size_t i = 0; i < md->nr_vmas; i++)
		if (lazy_vma(&md->vmas[i]) && !lazy_dump_kept(pid, md->vmas[i].start) &&
		    page_list_add(&sel, md->vmas[i].start, (md->vmas[i].end - md->vmas[i].start) >> PAGE_SHIFT))
			goto out;
	if (page_list_split(anon, &sel, lazy, &rest))
		goto out;
	page_list_free(anon);
	*anon = rest;
	ret = 0;
out:
	page_list_free(&sel);
	return ret;
}

/* The lazy pages' entries: no data, no checksums here (the dump serves both). */
static int write_lazy(struct page_xfer *x, pid_t pid, struct page_list *lazy)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.has_lazy = pe.lazy = true;
	for (size_t i = 0; i < lazy->nr; i++) {
		pe.vaddr = lazy->r[i].start;
		pe.nr_pages = lazy->r[i].nr_pages;
		if (pb_write_one(x->pagemap, &pe))
			return -1;
	}
	if (lazy->nr)
		pr_info("task %d: %lu pages left in the tree for dump --lazy-pages to serve\n", pid,
			(unsigned long)lazy->total_pages);
	return lazy_dump_add(pid, lazy);
}

static int write_dataless_all(struct cr_img *pagemap, struct page_sets *ps, struct dump_stats *st)
{
	if (write_dataless(pagemap, &ps->prev, 1, &st->pages_in_prev))
		return -1;
	for (int i = 0; i < 5; i++)
		if (write_dataless(pagemap, &ps->inh[i], 0, &st->pages_in_parent))
			return -1;
	return 0;
}

int dump_pages(struct parasite_ctl *ctl, pid_t pid, int dfd, struct mm_dump *md, struct dump_stats *st,
	       uint32_t pages_id, const struct mm_parent *parent, const struct page_opts *po)
{
	struct page_xfer x = { .ctl = ctl, .args = compel_parasite_args(ctl), .st = st, .map_fd = -1, .fd1 = -1,
			       .map_fd1 = -1 };
	PagemapHead ph = PAGEMAP_HEAD__INIT;
	struct page_sets ps;
	struct page_list live, lazy;
	struct page_cursor cur = { 0 };
	struct cr_img *pages = NULL;
	int done = 0, ret = -1, direct;

	page_sets_init(&ps);
	page_list_init(&live);
	page_list_init(&lazy);
	memset(x.pipes, -1, sizeof(x.pipes));
	if (collect_pages(pid, md, &ps, st, po, parent))
		goto out;
	if (split_live(md, &ps.anon, &ps.file, &live) || lazy_take(pid, md, &ps.anon, &lazy))
		goto out;
	pr_info("task %d: %lu pages to dump (%lu anonymous, %lu of files, %lu in unreadable areas) of %lu scanned\n",
		pid, (unsigned long)(ps.anon.total_pages + ps.file.total_pages + ps.hidden.total_pages),
		(unsigned long)ps.anon.total_pages, (unsigned long)ps.file.total_pages,
		(unsigned long)ps.hidden.total_pages, (unsigned long)st->pages_scanned);

	/* an incremental dump's few pages; a plain dump's go the parasite's way, however few */
	direct = po && po->tt && po->tt->since_prev && ps.anon.total_pages + ps.file.total_pages <= DIRECT_MAX_PAGES &&
		 ps.anon.nr + ps.file.nr <= DIRECT_MAX_RANGES;
	if (open_page_images(&x, &ph, dfd, pid, pages_id, kdat.pipe_max_size,
			     direct ? 0 : ps.anon.total_pages + ps.file.total_pages, &pages))
		goto out;
	pr_debug("task %d: pagemap and pages images open\n", pid);
	if (direct) {
		if (xfer_direct(&x, pid, &ps.anon, &ps.file))
			goto out;
		done = 1;
	} else {
		if (xfer_setup(&x, ps.anon.total_pages + ps.file.total_pages))
			goto out;
	}
	while (!done)
		if (xfer_round(&x, &ps.anon, &cur, 1, &done))
			goto out;
	memset(&cur, 0, sizeof(cur));
	done = x.nr_pipes == 0;
	while (!done)
		if (xfer_round(&x, &ps.file, &cur, 0, &done))
			goto out;
	if (drain_waiting(&x))
		goto out;
	pr_info("task %d: %lu all-zero pages left out\n", pid, (unsigned long)st->pages_zero);
	if (copy_unreadable(&x, pid, &ps.hidden) || copy_unreadable(&x, pid, &live))
		goto out;
	if (write_dataless_all(x.pagemap, &ps, st) || write_lazy(&x, pid, &lazy) || close_page_images(&x))
		goto out;
	ret = 0;
out:
	page_list_free(&lazy);
	xfer_close(&x);
	comp_free(x.comp);
	free(x.buf);
	free(x.csum);
	free(x.round_csum);
	free(x.chunk[0]);
	if (x.map_fd >= 0)
		close(x.map_fd);
	ret = close_images(&x, pages, ret);
	page_sets_free(&ps);
	page_list_free(&live);
	return ret;
}

/* ---- pre-dump: pages copied while the tree runs ---- */

struct predump_pages {
	struct page_sets ps;
	/* areas where anonymous large folios may be (read_live()): [start, end) pairs */
	uint64_t *thp;
	size_t nr_thp;
};

/*
 * Whether anonymous memory may come in large folios: 2 in every area (a
 * size "always", or "inherit" of an "always"), 1 in MADV_HUGEPAGE areas,
 * 0 never (MADV_COLLAPSE aside, which PAGEMAP_SCAN finds).
 */
static int thp_mode(void)
{
	static int mode = -1;
	char path[128], buf[64];
	int m = 0;
	bool top_always = false, top_madv = false;
	FILE *f;

	if (mode >= 0)
		return mode;
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f && fgets(buf, sizeof(buf), f)) {
		top_always = strstr(buf, "[always]");
		top_madv = strstr(buf, "[madvise]");
	}
	if (f)
		fclose(f);
	m = top_always ? 2 : top_madv ? 1 : 0;
	for (int order = 2; order <= 21; order++) {
		snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/hugepages-%lukB/enabled",
			 (unsigned long)(PAGE_SIZE << order) >> 10);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			int o = strstr(buf, "[always]") ? 2 : strstr(buf, "[madvise]") ? 1 :
				strstr(buf, "[inherit]") ? (top_always ? 2 : top_madv ? 1 : 0) : 0;

			m = o > m ? o : m;
		}
		fclose(f);
	}
	mode = m;
	return mode;
}

/* The areas of @md where the task's anonymous pages may be large folios (see read_live()). */
static int find_thp_areas(struct predump_pages *pp, const struct mm_dump *md)
{
	int mode = thp_mode();

	for (size_t i = 0; i < md->nr_vmas; i++) {
		const VmaEntry *v = &md->vmas[i];
		uint64_t madv = v->has_madv ? v->madv : 0;
		uint64_t *n;

		if (!(mode == 2 && !(madv & (1ULL << MADV_NOHUGEPAGE))) &&
		    !(mode >= 1 && (madv & (1ULL << MADV_HUGEPAGE))))
			continue;
		n = realloc(pp->thp, (pp->nr_thp + 1) * 2 * sizeof(*n));
		if (!n) {
			pr_err("out of memory\n");
			return -1;
		}
		pp->thp = n;
		n[pp->nr_thp * 2] = v->start;
		n[pp->nr_thp * 2 + 1] = v->end;
		pp->nr_thp++;
	}
	return 0;
}

struct predump_pages *predump_find_shared(pid_t pid, struct mm_dump *md, struct dump_stats *st,
					  const struct page_opts *po, const struct mm_parent *parent)
{
	struct predump_pages *pp = calloc(1, sizeof(*pp));

	if (!pp) {
		pr_err("out of memory\n");
		return NULL;
	}
	page_sets_init(&pp->ps);
	if (collect_pages(pid, md, &pp->ps, st, po, parent) || find_thp_areas(pp, md)) {
		predump_free(pp);
		return NULL;
	}
	return pp;
}

struct predump_pages *predump_find(pid_t pid, struct mm_dump *md, struct dump_stats *st, const struct page_opts *po)
{
	/* no parent process sharing: a pre-dump saves each process's pages whole */
	return predump_find_shared(pid, md, st, po, NULL);
}

void predump_lists(const struct predump_pages *pp, const struct page_list **anon, const struct page_list **file,
		   const struct page_list **hidden)
{
	*anon = &pp->ps.anon;
	*file = &pp->ps.file;
	*hidden = &pp->ps.hidden;
}

void predump_free(struct predump_pages *pp)
{
	if (!pp)
		return;
	page_sets_free(&pp->ps);
	free(pp->thp);
	free(pp);
}

static int all_zero(const char *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

#define LIVE_CHUNK	256	/* pages read at a time */

/*
 * Copy @pl from the running task through /proc/PID/mem (it reads what the
 * task can't, too). Pages that went away meanwhile (unmapped) are left
 * out: the next dump finds them gone, or written, and does not take them
 * from here. Runs of data become one entry each.
 */
#define PM_PRESENT	(1ULL << 63)
#define PM_FILE		(1ULL << 61)
#define PM_EXCLUSIVE	(1ULL << 56)	/* mapped once (mapcount 1) */

/*
 * Where a pre-dump reads the running task from. /proc/PID/mem copies a
 * page at a time (access_remote_vm(): a get_user_pages_remote() of one
 * page, a copy into a kernel page, a copy out), which bounds the copy at
 * ~1.8x a write() of the same bytes; process_vm_readv() walks the page
 * tables in batches and copies once. But it pins (FOLL_PIN), and a
 * read-only pin of an anonymous page that is not exclusive to the task
 * (shared copy-on-write after a fork) makes the kernel unshare it
 * (gup_must_unshare(): a copy for the task, the sharing lost). So it
 * only reads what /proc/PID/pagemap, read just before, says is present
 * and either page cache (never unshared by a short-term pin) or mapped
 * once; the rest (shared, swapped, gone, unreadable) through
 * /proc/PID/mem as before. A read-only pin changes no page table entry:
 * the userfaultfd write-protect bit stays and a later write is still
 * seen. A page mapped once that is not marked exclusive (its sharer
 * exited) is made exclusive in place (wp_can_reuse_anon_folio()), no
 * copy. CRIU_PREDUMP_PVM=0: /proc/PID/mem only (to compare).
 */
struct live_src {
	const struct predump_pages *pp;
	const struct page_reader *rd;	/* the snapshot's own reader, or NULL */
	int mem_fd;			/* /proc/PID/mem */
	int pm_fd;			/* /proc/PID/pagemap, or -1: mem_fd only */
	pid_t pid;
	uint64_t pm[LIVE_CHUNK];
	uint64_t pvm_pages, mem_pages;	/* how many went which way (the log) */
};

static bool pvm_ok(uint64_t e)
{
	return (e & PM_PRESENT) && (e & (PM_FILE | PM_EXCLUSIVE));
}

static void not_exclusive(struct live_src *src, uint64_t addr, size_t n, uint64_t s, uint64_t e)
{
	s = s > addr ? s : addr;
	e = e < addr + n * PAGE_SIZE ? e : addr + n * PAGE_SIZE;
	for (; s < e; s += PAGE_SIZE)
		src->pm[(s - addr) >> PAGE_SHIFT] &= ~PM_EXCLUSIVE;
}

/*
 * Large folios: pagemap's bit 56 is wrong for a PMD-mapped THP (the
 * head page's mapcount, for all 512: a page a child shares reads as
 * exclusive), and a page mapped once of a large folio a child still
 * maps partly is copied by the unshare (the folio can't be reused).
 * Page cache pages are never unshared (PM_FILE): they stay fast.
 */
static void not_exclusive_thp(struct live_src *src, uint64_t addr, size_t n)
{
	struct page_region r[16];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = addr,
		.end = addr + n * PAGE_SIZE,
		.vec = (unsigned long)r,
		.vec_len = ARRAY_SIZE(r),
		.category_anyof_mask = PAGE_IS_HUGE,
		.return_mask = PAGE_IS_HUGE,
	};
	long got;

	for (size_t i = 0; src->pp && i < src->pp->nr_thp; i++)
		not_exclusive(src, addr, n, src->pp->thp[2 * i], src->pp->thp[2 * i + 1]);
	/* PMD-mapped anywhere (MADV_COLLAPSE works in any area) */
	do {
		got = ioctl(src->pm_fd, PAGEMAP_SCAN, &arg);
		if (got < 0) {
			not_exclusive(src, addr, n, addr, addr + n * PAGE_SIZE);
			return;
		}
		for (long i = 0; i < got; i++)
			not_exclusive(src, addr, n, r[i].start, r[i].end);
	} while (got == (long)ARRAY_SIZE(r) && arg.walk_end < arg.end && (arg.start = arg.walk_end));
}

/* As pread() of @len (at most LIVE_CHUNK pages) at @addr answers: what was read from @addr on, or -1. */
static ssize_t read_live(struct live_src *src, char *buf, size_t len, uint64_t addr)
{
	size_t n = len >> PAGE_SHIFT, done = 0;

	if (src->rd)
		return src->rd->read(src->rd->arg, buf, len, addr);
	if (src->pm_fd < 0 || pread(src->pm_fd, src->pm, n * sizeof(uint64_t), (addr >> PAGE_SHIFT) * sizeof(uint64_t)) !=
				      (ssize_t)(n * sizeof(uint64_t))) {
		src->mem_pages += n;
		return pread(src->mem_fd, buf, len, addr);
	}
	not_exclusive_thp(src, addr, n);
	while (done < n) {
		size_t k = done;
		bool fast = pvm_ok(src->pm[done]);
		ssize_t r = -1;

		while (k < n && pvm_ok(src->pm[k]) == fast)
			k++;
		if (fast) {
			struct iovec lv = { buf + done * PAGE_SIZE, (k - done) * PAGE_SIZE };
			struct iovec rv = { (void *)(uintptr_t)(addr + done * PAGE_SIZE), (k - done) * PAGE_SIZE };

			r = process_vm_readv(src->pid, &lv, 1, &rv, 1, 0);
			if (r >= 0 && r < PAGE_SIZE)
				r = -1;	/* not even a page: through /proc/PID/mem, which says why */
			if (r > 0)
				src->pvm_pages += r >> PAGE_SHIFT;
			/* short (unmapped, made unreadable meanwhile): the rest of the run as before */
			if (r > 0 && r < (ssize_t)lv.iov_len) {
				done += r >> PAGE_SHIFT;
				continue;
			}
		}
		if (!fast || r < 0) {
			r = pread(src->mem_fd, buf + done * PAGE_SIZE, (k - done) * PAGE_SIZE, addr + done * PAGE_SIZE);
			if (r > 0)
				src->mem_pages += r >> PAGE_SHIFT;
		}
		if (r <= 0)
			return done ? (ssize_t)(done * PAGE_SIZE) : r;
		done += r >> PAGE_SHIFT;
		if (done < k)
			break;	/* a short read: stop there, as pread() would */
	}
	return done * PAGE_SIZE;
}

/* @n pages (at most LIVE_CHUNK) at @addr: runs of data become one entry each. */
static int copy_live_chunk(struct page_xfer *x, struct live_src *src, uint64_t addr, uint64_t left, int skip_zero,
			   char *buf)
{
	while (left) {
		uint64_t n = left, run = 0, run_addr = 0, got;
		ssize_t r = read_live(src, buf, n * PAGE_SIZE, addr);

		if (r < 0 && src->rd && errno == ECANCELED)
			return -1;	/* the reader gave up (and said why) */
		if (r < 0 && n > 1) {
			n = 1;	/* somewhere in there a page went away: find out which, page by page */
			r = read_live(src, buf, PAGE_SIZE, addr);
		}
		got = r > 0 ? (uint64_t)r >> PAGE_SHIFT : 0;
		if (!got)
			pr_debug("pre-dump: page %lx of %d went away while we copied\n", (unsigned long)addr, src->pid);
		for (uint64_t k = 0; k <= got; k++) {
			int keep = k < got && !(skip_zero && all_zero(buf + k * PAGE_SIZE));

			if (keep && !run++)
				run_addr = k;
			if (keep)
				continue;
			if (skip_zero && k < got)
				x->st->pages_zero++;
			if (!run)
				continue;
			if (store_pages(x, addr + run_addr * PAGE_SIZE, run, buf + run_addr * PAGE_SIZE, NULL)) {
				pr_err("can't write the pre-dump pages of %d\n", src->pid);
				return -1;
			}
			x->st->pages_written += run;
			run = 0;
		}
		if (!got)
			got = 1;
		addr += got * PAGE_SIZE;
		left -= got;
	}
	return 0;
}

/*
 * A writer of a pre-dump: its page_xfer (its pages file), what it reads
 * from, and which chunks are its: the @w-th of every @nw LIVE_CHUNK
 * pieces of the lists, counted in @chunk from the first list on. Two
 * writers take turns chunk by chunk, which keeps them even whatever the
 * memory looks like (a chunk of zero pages costs the read and no write).
 */
struct live_job {
	struct page_xfer x;
	struct dump_stats st;
	struct live_ents ents;
	const struct predump_pages *pp;
	struct live_src src;
	int w, nw;
	uint64_t chunk;
	char *buf;
	volatile int *stop;		/* a writer failed: no use going on for the other */
	int ret;
};

static int copy_live(struct live_job *j, const struct page_list *pl, int skip_zero)
{
	for (size_t i = 0; i < pl->nr; i++) {
		uint64_t addr = pl->r[i].start, left = pl->r[i].nr_pages;

		while (left) {
			uint64_t n = left > LIVE_CHUNK ? LIVE_CHUNK : left;

			if (j->stop && *j->stop)
				return -1;
			if (j->chunk++ % j->nw == (uint64_t)j->w &&
			    copy_live_chunk(&j->x, &j->src, addr, n, skip_zero, j->buf))
				return -1;
			addr += n * PAGE_SIZE;
			left -= n;
		}
	}
	return 0;
}

static void *copy_live_all(void *arg)
{
	struct live_job *j = arg;
	const struct page_sets *ps = &j->pp->ps;

	j->ret = copy_live(j, &ps->anon, 1) || copy_live(j, &ps->file, 0) || copy_live(j, &ps->hidden, 0) ? -1 : 0;
	if (j->ret && j->stop)
		*j->stop = 1;
	return NULL;
}

static int cmp_live_ent(const void *a, const void *b)
{
	const struct live_ent *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* The two writers' entries into the pagemap, in address order (their chunks interleave). */
static int write_live_ents(struct page_xfer *x, struct live_job *j, int nw)
{
	struct live_ent *all;
	size_t n = 0;
	int ret = 0;

	for (int w = 0; w < nw; w++)
		n += j[w].ents.n;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		pr_err("out of memory for the pagemap entries\n");
		return -1;
	}
	n = 0;
	for (int w = 0; w < nw; w++)
		for (size_t k = 0; k < j[w].ents.n; k++) {
			all[n++] = j[w].ents.e[k];
		}
	qsort(all, n, sizeof(*all), cmp_live_ent);
	for (size_t k = 0; k < n && !ret; k++) {
		/* writer w writes file w */
		ret = write_pagemap_in(x, all[k].vaddr, all[k].nr, all[k].off, j[all[k].file].ents.csum + all[k].csum,
				       all[k].file);
	}
	free(all);
	return ret;
}

int predump_copy(struct predump_pages *pp, pid_t pid, int dfd, uint32_t pages_id, struct dump_stats *st)
{
	return predump_copy_via(pp, pid, dfd, pages_id, st, NULL);
}

int predump_copy_via(struct predump_pages *pp, pid_t pid, int dfd, uint32_t pages_id, struct dump_stats *st,
		     const struct page_reader *rd)
{
	struct page_xfer x = { .st = st, .pages_fd = -1, .map_fd = -1, .fd1 = -1, .map_fd1 = -1 };
	struct live_job j[2] = { { .nw = 1 }, { .nw = 1 } };
	PagemapHead ph = PAGEMAP_HEAD__INIT;
	struct cr_img *pages = NULL;
	char path[64];
	int mem_fd, pm_fd = -1, ret = -1, nw = 1;
	const char *pvm = getenv("CRIU_PREDUMP_PVM");
	volatile int stop = 0;
	uint64_t t0 = now_us();
	pthread_t th;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	/* a reader of its own has what it reads from (and says when the task is gone) */
	mem_fd = rd ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (!rd && mem_fd < 0 && (errno == ENOENT || errno == ESRCH)) {
		/* it exited since the tree was let go: nothing of it to keep (the next dump has no parent for it) */
		pr_info("pre-dump: process %d exited meanwhile: left out\n", pid);
		return 0;
	}
	if (!rd && mem_fd < 0) {
		pr_perror("can't read the memory of %d", pid);
		goto out;
	}
	if (!rd && !(pvm && !strcmp(pvm, "0"))) {
		/* which pages process_vm_readv() may read (read_live()); without it, /proc/PID/mem for all */
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
		pm_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pm_fd < 0)
			pr_warn("pre-dump: can't open %s (%s): reading through /proc/PID/mem only\n", path,
				strerror(errno));
	}
	/*
	 * Two pages files, a writer thread each, as a dump has them
	 * (pages_files()): a thread reading /proc/PID/mem and writing one
	 * file goes at one write()'s speed at best. A reader of its own
	 * (the snapshot's) is one writer's.
	 */
	if (open_page_images(&x, &ph, dfd, pid, pages_id, 0,
			     rd ? 0 : pp->ps.anon.total_pages + pp->ps.file.total_pages + pp->ps.hidden.total_pages,
			     &pages))
		goto out;
	if (x.pages1)
		nw = 2;
	for (int w = 0; w < nw; w++) {
		j[w].x = x;
		j[w].pp = pp;
		j[w].src.pp = pp;
		j[w].src.rd = rd;
		j[w].src.mem_fd = mem_fd;
		j[w].src.pm_fd = pm_fd;
		j[w].src.pid = pid;
		j[w].w = w;
		j[w].nw = nw;
		j[w].buf = malloc(LIVE_CHUNK * PAGE_SIZE);
		if (!j[w].buf) {
			pr_err("out of memory\n");
			goto out;
		}
		if (nw == 1)
			continue;
		/* each its own file, stats and entries (x's own are not thread-safe) */
		j[w].x.st = &j[w].st;
		j[w].x.ents = &j[w].ents;
		j[w].x.csum = NULL;
		j[w].x.csum_cap = 0;
		j[w].x.wfile = w;
		j[w].x.pages_fd = w ? x.fd1 : x.pages_fd;
		j[w].stop = &stop;
	}
	if (nw == 2 && pthread_create(&th, NULL, copy_live_all, &j[1])) {
		pr_err("can't start the second writer of %d\n", pid);
		goto out;
	}
	copy_live_all(&j[0]);
	if (nw == 2) {
		pthread_join(th, NULL);
		for (int w = 0; w < nw; w++) {
			st->pages_written += j[w].st.pages_written;
			st->pages_zero += j[w].st.pages_zero;
		}
	}
	if (j[0].ret || (nw == 2 && j[1].ret))
		goto out;
	if (nw == 2 && write_live_ents(&x, j, nw))
		goto out;
	if (write_dataless_all(x.pagemap, &pp->ps, st) || close_page_images(&x))
		goto out;
	ret = 0;
out:
	st->memwrite_time += now_us() - t0;
	comp_free(x.comp);
	for (int w = 0; w < 2; w++) {
		free(j[w].buf);
		free(j[w].x.csum);	/* x's own is never taken: the writers store */
		free(j[w].ents.e);
		free(j[w].ents.csum);
	}
	if (!rd)
		pr_info("pre-dump of %d: %lu pages read by process_vm_readv(), %lu through /proc/PID/mem\n", pid,
			(unsigned long)(j[0].src.pvm_pages + j[1].src.pvm_pages),
			(unsigned long)(j[0].src.mem_pages + j[1].src.mem_pages));
	if (mem_fd >= 0)
		close(mem_fd);
	if (pm_fd >= 0)
		close(pm_fd);
	return close_images(&x, pages, ret);
}
