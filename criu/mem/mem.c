/*
 * Memory: which areas a task has and how each comes back, and the page
 * path: PAGEMAP_SCAN finds the pages worth saving, the parasite vmsplices
 * them into pipes, and we splice the pipes into the pages file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "aio.h"
#include "compel/compel.h"
#include "cow.h"
#include "crtools.h"
#include "ipc-sysv.h"
#include "fileobj.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "pagemap.pb-c.h"
#include "pagerange.h"
#include "parasite.h"
#include "shmem.h"
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

static int classify_file_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v, struct file_table *ft)
{
	char mf[128];
	struct stat st;
	int flags;

	if (p->shared && p->deleted && !strcmp(p->name, "/dev/zero")) {
		v->kind = VMA_KIND__VMA_SHMEM;
		v->flags = MAP_SHARED;
		v->has_shmem_id = true;
		return shmem_add_vma(ft, pid, p->start, p->end, &v->shmem_id);
	}
	if (p->shared && p->deleted && !strncmp(p->name, "/SYSV", 5))
		return sysvshm_add_vma(pid, p, v);
	if (p->deleted) {
		/* an unlinked file or a memfd: its contents travel in files.img */
		v->kind = p->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
		v->flags = p->shared ? MAP_SHARED : MAP_PRIVATE;
		v->has_file_id = true;
		flags = (p->shared && (p->prot & PROT_WRITE)) ? O_RDWR : O_RDONLY;
		return fileobj_add_vma(ft, pid, p, flags, &v->file_id);
	}

	/* The file behind the area must still be the one at that path. */
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)p->start, (unsigned long)p->end);
	if (stat(mf, &st)) {
		pr_perror("can't stat %s", mf);
		return -1;
	}
	struct stat pst;

	if (stat(p->name, &pst) || pst.st_ino != st.st_ino || pst.st_dev != st.st_dev)
		return refuse_vma(pid, p, "the file at that path is not the mapped one any more");
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return refuse_vma(pid, p, "not a regular file");

	v->kind = p->shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	v->flags = p->shared ? MAP_SHARED : MAP_PRIVATE;
	flags = (p->shared && (p->prot & PROT_WRITE)) ? O_RDWR : O_RDONLY;
	v->has_file_id = true;
	return file_table_add_path(ft, p->name, flags, &st, &v->file_id);
}

static int classify_vma(pid_t pid, const struct proc_vma *p, VmaEntry *v, struct file_table *ft)
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
		return classify_file_vma(pid, p, v, ft);
	if (!strncmp(name, "memfd:", 6))
		return refuse_vma(pid, p, "memfd mappings are not supported yet");
	return refuse_vma(pid, p, "this kind of memory area is not supported");
}

/*
 * VmFlags of /proc/PID/smaps: what madvise/mlock set on an area is not in
 * maps but must come back. Bit N of the result means madvise(N); the
 * MADV_LOCK pseudo-advice means mlock.
 */
struct vmflag {
	char name[3];
	int advice;		/* -1: refuse the area */
	const char *why;
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
	{ "ht", -1, "hugetlbfs memory is not supported yet" },
	{ "um", -1, "memory registered with userfaultfd is not supported" },
	{ "uw", -1, "memory registered with userfaultfd is not supported" },
	{ "ui", -1, "memory registered with userfaultfd is not supported" },
	{ "sl", -1, "sealed memory (mseal) is not supported yet" },
	{ "io", -1, "device (VM_IO) memory is not supported" },
	{ "pf", -1, "device (PFN) memory is not supported" },
};

