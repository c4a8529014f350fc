/* Restore, step one: read every image of the tree and check it fits this machine before anything is made. */
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

#include "csum.h"
#include "aio.h"
#include "fileobj.h"
#include "rst.h"
#include "pagechain.h"
#include "lazy.h"

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

int read_inventory(struct rst_ctx *rc)
{
	struct cr_img *img;
	int r = image_exists(rc->dfd, CR_FD_INVENTORY);

	if (r <= 0) {
		if (!r)
			pr_err("%s has no inventory.img: not a complete dump\n", opts.imgs_dir);
		return -1;
	}
	img = open_image_at(rc->dfd, CR_FD_INVENTORY, O_RDONLY);
	if (!img || pb_read_one_required(img, (void **)&rc->inv)) {
		close_image(img);
		return -1;
	}
	/* every other image must come from the same dump */
	if (!rc->inv->has_dump_id || rc->inv->dump_id != img->dump_id || !img->dump_id) {
		pr_err("%s: the dump id in its trailer and in its entry differ or are missing\n", img->path);
		close_image(img);
		return -1;
	}
	img_set_dump_id(img->dump_id);
	close_image(img);
	if (rc->inv->img_version > IMG_FORMAT_VERSION) {
		pr_err("images in %s have format version %u, made by criu %s; this criu (%s) reads up to version %d\n",
		       opts.imgs_dir, rc->inv->img_version, rc->inv->tool_version, CR_VERSION, IMG_FORMAT_VERSION);
		return -1;
	}
	if (rc->inv->has_page_size && rc->inv->page_size != PAGE_SIZE) {
		pr_err("images were made with %u-byte pages\n", rc->inv->page_size);
		return -1;
	}
	if (rc->inv->has_pre_dump && rc->inv->pre_dump) {
		pr_err("%s holds a pre-dump (memory only): it can't be restored; it is a parent for later dumps "
		       "(--prev-images-dir)\n", opts.imgs_dir);
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

/* An AIO ring: its header must fit the area, and this machine's io_setup() make a ring as big. */
static int check_aio(struct rst_ctx *rc, const VmaEntry *v)
{
	const AioRingEntry *e = v->aio;
	uint64_t len = v->end - v->start;
	char who[96];

	if (!e || e->nr != (len - sizeof(struct aio_ring_hdr)) / AIO_EVENT_SIZE || e->head >= e->nr ||
	    e->tail >= e->nr || e->events.len != (uint64_t)((e->tail + e->nr - e->head) % e->nr) * AIO_EVENT_SIZE) {
		pr_err("mm-%d.img: the AIO ring at %lx does not fit its area (corrupt image)\n", rc->pid,
		       (unsigned long)v->start);
		return -1;
	}
	snprintf(who, sizeof(who), "can't restore task %d: AIO context %lx", rc->pid, (unsigned long)v->start);
	return aio_nr_for_len(len, who) ? 0 : -1;
}

/* Guard regions sorted, inside their area; a huge page size only on a shared file area it divides. */
static int check_vma_extras(struct rst_ctx *rc, const VmaEntry *v)
{
	uint64_t pos = v->start;

	for (size_t k = 0; k < v->n_guards; k++) {
		const GuardEntry *g = v->guards[k];

		if (g->start < pos || g->start & (PAGE_SIZE - 1) || !g->nr_pages ||
		    g->nr_pages > (v->end - g->start) >> PAGE_SHIFT) {
			pr_err("mm-%d.img: a guard region of the area at %lx is out of order or outside it\n", rc->pid,
			       (unsigned long)v->start);
			return -1;
		}
		pos = g->start + g->nr_pages * PAGE_SIZE;
	}
	rc->nr_guards += v->n_guards;
	if (v->has_page_size && (v->kind != VMA_KIND__VMA_FILE_SHARED || v->page_size < PAGE_SIZE ||
				 v->page_size & (v->page_size - 1) || (v->start | v->end | v->pgoff) & (v->page_size - 1))) {
		pr_err("mm-%d.img: the area at %lx has a huge page size it does not fit\n", rc->pid,
		       (unsigned long)v->start);
		return -1;
	}
	const TaskCoreEntry *tc = rc->core->tc;

	if (v->has_pkey && v->pkey && (v->pkey >= 32 || !tc->has_pkeys || !(tc->pkeys & (1U << v->pkey)))) {
		pr_err("mm-%d.img: the area at %lx has protection key %u, which core-%d.img does not allocate\n",
		       rc->pid, (unsigned long)v->start, v->pkey, rc->pid);
		return -1;
	}
	return 0;
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
		if (v->kind == VMA_KIND__VMA_AIO && check_aio(rc, v))
			return -1;
		if (v->kind == VMA_KIND__VMA_PACKET_RING &&
		    (!v->has_file_id || !find_file(rc->files, v->file_id) ||
		     find_file(rc->files, v->file_id)->type != FILE_TYPE__FT_PACKETSK || v->file_id >= rc->tree->nr_ids)) {
			pr_err("mm-%d.img: the packet ring at %lx names no packet socket\n", rc->pid,
			       (unsigned long)v->start);
			return -1;
		}
		if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED) &&
		    (!v->has_file_id || !find_file(rc->files, v->file_id) ||
		     !find_file(rc->files, v->file_id)->reg)) {
			pr_err("mm-%d.img: file mapping at %lx names no known file\n", rc->pid, (unsigned long)v->start);
			return -1;
		}
		if (check_vma_extras(rc, v))
			return -1;
		prev_end = v->end;
	}
	if (!find_file(rc->files, mm->exe_file_id) || !find_file(rc->files, mm->exe_file_id)->reg) {
		pr_err("mm-%d.img: the executable names no known file\n", rc->pid);
		return -1;
	}
	return 0;
}

