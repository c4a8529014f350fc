/*
 * Chains of images dirs (pagechain.h): the "parent" link, what a parent
 * holds for a pid (the dump's side), and gathering a pid's pages from the
 * whole chain (the restore's side).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "compress.h"
#include "csum.h"
#include "pagechain.h"
#include "util.h"

/* Long chains are fine; a loop of links is not. */
#define MAX_CHAIN	4096

int chain_link(int dfd, const char *prev)
{
	if (unlinkat(dfd, PARENT_LINK, 0) && errno != ENOENT) {
		pr_perror("can't remove the old %s link", PARENT_LINK);
		return -1;
	}
	if (symlinkat(prev, dfd, PARENT_LINK)) {
		pr_perror("can't link %s to the previous images %s", PARENT_LINK, prev);
		return -1;
	}
	return 0;
}

int chain_open_pages(int dfd, const char *name)
{
	int pid, n, fd;

	if (name[0] != '/')
		return open_image_file(dfd, name, O_RDONLY);
	/*
	 * chain_gather()'s memfd, by its /proc path: made by criu, not an image
	 * file of the dir. Where we may be (the tree's mount namespace, with a
	 * /proc of another pid namespace) it is reached through criu's /proc;
	 * from inside a user namespace of the tree's (which may not look into
	 * criu's fds) criu's image server opens it.
	 */
	if (sscanf(name, "/proc/%d/fd/%d", &pid, &n) != 2) {
		pr_err("%s is not a gathered pages file\n", name);
		return -1;
	}
	fd = img_served() ? img_open_gathered(name) : proc_open(O_RDONLY, "%d/fd/%d", pid, n);
	if (fd < 0)
		pr_perror("can't open the gathered pages %s", name);
	return fd;
}

/* The dump ids of @dfd's images and of their parent's (0 if not recorded). 0, or -1 (logged unless @quiet). */
static int read_ids(int dfd, uint64_t *id, uint64_t *parent, bool quiet)
{
	struct cr_img *img;
	InventoryEntry *ie = NULL;
	int ret = -1;

	if (quiet && image_exists(dfd, CR_FD_INVENTORY) <= 0)
		return -1;
	img = open_image_of(dfd, 0, CR_FD_INVENTORY);
	if (!img || pb_read_one_required(img, (void **)&ie))
		goto out;
	/* the entry and the trailer must agree, as read_inventory() wants of a dump's own */
	if (!ie->has_dump_id || !ie->dump_id || ie->dump_id != img->dump_id) {
		if (!quiet)
			pr_err("%s: the dump id in its trailer and in its entry differ or are missing\n", img->path);
		goto out;
	}
	*id = ie->dump_id;
	*parent = ie->has_parent_dump_id ? ie->parent_dump_id : 0;
	ret = 0;
out:
	if (ie)
		pb_free(img, ie);
	close_image(img);
	return ret;
}

/*
 * A chain is only what its dumps made it: each records the id of the
 * images its parent link led to. A link changed since (a runtime that
 * rewrites it, a dir put in another's place) would restore pages of
 * another dump: refused. Images without the record (older ones) are taken
 * as they are.
 */