static int parse_vmflags(pid_t pid, const struct proc_vma *p, const char *flags, uint64_t *madv, int *growsdown,
			 int *maywrite)
{
	*madv = 0;
	*growsdown = 0;
	*maywrite = 0;
	for (const char *f = flags; *f; ) {
		while (*f == ' ')
			f++;
		if (!f[0] || !f[1])
			break;
		if (f[0] == 'g' && f[1] == 'd')
			*growsdown = 1;
		if (f[0] == 'm' && f[1] == 'w')
			*maywrite = 1;
		for (size_t i = 0; i < ARRAY_SIZE(vmflags); i++) {
			if (f[0] != vmflags[i].name[0] || f[1] != vmflags[i].name[1])
				continue;
			/* the vDSO and friends are special mappings: the kernel's business */
			if (vmflags[i].advice < 0 && !(p->name && p->name[0] == '['))
				return refuse_vma(pid, p, vmflags[i].why);
			if (vmflags[i].advice >= 0)
				*madv |= 1ULL << vmflags[i].advice;
		}
		f += 2;
	}
	return 0;
}

/* Attach the VmFlags of each area in smaps to md's areas. */
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

static int collect_vmflags(pid_t pid, struct mm_dump *md, struct file_table *ft)
{
	char *smaps = read_proc_file(pid, "smaps", NULL), *line, *save = NULL;
	struct proc_vma cur = { 0 };
	int have = 0, ret = 0;
	size_t vi = 0;

	if (!smaps) {
		pr_perror("can't read /proc/%d/smaps", pid);
		return -1;
	}
	for (line = strtok_r(smaps, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "VmFlags:", 8)) {
			uint64_t madv;
			int gd, mw;

			if (!have)
				continue;
			ret = parse_vmflags(pid, &cur, line + 8, &madv, &gd, &mw);
			while (vi < md->nr_vmas && md->vmas[vi].start < cur.start)
				vi++;
			if (!ret && vi < md->nr_vmas && md->vmas[vi].start == cur.start) {
				VmaEntry *v = &md->vmas[vi];

				v->has_madv = madv != 0;
				v->madv = madv;
				if (gd)
					v->flags |= MAP_GROWSDOWN;
				if (mw && v->kind == VMA_KIND__VMA_FILE_SHARED && !(v->prot & PROT_WRITE))
					ret = shared_maywrite(pid, v, cur.name, ft);
				if (mw && v->kind == VMA_KIND__VMA_SYSVSHM)
					v->flags &= ~SHM_RDONLY;
			}
			continue;
		}
		/* area header lines look like maps lines; "Key: value" lines do not parse */
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
			free(cur.name);
			memset(&cur, 0, sizeof(cur));
			have = parse_maps_line(line, &cur) == 0;
		}
	}
	free(cur.name);
	free(smaps);
	return ret;
}

int collect_vmas(pid_t pid, struct proc_vma *pv, int nr, struct file_table *ft, struct mm_dump *md)
{
	md->vmas = calloc(nr ? nr : 1, sizeof(*md->vmas));
	md->vma_ptrs = calloc(nr ? nr : 1, sizeof(*md->vma_ptrs));
	if (!md->vmas || !md->vma_ptrs) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < nr; i++) {
		if (pv[i].name && !strcmp(pv[i].name, "[vsyscall]"))
			continue;
		if (classify_vma(pid, &pv[i], &md->vmas[md->nr_vmas], ft))
			return -1;
		md->vma_ptrs[md->nr_vmas] = &md->vmas[md->nr_vmas];
		md->nr_vmas++;
	}
	return collect_vmflags(pid, md, ft);
}

void free_mm_dump(struct mm_dump *md)
{
	for (size_t i = 0; md->vmas && i < md->nr_vmas; i++)
		aio_free(md->vmas[i].aio);
	free(md->vmas);
	free(md->vma_ptrs);
	md->vmas = NULL;
	md->vma_ptrs = NULL;
}

/* ---- finding pages ---- */

#define SCAN_VEC	512