/* Every page must land in a private area, and come from inside its pages file (of @nr_files, @sizes). */
static int check_pagemap_entry(struct rst_ctx *rc, PagemapEntry *pe, uint32_t nr_files, const uint64_t *sizes)
{
	uint32_t file = pe->has_file ? pe->file : 0;
	uint64_t file_size;
	MmEntry *mm = rc->mm;
	uint64_t addr = pe->vaddr, end = pe->vaddr + pe->nr_pages * PAGE_SIZE;

	bool lazy = pe->has_lazy && pe->lazy;

	if (file >= nr_files) {
		pr_err("pagemap-%d.img: the entry at %lx names pages file %u of %u (corrupt image)\n", rc->pid,
		       (unsigned long)pe->vaddr, file, nr_files);
		return -1;
	}
	file_size = sizes[file];

	if (lazy && (!opts.lazy_pages || (pe->has_in_parent && pe->in_parent) || (pe->has_in_prev && pe->in_prev) ||
		     pe->has_clen)) {
		if (!opts.lazy_pages)
			pr_err("pagemap-%d.img: the pages at %lx are with the dumping host (dump --lazy-pages): restore "
			       "with --lazy-pages, and `criu lazy-pages --page-server --address A --port N` fetching "
			       "them\n", rc->pid, (unsigned long)pe->vaddr);
		else
			pr_err("pagemap-%d.img: the pages at %lx are marked both with the dumping host and stored "
			       "(corrupt image)\n", rc->pid, (unsigned long)pe->vaddr);
		return -1;
	}
	/* pages the parent has (cow.c), the previous images (pagechain.c) or the dumping host take no room here */
	if ((pe->has_in_parent && pe->in_parent) || (pe->has_in_prev && pe->in_prev) || lazy) {
		file_size = UINT64_MAX;
		pe->off = 0;
	}
	if (pe->has_in_parent && pe->in_parent && pe->has_in_prev && pe->in_prev) {
		pr_err("pagemap-%d.img: pages at %lx are both the parent process's and the previous images'\n",
		       rc->pid, (unsigned long)pe->vaddr);
		return -1;
	}
	/* a compressed frame takes clen bytes of the file */
	uint64_t stored = pe->has_clen ? pe->clen : pe->nr_pages * PAGE_SIZE;

	if (!pe->nr_pages || pe->vaddr & (PAGE_SIZE - 1) || pe->off & (PAGE_SIZE - 1) || end <= addr ||
	    (pe->has_clen && (!pe->clen || pe->clen > pe->nr_pages * PAGE_SIZE)) ||
	    pe->off + stored > file_size || pe->off + stored < pe->off) {
		pr_err("pagemap-%d.img: entry %lx+%u pages at offset %lu does not fit %s, of %lu bytes "
		       "(truncated or corrupt image)\n", rc->pid, (unsigned long)pe->vaddr, pe->nr_pages,
		       (unsigned long)pe->off, file ? rc->pages1_name : rc->pages_name, (unsigned long)file_size);
		return -1;
	}
	/* none for pages stored elsewhere: the parent process's, or the previous images' (chain_gather() fills those) */
	if (pe->n_csum != ((pe->has_in_parent && pe->in_parent) || (pe->has_in_prev && pe->in_prev) || lazy ? 0 :
			   pe->nr_pages)) {
		pr_err("pagemap-%d.img: entry %lx+%u pages has %zu page checksums\n", rc->pid,
		       (unsigned long)pe->vaddr, pe->nr_pages, pe->n_csum);
		return -1;
	}
	for (size_t i = mm_vma_lower_bound(mm, addr); addr < end; i++) {
		if (i >= mm->n_vmas || mm->vmas[i]->start > addr || !vma_private(mm->vmas[i])) {
			pr_err("pagemap-%d.img: pages at %lx are outside any private memory area\n", rc->pid,
			       (unsigned long)addr);
			return -1;
		}
		rc->vma_pages[i] = 1;
		addr = mm->vmas[i]->end;
	}
	return 0;
}

