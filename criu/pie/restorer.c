/*
 * The restorer: the last stage of a restore, running from the bootstrap
 * area after the restore child has opened everything it needs. It swaps
 * the child's address space for the dumped one, puts back the per-task
 * kernel state, and enters the saved registers through rt_sigreturn.
 */
#include <linux/aio_abi.h>
#include <linux/errno.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/auxvec.h>
#include <asm/prctl.h>
#include <asm/unistd.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>

#include "clone3-stack.h"
#include "compel/blob.h"
#include "csum.h"
#include "restorer.h"
#include "timer-pend.h"
#include "uffd-move.h"

#define sys_rt_sigqueueinfo(p, s, i)	__S(__NR_rt_sigqueueinfo, p, s, i, 0, 0, 0)

#define PAGE_SZ		4096UL

static struct restore_args *A;

/* An error goes to the log and to criu's stderr. */
static void say_error(const char *buf, int n)
{
	if (A && A->log_fd >= 0)
		sys_write(A->log_fd, buf, n);
	if (A && A->err_fd >= 0)
		sys_write(A->err_fd, buf, n);
}

static void fail(const char *what, long err)
{
	char buf[256];
	int n;

	n = blob_snprintf(buf, sizeof(buf), "Error (restorer): %d: %s failed: errno %ld\n",
			  (int)sys_getpid(), what, -err);
	say_error(buf, n);
	sys_exit_group(1);
}

static void progress(const char *what)
{
	char buf[128];
	int n;

	if (!A || A->log_fd < 0 || A->log_level < 4)
		return;
	struct {
		int64_t sec, nsec;
	} ts = { 0, 0 };

	/* microseconds since criu's log started, as its own lines count: what each step costs */
	__S(__NR_clock_gettime, CLOCK_MONOTONIC, &ts, 0, 0, 0, 0);
	n = blob_snprintf(buf, sizeof(buf), "restorer %d: at %lu us: %s\n", (int)sys_getpid(),
			  (unsigned long)(ts.sec * 1000000 + ts.nsec / 1000 - A->log_start_us), what);
	sys_write(A->log_fd, buf, n);
}

/*
 * Every syscall whose failure ends the restore goes through here, and so
 * it is also where fault injection fails one (CRIU_FAULT_RESTORER=N, the
 * Nth of each restorer, threads included; fault.h).
 */
static void check(long ret, const char *what)
{
	if (A && A->fault_at && __atomic_add_fetch(&A->fault_steps, 1, __ATOMIC_RELAXED) == A->fault_at) {
		char buf[160];
		int n = blob_snprintf(buf, sizeof(buf), "Error (restorer): %d: fault injection: restorer step %u: %s fails\n",
				      (int)sys_getpid(), A->fault_at, what);

		say_error(buf, n);
		ret = -EIO;
	}
	if (ret < 0 && ret > -4096)
		fail(what, ret);
}

/* With CRIU_FAULT_RESTORER=count, the log gets how many checked steps there were. */
static void count_steps(struct restore_args *a)
{
	char buf[96];
	int n;

	if (a->fault_at != ~0U || a->log_fd < 0)
		return;
	n = blob_snprintf(buf, sizeof(buf), "restorer %d: fault injection: %u steps\n", (int)sys_getpid(),
			  __atomic_load_n(&a->fault_steps, __ATOMIC_RELAXED));
	sys_write(a->log_fd, buf, n);
}

static void vdso_move(struct rst_vdso_part *from, uint64_t (*to)(int, void *), void *priv)
{
	for (int i = 0; i < VDSO_NR_PARTS; i++) {
		uint64_t len = from[i].end - from[i].start;
		uint64_t dst;
		long ret;

		if (!len)
			continue;
		dst = to(i, priv);
		if (!dst || dst == from[i].start)
			continue;	/* a part the task does not have stays parked, and goes with the bootstrap area */
		ret = sys_mremap(from[i].start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		if (ret != (long)dst)
			fail("moving the vDSO", ret);
	}
}

static uint64_t to_park(int i, void *priv)
{
	struct restore_args *a = priv;
	uint64_t off = 0;

	for (int j = 0; j < i; j++)
		off += a->self_vdso[j].end - a->self_vdso[j].start;
	return a->vdso_park + off;
}

static uint64_t to_target(int i, void *priv)
{
	return ((struct restore_args *)priv)->tgt_vdso[i].start;
}

/*
 * Two steps, through a parking place in the bootstrap area, so that a
 * target position overlapping our own vDSO can't clobber a part not yet
 * moved. Each part moves on its own: the task may have moved them apart.
 */
static void restore_vdso(struct restore_args *a)
{
	struct rst_vdso_part parked[VDSO_NR_PARTS];

	vdso_move(a->self_vdso, to_park, a);
	for (int i = 0; i < VDSO_NR_PARTS; i++) {
		uint64_t len = a->self_vdso[i].end - a->self_vdso[i].start;

		parked[i].start = len ? to_park(i, a) : 0;
		parked[i].end = parked[i].start + len;
	}
	vdso_move(parked, to_target, a);
}

/* Unmap everything but the bootstrap area and the (moved) vDSO. */
static void unmap_old(struct restore_args *a)
{
	struct rst_vdso_part keep[VDSO_NR_PARTS + 2 + RST_MAX_VM_KIDS];
	int nr = 0;
	uint64_t pos = 0;

	/* children sharing our memory wait in their bootstrap areas */
	for (uint32_t i = 0; i < a->nr_vm_kids; i++) {
		keep[nr].start = a->vm_kids[i].start;
		keep[nr++].end = a->vm_kids[i].start + a->vm_kids[i].len;
	}

	keep[nr].start = a->bootstrap_start;
	keep[nr++].end = a->bootstrap_start + a->bootstrap_len;
	if (a->premap_len) {
		keep[nr].start = a->premap_start;
		keep[nr++].end = a->premap_start + a->premap_len;
	}
	for (int i = 0; i < VDSO_NR_PARTS; i++)
		if (a->tgt_vdso[i].end > a->tgt_vdso[i].start)
			keep[nr++] = a->tgt_vdso[i];
	/* a handful of entries: insertion sort */
	for (int i = 1; i < nr; i++)
		for (int j = i; j > 0 && keep[j].start < keep[j - 1].start; j--) {
			struct rst_vdso_part t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < nr; i++) {
		if (keep[i].start > pos)
			check(sys_munmap(pos, keep[i].start - pos), "unmapping the restore child");
		if (keep[i].end > pos)
			pos = keep[i].end;
	}
	if (a->task_size > pos)
		check(sys_munmap(pos, a->task_size - pos), "unmapping the restore child");
}

/*
 * Areas built before the fork (cow.c) wait in the premap region, which no
 * area of the task overlaps: move them into place. The region goes, with
 * whatever else of the tree's is left in it, once the huge runs are moved
 * too (move_huge()).
 */
static void move_premapped(struct restore_args *a)
{
	if (!a->premap_len)
		return;
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint64_t len = v->end - v->start;
		long ret;

		if (!v->premap)
			continue;
		ret = sys_mremap(v->premap, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
		if (ret != (long)v->start)
			fail("moving a premapped memory area", ret);
	}
}

/*
 * Huge runs filled in the premap region (cow.c) go into their areas, just
 * mapped, with UFFDIO_MOVE: it moves the pages (a huge page as one PMD)
 * and leaves the area its own flags (no "hg" taken from the slot, which
 * mremap would move along). The userfaultfd is only for this: made
 * user-mode-only (anyone may), closed before any page is read in, as
 * the kernel's writes into a registered area would fail.
 */
static struct rst_vma *vma_of(struct restore_args *a, uint64_t addr);

static void move_huge(struct restore_args *a)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	long uffd;

	if (!a->nr_huge_runs)
		return;
	uffd = __S(__NR_userfaultfd, 02000000 /* O_CLOEXEC */ | UFFD_USER_MODE_ONLY, 0, 0, 0, 0, 0);
	check(uffd, "making a userfaultfd to move huge pages");
	check(__S(__NR_ioctl, uffd, UFFDIO_API, &api, 0, 0, 0), "UFFDIO_API");
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		struct uffdio_register r = { .range = { v->start, v->end - v->start }, .mode = UFFDIO_REGISTER_MODE_MISSING };

		if (v->huge_from)
			check(__S(__NR_ioctl, uffd, UFFDIO_REGISTER, &r, 0, 0, 0), "registering an area for huge pages");
	}
	/* run by run, no holes allowed: a page missing in the slot fails the restore */
	for (uint32_t k = 0; k < a->nr_huge_runs; k++) {
		uint64_t pos = a->huge_runs[k].start, end = pos + a->huge_runs[k].len;

		while (pos < end) {
			struct rst_vma *v = vma_of(a, pos);
			struct uffdio_move m = { .dst = pos, .mode = UFFDIO_MOVE_MODE_DONTWAKE };
			long ret;

			if (!v || !v->huge_from)
				fail("a huge run outside a huge area", -EINVAL);
			m.src = v->huge_from + (pos - v->start);
			m.len = (end < v->end ? end : v->end) - pos;
			ret = __S(__NR_ioctl, uffd, UFFDIO_MOVE, &m, 0, 0, 0);
			if (ret < 0 && ret != -EAGAIN)
				fail("moving huge pages into place (UFFDIO_MOVE)", ret);
			if (m.move <= 0)
				fail("moving huge pages into place (UFFDIO_MOVE)", m.move < 0 ? m.move : -EIO);
			pos += m.move;
		}
	}
	sys_close(uffd);
}

