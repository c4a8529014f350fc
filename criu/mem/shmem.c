/*
 * Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS): a shmem object
 * behind "/dev/zero (deleted)" areas, shared by whoever maps it. Its bytes
 * are saved once, read through /proc/PID/map_files (holes stay holes);
 * at restore the object is made again the same way (so that it still shows
 * as /dev/zero) and every task maps it from an fd it inherits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csum.h"
#include "files.h"
#include "hmap.h"
#include "image.h"
#include "log.h"
#include "mm.pb-c.h"
#include "shmem.h"
#include "util.h"

struct shmem_obj {
	uint32_t id;
	dev_t dev;
	ino_t ino;
	uint64_t size;
	pid_t pid;		/* a task mapping it, and where */
	uint64_t start, end;
};

/* What the dump keeps (file_table.shmem): the objects, found by inode. */
struct shmem_dump {
	struct shmem_obj *objs;
	uint32_t nr, cap;
	struct hmap by_inode;		/* inode key -> index in objs */
};

int shmem_add_vma(struct file_table *ft, pid_t pid, uint64_t start, uint64_t end, uint32_t *id)
{
	struct shmem_dump *sd = ft->shmem;
	char mf[128];
	struct stat st;
	uint64_t *idx;
	int made;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)start, (unsigned long)end);
	if (stat(mf, &st)) {
		pr_perror("can't stat %s", mf);
		return -1;
	}
	if (!sd && !(sd = ft->shmem = calloc(1, sizeof(*sd))))
		goto oom;
	idx = hmap_get_or_put(&sd->by_inode, inode_key(st.st_dev, st.st_ino), sd->nr, &made);
	if (!idx)
		goto oom;
	if (!made) {
		*id = sd->objs[*idx].id;
		return 0;
	}
	if (sd->nr == sd->cap) {
		uint32_t cap = sd->cap ? 2 * sd->cap : 16;
		struct shmem_obj *n = realloc(sd->objs, cap * sizeof(*n));

		if (!n)
			goto oom;
		sd->objs = n;
		sd->cap = cap;
	}
	sd->objs[sd->nr] = (struct shmem_obj){ .id = sd->nr + 1, .dev = st.st_dev, .ino = st.st_ino,
					       .size = st.st_size, .pid = pid, .start = start, .end = end };
	*id = sd->objs[sd->nr++].id;
	return 0;
oom:
	pr_err("out of memory\n");
	return -1;
}

void shmem_dump_free(struct file_table *ft)
{
	if (!ft->shmem)
		return;
	free(ft->shmem->objs);
	hmap_free(&ft->shmem->by_inode);
	free(ft->shmem);
	ft->shmem = NULL;
}