/*
 * Pages of the previous images (or compressed): the huge runs (cow.c) are
 * read by the restoring process from where the chain stores them; the
 * others are gathered into one memfd, which the restoring processes open
 * through our fd table.
 */
int gather_chained(struct rst_tree *tr, struct rst_ctx *rc)
{
	struct page_list lazy, skip;
	int fd, ret;

	if (!rc->chained)
		return 0;
	/*
	 * The lazy-pages daemon reads a second pages file where it is (lazy.c,
	 * read_images()): only the chain and compressed frames need gathering.
	 */
	if (tr->lazy_serve && rc->chained == CHAINED_FILE1)
		return 0;
	if (rc->cow.huge.nr) {
		rc->cow.srcs = calloc(1, sizeof(*rc->cow.srcs));
		if (!rc->cow.srcs || chain_runs(rc->dfd, rc->pid, rc->pages_name, rc->pms, rc->nr_pms, &rc->cow.huge,
						rc->cow.srcs))
			return -1;
	}
	/*
	 * restore --lazy-pages: the daemon fills the lazy areas, from images
	 * it reads itself, and the restorer never reads their pages: gathering
	 * them too would copy all of a big dump's memory before the restore
	 * even starts (1 GiB in two pages files: restore -d 0.8 s, not 0.02 s).
	 */
	page_list_init(&lazy);
	page_list_init(&skip);
	if (opts.lazy_pages && !tr->lazy_serve && !rc->vm_child && rc->mm)
		for (size_t i = 0; i < rc->mm->n_vmas; i++)
			if (lazy_area(rc, i) &&
			    page_list_add(&lazy, rc->mm->vmas[i]->start,
					  (rc->mm->vmas[i]->end - rc->mm->vmas[i]->start) >> PAGE_SHIFT)) {
				page_list_free(&lazy);
				return -1;
			}
	if (page_list_merge(&rc->cow.huge, &lazy, &skip)) {
		page_list_free(&lazy);
		return -1;
	}
	ret = chain_gather_skip(rc->dfd, rc->pid, rc->pages_name, rc->pms, rc->nr_pms, &skip, &fd);
	page_list_free(&lazy);
	page_list_free(&skip);
	if (ret)
		return -1;
	snprintf(rc->pages_what, sizeof(rc->pages_what), "%.20s (gathered)", rc->pages_name);
	snprintf(rc->pages_name, sizeof(rc->pages_name), "/proc/%d/fd/%d", getpid(), fd);
	rc->chained = 0;
	return 0;
}