#define sys_shmat(id, addr, fl)	__S(__NR_shmat, id, addr, fl, 0, 0, 0)
#ifndef SHM_RDONLY
#define SHM_RDONLY	010000
#endif

/*
 * A SysV shm attachment. A whole segment is attached in place. A piece of
 * one (what is left after a split or a partial munmap) is attached
 * wherever the kernel likes and the piece moved into place; its place is
 * reserved first, so that the attach can't land on it.
 */
static void attach_sysvshm(struct rst_vma *v)
{
	uint64_t len = v->end - v->start;
	uint32_t prot = (v->flags & SHM_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
	long addr, ret;

	if (v->pgoff == 0 && len == v->shm_size) {
		addr = sys_shmat(v->fd, v->start, v->flags & SHM_RDONLY);
		if (addr != (long)v->start)
			fail("attaching a SysV shm segment", addr);
	} else {
		ret = sys_mmap(v->start, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (ret != (long)v->start)
			fail("reserving room for a SysV shm segment", ret);
		addr = sys_shmat(v->fd, 0, v->flags & SHM_RDONLY);
		check(addr, "attaching a SysV shm segment");
		ret = sys_mremap(addr + v->pgoff, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
		if (ret != (long)v->start)
			fail("moving a piece of a SysV shm segment", ret);
		if (v->pgoff)
			check(sys_munmap(addr, v->pgoff), "detaching the rest of a SysV shm segment");
		if (v->pgoff + len < v->shm_size)
			check(sys_munmap(addr + v->pgoff + len, v->shm_size - v->pgoff - len),
			      "detaching the rest of a SysV shm segment");
	}
	if (v->prot != prot)
		check(sys_mprotect(v->start, len, v->prot), "protecting a SysV shm segment");
}

static void map_vmas(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		uint32_t prot = v->prot;
		long ret;

		if (v->premap)
			continue;
		if (v->kind == RST_VMA_SYSVSHM) {
			attach_sysvshm(v);
			continue;
		}

		/* a private area is writable until it is filled, if it gets pages or was writable once */
		prot = v->map_prot;
		ret = sys_mmap(v->start, v->end - v->start, prot, v->flags | MAP_FIXED,
			       v->kind == RST_VMA_ANON ? -1 : v->fd, v->kind == RST_VMA_ANON ? 0 : v->pgoff);
		if (ret != (long)v->start)
			fail("mapping a memory area", ret);
	}
}

static void map_vdso_proxy(struct restore_args *a)
{
	long ret;

	if (!a->proxy_len)
		return;
	ret = sys_mmap(a->proxy_start, a->proxy_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (ret != (long)a->proxy_start)
		fail("mapping the vDSO proxy", ret);
	memcpy((void *)a->proxy_start, a->proxy_image, a->proxy_len);
	check(sys_mprotect(a->proxy_start, a->proxy_len, PROT_READ | PROT_EXEC), "protecting the vDSO proxy");
}

static struct rst_vma *vma_of(struct restore_args *a, uint64_t addr)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++)
		if (a->vmas[i].start <= addr && addr < a->vmas[i].end)
			return &a->vmas[i];
	return 0;
}

/*
 * With the vDSO proxy, AT_SYSINFO_EHDR moves. libc reads it from the
 * auxv copy on the initial stack, not from the kernel's: patch that copy
 * too, if the stack still holds argc, argv, envp and auxv as the kernel
 * laid them out (checked against the saved auxv).
 */
static void patch_stack_auxv(struct restore_args *a)
{
	struct rst_vma *st = vma_of(a, a->mm.start_stack);
	uint64_t *p, *end, argc;
	uint32_t n = a->mm.auxv_size / 8;

	if (!a->proxy_len || !st)
		return;
	p = (uint64_t *)a->mm.start_stack;
	end = (uint64_t *)st->end;
	argc = *p;
	if (argc > (uint64_t)(end - p))
		return;
	p += argc + 2;				/* argc, argv[], NULL */
	while (p < end && *p)			/* envp[] */
		p++;
	p++;
	if (p + n > end)
		return;
	for (uint32_t i = 0; i + 1 < n; i += 2)
		if (p[i] != a->auxv[i] || (p[i] != AT_SYSINFO_EHDR && p[i + 1] != a->auxv[i + 1]))
			return;			/* not the layout we expect: leave it */
	for (uint32_t i = 0; i + 1 < n; i += 2)
		if (p[i] == AT_SYSINFO_EHDR)
			p[i + 1] = a->auxv[i + 1];
}

static size_t check_pages(struct restore_args *a, const void *p, size_t nr, const uint64_t *want)
{
	switch (a->csum_isa) {
	case CSUM_ISA_AES + CSUM_AES_SOFT:
		return csum_check_pages_aes_soft(p, nr, want);
	case CSUM_ISA_AES + CSUM_AES_AESNI:
		return csum_check_pages_aes_aesni(p, nr, want);
	case CSUM_ISA_AES + CSUM_AES_VAES256:
		return csum_check_pages_aes_vaes256(p, nr, want);
	case CSUM_ISA_AES + CSUM_AES_VAES512:
		return csum_check_pages_aes_vaes512(p, nr, want);
	case CSUM_AVX512:
		return csum_check_pages_avx512(p, nr, want);
	case CSUM_AVX2:
		return csum_check_pages_avx2(p, nr, want);
	case CSUM_NONE:
		return nr;
	}
	return csum_check_pages_scalar(p, nr, want);
}

static void page_damaged(struct restore_args *a, struct rst_pagemap *pm, uint64_t page)
{
	char buf[256];
	int n;

	n = blob_snprintf(buf, sizeof(buf), "Error (restorer): %d: %s: the page at offset %lu (address %lx) "
			  "is damaged (checksum mismatch)\n", (int)sys_getpid(), a->pages_name,
			  (unsigned long)(pm->off + page * PAGE_SZ), (unsigned long)(pm->vaddr + page * PAGE_SZ));
	say_error(buf, n);
	sys_exit_group(1);
}

struct k_iovec {
	uint64_t base, len;
};

/* One preadv() of @n iovecs from @off on, to the end (a short read goes on where it stopped). */
static void preadv_all(int fd, struct k_iovec *iov, int n, uint64_t off)
{
	while (n) {
		long ret = __S(__NR_preadv, fd, iov, n, off, 0, 0);

		if (ret == 0)
			fail("reading pages (file too short)", -EIO);
		check(ret, "reading pages");
		off += ret;
		while (n && (uint64_t)ret >= iov->len) {
			ret -= iov->len;
			iov++;
			n--;
		}
		if (n) {
			iov->base += ret;
			iov->len -= ret;
		}
	}
}

/*
 * Pages go in a batch at a time: pieces of pagemap entries whose data
 * follow each other in the pages file (the dump writes them so), up to
 * FILL_PAGES pages, with one preadv(); then each piece is checked against
 * its pages' checksums while it is still in the cache, which costs a few
 * percent of the copy, not another trip through memory. 256 KiB: the
 * kernel's copy leaves less of a bigger batch in the cache (XXH3 reads
 * 512 KiB just copied at ~10-25 GB/s here, 256 KiB at ~25-35, where 32 KiB
 * in L1 go at ~54); smaller batches cost more preadv() calls.
 */
#define FILL_PAGES	64

struct fill_batch {
	struct k_iovec iov[FILL_PAGES];
	uint32_t pm[FILL_PAGES];	/* the entry of each piece */
	uint64_t first[FILL_PAGES];	/* and its first page in it */
	int n;
	uint64_t pages, off;		/* pages in the batch, where its data start in the file */
};

static void fill_batch(struct restore_args *a, struct fill_batch *b)
{
	struct k_iovec rd[FILL_PAGES];

	if (!b->n)
		return;
	memcpy(rd, b->iov, b->n * sizeof(rd[0]));	/* preadv_all() moves through its copy */
	preadv_all(a->pages_fd, rd, b->n, b->off);
	for (int k = 0; k < b->n; k++) {
		struct rst_pagemap *pm = &a->pms[b->pm[k]];
		size_t nr = b->iov[k].len / PAGE_SZ, bad;

		bad = check_pages(a, (void *)b->iov[k].base, nr, pm->csum + b->first[k]);
		if (bad < nr)
			page_damaged(a, pm, b->first[k] + bad);
	}
	b->n = 0;
	b->pages = 0;
}

static void fill_pages(struct restore_args *a)
{
	struct fill_batch b = { .n = 0 };
	uint64_t next = 0;

	for (uint32_t i = 0; i < a->nr_pms; i++) {
		struct rst_pagemap *pm = &a->pms[i];

		for (uint64_t p = 0; p < pm->nr_pages;) {
			uint64_t at = pm->off + p * PAGE_SZ, take;

			if (b.n && (b.pages == FILL_PAGES || at != next))
				fill_batch(a, &b);
			if (!b.n)
				b.off = at;
			take = pm->nr_pages - p < FILL_PAGES - b.pages ? pm->nr_pages - p : FILL_PAGES - b.pages;
			b.iov[b.n].base = pm->vaddr + p * PAGE_SZ;
			b.iov[b.n].len = take * PAGE_SZ;
			b.pm[b.n] = i;
			b.first[b.n++] = p;
			b.pages += take;
			p += take;
			next = at + take * PAGE_SZ;
		}
	}
	fill_batch(a, &b);
}

#define sys_mlock2(a, l, f)	__S(__NR_mlock2, a, l, f, 0, 0, 0)
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT	0x01
#endif

/* bits 62 and 63 of madv: VMA_MADV_LOCKONFAULT and VMA_MADV_LOCK of mem.h */
static void advise_vma(struct rst_vma *v)
{
	for (int adv = 0; adv < 62; adv++)
		if (v->madv & (1ULL << adv))
			check(sys_madvise(v->start, v->end - v->start, adv), "madvise");
	/* on fault: the pages not in yet stay out, as they were */
	if (v->madv & (1ULL << 63))
		check(sys_mlock2(v->start, v->end - v->start, (v->madv & (1ULL << 62)) ? MLOCK_ONFAULT : 0),
		      "mlock");
}

#define MADV_GUARD_INSTALL	102

/* Before the protection and mlock: an mlock()ed area takes no guards. */
static void install_guards(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++)
		for (uint32_t k = 0; k < a->vmas[i].nr_guards; k++)
			check(sys_madvise(a->vmas[i].guards[k].start, a->vmas[i].guards[k].len, MADV_GUARD_INSTALL),
			      "installing a guard region");
}