/* Copy the data (not the holes) of @src to the same offsets of @dst. */
int copy_sparse(int src, int dst, uint64_t size, void *dst_mem)
{
	char *buf = malloc(1 << 20);
	off_t off = 0;
	int ret = -1;

	if (!buf)
		return -1;
	while ((uint64_t)off < size) {
		off_t data = lseek(src, off, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break;
			pr_perror("SEEK_DATA");
			goto out;
		}
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = size;
		for (off = data; off < hole;) {
			size_t chunk = hole - off > (1 << 20) ? (1 << 20) : hole - off;
			ssize_t n = pread(src, dst_mem ? (char *)dst_mem + off : buf, chunk, off);

			if (n <= 0) {
				pr_perror("reading shared memory at %ld", (long)off);
				goto out;
			}
			if (!dst_mem && pwrite(dst, buf, n, off) != n) {
				pr_perror("writing shared memory at %ld", (long)off);
				goto out;
			}
			off += n;
		}
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int shmem_dump_all(struct file_table *ft, int dfd)
{
	struct cr_img *img = open_image_at(dfd, CR_FD_SHMEM, O_DUMP);
	uint32_t nr = ft->shmem ? ft->shmem->nr : 0;
	int ret = 0;

	if (!img)
		return -1;
	for (uint32_t i = 0; i < nr && !ret; i++) {
		struct shmem_obj *o = &ft->shmem->objs[i];
		ShmemEntry se = SHMEM_ENTRY__INIT;
		struct cr_img *data;
		char mf[128];
		int src;

		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", o->pid, (unsigned long)o->start,
			 (unsigned long)o->end);
		se.n_csum = sparse_nr_csum(o->size);
		se.csum = calloc(se.n_csum + 1, sizeof(*se.csum));
		src = open(mf, O_RDONLY | O_CLOEXEC);
		data = open_image_at(dfd, CR_FD_SHMEM_PAGES, O_DUMP, o->id);
		if (src < 0 || !data || !se.csum) {
			pr_perror("can't save shared memory %s", mf);
			ret = -1;
		} else if (save_sparse(src, data->fd, o->size, se.csum, data->path)) {
			pr_err("can't save shared memory object %u (%s)\n", o->id, mf);
			ret = -1;
		}
		if (src >= 0)
			close(src);
		ret = finish_image(data, ret);
		se.id = o->id;
		se.size = o->size;
		se.has_ino = true;
		se.ino = o->ino;
		if (!ret)
			ret = pb_write_one(img, &se);
		free(se.csum);
	}
	return finish_image(img, ret);
}

/* Call @fn for every entry of shmem.img (none if there is no such image). */
static int for_each_shmem(int dfd, int (*fn)(int dfd, ShmemEntry *se, void *arg), void *arg)
{
	struct cr_img *img;
	void *msg;
	int r;

	r = image_exists(dfd, CR_FD_SHMEM);
	if (r <= 0)
		return r;
	img = open_image_at(dfd, CR_FD_SHMEM, O_RDONLY);
	if (!img)
		return -1;
	while ((r = pb_read_one(img, &msg)) == 1) {
		r = fn(dfd, msg, arg);
		pb_free(img, msg);
		if (r)
			break;
	}
	close_image(img);
	return r < 0 ? -1 : 0;
}

static int note_max_id(int dfd, ShmemEntry *se, void *arg)
{
	uint32_t *max_id = arg;

	if (se->id > *max_id)
		*max_id = se->id;
	return 0;
}

int shmem_count(int dfd, uint32_t *max_id)
{
	*max_id = 0;
	if (for_each_shmem(dfd, note_max_id, max_id))
		return -1;
	if (*max_id > 65536) {
		pr_err("shmem.img: object ids up to %u\n", *max_id);
		return -1;
	}
	return 0;
}

/* Make one object again: anonymous shared memory of its size, its bytes, an fd to it. */
static int shmem_make(int dfd, ShmemEntry *se, int slot)
{
	struct cr_img *data;
	char mf[128];
	void *mem;
	int fd = -1;

	if (!se->size || se->size > (1ULL << 46) || se->size % 4096) {
		pr_err("shmem.img: object %u has an impossible size %lu\n", se->id, (unsigned long)se->size);
		return -1;
	}
	mem = mmap(NULL, se->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		pr_perror("can't make shared memory of %lu bytes", (unsigned long)se->size);
		return -1;
	}
	data = open_image_at(dfd, CR_FD_SHMEM_PAGES, O_RDONLY, se->id);
	if (!data || load_sparse(data, se->size, mem, se->csum, se->n_csum))
		goto out;
	snprintf(mf, sizeof(mf), "self/map_files/%lx-%lx", (unsigned long)mem, (unsigned long)mem + se->size);
	fd = proc_open(O_RDWR, "%s", mf);
	if (fd < 0 || move_fd(fd, slot) < 0) {
		pr_perror("can't get an fd for shared memory object %u", se->id);
		fd = -1;
	}
out:
	close_image(data);
	munmap(mem, se->size);
	return fd < 0 ? -1 : 0;
}

static int make_one(int dfd, ShmemEntry *se, void *arg)
{
	return shmem_make(dfd, se, *(int *)arg + se->id) ? -1 : 0;
}

int shmem_restore_all(int dfd, int base)
{
	return for_each_shmem(dfd, make_one, &base);
}