int chain_open_parent(int dfd)
{
	uint64_t id, want, got, up_parent;
	int fd = openat(dfd, PARENT_LINK, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || read_ids(dfd, &id, &want, true) || !want)
		return fd;
	if (read_ids(fd, &got, &up_parent, false) || got != want) {
		char link[PATH_MAX];
		ssize_t n = readlinkat(dfd, PARENT_LINK, link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = '\0';
		pr_err("the %s link of images %lx leads to %s, which is not the dump they were made on top of "
		       "(%lx): the chain was changed after the dump\n", PARENT_LINK, (unsigned long)id, link,
		       (unsigned long)want);
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

int chain_depth(int dfd)
{
	int d = 0, fd = dfd;

	while (d < MAX_CHAIN) {
		int up = chain_open_parent(fd);

		if (fd != dfd)
			close(fd);
		if (up < 0)
			break;
		fd = up;
		d++;
	}
	return d;
}

int chain_dump_id(int dfd, uint64_t *id)
{
	uint64_t parent;

	return read_ids(dfd, id, &parent, false);
}

/* A pid's pagemap in one dir of the chain: its entries by address. */
struct level {
	int dfd;
	uint64_t dump_id;	/* the dir's own (its inventory's): its images must carry it */
	int pages_fd[2];	/* its pages files (pagemap_head.nr_files, at most 2) */
	char pages_name[2][32];
	int nr_files;
	PagemapEntry **e;	/* sorted by vaddr; the parent process's (in_parent) left out */
	size_t n;
	struct cr_img *img;	/* owns the entries */
	struct level *up;	/* opened when first needed */
	int depth;
	int src_file[2];	/* its pages files in a chain_srcs, or -1 */
};

/* The pages file of a stored entry (pagemap_entry.file). */
static int pe_file(const PagemapEntry *pe)
{
	return pe->has_file ? (int)pe->file : 0;
}

/* "pages-7.1.img" of "pages-7.img": the second file of a top level named by the caller. */
static void second_name(char *buf, size_t len, const char *pages_name)
{
	size_t n = strlen(pages_name);

	if (n > 4 && !strcmp(pages_name + n - 4, ".img"))
		snprintf(buf, len, "%.*s.1.img", (int)(n - 4), pages_name);
	else
		snprintf(buf, len, "%s.1", pages_name);
}

static int cmp_entry(const void *a, const void *b)
{
	const PagemapEntry *x = *(PagemapEntry *const *)a, *y = *(PagemapEntry *const *)b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int is_in_parent(const PagemapEntry *pe)
{
	return pe->has_in_parent && pe->in_parent;
}

static int is_in_prev(const PagemapEntry *pe)
{
	return pe->has_in_prev && pe->in_prev;
}

/* No bytes in this chain to gather: the parent process's, or the dumping host's (dump --lazy-pages). */
static int not_here(const PagemapEntry *pe)
{
	return is_in_parent(pe) || (pe->has_lazy && pe->lazy);
}

static void level_free(struct level *l)
{
	while (l) {
		struct level *up = l->up;

		for (size_t i = 0; i < l->n; i++)
			pb_free(l->img, l->e[i]);
		free(l->e);
		if (l->img)
			close_image(l->img);
		for (int f = 0; f < 2; f++)
			if (l->pages_fd[f] >= 0)
				close(l->pages_fd[f]);
		if (l->dfd >= 0)
			close(l->dfd);
		free(l);
		l = up;
	}
}

/* Load @pid's pagemap of the dir @dfd (taken over); NULL (with a message) on error. */
static struct level *level_load(int dfd, pid_t pid, int depth, int want_pages)
{
	struct level *l = calloc(1, sizeof(*l));
	PagemapHead *head = NULL;
	char what[96];
	void *msg;
	int r;

	if (!l) {
		close(dfd);
		return NULL;
	}
	l->dfd = dfd;
	l->pages_fd[0] = l->pages_fd[1] = -1;
	l->depth = depth;
	l->src_file[0] = l->src_file[1] = -1;
	if (!image_exists(dfd, CR_FD_PAGEMAP, pid)) {
		pr_err("the images %d level(s) up the chain have no pagemap-%d.img: the chain is broken "
		       "(a missing or foreign parent)\n", depth, pid);
		goto err;
	}
	if (chain_dump_id(dfd, &l->dump_id)) {
		pr_err("the images %d level(s) up the chain have no usable inventory.img: the chain is broken\n",
		       depth);
		goto err;
	}
	l->img = open_image_of(dfd, l->dump_id, CR_FD_PAGEMAP, pid);
	if (!l->img || pb_read_one_required(l->img, (void **)&head))
		goto err;
	pages_file_name(l->pages_name[0], sizeof(l->pages_name[0]), head->pages_id, 0);
	pages_file_name(l->pages_name[1], sizeof(l->pages_name[1]), head->pages_id, 1);
	l->nr_files = head->has_nr_files ? (int)head->nr_files : 1;
	if (l->nr_files < 1 || l->nr_files > 2) {
		pr_err("pagemap-%d.img %d level(s) up the chain: %d pages files, this criu reads 1 or 2\n", pid,
		       depth, l->nr_files);
		pb_free(l->img, head);
		goto err;
	}
	/* one kind of page checksum a run: a chain follows the kind of its first dump (csum.h) */
	snprintf(what, sizeof(what), "pagemap-%d.img %d level(s) up the chain", pid, depth);
	r = csum_take_kind(head->has_csum_kind ? head->csum_kind : CSUM_KIND_XXH3, what);
	pb_free(l->img, head);
	if (r)
		goto err;
	while ((r = pb_read_one(l->img, &msg)) == 1) {
		PagemapEntry *pe = msg, **n;

		if (is_in_parent(pe)) {
			pb_free(l->img, pe);
			continue;
		}
		if (!pe->nr_pages || pe->vaddr & (PAGE_SIZE - 1) || pe->off & (PAGE_SIZE - 1) ||
		    pe_file(pe) >= l->nr_files) {
			pr_err("%s: pagemap-%d.img %d level(s) up the chain: a bad entry at %lx\n",
			       l->pages_name[0], pid, depth, (unsigned long)pe->vaddr);
			pb_free(l->img, pe);
			goto err;
		}
		/* stored pages carry their checksums, which gathering hands down to the entries that take them */
		if (pe->n_csum != (is_in_prev(pe) ? 0 : pe->nr_pages)) {
			pr_err("%s: pagemap-%d.img %d level(s) up the chain: the entry at %lx has %zu page checksums "
			       "for %u pages\n", l->pages_name[0], pid, depth, (unsigned long)pe->vaddr, pe->n_csum,
			       pe->nr_pages);
			pb_free(l->img, pe);
			goto err;
		}
		n = realloc(l->e, (l->n + 1) * sizeof(*n));
		if (!n) {
			pb_free(l->img, pe);
			goto err;
		}
		l->e = n;
		l->e[l->n++] = pe;
	}
	if (r < 0)
		goto err;
	sort_array(l->e, l->n, sizeof(*l->e), cmp_entry);
	for (size_t i = 1; i < l->n; i++)
		if (l->e[i - 1]->vaddr + (uint64_t)l->e[i - 1]->nr_pages * PAGE_SIZE > l->e[i]->vaddr) {
			pr_err("pagemap-%d.img %d level(s) up the chain: entries overlap at %lx\n", pid, depth,
			       (unsigned long)l->e[i]->vaddr);
			goto err;
		}
	if (want_pages) {
		/* as any image file: a regular file, no FIFO to block on, no symlink, trusted */
		for (int f = 0; f < l->nr_files; f++) {
			l->pages_fd[f] = open_image_file(dfd, l->pages_name[f], O_RDONLY);
			if (l->pages_fd[f] < 0) {
				pr_err("can't open %s %d level(s) up the chain\n", l->pages_name[f], depth);
				goto err;
			}
		}
	}
	return l;
err:
	level_free(l);
	return NULL;
}

int chain_csum_kind(int dfd, int *kind)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;
	struct dirent *de;
	uint64_t id;
	DIR *d;

	*kind = -1;
	if (fd < 0 || !(d = fdopendir(fd))) {
		pr_perror("can't read the previous images' directory");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (*kind < 0 && !ret && (de = readdir(d))) {
		PagemapHead *head = NULL;
		struct cr_img *img;
		char *end;
		long pid;

		if (strncmp(de->d_name, "pagemap-", 8))
			continue;
		pid = strtol(de->d_name + 8, &end, 10);
		if (pid <= 0 || strcmp(end, ".img"))
			continue;
		if (chain_dump_id(dfd, &id))
			ret = -1;
		else if (!(img = open_image_of(dfd, id, CR_FD_PAGEMAP, (int)pid)))
			ret = -1;
		else {
			if (pb_read_one_required(img, (void **)&head))
				ret = -1;
			else
				*kind = head->has_csum_kind ? head->csum_kind : CSUM_KIND_XXH3;
			if (head)
				pb_free(img, head);
			close_image(img);
		}
	}
	closedir(d);
	return ret;
}

int chain_cover(int dfd, pid_t pid, struct page_list *out)
{
	struct page_range *r;
	struct level *l;
	int fd = dup(dfd), ret;

	page_list_init(out);
	if (fd < 0)
		return -1;
	l = level_load(fd, pid, 1, 0);
	if (!l)
		return -1;
	r = calloc(l->n ? l->n : 1, sizeof(*r));
	if (!r) {
		level_free(l);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		r[i].start = l->e[i]->vaddr;
		r[i].nr_pages = l->e[i]->nr_pages;
	}
	ret = page_list_normalize(r, l->n, out);
	free(r);
	level_free(l);
	return ret;
}

/* The first entry of @l ending above @addr. */
static size_t lower_bound(const struct level *l, uint64_t addr)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (l->e[mid]->vaddr + (uint64_t)l->e[mid]->nr_pages * PAGE_SIZE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A compressed frame's pages [s, e) (within the entry @pe), to @to at @to_off. */
static int copy_frame(int to, uint64_t to_off, int from, const PagemapEntry *pe, uint64_t s, uint64_t e,
		      const char *what)
{
	size_t len = (size_t)pe->nr_pages * PAGE_SIZE;
	char *frame = malloc(pe->clen), *pages = malloc(len);
	int ret = -1;
	size_t bad;

	if (!frame || !pages) {
		pr_err("out of memory for a compressed frame\n");
		goto out;
	}
	if (pe->clen > len + 4096 || pread(from, frame, pe->clen, pe->off) != (ssize_t)pe->clen) {
		pr_err("%s: the compressed frame of %lx at offset %lu is cut short or too big\n", what,
		       (unsigned long)pe->vaddr, (unsigned long)pe->off);
		goto out;
	}
	if (decomp_frame(frame, pe->clen, pages, pe->nr_pages)) {
		pr_err("%s: the compressed frame of %lx at offset %lu is damaged\n", what, (unsigned long)pe->vaddr,
		       (unsigned long)pe->off);
		goto out;
	}
	/*
	 * The restorer checks these pages again as it reads them from the
	 * memfd; checked here too (a fraction of the cost of expanding them),
	 * so that damage is named by the file it is in.
	 */
	bad = csum_check_pages(pages + (s - pe->vaddr), (e - s) >> PAGE_SHIFT, pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT));
	if (bad < (e - s) >> PAGE_SHIFT) {
		pr_err("%s: the page at %lx of the compressed frame at offset %lu is damaged (checksum mismatch)\n",
		       what, (unsigned long)(s + bad * PAGE_SIZE), (unsigned long)pe->off);
		goto out;
	}
	if (pwrite(to, pages + (s - pe->vaddr), e - s, to_off) != (ssize_t)(e - s)) {
		pr_perror("writing the gathered pages");
		goto out;
	}
	ret = 0;
out:
	free(frame);
	free(pages);
	return ret;
}

static int copy_range(int to, uint64_t to_off, int from, uint64_t from_off, uint64_t len, const char *what)
{
	off_t in = from_off;

	if (lseek(to, to_off, SEEK_SET) < 0) {
		pr_perror("seeking the gathered pages");
		return -1;
	}
	while (len) {
		ssize_t n = sendfile(to, from, &in, len);

		if (n <= 0) {
			if (n == 0)
				pr_err("%s is shorter than its pagemap says\n", what);
			else
				pr_perror("copying pages from %s", what);
			return -1;
		}
		len -= n;
	}
	return 0;
}

/*
 * Pages copied from a second pages file, checked where they landed: the
 * restorer checks them again in the gathered memfd, but can only name
 * that, and damage must be named by the file it is in. Only the pages
 * outside huge runs come this way (those are read and checked by cow.c
 * from the file itself): a small share of a dump big enough for two files.
 */
static int check_copied(int to, uint64_t to_off, const PagemapEntry *pe, uint64_t s, uint64_t e, const char *what)
{
	const uint64_t *csum = pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT);
	size_t chunk = 64 * PAGE_SIZE, bad;
	char *buf = malloc(chunk);
	int ret = -1;

	if (!buf) {
		pr_err("out of memory\n");
		return -1;
	}
	for (uint64_t done = 0; done < e - s; done += chunk) {
		size_t n = e - s - done < chunk ? e - s - done : chunk;

		if (pread(to, buf, n, to_off + done) != (ssize_t)n) {
			pr_perror("reading the gathered pages back");
			goto out;
		}
		bad = csum_check_pages(buf, n >> PAGE_SHIFT, csum + (done >> PAGE_SHIFT));
		if (bad < n >> PAGE_SHIFT) {
			pr_err("%s: the page at offset %lu (address %lx) is damaged (checksum mismatch)\n", what,
			       (unsigned long)(pe->off + (s - pe->vaddr) + done + bad * PAGE_SIZE),
			       (unsigned long)(s + done + bad * PAGE_SIZE));
			goto out;
		}
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* The level above @l (loaded once), whose pages @l marks as in its parent at @addr. 0 or -1. */
static int level_up(struct level *l, pid_t pid, uint64_t addr)
{
	int up;

	if (l->up)
		return 0;
	up = chain_open_parent(l->dfd);
	if (up < 0 || l->depth >= MAX_CHAIN) {
		pr_perror("pagemap-%d.img %d level(s) up the chain marks pages at %lx as in its parent, but it has "
			  "no parent link", pid, l->depth, (unsigned long)addr);
		if (up >= 0)
			close(up);
		return -1;
	}
	l->up = level_load(up, pid, l->depth + 1, 1);
	return l->up ? 0 : -1;
}

/*
 * Copy the pages [addr, addr + nr pages) as level @l has them to @to at
 * @to_off, and their checksums (as the level that stores them has them)
 * to @csum.
 */
static int gather(struct level *l, pid_t pid, uint64_t addr, uint64_t nr, int to, uint64_t to_off, uint64_t *csum)
{
	uint64_t end = addr + nr * PAGE_SIZE;

	for (size_t i = lower_bound(l, addr); addr < end; i++) {
		PagemapEntry *pe = i < l->n ? l->e[i] : NULL;
		uint64_t s, e;

		if (!pe || pe->vaddr > addr) {
			pr_err("the pages of %d at %lx are marked as unchanged since the previous dump, but the "
			       "images %d level(s) up the chain do not have them\n", pid, (unsigned long)addr,
			       l->depth);
			return -1;
		}
		s = addr;
		e = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE;
		if (e > end)
			e = end;
		if (is_in_prev(pe)) {
			if (level_up(l, pid, s))
				return -1;
			if (gather(l->up, pid, s, (e - s) >> PAGE_SHIFT, to, to_off, csum))
				return -1;
		} else if (pe->has_clen) {
			if (copy_frame(to, to_off, l->pages_fd[pe_file(pe)], pe, s, e, l->pages_name[pe_file(pe)]))
				return -1;
		} else if (copy_range(to, to_off, l->pages_fd[pe_file(pe)], pe->off + (s - pe->vaddr), e - s,
				      l->pages_name[pe_file(pe)]) ||
			   (pe_file(pe) && check_copied(to, to_off, pe, s, e, l->pages_name[1]))) {
			return -1;
		}
		if (!is_in_prev(pe))
			memcpy(csum, pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT), ((e - s) >> PAGE_SHIFT) * sizeof(*csum));
		csum += (e - s) >> PAGE_SHIFT;
		to_off += e - s;
		addr = e;
	}
	return 0;
}

/*
 * One part of the gathering: the entries [from, to) of @pms, each written
 * at its offset in @out[] to @fd (a file description of the memfd of this
 * part's own: sendfile() writes at its position). Its own chain levels,
 * loaded as needed, so that parts share nothing.
 */
struct gather_part {
	int dfd;
	pid_t pid;
	const char *pages_name;
	PagemapEntry **pms;
	const uint64_t *out;
	size_t from, to;
	int fd;
	int ret;
	const struct page_list *skip;	/* pages not to copy (read from the chain by cow.c, lazy), or NULL */
	uint64_t copied;		/* bytes */
};

/* Copy the pages [s, e) of top entry @pe to the memfd at @off (where its s goes). */
static int gather_piece(struct gather_part *g, struct level *top, PagemapEntry *pe, uint64_t s, uint64_t e, uint64_t off)
{
	if (is_in_prev(pe)) {
		if (!top->up) {
			int up = chain_open_parent(g->dfd);

			if (up < 0) {
				pr_perror("pagemap-%d.img has pages in the previous images, but there is no %s link",
					  g->pid, PARENT_LINK);
				return -1;
			}
			top->up = level_load(up, g->pid, 1, 1);
			if (!top->up)
				return -1;
		}
		/* chain_gather() gave the entry room for the checksums of its pages */
		return gather(top->up, g->pid, s, (e - s) >> PAGE_SHIFT, g->fd, off,
			      pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT));
	}
	int f = pe_file(pe);

	/* the second pages file of the top images: opened when first needed */
	if (f && top->pages_fd[1] < 0) {
		second_name(top->pages_name[1], sizeof(top->pages_name[1]), g->pages_name);
		top->pages_fd[1] = open_image_file(g->dfd, top->pages_name[1], O_RDONLY);
		if (top->pages_fd[1] < 0)
			return -1;
	}
	if (pe->has_clen)
		return copy_frame(g->fd, off, top->pages_fd[f], pe, s, e, top->pages_name[f]);
	if (copy_range(g->fd, off, top->pages_fd[f], pe->off + (s - pe->vaddr), e - s, top->pages_name[f]))
		return -1;
	return f ? check_copied(g->fd, off, pe, s, e, top->pages_name[1]) : 0;
}

static void *gather_part_run(void *arg)
{
	struct gather_part *g = arg;
	struct level top = { .dfd = -1, .pages_fd = { -1, -1 }, .depth = 0 };

	g->ret = -1;
	top.pages_fd[0] = open_image_file(g->dfd, g->pages_name, O_RDONLY);
	if (top.pages_fd[0] < 0)
		return NULL;
	snprintf(top.pages_name[0], sizeof(top.pages_name[0]), "%s", g->pages_name);
	for (size_t i = g->from; i < g->to; i++) {
		PagemapEntry *pe = g->pms[i];
		uint64_t pos = pe->vaddr, end = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE;

		if (not_here(pe))
			continue;
		/* the entry less the skipped ranges, each piece at its place in the entry's room */
		for (size_t k = g->skip ? page_list_lower_bound(g->skip, pos) : 0; g->skip && k < g->skip->nr && pos < end; k++) {
			uint64_t ks = g->skip->r[k].start, ke = ks + g->skip->r[k].nr_pages * PAGE_SIZE;

			if (ks >= end)
				break;
			if (ks > pos && gather_piece(g, &top, pe, pos, ks, g->out[i] + (pos - pe->vaddr)))
				goto out;
			if (ks > pos)
				g->copied += ks - pos;
			if (ke > pos)
				pos = ke;
		}
		if (pos >= end)
			continue;
		if (gather_piece(g, &top, pe, pos, end, g->out[i] + (pos - pe->vaddr)))
			goto out;
		g->copied += end - pos;
	}
	g->ret = 0;
out:
	close(top.pages_fd[0]);
	if (top.pages_fd[1] >= 0)
		close(top.pages_fd[1]);
	level_free(top.up);
	return NULL;
}

/*
 * Two threads gather (each half of the pages), into one memfd sized first:
 * the copy into fresh memfd pages is the cost, and two CPUs make those
 * about twice as fast.
 */
int chain_gather(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr, int *memfd)
{
	return chain_gather_skip(dfd, pid, pages_name, pms, nr, NULL, memfd);
}

int chain_gather_skip(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr,
		      const struct page_list *skip, int *memfd)
{
	struct gather_part part[2];
	uint64_t *out = calloc(nr ? nr : 1, sizeof(*out)), off = 0, half = 0, acc = 0;
	char path[64];
	size_t split = nr;
	int fd, fd2 = -1, ret = -1, threaded = 0;
	pthread_t th;

	fd = memfd_create("criu-pages", MFD_CLOEXEC);
	/* ours alone, as images must be (trust.c): the restoring processes open it by path */
	if (!out || fd < 0 || fchmod(fd, 0600)) {
		pr_perror("can't gather the pages of %d from the chain of images", pid);
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		out[i] = off;
		if (!not_here(pms[i]))
			off += (uint64_t)pms[i]->nr_pages * PAGE_SIZE;
	}
	for (size_t i = 0; i < nr && split == nr; i++) {
		if (!not_here(pms[i]))
			acc += (uint64_t)pms[i]->nr_pages * PAGE_SIZE;
		if (acc >= off / 2)
			split = i + 1;
	}
	half = acc;
	/* an in_prev entry takes the checksums of its pages from the level that stores them */
	for (size_t i = 0; i < nr; i++) {
		PagemapEntry *pe = pms[i];

		if (!is_in_prev(pe))
			continue;
		free(pe->csum);
		pe->n_csum = 0;
		pe->csum = calloc(pe->nr_pages, sizeof(*pe->csum));
		if (!pe->csum) {
			pr_err("out of memory for the checksums of the pages of %d\n", pid);
			goto out;
		}
		pe->n_csum = pe->nr_pages;
	}
	if (ftruncate(fd, off)) {
		pr_perror("can't size the gathered pages of %d", pid);
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (int k = 0; k < 2; k++)
		part[k] = (struct gather_part){ .dfd = dfd, .pid = pid, .pages_name = pages_name, .pms = pms,
						.out = out, .from = k ? split : 0, .to = k ? nr : split, .fd = fd,
						.skip = skip && skip->nr ? skip : NULL };
	/* a second description for the second thread: its own file position */
	if (off >= (64ULL << 20) && split < nr && (fd2 = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
		part[1].fd = fd2;
		threaded = pthread_create(&th, NULL, gather_part_run, &part[1]) == 0;
	}
	if (!threaded) {
		part[0].to = nr;
		part[1].ret = 0;
	}
	gather_part_run(&part[0]);
	if (threaded)
		pthread_join(th, NULL);
	if (part[0].ret || part[1].ret)
		goto out;
	for (size_t i = 0; i < nr; i++) {
		PagemapEntry *pe = pms[i];

		if (not_here(pe))
			continue;
		pe->in_prev = pe->has_in_prev = false;
		pe->has_clen = false;
		pe->has_file = false;
		pe->file = 0;
		pe->off = out[i];
	}
	pr_info("%d: %lu KiB of pages gathered (from a chain of %d images dirs, compressed frames expanded%s), "
		"%lu KiB left where they are (huge runs for the restoring process, lazy areas for the daemon)\n",
		pid, (unsigned long)((part[0].copied + part[1].copied) >> 10), chain_depth(dfd) + 1,
		threaded ? ", two threads" : "", (unsigned long)((off - part[0].copied - part[1].copied) >> 10));
	(void)half;
	if (img_serve_allow_fd(fd))
		goto out;
	*memfd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	free(out);
	return ret;
}

/* ---- sources of huge runs (cow.c) ---- */

static int src_file(struct chain_srcs *cs, int fd, const char *what, int depth)
{
	char (*f)[64] = realloc(cs->files, (cs->nr_files + 1) * sizeof(*f));
	char (*w)[64];

	if (!f)
		return -1;
	cs->files = f;
	w = realloc(cs->what, (cs->nr_files + 1) * sizeof(*w));
	if (!w)
		return -1;
	cs->what = w;
	/* the restoring process opens it as it would the gathered memfd */
	if (img_serve_allow_fd(fd))
		return -1;
	snprintf(cs->files[cs->nr_files], sizeof(cs->files[0]), "/proc/%d/fd/%d", getpid(), fd);
	if (depth)
		snprintf(cs->what[cs->nr_files], sizeof(cs->what[0]), "%.30s %d level(s) up", what, depth);
	else
		snprintf(cs->what[cs->nr_files], sizeof(cs->what[0]), "%.30s", what);
	return cs->nr_files++;
}

static int src_add(struct chain_srcs *cs, int file, const PagemapEntry *pe, uint64_t s, uint64_t e)
{
	struct chain_src *x;

	if (cs->nr == cs->cap) {
		size_t c = cs->cap ? cs->cap * 2 : 64;

		x = realloc(cs->s, c * sizeof(*x));
		if (!x) {
			pr_err("out of memory\n");
			return -1;
		}
		cs->s = x;
		cs->cap = c;
	}
	x = &cs->s[cs->nr++];
	*x = (struct chain_src){ .to = s, .len = e - s, .file = file,
				 .csum = pe->csum + ((s - pe->vaddr) >> PAGE_SHIFT) };
	if (pe->has_clen) {
		x->off = pe->off;
		x->clen = pe->clen;
		x->fvaddr = pe->vaddr;
		x->fpages = pe->nr_pages;
	} else {
		x->off = pe->off + (s - pe->vaddr);
	}
	return 0;
}

/* The sources of [addr, end) as level @l has them; as gather(), without the copy. */
static int runs_walk(struct chain_srcs *cs, struct level *l, pid_t pid, uint64_t addr, uint64_t end)
{
	for (size_t i = lower_bound(l, addr); addr < end; i++) {
		PagemapEntry *pe = i < l->n ? l->e[i] : NULL;
		uint64_t e;

		if (!pe || pe->vaddr > addr) {
			pr_err("the pages of %d at %lx are marked as unchanged since the previous dump, but the "
			       "images %d level(s) up the chain do not have them\n", pid, (unsigned long)addr,
			       l->depth);
			return -1;
		}
		e = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE;
		if (e > end)
			e = end;
		if (is_in_prev(pe)) {
			if (level_up(l, pid, addr))
				return -1;
			if (runs_walk(cs, l->up, pid, addr, e))
				return -1;
		} else {
			int f = pe_file(pe);

			if (l->src_file[f] < 0 &&
			    (l->src_file[f] = src_file(cs, l->pages_fd[f], l->pages_name[f], l->depth)) < 0)
				return -1;
			if (src_add(cs, l->src_file[f], pe, addr, e))
				return -1;
		}
		addr = e;
	}
	return 0;
}

int chain_runs(int dfd, pid_t pid, const char *pages_name, PagemapEntry **pms, size_t nr,
	       const struct page_list *runs, struct chain_srcs *cs)
{
	int top[2] = { -1, -1 };

	memset(cs, 0, sizeof(*cs));
	cs->top_fd = cs->top_fd1 = -1;
	for (size_t i = 0; i < nr; i++) {
		PagemapEntry *pe = pms[i];
		uint64_t s = pe->vaddr, end = s + (uint64_t)pe->nr_pages * PAGE_SIZE;

		if (is_in_parent(pe))
			continue;
		for (size_t k = page_list_lower_bound(runs, s); k < runs->nr && runs->r[k].start < end; k++) {
			uint64_t a = runs->r[k].start > s ? runs->r[k].start : s;
			uint64_t b = runs->r[k].start + runs->r[k].nr_pages * PAGE_SIZE;

			if (b > end)
				b = end;
			if (is_in_prev(pe)) {
				if (!cs->up) {
					int up = chain_open_parent(dfd);

					if (up < 0) {
						pr_perror("pagemap-%d.img has pages in the previous images, but there "
							  "is no %s link", pid, PARENT_LINK);
						return -1;
					}
					cs->up = level_load(up, pid, 1, 1);
					if (!cs->up)
						return -1;
				}
				if (runs_walk(cs, cs->up, pid, a, b))
					return -1;
				continue;
			}
			if (!pe_file(pe) && top[0] < 0) {
				cs->top_fd = open_image_file(dfd, pages_name, O_RDONLY);
				if (cs->top_fd < 0 || (top[0] = src_file(cs, cs->top_fd, pages_name, 0)) < 0)
					return -1;
			}
			if (pe_file(pe) && top[1] < 0) {
				char name[64];

				second_name(name, sizeof(name), pages_name);
				cs->top_fd1 = open_image_file(dfd, name, O_RDONLY);
				if (cs->top_fd1 < 0 || (top[1] = src_file(cs, cs->top_fd1, name, 0)) < 0)
					return -1;
			}
			if (src_add(cs, top[pe_file(pe)], pe, a, b))
				return -1;
		}
	}
	return 0;
}

void chain_srcs_free(struct chain_srcs *cs)
{
	free(cs->s);
	free(cs->files);
	free(cs->what);
	level_free(cs->up);
	if (cs->top_fd >= 0)
		close(cs->top_fd);
	if (cs->top_fd1 >= 0)
		close(cs->top_fd1);
	memset(cs, 0, sizeof(*cs));
	cs->top_fd = cs->top_fd1 = -1;
}

/* ---- --auto-dedup ---- */

/* Punch out of @l's pages file the stored pages of @l not in @keep; what @l takes from above, into @up. */
static int dedup_level(struct level *l, pid_t pid, const struct page_list *keep, struct page_list *up,
		       uint64_t *punched)
{
	struct page_range *r = calloc(l->n ? l->n : 1, sizeof(*r));
	struct page_list stored, prev, in, out;
	size_t ns = 0, np = 0;
	int ret = -1;

	page_list_init(up);
	if (!r)
		return -1;
	/* two sorted lists: what the level stores, what it takes from its parent */
	for (size_t i = 0; i < l->n; i++)
		if (!is_in_prev(l->e[i]))
			r[ns++] = (struct page_range){ l->e[i]->vaddr, l->e[i]->nr_pages };
	if (page_list_normalize(r, ns, &stored))
		goto out_r;
	for (size_t i = 0; i < l->n; i++)
		if (is_in_prev(l->e[i]))
			r[np++] = (struct page_range){ l->e[i]->vaddr, l->e[i]->nr_pages };
	if (page_list_normalize(r, np, &prev))
		goto out_stored;
	/* what the new images still need from above this level */
	if (page_list_split(&prev, keep, up, &out))
		goto out_prev;
	page_list_free(&out);
	/* stored pages nobody needs any more */
	if (page_list_split(&stored, keep, &in, &out))
		goto out_prev;
	for (size_t i = 0; i < out.nr; i++) {
		uint64_t s = out.r[i].start, e = s + out.r[i].nr_pages * PAGE_SIZE;

		for (size_t k = lower_bound(l, s); k < l->n && l->e[k]->vaddr < e; k++) {
			PagemapEntry *pe = l->e[k];
			uint64_t ps = pe->vaddr > s ? pe->vaddr : s;
			uint64_t pend = pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE;

			if (is_in_prev(pe))
				continue;
			if (pend > e)
				pend = e;
			if (ps >= pend)
				continue;
			/* a compressed frame goes whole or not at all */
			if (pe->has_clen && (ps != pe->vaddr || pend != pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE))
				continue;
			if (fallocate(l->pages_fd[pe_file(pe)], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      pe->off + (pe->has_clen ? 0 : ps - pe->vaddr),
				      pe->has_clen ? PAGE_ALIGN(pe->clen) : pend - ps)) {
				pr_perror("--auto-dedup: can't free pages of %d in %s %d level(s) up", pid,
					  l->pages_name[pe_file(pe)], l->depth);
				goto out_lists;
			}
			*punched += (pend - ps) >> PAGE_SHIFT;
		}
	}
	ret = 0;
out_lists:
	page_list_free(&in);
	page_list_free(&out);
out_prev:
	page_list_free(&prev);
out_stored:
	page_list_free(&stored);
out_r:
	free(r);
	if (ret)
		page_list_free(up);
	return ret;
}

int chain_dedup(int dfd, pid_t pid, uint64_t *punched)
{
	struct page_list keep, up;
	struct level *l = NULL, *first = NULL, *top;
	struct page_range *r;
	int fd, ret = -1, depth = 1;
	size_t n = 0;

	fd = dup(dfd);
	top = fd >= 0 ? level_load(fd, pid, 0, 0) : NULL;
	if (!top)
		return -1;
	/* what the new images take from the chain: their in_prev entries */
	r = calloc(top->n ? top->n : 1, sizeof(*r));
	if (!r) {
		level_free(top);
		return -1;
	}
	for (size_t i = 0; i < top->n; i++)
		if (is_in_prev(top->e[i]))
			r[n++] = (struct page_range){ top->e[i]->vaddr, top->e[i]->nr_pages };
	ret = page_list_normalize(r, n, &keep);
	free(r);
	level_free(top);
	if (ret)
		return -1;
	ret = -1;
	page_list_init(&up);
	fd = chain_open_parent(dfd);
	/* down the chain while some level still takes pages from above */
	while (fd >= 0 && depth < MAX_CHAIN) {
		struct level *lv = level_load(fd, pid, depth, 1);

		if (!lv)
			goto out;
		if (!first)
			first = lv;
		else
			l->up = lv;
		l = lv;
		/* it can be written now: reopen the pages files for punching */
		for (int f = 0; f < l->nr_files; f++) {
			close(l->pages_fd[f]);
			l->pages_fd[f] = open_image_file(l->dfd, l->pages_name[f], O_RDWR);
			if (l->pages_fd[f] < 0) {
				pr_err("--auto-dedup: can't open %s %d level(s) up\n", l->pages_name[f], depth);
				goto out;
			}
		}
		if (dedup_level(l, pid, &keep, &up, punched))
			goto out;
		page_list_free(&keep);
		keep = up;
		page_list_init(&up);
		if (!keep.nr)
			break;
		fd = chain_open_parent(l->dfd);
		depth++;
	}
	ret = 0;
out:
	page_list_free(&keep);
	page_list_free(&up);
	level_free(first);
	return ret;
}

/*
 * restore --auto-dedup: once the tree runs, the pages of @pid are freed in
 * every level of the chain it was restored from (punched whole: what a
 * level stores for @pid is either restored now or replaced below it). The
 * images can't be restored again: their checksums refuse the holes.
 */
int chain_free_pages(int dfd, pid_t pid, uint64_t *bytes)
{
	int fd = dup(dfd), depth = 0, ret = 0;

	if (fd < 0) {
		pr_perror("dup");
		return -1;
	}
	if (!image_exists(dfd, CR_FD_PAGEMAP, pid)) {
		close(fd);	/* a zombie, or a process sharing another's memory */
		return 0;
	}
	while (fd >= 0 && depth < MAX_CHAIN) {
		struct level *l = level_load(fd, pid, depth, 0);
		struct stat st;
		int pfd;

		if (!l)
			return -1;
		for (int f = 0; f < l->nr_files && !ret; f++) {
			pfd = open_image_file(l->dfd, l->pages_name[f], O_RDWR);
			if (pfd < 0 || fstat(pfd, &st) ||
			    (st.st_size && fallocate(pfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, st.st_size))) {
				pr_perror("--auto-dedup: can't free %s of %d %d level(s) up", l->pages_name[f], pid,
					  depth);
				ret = -1;
			} else {
				*bytes += st.st_size;
			}
			if (pfd >= 0)
				close(pfd);
		}
		fd = ret ? -1 : chain_open_parent(l->dfd);
		level_free(l);
		depth++;
	}
	return ret;
}