#ifndef __NR_mseal
#define __NR_mseal	462	/* Linux 6.10 */
#endif
#define sys_mseal(a, l)	__S(__NR_mseal, a, l, 0, 0, 0, 0)

/* Last of the memory: a sealed area can't be changed any more, by us either. */
static void seal_vmas(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++)
		if (a->vmas[i].sealed)
			check(sys_mseal(a->vmas[i].start, a->vmas[i].end - a->vmas[i].start), "mseal");
}

#define sys_pkey_mprotect(s, l, p, k)	__S(__NR_pkey_mprotect, s, l, p, k, 0, 0)

static void protect_vmas(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];

		if (v->madv)
			advise_vma(v);
		/* merge-any made every area mergeable: one the task took out (MADV_UNMERGEABLE) goes out again */
		if (a->memory_merge && !(v->madv & (1ULL << MADV_MERGEABLE)))
			check(sys_madvise(v->start, v->end - v->start, MADV_UNMERGEABLE), "madvise(MADV_UNMERGEABLE)");

		if (v->pkey)
			check(sys_pkey_mprotect(v->start, v->end - v->start, v->prot, v->pkey),
			      "setting memory protection and key");
		else if (v->kind != RST_VMA_SYSVSHM && v->prot != v->map_prot)
			check(sys_mprotect(v->start, v->end - v->start, v->prot), "setting memory protection");
	}
}

/*
 * The mm's protection keys, by number: pkey_alloc() hands out the lowest
 * free one, so take keys until the wanted ones are ours and give back the
 * rest, before any area is mapped (cow_map_prot() keeps execute-only ones,
 * which would take a key of their own, readable until protect_vmas()).
 * Allocated with full access for this thread: its PKRU comes back with the
 * rest of its XSAVE state at sigreturn.
 */
static void restore_pkeys(struct restore_args *a)
{
	uint32_t got = 0;

	while ((got & a->pkeys) != a->pkeys) {
		long k = __S(__NR_pkey_alloc, 0, 0, 0, 0, 0, 0);

		if (k < 0)
			fail("allocating the protection keys", k);
		if (k >= 32)
			fail("allocating the protection keys", -ERANGE);
		got |= 1U << k;
	}
	for (int k = 1; k < 32; k++)
		if (got & ~a->pkeys & (1U << k))
			check(__S(__NR_pkey_free, k, 0, 0, 0, 0, 0), "freeing a protection key");
}

#define sys_set_tid_address(p)		__S(__NR_set_tid_address, p, 0, 0, 0, 0, 0)
#define sys_set_robust_list(h, l)	__S(__NR_set_robust_list, h, l, 0, 0, 0, 0)

/*
 * The speculation mitigations a thread asked for with PR_SET_SPECULATION_CTRL
 * (a browser's sandbox, a task that disabled store bypass for itself): each
 * thread's own, not inherited from the restorer. A disabled one is
 * security the task counts on: failing to set it fails the restore. One
 * enabled that is disabled here (criu itself runs mitigated) stays
 * disabled: slower, never less safe.
 */
#define SPEC_MODES	(PR_SPEC_ENABLE | PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE | PR_SPEC_DISABLE_NOEXEC)

static void restore_spec_ctrl(const struct rst_thread *t)
{
	for (int i = 0; i < NR_SPEC_CTRL; i++) {
		uint32_t want = t->spec[i] & SPEC_MODES;
		long now;

		if (!(t->spec[i] & PR_SPEC_PRCTL) || !want)
			continue;
		now = sys_prctl(PR_GET_SPECULATION_CTRL, i, 0, 0, 0);
		/* forced off here (criu runs so) is as safe as anything asked for, and can't change */
		if (now < 0 || (now & SPEC_MODES) == want || (now & PR_SPEC_FORCE_DISABLE))
			continue;
		if (want == PR_SPEC_ENABLE)
			sys_prctl(PR_SET_SPECULATION_CTRL, i, PR_SPEC_ENABLE, 0, 0);
		else
			check(sys_prctl(PR_SET_SPECULATION_CTRL, i, want, 0, 0), "PR_SET_SPECULATION_CTRL");
	}
}

/*
 * The thread's NUMA memory policy. MPOL_DEFAULT too, in place of the one
 * it was cloned with (criu's, the leader's), but only then: a sandbox may
 * forbid the calls (docker's seccomp profile without CAP_SYS_NICE).
 */