static int read_pagemap(struct rst_ctx *rc)
{
	struct cr_img *img = open_image_at(rc->dfd, CR_FD_PAGEMAP, O_RDONLY, rc->pid);
	PagemapHead *head = NULL;
	uint64_t sizes[2] = { 0, 0 };
	uint32_t nr_files;
	struct stat st;
	void *msg;
	int ret = -1, r, chained = 0;

	if (!img)
		return -1;
	rc->vma_pages = calloc(rc->mm->n_vmas + 1, 1);
	if (!rc->vma_pages || pb_read_one_required(img, (void **)&head))
		goto out;
	if (csum_take_kind(head->has_csum_kind ? head->csum_kind : CSUM_KIND_XXH3, img->path))
		goto out;
	snprintf(rc->pages_name, sizeof(rc->pages_name), "pages-%u.img", head->pages_id);
	snprintf(rc->pages_what, sizeof(rc->pages_what), "%s", rc->pages_name);
	if (fstatat(rc->dfd, rc->pages_name, &st, AT_SYMLINK_NOFOLLOW)) {
		pr_perror("can't stat %s/%s", opts.imgs_dir, rc->pages_name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("image %s/%s is not a regular file\n", opts.imgs_dir, rc->pages_name);
		goto out;
	}
	sizes[0] = st.st_size;
	nr_files = head->has_nr_files ? head->nr_files : 1;
	if (nr_files < 1 || nr_files > 2) {
		pr_err("pagemap-%d.img: %u pages files, this criu reads 1 or 2\n", rc->pid, nr_files);
		goto out;
	}
	if (nr_files == 2) {
		pages_file_name(rc->pages1_name, sizeof(rc->pages1_name), head->pages_id, 1);
		if (fstatat(rc->dfd, rc->pages1_name, &st, AT_SYMLINK_NOFOLLOW)) {
			pr_perror("can't stat %s/%s (the second pages file of pagemap-%d.img)", opts.imgs_dir,
				  rc->pages1_name, rc->pid);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			pr_err("image %s/%s is not a regular file\n", opts.imgs_dir, rc->pages1_name);
			goto out;
		}
		sizes[1] = st.st_size;
	}
	while ((r = pb_read_one(img, &msg)) == 1) {
		PagemapEntry *pe = msg, **n;

		/* pages from the chain, compressed or in the second pages file: gathered below */
		if (pe->has_in_prev && pe->in_prev)
			chained |= CHAINED_PREV;
		if (pe->has_clen)
			chained |= CHAINED_CLEN;
		if (pe->has_file && pe->file)
			chained |= CHAINED_FILE1;
		if (check_pagemap_entry(rc, pe, nr_files, sizes)) {
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
	/* pages of the previous images or compressed: gathered by gather_chained() once the fill is planned */
	rc->chained = chained;
	ret = 0;
out:
	if (head)
		pb_free(img, head);
	close_image(img);
	return ret;
}

/* The state letter of @pid (Z for a zombie) and its parent; 0 if it is gone. */
static char pid_state(pid_t pid, pid_t *ppid)
{
	char buf[512], *p;
	char state = 0;

	if (compel_read_stat(pid, buf, sizeof(buf), &p))
		return 0;
	if (!p || sscanf(p + 1, " %c %d", &state, ppid) != 2)
		return '?';
	return state;
}

/*
 * Right after a dump the tasks it killed are zombies until their parent
 * reaps them, which a slow init (or a busy shell) may take a while to do:
 * a restore run at once waits for them, RESTORE_REAP_WAIT_MS in all.
 */
#define RESTORE_REAP_WAIT_MS	5000
static int reap_wait_left = RESTORE_REAP_WAIT_MS;

static int check_pid_free(pid_t pid)
{
	char path[64], comm[64] = "?";
	pid_t ppid = 0;
	char state;
	FILE *f;

	while ((state = pid_state(pid, &ppid)) == 'Z' && reap_wait_left > 0) {
		usleep(10000);
		reap_wait_left -= 10;
	}
	if (!state)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(comm, sizeof(comm), f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
	if (state == 'Z')
		pr_err("can't restore: pid %d is a zombie (%s) its parent %d has not reaped in %d ms\n", pid,
		       comm, ppid, RESTORE_REAP_WAIT_MS);
	else
		pr_err("can't restore: pid %d is in use by another process (%s)\n", pid, comm);
	return -1;
}

#define XFEATURE_PKRU	(1ULL << 9)

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
	/* XCR0's PKRU bit: the kernel turned protection keys on */
	if (rc->core->tc && rc->core->tc->has_pkeys && rc->core->tc->pkeys && !(xcr0 & XFEATURE_PKRU)) {
		pr_err("can't restore %d: it allocated memory protection keys (%#x), which this machine lacks\n",
		       rc->pid, rc->core->tc->pkeys);
		return -1;
	}
	/* keys 1..15 exist on x86 */
	if (rc->core->tc && rc->core->tc->has_pkeys && rc->core->tc->pkeys & ~0xfffeU) {
		pr_err("core-%d.img: protection keys %#x are out of range\n", rc->pid, rc->core->tc->pkeys);
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
	free_fdinfo(rc->fds, rc->nr_fds);
	free(rc->vma_pages);
	cow_task_free(&rc->cow);
}

void free_tree(struct rst_tree *tr)
{
	for (int i = 0; i < tr->nr; i++)
		free_ctx(&tr->t[i]);
	free(tr->t);
	free(tr->cow.t);
	pidmap_free(&tr->pids);
	pidmap_free(&tr->tids);
	pidmap_free(&tr->all_ids);
	if (tr->inv)
		inventory_entry__free_unpacked(tr->inv, NULL);
	free_files(&tr->files);
	free(tr->transit_slot);
	ipc_sysv_free();
	mntns_restore_fini();
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
/*
 * A process in a session whose leader is gone: a helper with the leader's
 * pid, a child of its parent, makes the session and forks it (fork.c).
 */
static int check_gone_session(struct rst_tree *tr, struct rst_ctx *rc)
{
	PstreeEntry *pe = rc->pe;

	if (!pe->has_session_gone || !pe->session_gone)
		return 0;
	/* or it left that session after forking children in it: it leads its own (fork.c) */
	if ((pe->sid != pe->session_gone && (pe->sid != rc->pid || pe->pgid != rc->pid)) ||
	    (pe->pgid != pe->sid && pe->pgid != rc->pid) || rc->zombie || task_of(tr, pe->session_gone) ||
	    rc->fs_child || rc->files_child || rc->vm_child || rc == &tr->t[0]) {
		pr_err("pstree.img: process %d can't be forked into session %d by a helper\n", rc->pid,
		       pe->session_gone);
		return -1;
	}
	return 0;
}

static int zombie_sessions(struct rst_tree *tr)
{
	for (int i = 0; i < tr->nr; i++)
		if (check_gone_session(tr, &tr->t[i]))
			return -1;
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

/* pid -> process and tid -> process, once; a pid or tid twice is refused. */
static int map_id(struct pidmap *m, int32_t id, int i)
{
	if (id <= 0 || pidmap_get(m, id) >= 0) {
		pr_err("pstree.img: pid or tid %d is not positive or is there twice\n", id);
		return -1;
	}
	if (pidmap_set(m, id, i)) {
		pr_err("out of memory\n");
		return -1;
	}
	return 0;
}

static int map_pids(struct rst_tree *tr)
{
	size_t nr_tids = 0;

	for (int i = 0; i < tr->nr; i++)
		nr_tids += tr->t[i].pe->n_threads;
	if (pidmap_init(&tr->pids, tr->nr) || pidmap_init(&tr->tids, nr_tids + tr->nr)) {
		pr_err("out of memory\n");
		return -1;
	}
	for (int i = 0; i < tr->nr; i++) {
		PstreeEntry *pe = tr->t[i].pe;

		if (map_id(&tr->pids, pe->pid, i) || map_id(&tr->tids, pe->pid, i))
			return -1;
		for (size_t j = 0; j < pe->n_threads; j++)
			if (pe->threads[j] != pe->pid && map_id(&tr->tids, pe->threads[j], i))
				return -1;
	}
	return 0;
}

int read_pstree(struct rst_tree *tr)
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
	if (map_pids(tr))
		return -1;
	rst_pid_view_tree(tr);
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
		parent = task_of(tr, rc->pe->ppid);
		if (!parent || parent >= rc || parent->zombie) {
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

/* Did @c make a mount namespace of its own below @rc's (mntns_enter_nested())? */
static bool mnt_nested_entry(const struct rst_ctx *rc, const struct rst_ctx *c)
{
	return c->pe->ns && rc->pe->ns && c->pe->ns->mnt != rc->pe->ns->mnt;
}

/* How many tasks of @rc's subtree use each shared file, added to @nr. */
static void count_users(struct rst_tree *tr, struct rst_ctx *rc, uint32_t *nr)
{
	for (uint32_t id = 0; id < tr->nr_ids; id++)
		nr[id] += rc->uses_shared[id];
	for (int i = 0; i < rc->nr_children; i++)
		count_users(tr, &tr->t[rc->children[i]], nr);
}

/*
 * need[] of a task: the file ids any of its descendants uses. A file
 * opened by path that only tasks in a mount namespace a child made use
 * (all its users are in the child's subtree) is made in there, by that
 * child; one used outside too is the same file in both (the dump
 * checked): whoever makes it above passes it down.
 */
static int add_needs(struct rst_tree *tr, struct rst_ctx *rc, const uint32_t *all)
{
	for (int i = 0; i < rc->nr_children; i++) {
		struct rst_ctx *c = &tr->t[rc->children[i]];
		uint32_t *inside = NULL;

		if (add_needs(tr, c, all))
			return -1;
		if (mnt_nested_entry(rc, c)) {
			inside = calloc(tr->nr_ids + 1, sizeof(*inside));
			if (!inside) {
				pr_err("out of memory\n");
				return -1;
			}
			count_users(tr, c, inside);
		}
		for (uint32_t id = 0; id < tr->nr_ids; id++) {
			FileEntry *fe = inside ? find_file(&tr->files, id) : NULL;

			if (!c->uses_shared[id] && !c->need[id])
				continue;
			if (fe && !mntns_pathless(fe) && inside[id] == all[id])
				continue;
			rc->need[id] = 1;
		}
		free(inside);
	}
	return 0;
}

static int plan_needs(struct rst_tree *tr)
{
	uint32_t *all = calloc(tr->nr_ids + 1, sizeof(*all));
	int ret;

	if (!all) {
		pr_err("out of memory\n");
		return -1;
	}
	count_users(tr, &tr->t[0], all);
	ret = add_needs(tr, &tr->t[0], all);
	free(all);
	return ret;
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
			/* a target moved away from its number: the adder puts it there for a moment */
			if (e->tfds[j]->has_file_id && e->tfds[j]->file_id < tr->nr_ids)
				rc->uses[e->tfds[j]->file_id] = rc->uses_shared[e->tfds[j]->file_id] = 1;
		}
	}
	return 0;
}

static int is_live_task(pid_t pid, void *arg)
{
	struct rst_ctx *rc = task_of(arg, pid);

	return rc && !rc->zombie;
}

/*
 * Which descriptions are used by more than one task and so are passed
 * down from a common ancestor: those used by two tasks, and every used
 * member of a linked set (pipe ends, a pty's files, a socket group...)
 * whose members are not all used by one and the same task.
 */
static int plan_sharing(struct rst_tree *tr)
{
	uint32_t n = tr->nr_ids, *parent = malloc((n + 1) * sizeof(*parent));
	uint8_t *users = calloc(n + 1, 1);	/* bits 0-1: tasks using it (up to 2); bit 2: linked to another's */
	int *first = calloc(n + 1, sizeof(*first)), *owner = malloc((n + 1) * sizeof(*owner)), ret = -1;

	if (!parent || !users || !first || !owner) {
		pr_err("out of memory\n");
		goto out;
	}
	for (int i = 0; i < tr->nr; i++)
		for (uint32_t id = 0; id < n; id++)
			if (tr->t[i].uses[id] && users[id] < 2 && !users[id]++)
				first[id] = i;
	if (files_link(&tr->files, parent))
		goto out;
	/* the one task using every member of a linked set (-1: none yet, -2: more than one) */
	for (uint32_t id = 0; id < n; id++)
		owner[id] = -1;
	for (uint32_t id = 0; id < n; id++) {
		uint32_t r = files_root(parent, id);

		if (!users[id])
			continue;
		if (users[id] >= 2 || (owner[r] != -1 && owner[r] != first[id]))
			owner[r] = -2;
		else
			owner[r] = first[id];
	}
	for (uint32_t id = 0; id < n; id++)
		if (users[id] && owner[files_root(parent, id)] == -2)
			users[id] |= 4;
	for (int i = 0; i < tr->nr; i++)
		for (uint32_t id = 0; id < n; id++)
			if (users[id] < 2)
				tr->t[i].uses_shared[id] = 0;
	ret = 0;
out:
	free(parent);
	free(users);
	free(first);
	free(owner);
	return ret;
}

/* The fds of the task, kept for restore_fds(): the files it uses and its highest fd. */
static int read_fd_uses(struct rst_ctx *rc)
{
	rc->fds = read_fdinfo(rc->dfd, rc->pid, &rc->nr_fds);
	if (!rc->fds)
		return -1;
	rc->max_fd = rc->nr_fds ? (int)rc->fds[rc->nr_fds - 1]->fd : -1;
	for (size_t i = 0; i < rc->nr_fds; i++) {
		FdinfoEntry *e = rc->fds[i];

		if (!find_file(rc->files, e->id)) {
			pr_err("fdinfo-%d.img: fd %u names file %u, which is not in files.img\n", rc->pid, e->fd,
			       e->id);
			return -1;
		}
		rc->uses[e->id] = 1;
	}
	return 0;
}

/* A slot among the transit fds for every description some task passes down, the same in all. */
static int plan_transit(struct rst_tree *tr)
{
	tr->transit_slot = malloc((tr->nr_ids + 1) * sizeof(*tr->transit_slot));
	if (!tr->transit_slot) {
		pr_err("out of memory\n");
		return -1;
	}
	for (uint32_t id = 0; id <= tr->nr_ids; id++)
		tr->transit_slot[id] = -1;
	for (int i = 0; i < tr->nr; i++)
		for (uint32_t id = 0; id < tr->nr_ids; id++)
			if (tr->t[i].need[id] && tr->transit_slot[id] < 0)
				tr->transit_slot[id] = tr->nr_transit++;
	return 0;
}

/*
 * The fd layout of every restoring process: the task's fds, then the
 * service fds, the transit slots, mapped files, shared memory, file
 * objects, the slots of processes sharing an fd table, the mounts files
 * are opened through, and the temporaries at the top. Only the last four grow with what the tree
 * has, and none with the number of a task's own fds.
 */
static int plan_fd_layout(struct rst_tree *tr, int max_fd)
{
	int nr_own = 0;

	tr->svc_base = max_fd < SVC_MIN_BASE ? SVC_MIN_BASE : max_fd + 1;
	tr->files_base = tr->svc_base + SVC_TRANSIT + tr->nr_transit + 1;
	tr->shmem_base = tr->files_base + COW_DIRECT_FILES + 1;
	tr->files.obj_base = tr->shmem_base + tr->nr_shmem + 1;
	tr->own_base = tr->files.obj_base + tr->files.nr_objs + 1;
	/* processes sharing an fd table open their pages, exe and mapped files in slots of their own */
	tr->own_span = COW_DIRECT_FILES + 2;
	for (int i = 0; i < tr->nr; i++)
		tr->t[i].own_slots = tr->t[i].shares_files ? tr->own_base + tr->own_span * nr_own++ : -1;
	/* fds of mounts files are opened through (criu/mount/), and room above them for the root's moves */
	tr->mnt_base = tr->own_base + tr->own_span * nr_own;
	if (mntns_plan_fds(&tr->files, tr->mnt_base) < 0)
		return -1;
	tr->scratch_base = tr->mnt_base + 2 * mntns_nr_fds() + 1;
	tr->files.scratch_base = tr->scratch_base;
	pr_info("fd layout: task fds below %d, transit %u, objects %u, temporaries from %d\n", tr->svc_base,
		tr->nr_transit, tr->files.nr_objs, tr->scratch_base);
	return raise_nofile(max_fd, tr->scratch_base + fd_rst_scratch_room(&tr->files));
}

int read_tree_images(struct rst_tree *tr)
{
	int max_fd = -1;

	if (read_files(tr->dfd, &tr->files) || inherit_fd_prepare(tr->dfd, &tr->files) ||
	    shmem_count(tr->dfd, &tr->nr_shmem) || ipc_sysv_read(tr->dfd) || mntns_read(tr->dfd) ||
	    fileobj_plan(&tr->files))
		return -1;
	tr->nr_ids = tr->files.nr_ids;
	/* every pid and tid of the tree: their /proc files and pidfds open late, helpers avoid them */
	for (int i = 0; i < tr->nr; i++) {
		PstreeEntry *pe = tr->t[i].pe;

		if (hmap_put(&tr->files.tree_pids, pe->pid, 1))
			return -1;
		for (size_t j = 0; j < pe->n_threads; j++)
			if (hmap_put(&tr->files.tree_pids, pe->threads[j], 1))
				return -1;
	}
	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i];

		rc->dfd = tr->dfd;
		rc->inv = tr->inv;
		rc->files = &tr->files;
		rc->uses = calloc(tr->nr_ids + 1, 1);
		rc->uses_shared = calloc(tr->nr_ids + 1, 1);
		rc->need = calloc(tr->nr_ids + 1, 1);
		if (!rc->uses || !rc->need || !rc->uses_shared)
			return -1;
		if (rc->zombie)
			continue;
		rc->nr_shmem = tr->nr_shmem;
		if (read_task_images(rc) || check_siginfo_sizes(rc) || (!rc->fs_child && check_fs(tr->dfd, rc->pid)) ||
		    read_fd_uses(rc))
			return -1;
		tty_session_uses(&tr->files, rc->pid, rc->pe->sid, rc->pe->pgid, rc->uses, tr->nr_ids);
		/* a mapped packet ring needs its socket, held by this task or passed down to it */
		for (size_t v = 0; !rc->vm_child && v < rc->mm->n_vmas; v++)
			if (rc->mm->vmas[v]->kind == VMA_KIND__VMA_PACKET_RING)
				rc->uses[rc->mm->vmas[v]->file_id] = 1;
		for (size_t v = 0; !rc->vm_child && v < rc->mm->n_vmas; v++)
			if (memfd_note_vma(&tr->files, rc->pid, rc->mm->vmas[v]))
				return -1;
		memcpy(rc->uses_shared, rc->uses, tr->nr_ids);
		if (rc->max_fd > max_fd)
			max_fd = rc->max_fd;
	}
	if (epoll_adders_use(tr) || file_locks_read_check(tr->dfd, is_live_task, tr) || plan_sharing(tr))
		return -1;
	if (plan_needs(tr))
		return -1;
	for (int i = 0; i < tr->nr; i++)
		tty_limit_needs(&tr->files, tr->t[i].pe->sid, tr->t[i].need, tr->nr_ids);
	return plan_transit(tr) ?: plan_fd_layout(tr, max_fd);
}

/*
 * A process group is orphaned if no member's parent is in another group
 * of the same session; there the kernel drops SIGTSTP, SIGTTIN and
 * SIGTTOU instead of stopping. Which groups will be, once restored (the
 * root's parent is criu, or criu's parent with --restore-sibling).
 */
int find_orphaned_groups(struct rst_tree *tr)
{
	pid_t outer = opts.restore_sibling ? getppid() : getpid();
	pid_t osid = getsid(outer), opgid = getpgid(outer);
	struct pidmap held = { 0 };

	for (int i = 0; i < tr->nr; i++) {
		struct rst_ctx *rc = &tr->t[i], *p = i ? task_of(tr, rc->pe->ppid) : NULL;
		pid_t psid = p ? p->pe->sid : osid, ppgid = p ? p->pe->pgid : opgid;

		if (rc->zombie || psid != rc->pe->sid || ppgid == rc->pe->pgid)
			continue;
		if (pidmap_set(&held, rc->pe->pgid, 1)) {
			pidmap_free(&held);
			return -1;
		}
	}
	for (int i = 0; i < tr->nr; i++)
		tr->t[i].pgrp_orphaned = pidmap_get(&held, tr->t[i].pe->pgid) < 0;
	pidmap_free(&held);
	return 0;
}

/*
 * clone3() takes a set_tid only below this pid namespace's kernel.pid_max
 * (lowered since the dump, or another machine's), and says just EINVAL.
 */
static int check_pid_max(pid_t pid, long pid_max)
{
	if (pid_max <= 0 || pid < pid_max)
		return 0;
	pr_err("can't restore: pid %d is not below kernel.pid_max (%ld) here\n", pid, pid_max);
	return -1;
}

/* /proc/sys/kernel/pid_max of our pid namespace, or -1 */
static long read_pid_max(void)
{
	long v = -1;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * The pids the kernel hands out next go to whatever forks during the
 * restore: criu's reaper, the nft it runs for the network lock, hook
 * scripts and their children, anything else on the machine. With a small
 * kernel.pid_max the cursor comes round again, and the tree's pids may lie
 * just above it: zdtm posix_timer_dump_fired, pid_max 32768, restored by a
 * criu with pid 6591 while the tree's root was 6594, found its pid taken
 * ("in use by another process"). The cursor is moved past every window of
 * PID_CURSOR_CLEAR pids that holds one of the tree's ids; failing to is
 * only logged (the clone then retries for a while, then fails naming the
 * pid).
 */
#define PID_CURSOR_CLEAR	1024
#define PID_RESERVED		300	/* where the kernel starts again after pid_max */

static long read_long_file(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The last of the tree's ids in the PID_CURSOR_CLEAR pids after @last, or 0. */
static long tree_id_after(const struct pidmap *ids, long last, long pid_max)
{
	long hit = 0, p = last;

	for (int n = 0; n < PID_CURSOR_CLEAR; n++) {
		if (++p >= pid_max)
			p = PID_RESERVED;
		if (pidmap_get(ids, (int32_t)p) >= 0)
			hit = p;
	}
	return hit;
}

void keep_pid_cursor_clear(const struct rst_tree *tr)
{
	long pid_max = read_pid_max(), last, cur;
	char buf[32];
	int fd, len;

	if (!tr->cow.ids || pid_max <= PID_RESERVED + PID_CURSOR_CLEAR)
		return;
	last = cur = read_long_file("/proc/sys/kernel/ns_last_pid");
	if (last < 0)
		return;
	for (int tries = 0; tries < 64; tries++) {
		long hit = tree_id_after(tr->cow.ids, cur, pid_max);

		if (!hit)
			break;
		cur = hit;
	}
	if (cur == last)
		return;
	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	len = snprintf(buf, sizeof(buf), "%ld", cur);
	if (fd < 0 || write(fd, buf, len) != len)
		pr_warn("can't move the pid cursor past the tree's pids (%ld to %ld): %s; "
			"a process forked meanwhile may take one\n", last, cur, strerror(errno));
	else
		pr_info("pid cursor moved from %ld to %ld: the tree's pids are just above it\n", last, cur);
	if (fd >= 0)
		close(fd);
}

int check_pids_free(struct rst_tree *tr)
{
	long pid_max = read_pid_max();

	for (int i = 0; i < tr->nr; i++) {
		PstreeEntry *pe = tr->t[i].pe;

		if (check_pid_max(pe->pid, pid_max) || check_pid_free(pe->pid) ||
		    (pe->pgid_gone && (check_pid_max(pe->pgid, pid_max) || check_pid_free(pe->pgid))))
			return -1;
		for (size_t j = 0; j < pe->n_threads; j++)
			if (pe->threads[j] != pe->pid &&
			    (check_pid_max(pe->threads[j], pid_max) || check_pid_free(pe->threads[j])))
				return -1;
	}
	return 0;
}