/* Pages that hold data: present or swapped, not the zero page, not page cache. */
static int scan_vma_pagemap_scan(int pm_fd, const VmaEntry *v, struct page_list *pl, uint64_t *zero)
{
	struct page_region r[SCAN_VEC];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = v->start,
		.end = v->end,
		.vec = (unsigned long)r,
		.vec_len = SCAN_VEC,
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};

	while (arg.start < v->end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			pr_perror("PAGEMAP_SCAN %lx-%lx", (unsigned long)arg.start, (unsigned long)v->end);
			return -1;
		}
		for (long i = 0; i < n; i++)
			if (page_list_add(pl, r[i].start, (r[i].end - r[i].start) >> PAGE_SHIFT)) {
				pr_perror("page list");
				return -1;
			}
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	(void)zero;
	return 0;
}

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_FILE		(1ULL << 61)

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
			if ((buf[i] & (PM_PRESENT | PM_SWAP)) && !(buf[i] & PM_FILE) && page_list_add(pl, addr, 1))
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

static int write_pagemap(struct page_xfer *x, uint64_t vaddr, uint64_t nr_pages, uint64_t off)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = vaddr;
	pe.nr_pages = nr_pages;
	pe.off = off;
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
	int wr[NR_PIPES];
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
	}
	/* every page may come back as its own iovec: keep a round within out[] */
	x->pipe_pages = sz / PAGE_SIZE;
	if (x->pipe_pages > PARASITE_MAX_IOVS / NR_PIPES)
		x->pipe_pages = PARASITE_MAX_IOVS / NR_PIPES;

	((union parasite_args *)x->args)->nr_pipes = NR_PIPES;
	if (compel_rpc_call(x->ctl, PARASITE_CMD_TAKE_PIPES) || compel_send_fds(x->ctl, wr, NR_PIPES) ||
	    compel_rpc_sync(x->ctl, PARASITE_CMD_TAKE_PIPES) < 0) {
		pr_perror("handing pipes to the parasite");
		return -1;
	}
	return 0;
}

static void xfer_close(struct page_xfer *x)
{
	for (int i = 0; i < NR_PIPES; i++)
		for (int j = 0; j < 2; j++)
			if (x->pipes[i][j] > 0)
				close(x->pipes[i][j]);
}