static void restore_mempolicy(const struct rst_thread *t)
{
	int cur = 0;

	if (t->mempolicy) {
		check(__S(__NR_set_mempolicy, t->mempolicy, t->mempolicy_nodes, MEMPOLICY_NODES, 0, 0, 0),
		      "set_mempolicy");
		return;
	}
	if (!__S(__NR_get_mempolicy, &cur, 0, 0, 0, 0, 0) && cur)
		check(__S(__NR_set_mempolicy, 0, 0, 0, 0, 0, 0), "set_mempolicy");
}

/*
 * What each thread, the leader too, sets for itself: TLS bases, rseq, tid
 * address, robust list, CPU affinity, I/O priority, TSC access, name,
 * speculation mitigations, memory policy, machine-check kill policy, cpuid faulting (nothing runs cpuid after it).
 * Before the credentials: an I/O class the task kept may need privileges
 * to set again.
 */
static void thread_self(struct rst_thread *t)
{
	check(sys_arch_prctl(ARCH_SET_FS, t->fs_base), "setting the fs base");
	check(sys_arch_prctl(ARCH_SET_GS, t->gs_base), "setting the gs base");
	if (t->rseq_size)
		check(__S(__NR_rseq, t->rseq_ptr, t->rseq_size, 0, t->rseq_sig, 0, 0), "registering rseq");
	sys_set_tid_address(t->clear_child_tid);
	if (t->robust_list)
		check(sys_set_robust_list(t->robust_list, t->robust_len), "set_robust_list");
	if (t->cpu_mask_len)
		check(__S(__NR_sched_setaffinity, 0, t->cpu_mask_len, t->cpu_mask, 0, 0, 0), "sched_setaffinity");
	if (t->ioprio)
		check(__S(__NR_ioprio_set, IOPRIO_WHO_PROCESS, 0, t->ioprio, 0, 0, 0), "ioprio_set");
	if (t->tsc)
		check(sys_prctl(PR_SET_TSC, t->tsc, 0, 0, 0), "PR_SET_TSC");
	check(sys_prctl(PR_SET_NAME, t->comm, 0, 0, 0), "naming a thread");
	restore_spec_ctrl(t);
	restore_mempolicy(t);
	/* also per thread and inherited from the leader (below too) */
	if (t->mce_kill != PR_MCE_KILL_DEFAULT)
		check(sys_prctl(PR_MCE_KILL, PR_MCE_KILL_SET, t->mce_kill, 0, 0), "PR_MCE_KILL");
	else if (sys_prctl(PR_MCE_KILL_GET, 0, 0, 0, 0) != PR_MCE_KILL_DEFAULT)
		check(sys_prctl(PR_MCE_KILL, PR_MCE_KILL_CLEAR, 0, 0, 0), "PR_MCE_KILL");
	/* a thread is cloned from the leader: it may have inherited the leader's faulting */
	if (t->cpuid_faulting)
		check(sys_arch_prctl(ARCH_SET_CPUID, 0), "ARCH_SET_CPUID");
	else if (sys_arch_prctl(ARCH_GET_CPUID, 0) == 0)
		check(sys_arch_prctl(ARCH_SET_CPUID, 1), "ARCH_SET_CPUID");
}

static void restore_task_state(struct restore_args *a)
{
	/* memory and signal handlers shared with the parent are the parent's to restore */
	if (!a->shares_mm) {
		a->mm.auxv = (uint64_t)a->auxv;
		check(sys_prctl(PR_SET_MM, PR_SET_MM_MAP, &a->mm, sizeof(a->mm), 0), "PR_SET_MM_MAP");
		for (int i = 0; i < NR_SIGNALS; i++) {
			if (i + 1 == SIGKILL || i + 1 == SIGSTOP)
				continue;
			check(sys_rt_sigaction(i + 1, &a->sa[i], 0, 8), "restoring a signal handler");
		}
	}
	/* the memory is in place: from now on a readable area may imply an executable one */
	if (a->personality)
		check(__S(__NR_personality, a->personality, 0, 0, 0, 0, 0), "personality");
	thread_self(&a->threads[0]);
	if (a->timer_slack)
		check(sys_prctl(PR_SET_TIMERSLACK, a->timer_slack, 0, 0, 0), "PR_SET_TIMERSLACK");
	if (a->child_subreaper)
		check(sys_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "PR_SET_CHILD_SUBREAPER");
	if (a->thp_disabled && !a->shares_mm)
		check(sys_prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), "PR_SET_THP_DISABLE");
	/* registrations belong to the mm: each REGISTER command that was run, again */
	for (int bit = 0; bit < 32 && !a->shares_mm; bit++)
		if (a->membarrier & (1U << bit))
			check(__S(__NR_membarrier, 1U << bit, 0, 0, 0, 0, 0), "registering for membarrier");
}

/*
 * Policy and nice, each thread its own (images without a thread's have
 * it take the process's). Not inherited from the leader: a thread
 * leaving SCHED_IDLE for another policy would need CAP_SYS_NICE, which a
 * task root in its user namespace only lacks.
 */
static void set_sched(int has, uint32_t policy, uint32_t sched_prio, int32_t nice)
{
	int32_t prio = sched_prio;

	if (!has)
		return;
	check(__S(__NR_sched_setscheduler, 0, policy, &prio, 0, 0, 0), "sched_setscheduler");
	check(__S(__NR_setpriority, PRIO_PROCESS, 0, nice, 0, 0, 0), "setpriority");
}

#define NSEC_PER_SEC	1000000000LL
#define TIMER_ABSTIME	1
#ifndef CLOCK_REALTIME
#define CLOCK_REALTIME	0
#endif
#ifndef CLOCK_BOOTTIME
#define CLOCK_BOOTTIME	7
#endif
#ifndef CLOCK_TAI
#define CLOCK_TAI	11
#endif
#define SIGEV_THREAD_ID	4

static int64_t spec_ns(int64_t sec, int64_t nsec)
{
	return sec * NSEC_PER_SEC + nsec;
}

/*
 * timer_getoverrun() tells the overruns of the timer's last signal, and
 * only a delivery sets it. That of a periodic timer of a wall or
 * monotonic clock (whose absolute times the kernel forwards by whole
 * intervals) can be made again: a timer due now at most one interval
 * away, armed at the absolute time N + 1 intervals before that, fires at
 * once; dequeuing its signal makes the kernel forward it to that very
 * expiry, counting N overruns. Only in a timer signalling the process or
 * the leader (the only thread yet), so that nobody else takes the signal.
 */
static int overrun_restorable(struct restore_args *a, const struct rst_timer *t)
{
	int64_t value = spec_ns(t->spec.value_sec, t->spec.value_nsec);
	int64_t iv = spec_ns(t->spec.interval_sec, t->spec.interval_nsec);

	/* one whose signal is pending reads 0 until it is taken: timer_settime() cleared it (timer-pend.h) */
	if (t->overrun <= 0 || iv <= 0 || value <= 0 || value > iv || t->sig_pending)
		return 0;
	if (t->clock != CLOCK_REALTIME && t->clock != CLOCK_MONOTONIC && t->clock != CLOCK_BOOTTIME &&
	    t->clock != CLOCK_TAI)
		return 0;
	if (t->sev.signo <= 0 || t->sev.signo > 64)
		return 0;
	return t->sev.notify == 0 || (t->sev.notify == SIGEV_THREAD_ID && t->sev.tid == a->pid);
}

static void make_overrun(struct rst_timer *t)
{
	int64_t value = spec_ns(t->spec.value_sec, t->spec.value_nsec);
	int64_t iv = spec_ns(t->spec.interval_sec, t->spec.interval_nsec), next, start, n = t->overrun;
	struct k_itimerspec s = t->spec;
	struct { int64_t sec, nsec; } now, wait = { 1, 0 };	/* it fires at once: a second is plenty */
	uint64_t set = 1ULL << (t->sev.signo - 1);
	uint8_t info[128];
	long ret;

	check(__S(__NR_clock_gettime, t->clock, &now, 0, 0, 0, 0), "clock_gettime");
	next = spec_ns(now.sec, now.nsec) + value;
	/* absolute times start at 0: as many overruns as fit before */
	if (n + 1 > next / iv)
		n = next / iv - 1;
	if (n <= 0) {
		check(__S(__NR_timer_settime, t->id, 0, &t->spec, 0, 0, 0), "timer_settime");
		return;
	}
	start = next - (n + 1) * iv;
	s.value_sec = start / NSEC_PER_SEC;
	s.value_nsec = start % NSEC_PER_SEC;
	check(__S(__NR_timer_settime, t->id, TIMER_ABSTIME, &s, 0, 0, 0), "timer_settime (its overrun)");
	ret = __S(__NR_rt_sigtimedwait, &set, info, &wait, 8, 0, 0);
	if (ret != t->sev.signo)
		fail("the signal of a timer armed in the past did not come", ret < 0 ? ret : -EINTR);
}

/*
 * The timers whose overrun counts, first (before the threads, with every
 * signal blocked and none queued yet: the signal taken is the timer's).
 */
static void restore_timer_overruns(struct restore_args *a)
{
	int on = 0;

	for (uint32_t i = 0; i < a->nr_timers; i++) {
		struct rst_timer *t = &a->timers[i];
		int32_t id = t->id;

		if (!overrun_restorable(a, t))
			continue;
		if (!on++) {
			uint64_t all = ~0ULL;

			/* glibc's sigprocmask() in criu left its own two signals out */
			check(sys_rt_sigprocmask(SIG_SETMASK, &all, 0, 8), "blocking every signal");
			check(sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0),
			      "PR_TIMER_CREATE_RESTORE_IDS");
		}
		check(__S(__NR_timer_create, t->clock, &t->sev, &id, 0, 0, 0), "timer_create");
		if (id != t->id)
			fail("timer_create did not give the timer its id back", -EINVAL);
		make_overrun(t);
		t->made = 1;
	}
	if (on)
		check(sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0),
		      "PR_TIMER_CREATE_RESTORE_IDS");
}

/*
 * Last, so that the timers start counting as late as possible. POSIX
 * timers get their ids back through PR_TIMER_CREATE_RESTORE_IDS (6.17+):
 * timer_create() then takes the id it is given.
 */
static void restore_timers(struct restore_args *a)
{
	for (int i = 0; i < NR_ITIMERS; i++)
		check(__S(__NR_setitimer, i, &a->itimer[i], 0, 0, 0, 0), "setitimer");
	if (!a->nr_timers)
		return;
	check(sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0),
	      "PR_TIMER_CREATE_RESTORE_IDS");
	for (uint32_t i = 0; i < a->nr_timers; i++) {
		struct rst_timer *t = &a->timers[i];
		int32_t id = t->id;

		if (t->made)
			continue;
		check(__S(__NR_timer_create, t->clock, &t->sev, &id, 0, 0, 0), "timer_create");
		if (id != t->id)
			fail("timer_create did not give the timer its id back", -EINVAL);
		if (t->sig_pending)
			check(timer_pend_signal(id, t->clock, t->sev.signo, &t->spec,
						spec_ns(t->spec.value_sec, t->spec.value_nsec), t->sig_overrun,
						t->sev.notify != SIGEV_THREAD_ID || t->sev.tid == a->pid),
			      "making a timer's pending signal pending again");
		else
			check(__S(__NR_timer_settime, id, 0, &t->spec, 0, 0, 0), "timer_settime");
	}
	check(sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0),
	      "PR_TIMER_CREATE_RESTORE_IDS");
}

/*
 * Each thread queues its own signals, the leader the shared ones too: the
 * kernel lets only the target itself queue siginfo of a kernel or tgkill()
 * origin (si_code >= 0 or SI_TKILL, e.g. from pthread_kill()).
 */
static void queue_signals(struct restore_args *a, int32_t tid)
{
	for (uint32_t i = 0; i < a->nr_siginfo; i++) {
		int32_t to = a->siginfo_tid[i];
		int sig = *(int32_t *)a->siginfo[i];
		long ret;

		if (to ? to != tid : tid != a->pid)
			continue;
		if (!to)
			ret = sys_rt_sigqueueinfo(a->pid, sig, a->siginfo[i]);
		else
			ret = sys_rt_tgsigqueueinfo(a->pid, to, sig, a->siginfo[i]);
		check(ret, "queueing a pending signal");
	}
}

#define SECBIT_KEEP_CAPS_BIT	(1 << 4)

/*
 * Groups the thread has already (kernel-sorted, as /proc showed them): in
 * a user namespace whose setgroups is "deny" setgroups() fails even then.
 */
static int same_groups(struct rst_creds *c)
{
	uint32_t cur[32];
	long n = sys_getgroups(32, cur);

	if (n < 0 || n != c->ngroups)
		return 0;
	for (long i = 0; i < n; i++)
		if (cur[i] != c->groups[i])
			return 0;
	return 1;
}

/*
 * Raw syscalls: they change the calling thread only, and every thread
 * sets its own. Groups and ids with keep-caps on, then the capabilities.
 */
#define CAP_SYS_ADMIN_BIT	(1ULL << 21)

static void set_caps(struct rst_creds *c, uint64_t extra, const char *what)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (c->cap_eff | extra) >> (32 * i);
		data[i].permitted = (c->cap_prm | extra) >> (32 * i);
		data[i].inheritable = c->cap_inh >> (32 * i);
	}
	check(sys_capset(&hdr, data), what);
}

/*
 * A seccomp filter is installed only with no_new_privs or CAP_SYS_ADMIN.
 * A container's task (runc, podman) has its filters but neither: it keeps
 * CAP_SYS_ADMIN from here until its filters are in (drop_kept_admin()).
 */
static uint64_t admin_for_seccomp(struct rst_creds *c, struct rst_seccomp *s, int no_new_privs)
{
	if (s->mode != SECCOMP_MODE_FILTER_ || !s->nr || no_new_privs || (c->cap_eff & CAP_SYS_ADMIN_BIT))
		return 0;
	return CAP_SYS_ADMIN_BIT;
}

static void drop_kept_admin(struct rst_creds *c, uint64_t kept)
{
	if (kept)
		set_caps(c, 0, "capset after the seccomp filters");
}

static void restore_creds(struct rst_creds *c, uint64_t keep)
{

	/* Keep capabilities across the uid change; dropped below if wanted. */
	check(sys_prctl(PR_SET_SECUREBITS, c->secbits | SECBIT_KEEP_CAPS_BIT, 0, 0, 0), "PR_SET_SECUREBITS");
	for (int i = 0; i <= c->cap_last; i++)
		if (!(c->cap_bnd & (1ULL << i)))
			check(sys_prctl(PR_CAPBSET_DROP, i, 0, 0, 0), "PR_CAPBSET_DROP");

	if (!same_groups(c))
		check(sys_setgroups(c->ngroups, c->groups), "setgroups");
	check(sys_setresgid(c->gid, c->egid, c->sgid), "setresgid");
	sys_setfsgid(c->fsgid);
	check(sys_setresuid(c->uid, c->euid, c->suid), "setresuid");
	sys_setfsuid(c->fsuid);

	set_caps(c, keep, "capset");
	if (!(c->secbits & SECBIT_KEEP_CAPS_BIT))
		check(sys_prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "PR_SET_KEEPCAPS");
	for (int i = 0; i <= c->cap_last; i++)
		if (c->cap_amb & (1ULL << i))
			check(sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0), "raising an ambient capability");
}

/*
 * Into the group stop with the signal that began it (the parent's
 * waitid() reports it): SIGSTOP gets through the blocked mask, the
 * others are unblocked for the moment of the kill, and the stop happens
 * on the way out of it. The tool passes the signal on.
 */
static void stop_again(struct restore_args *a)
{
	uint64_t sig = SIGMASK_BIT(a->stop_signo), all = ~0ULL;

	if (a->stop_signo != SIGSTOP)
		check(sys_rt_sigprocmask(SIG_UNBLOCK, &sig, 0, 8), "unblocking the stop signal");
	check(__S(__NR_tgkill, a->pid, a->pid, a->stop_signo, 0, 0, 0), "stopping the task again");
	if (a->stop_signo != SIGSTOP)
		check(sys_rt_sigprocmask(SIG_SETMASK, &all, 0, 8), "blocking signals again");
}

/*
 * The int3 of sigreturn() raises SIGTRAP by force: blocked, it would
 * reset the task's own SIGTRAP handler to the default. Unblocked, the
 * handler stays; the tool takes the trap and suppresses it. Before the
 * seccomp filters, which may forbid the call.
 */