/* One round: fill up to NR_PIPES pipes in the task, then drain them here. */
static int xfer_round(struct page_xfer *x, const struct page_list *pl, struct page_cursor *cur, int skip_zero,
		      int *done)
{
	struct parasite_pages *p = x->args;
	size_t used = 0;
	uint32_t np = 0;
	uint64_t t0;

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

	t0 = now_us();
	for (uint32_t i = 0, k = 0; i < np; i++) {
		uint64_t expect = 0, off = x->off;

		if (p->nr_out[i] > PARASITE_MAX_IOVS - k) {
			pr_err("parasite reported %u iovecs for pipe %u\n", p->nr_out[i], i);
			return -1;
		}
		for (uint32_t j = 0; j < p->nr_out[i]; j++)
			expect += p->out[k + j].iov_len;
		if (p->nr_bytes[i] != expect) {
			pr_err("parasite spliced %lu bytes instead of %lu\n", (unsigned long)p->nr_bytes[i],
			       (unsigned long)expect);
			return -1;
		}
		if (drain_pipe(x, x->pipes[i][0], expect, off))
			return -1;
		for (uint32_t j = 0; j < p->nr_out[i]; j++, k++) {
			if (write_pagemap(x, (unsigned long)p->out[k].iov_base, p->out[k].iov_len >> PAGE_SHIFT, off))
				return -1;
			off += p->out[k].iov_len;
		}
		x->off = off;
		x->st->pages_written += expect >> PAGE_SHIFT;
	}
	x->st->memwrite_time += now_us() - t0;
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
	for (size_t i = 0; i < pl->nr; i++) {
		uint64_t addr = pl->r[i].start, left = pl->r[i].nr_pages * PAGE_SIZE;

		if (write_pagemap(x, addr, pl->r[i].nr_pages, x->off))
			goto out;
		while (left) {
			size_t chunk = left > PAGE_SIZE * 64 ? PAGE_SIZE * 64 : left;

			if (pread(fd, buf, chunk, addr) != (ssize_t)chunk) {
				pr_perror("reading memory of %d at %lx", pid, (unsigned long)addr);
				goto out;
			}
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

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	for (size_t i = 0; i < md->nr_vmas && !ret; i++) {
		const VmaEntry *v = &md->vmas[i];
		struct page_list *l = !(v->prot & PROT_READ) ? hidden :
				      v->kind == VMA_KIND__VMA_FILE_PRIVATE ? file : anon;

		if (!vma_is_private_mem(v))
			continue;
		st->pages_scanned += (v->end - v->start) >> PAGE_SHIFT;
		if (kdat.has_pagemap_scan)
			ret = scan_vma_pagemap_scan(fd, v, l, &st->pages_zero);
		else
			ret = scan_vma_pagemap(fd, v, l);
	}
	close(fd);
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

/* Leave out of @anon and @hidden what the task shares with its parent; it goes to @inh. */
static int split_inherited(pid_t pid, struct mm_dump *md, const struct mm_parent *parent, struct page_list *anon,
			   struct page_list *hidden, struct page_list *inh)
{
	struct page_list l[2] = { *anon, *hidden };
	int ret = cow_split_inherited(pid, md, parent, l, 2, inh);

	*anon = l[0];
	*hidden = l[1];
	if (!ret)
		pr_info("task %d: %lu pages still shared with its parent %d left out\n", pid,
			(unsigned long)(inh[0].total_pages + inh[1].total_pages), parent->pid);
	return ret;
}

int dump_pages(struct parasite_ctl *ctl, pid_t pid, int dfd, struct mm_dump *md, struct dump_stats *st,
	       uint32_t pages_id, const struct mm_parent *parent)
{
	struct page_xfer x = { .ctl = ctl, .args = compel_parasite_args(ctl), .st = st };
	PagemapHead ph = PAGEMAP_HEAD__INIT;
	struct page_list anon, file, hidden, inh[2];
	struct page_cursor cur = { 0 };
	struct cr_img *pages = NULL;
	int done = 0, ret = -1;

	page_list_init(&anon);
	page_list_init(&file);
	page_list_init(&hidden);
	page_list_init(&inh[0]);
	page_list_init(&inh[1]);
	memset(x.pipes, -1, sizeof(x.pipes));
	if (collect_pages(pid, md, &anon, &file, &hidden, st))
		goto out;
	if (parent && split_inherited(pid, md, parent, &anon, &hidden, inh))
		goto out;
	pr_info("task %d: %lu pages to dump (%lu anonymous, %lu of files, %lu in unreadable areas) of %lu scanned\n",
		pid, (unsigned long)(anon.total_pages + file.total_pages + hidden.total_pages),
		(unsigned long)anon.total_pages, (unsigned long)file.total_pages, (unsigned long)hidden.total_pages,
		(unsigned long)st->pages_scanned);

	x.pagemap = open_image_at(dfd, CR_FD_PAGEMAP, O_DUMP, pid);
	pages = open_image_at(dfd, CR_FD_PAGES, O_DUMP, pages_id);
	if (!x.pagemap || !pages)
		goto out;
	x.pages_fd = pages->fd;
	ph.pages_id = pages_id;
	if (pb_write_one(x.pagemap, &ph))
		goto out;
	if (xfer_setup(&x))
		goto out;
	while (!done)
		if (xfer_round(&x, &anon, &cur, 1, &done))
			goto out;
	memset(&cur, 0, sizeof(cur));
	done = 0;
	while (!done)
		if (xfer_round(&x, &file, &cur, 0, &done))
			goto out;
	pr_info("task %d: %lu all-zero pages left out\n", pid, (unsigned long)st->pages_zero);
	if (copy_unreadable(&x, pid, &hidden))
		goto out;
	if (write_in_parent(&x, &inh[0]) || write_in_parent(&x, &inh[1]))
		goto out;
	ret = 0;
out:
	xfer_close(&x);
	close_image(x.pagemap);
	close_image(pages);
	page_list_free(&anon);
	page_list_free(&file);
	page_list_free(&hidden);
	page_list_free(&inh[0]);
	page_list_free(&inh[1]);
	return ret;
}