static void unblock_trap(void)
{
	uint64_t trap = SIGMASK_BIT(SIGTRAP);

	check(sys_rt_sigprocmask(SIG_UNBLOCK, &trap, 0, 8), "unblocking SIGTRAP");
}

static void __attribute__((noinline, noreturn)) sigreturn(uint64_t sp)
{
	/* The tool waits on this trap, then lets rt_sigreturn run. */
	asm volatile("movq %0, %%rsp\n"
		     ".globl restorer_final_trap\n"
		     "restorer_final_trap:\n"
		     "int3\n"
		     "movq $15, %%rax\n"
		     "syscall\n"
		     "ud2\n"
		     : : "r"(sp) : "memory");
	__builtin_unreachable();
}

#define SECCOMP_SET_MODE_STRICT		0
#define SECCOMP_SET_MODE_FILTER		1
#define SECCOMP_FILTER_FLAG_TSYNC	(1UL << 0)
#define FUTEX_WAIT	0
#define FUTEX_WAKE	1

static void install_filters(struct rst_seccomp *s, uint32_t from, uint32_t to, uint32_t flags)
{
	for (uint32_t i = from; i < to; i++) {
		struct {
			uint16_t len;
			uint16_t pad[3];
			uint64_t filter;
		} prog = { .len = s->f[i].len, .filter = s->f[i].insns };
		long ret = __S(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags | s->f[i].flags, &prog, 0, 0, 0);

		/* with TSYNC, a positive return names a thread that could not take the filter */
		if (ret)
			fail("installing a seccomp filter", ret > 0 ? -EBUSY : ret);
	}
}

/*
 * Seccomp goes last: after it, nothing but rt_sigreturn should be needed,
 * and a filter may forbid anything else. The filters all threads share
 * the leader installs for all at once (TSYNC); a thread waits for them
 * before it adds its own on top.
 */
static void apply_seccomp(struct rst_seccomp *s, int leader)
{
	if (s->mode == SECCOMP_MODE_STRICT_) {
		check(sys_prctl(PR_SET_SECCOMP, 1, 0, 0, 0), "entering seccomp strict mode");
		return;
	}
	if (leader && s->shared) {
		install_filters(s, 0, s->shared, SECCOMP_FILTER_FLAG_TSYNC);
		__atomic_store_n(&A->seccomp_synced, 1, __ATOMIC_RELEASE);
		check(__S(__NR_futex, &A->seccomp_synced, FUTEX_WAKE, 0x7fffffff, 0, 0, 0), "waking the threads");
	}
	while (!leader && s->shared && !__atomic_load_n(&A->seccomp_synced, __ATOMIC_ACQUIRE)) {
		long ret = __S(__NR_futex, &A->seccomp_synced, FUTEX_WAIT, 0, 0, 0, 0);

		if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
			fail("waiting for the shared seccomp filters", ret);
	}
	install_filters(s, s->shared, s->nr, 0);
}

/*
 * After the pidfds: one may sit above the RLIMIT_NOFILE soft limit (opened
 * before the limit was lowered), and dup3 to it fails under the limit.
 */
#define RLIMIT_SIGPENDING_	11

/*
 * Pending signals are queued against RLIMIT_SIGPENDING: a task that lowered
 * it below what it has pending gets the lower value once they are all
 * queued again; a raise is made at once. Returns whether that is left.
 */
static int restore_rlimits(struct restore_args *a)
{
	struct k_rlimit cur, *sp = &a->rlim[RLIMIT_SIGPENDING_];
	int later = 0;

	for (uint32_t i = 0; i < a->nr_rlim; i++) {
		struct k_rlimit r = a->rlim[i];

		if (i == RLIMIT_SIGPENDING_ && a->nr_siginfo) {
			check(sys_prlimit64(0, i, 0, &cur), "reading RLIMIT_SIGPENDING");
			r.cur = sp->cur > cur.cur ? sp->cur : cur.cur;
			r.max = sp->max > cur.max ? sp->max : cur.max;
			later = r.cur != sp->cur || r.max != sp->max;
		}
		check(sys_prlimit64(0, i, &r, 0), "restoring a resource limit");
	}
	return later;
}

static void wait_threads_queued(struct restore_args *a)
{
	int32_t n;

	while ((n = __atomic_load_n(&a->threads_queued, __ATOMIC_ACQUIRE)) < (int32_t)a->nr_threads - 1) {
		long ret = __S(__NR_futex, &a->threads_queued, 0 /* FUTEX_WAIT */, n, 0, 0, 0);

		if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
			fail("waiting for the threads' signals", ret);
	}
}

/*
 * Every process and thread of the tree exists by now: pidfds can refer to
 * them, and their /proc/PID directories are there.
 */
/*
 * SIGIO owners that are other tasks, now that all exist, with the task's
 * own credentials (F_SETOWN records them: they decide whom SIGIO reaches).
 */
static void set_owners(struct restore_args *a)
{
	for (int i = 0; i < a->nr_pidfds; i++) {
		struct late_fd *l = &a->pidfds[i];
		struct {
			int type, pid;
		} owner = { (int)l->flags, l->pid };
		long fl;

		if (l->kind != LATE_FOWN)
			continue;
		check(__S(__NR_fcntl, l->fd, 15 /* F_SETOWN_EX */, (long)&owner, 0, 0, 0), "setting a SIGIO owner");
		if ((uint32_t)l->pos)
			check(__S(__NR_fcntl, l->fd, 10 /* F_SETSIG */, (uint32_t)l->pos, 0, 0, 0), "F_SETSIG");
		if (l->pos >> 32) {
			fl = __S(__NR_fcntl, l->fd, 3 /* F_GETFL */, 0, 0, 0, 0);
			check(fl < 0 ? fl : __S(__NR_fcntl, l->fd, 4 /* F_SETFL */, fl | 020000 /* O_ASYNC */, 0, 0, 0),
			      "O_ASYNC");
		}
	}
}

static void open_pidfds(struct restore_args *a)
{
	for (int i = 0; i < a->nr_pidfds; i++) {
		struct late_fd *l = &a->pidfds[i];
		long fd;

		if (l->kind == LATE_FOWN || l->kind == LATE_EPOLL)
			continue;	/* set_owners(), with the task's credentials; add_late_targets() */
		if (l->kind == LATE_PATH) {
			fd = __S(__NR_openat, -100 /* AT_FDCWD */, l->path, l->flags | 02000000 /* O_CLOEXEC */, 0, 0,
				 0);
			check(fd, "opening a /proc file of the tree");
			if (l->pos)
				check(__S(__NR_lseek, fd, l->pos, 0 /* SEEK_SET */, 0, 0, 0) == (long)l->pos ? 0 : -1,
				      "seeking a /proc file");
		} else {
			/* O_NONBLOCK, O_EXCL: PIDFD_NONBLOCK, PIDFD_THREAD */
			fd = __S(__NR_pidfd_open, l->pid, l->flags & (04000 | 0200), 0, 0, 0, 0);
			check(fd, "pidfd_open");
		}
		if (fd != l->fd) {
			check(__S(__NR_dup3, fd, l->fd, (l->fd_flags & 1) ? 02000000 : 0, 0, 0, 0), "placing a pidfd");
			sys_close(fd);
		} else if (!(l->fd_flags & 1)) {
			check(__S(__NR_fcntl, fd, 2 /* F_SETFD */, 0, 0, 0, 0), "clearing FD_CLOEXEC");
		}
	}
}

/* Epoll targets that are pidfds: in the epoll's interest list once they exist. */
static void add_late_targets(struct restore_args *a)
{
	for (int i = 0; i < a->nr_pidfds; i++) {
		struct late_fd *l = &a->pidfds[i];
		struct {
			uint32_t events;
			uint64_t data;
		} __attribute__((packed)) ev = { l->flags, l->pos };

		if (l->kind == LATE_EPOLL)
			check(__S(__NR_epoll_ctl, l->fd, 1 /* EPOLL_CTL_ADD */, l->pid, (long)&ev, 0, 0),
			      "adding a pidfd to an epoll");
	}
}

/*
 * File locks come back in the process that owns them (POSIX ones belong to
 * the process), once no more fds get closed: a close drops POSIX locks.
 * Leases (@leases) come after the task's credentials: only the file's
 * owner by fsuid may take one without CAP_LEASE in criu's user namespace,
 * which a restore inside a user namespace of the tree's has not.
 */
static void take_file_locks(struct restore_args *a, int leases)
{
	for (uint32_t i = 0; i < a->nr_locks; i++) {
		struct rst_file_lock *l = &a->locks[i];
		struct {
			int16_t type, whence;
			int64_t start, len;
			int32_t pid, pad;
		} fl = { .type = l->type, .whence = 0, .start = l->start, .len = l->len };
		char what[96];
		long ret;

		if ((l->kind == 4) != leases)
			continue;
		if (l->kind == 1)	/* flock: LOCK_SH 1, LOCK_EX 2, LOCK_NB 4 */
			ret = __S(__NR_flock, l->fd, (l->type == 1 ? 2 : 1) | 4, 0, 0, 0, 0);
		else if (l->kind == 4)	/* F_SETLEASE 1024, with F_RDLCK or F_WRLCK; the owner is this task */
			ret = __S(__NR_fcntl, l->fd, 1024, l->type, 0, 0, 0);
		else			/* F_SETLK 6, F_OFD_SETLK 37 */
			ret = __S(__NR_fcntl, l->fd, l->kind == 2 ? 6 : 37, &fl, 0, 0, 0);
		if (ret < 0) {
			static const char *const kinds[] = { "file", "flock", "POSIX", "OFD", "lease" };

			/* EAGAIN, EACCES: a conflicting lock (a POSIX or OFD one was looked for before) */
			blob_snprintf(what, sizeof(what), "taking back the %s lock at fd %d%s",
				      kinds[l->kind <= 4 ? l->kind : 0], l->fd,
				      ret == -11 || ret == -13 ? " (another process holds the file locked now)" : "");
			fail(what, ret);
		}
	}
}

/* ---- threads ---- */

struct clone_args_k {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define CLONE_THREAD_FLAGS	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

static void __attribute__((noreturn)) sigreturn(uint64_t sp);

static void thread_main(void *arg)
{
	struct rst_thread *t = arg;

	thread_self(t);
	if (t->has_sched)
		set_sched(1, t->sched_policy, t->sched_prio, t->nice);
	else
		set_sched(A->has_sched, A->sched_policy, A->sched_prio, A->nice);
	/* slack, the pdeath signal (after the creds, which clear it), no_new_privs: each thread's own */
	int32_t nnp = t->has_own ? t->no_new_privs : A->no_new_privs;

	if (t->has_own && t->timer_slack)
		check(sys_prctl(PR_SET_TIMERSLACK, t->timer_slack, 0, 0, 0), "a thread's PR_SET_TIMERSLACK");
	/* credentials and no_new_privs belong to each thread */
	uint64_t kept = admin_for_seccomp(t->creds, &t->seccomp, nnp);

	restore_creds(t->creds, kept);
	if (t->has_own && t->pdeath_sig)
		check(sys_prctl(PR_SET_PDEATHSIG, t->pdeath_sig, 0, 0, 0), "a thread's PR_SET_PDEATHSIG");
	if (nnp)
		check(sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
	queue_signals(A, t->tid);
	__atomic_add_fetch(&A->threads_queued, 1, __ATOMIC_RELEASE);
	check(__S(__NR_futex, &A->threads_queued, 1 /* FUTEX_WAKE */, 1, 0, 0, 0), "waking the leader");
	unblock_trap();
	apply_seccomp(&t->seccomp, 0);
	drop_kept_admin(t->creds, kept);
	sigreturn((uint64_t)t->sigframe + 8);
}

static void start_threads(struct restore_args *a)
{
	for (uint32_t i = 1; i < a->nr_threads; i++) {
		struct rst_thread *t = &a->threads[i];
		int32_t tid = t->tid;
		struct clone_args_k ca = {
			.flags = CLONE_THREAD_FLAGS,
			.stack = t->stack,
			.stack_size = t->stack_size,
			.set_tid = (uint64_t)&tid,
			.set_tid_size = 1,
		};
		long ret;

		ret = clone3_into(&ca, sizeof(ca), thread_main, t);
		if (ret != t->tid)
			fail("creating a thread with its tid", ret < 0 ? ret : -EEXIST);
	}
}

/* Children sharing our memory may go on: it is all in place, and so are the signal handlers. */
static void release_vm_kids(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_vm_kids; i++) {
		__atomic_store_n(a->vm_kids[i].ready, 1, __ATOMIC_RELEASE);
		check(__S(__NR_futex, a->vm_kids[i].ready, FUTEX_WAKE, 1, 0, 0, 0), "waking a child sharing our memory");
	}
}

static void wait_parent_mm(struct restore_args *a)
{
	while (!__atomic_load_n(&a->mm_ready, __ATOMIC_ACQUIRE)) {
		long ret = __S(__NR_futex, &a->mm_ready, FUTEX_WAIT, 0, 0, 0, 0);

		if (ret < 0 && ret != -EAGAIN && ret != -EINTR)
			fail("waiting for the parent's memory", ret);
	}
}

/* ---- AIO contexts ---- */

#define AIO_BATCH	16
#define O_CLOEXEC_	02000000

/* The ring header (struct aio_ring in fs/aio.c), then the events */
struct aio_ring_k {
	uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event ev[];
};

/*
 * @n requests through @ctx that complete at once (0-byte reads of an empty
 * pipe: the tail moves by one each); reaped if @reap (the head follows).
 */
static void aio_complete_n(aio_context_t ctx, int fd, uint32_t n, int reap)
{
	struct iocb cb[AIO_BATCH], *p[AIO_BATCH];
	struct io_event ev[AIO_BATCH];

	while (n) {
		uint32_t k = n < AIO_BATCH ? n : AIO_BATCH;

		for (uint32_t i = 0; i < k; i++) {
			memset(&cb[i], 0, sizeof(cb[i]));
			cb[i].aio_lio_opcode = IOCB_CMD_PREAD;
			cb[i].aio_fildes = fd;
			p[i] = &cb[i];
		}
		if (__S(__NR_io_submit, ctx, k, p, 0, 0, 0) != (long)k)
			fail("moving an AIO ring's tail (io_submit)", -EAGAIN);
		if (reap && __S(__NR_io_getevents, ctx, k, k, ev, 0, 0) != (long)k)
			fail("moving an AIO ring's head (io_getevents)", -EIO);
		n -= k;
	}
}

/*
 * Each context: a ring as big from io_setup(), moved to its address (the
 * context's id follows the ring), then requests that complete at once
 * bring the kernel's tail, and reaping them the head, where they were; the
 * completed events not reaped go back in their slots.
 */
static void restore_aios(struct restore_args *a)
{
	for (uint32_t i = 0; i < a->nr_aios; i++) {
		struct rst_aio *r = &a->aios[i];
		aio_context_t ctx = 0;
		struct aio_ring_k *ring;
		uint32_t unreaped = (r->tail + r->nr - r->head) % r->nr;
		int pfd[2];
		long ret;

		check(__S(__NR_io_setup, r->nr_req, &ctx, 0, 0, 0, 0), "io_setup");
		ret = sys_mremap(ctx, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->start);
		if (ret != (long)r->start)
			fail("moving an AIO ring", ret);
		ctx = r->start;
		ring = (struct aio_ring_k *)ctx;
		if (ring->nr != r->nr)
			fail("making an AIO ring as big", -EINVAL);
		check(__S(__NR_pipe2, pfd, O_CLOEXEC_, 0, 0, 0, 0), "a pipe for AIO requests");
		aio_complete_n(ctx, pfd[0], r->head, 1);
		aio_complete_n(ctx, pfd[0], unreaped, 0);
		sys_close(pfd[0]);
		sys_close(pfd[1]);
		if (ring->head != r->head || ring->tail != r->tail)
			fail("bringing an AIO ring where it was", -EIO);
		for (uint32_t j = 0; j < unreaped; j++)
			memcpy(&ring->ev[(r->head + j) % r->nr], (struct io_event *)r->events + j,
				    sizeof(struct io_event));
	}
}

/* ---- --lazy-pages: the private anonymous areas are filled by the lazy-pages daemon ---- */

struct k_msghdr {
	void *name;
	int32_t namelen, pad;
	struct k_iovec *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	uint32_t flags;
};

#define AF_UNIX_		1
#define SOCK_SEQPACKET_		5
#define SOL_SOCKET_		1
#define SCM_RIGHTS_		1
#define O_NONBLOCK_		04000

static void lazy_send(int sk, struct lazy_msg *m, int fd1, int fd2)
{
	struct k_iovec iov = { (uint64_t)m, sizeof(*m) };
	/* struct cmsghdr (len, level, type) and two ints */
	uint64_t cbuf[3] = { 16 + 2 * sizeof(int), SOL_SOCKET_ | ((uint64_t)SCM_RIGHTS_ << 32), 0 };
	struct k_msghdr h = { .iov = &iov, .iovlen = 1, .control = cbuf, .controllen = sizeof(cbuf) };
	int *fds = (int *)&cbuf[2];

	fds[0] = fd1;
	fds[1] = fd2;
	if (__S(__NR_sendmsg, sk, &h, 0, 0, 0, 0) != sizeof(*m))
		fail("handing the userfaultfd to the lazy-pages daemon", -EPIPE);
}

/*
 * Before any page goes in: a userfaultfd of this mm goes to the daemon,
 * which enables it (it may ask for the fork and remap events, we may not)
 * and gives a copy to its watchdog; then the lazy areas are registered
 * for missing faults. From here on a fault in them waits for the daemon,
 * so the daemon serves whatever the restorer or the kernel touch too.
 */
static void lazy_register(struct restore_args *a)
{
	struct lazy_msg m = { LAZY_MAGIC_TASK, a->pid };
	int32_t ok = -1, n = 0;
	int uffd, sp[2];
	long ret;

	if (a->lazy_sk < 0)
		return;
	progress("lazy pages: handing the userfaultfd over");
	if (a->uffd_dev >= 0)
		uffd = __S(__NR_ioctl, a->uffd_dev, USERFAULTFD_IOC_NEW, O_CLOEXEC_ | O_NONBLOCK_, 0, 0, 0);
	else
		uffd = __S(__NR_userfaultfd, O_CLOEXEC_ | O_NONBLOCK_, 0, 0, 0, 0, 0);
	check(uffd, "making a userfaultfd");
	check(__S(__NR_socketpair, AF_UNIX_, SOCK_SEQPACKET_ | O_CLOEXEC_, 0, sp, 0, 0), "socketpair");
	lazy_send(a->lazy_sk, &m, uffd, sp[1]);
	sys_close(sp[1]);
	ret = sys_read(sp[0], &ok, sizeof(ok));
	if (ret != sizeof(ok) || ok)
		fail("the lazy-pages daemon taking the userfaultfd (is it gone?)", ret < 0 ? ret : -ECONNRESET);
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct rst_vma *v = &a->vmas[i];
		struct uffdio_register r = { .range = { v->start, v->end - v->start }, .mode = UFFDIO_REGISTER_MODE_MISSING };

		if (!v->lazy)
			continue;
		check(__S(__NR_ioctl, uffd, UFFDIO_REGISTER, &r, 0, 0, 0), "registering an area with userfaultfd");
		n++;
	}
	if (sys_write(sp[0], &n, sizeof(n)) != sizeof(n))
		fail("telling the lazy-pages daemon the areas are registered", -EPIPE);
	sys_close(sp[0]);
	sys_close(uffd);
}

/* The memory part: everything from the vDSO to the protection of the areas. */
static void restore_memory(struct restore_args *a)
{
	progress("moving the vDSO");
	restore_vdso(a);
	progress("unmapping");
	unmap_old(a);
	if (a->pkeys) {
		progress("protection keys");
		restore_pkeys(a);
	}
	progress("mapping");
	/* before the areas come: each is made mergeable as it was, then its own madvise advice applies */
	if (a->memory_merge)
		check(sys_prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0), "PR_SET_MEMORY_MERGE");
	move_premapped(a);
	map_vmas(a);
	move_huge(a);
	if (a->premap_len)
		check(sys_munmap(a->premap_start, a->premap_len), "unmapping the premap region");
	map_vdso_proxy(a);
	lazy_register(a);
	progress("filling pages");
	fill_pages(a);
	patch_stack_auxv(a);
	install_guards(a);
	progress("protecting");
	protect_vmas(a);
	if (a->nr_aios) {
		progress("AIO contexts");
		restore_aios(a);
	}
	seal_vmas(a);
}

long blob_main(void *data)
{
	struct restore_args *a = data;

	A = a;
	/*
	 * Every signal blocked, also the two that glibc's sigprocmask() in criu
	 * leaves out (32 and 33): a restored timer may send one (glibc's
	 * SIGEV_THREAD timers do) to a thread not yet back in its own mask,
	 * whose default action would kill the task. Threads inherit this mask.
	 */
	uint64_t all = ~0ULL;

	check(sys_rt_sigprocmask(SIG_SETMASK, &all, 0, 8), "blocking every signal");
	/* off criu's stack and code: the parent's restore process may go on */
	if (a->started) {
		__atomic_store_n(a->started, a->started_val, __ATOMIC_RELEASE);
		check(__S(__NR_futex, a->started, FUTEX_WAKE, 1, 0, 0, 0), "waking the parent");
	}
	if (a->shares_mm) {
		progress("waiting for the parent's memory");
		wait_parent_mm(a);
	} else {
		restore_memory(a);
	}
	progress("task state");
	restore_task_state(a);
	restore_timer_overruns(a);
	release_vm_kids(a);
	progress("threads");
	start_threads(a);
	set_sched(a->has_sched, a->sched_policy, a->sched_prio, a->nice);
	open_pidfds(a);
	add_late_targets(a);
	int sigpending_later = restore_rlimits(a);

	progress("creds");

	/* a table shared with another process (CLONE_FILES): criu closes them when all are done */
	if (a->close_from >= 0)
		check(__S(__NR_close_range, a->close_from, ~0U, 0, 0, 0, 0), "closing service fds");
	take_file_locks(a, 0);

	uint64_t kept = admin_for_seccomp(&a->creds, &a->threads[0].seccomp, a->no_new_privs);

	restore_creds(&a->creds, kept);
	set_owners(a);
	take_file_locks(a, 1);
	/*
	 * After the credentials, whose change clears both: always, since the
	 * restore child ran with SIGKILL as its parent-death signal until now.
	 */
	check(sys_prctl(PR_SET_PDEATHSIG, a->pdeath_sig, 0, 0, 0), "PR_SET_PDEATHSIG");
	check(sys_prctl(PR_SET_DUMPABLE, a->dumpable, 0, 0, 0), "PR_SET_DUMPABLE");
	/* last of the mm's: the restorer maps nothing more, and the memlock limit is back */
	if (a->mlock_future && !a->shares_mm)
		check(__S(__NR_mlockall, a->mlock_future & (MCL_FUTURE | MCL_ONFAULT), 0, 0, 0, 0, 0),
		      "mlockall(MCL_FUTURE)");
	if (a->no_new_privs)
		check(sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
	/*
	 * A task dumped in a group stop stops again now, while all its
	 * signals are blocked and none is queued yet: the stop comes first,
	 * as it did, and signals that were pending stay pending until SIGCONT.
	 */
	if (a->stop_signo)
		stop_again(a);
	queue_signals(a, a->pid);
	if (sigpending_later) {
		wait_threads_queued(a);
		check(sys_prlimit64(0, RLIMIT_SIGPENDING_, &a->rlim[RLIMIT_SIGPENDING_], 0), "restoring RLIMIT_SIGPENDING");
	}
	restore_timers(a);
	count_steps(a);
	/* once set it stays: after every change of the memory, before a filter may forbid prctl() */
	if (a->mdwe && !a->shares_mm)
		check(sys_prctl(PR_SET_MDWE, a->mdwe, 0, 0, 0), "PR_SET_MDWE");
	/* the log stays open for our threads, still on their way: criu closes it once all are done */
	unblock_trap();
	apply_seccomp(&a->threads[0].seccomp, 1);
	drop_kept_admin(&a->creds, kept);

	sigreturn((uint64_t)a->threads[0].sigframe + 8);
}
