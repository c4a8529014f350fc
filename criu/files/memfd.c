/*
 * memfd: name, size, seals, position and contents (holes left out), read
 * through a duplicate of the task's fd. Restored with memfd_create(), the
 * contents written back, then the seals added, once for the whole tree;
 * each fd is a new open of that one memfd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "chunks.h"
#include "fdkinds.h"
#include "fileobj.h"
#include "log.h"
#include "namespaces.h"
#include "util.h"

#define MEMFD_MAX_SIZE	(1ULL << 30)	/* contents go into the image entry */
#define HUGETLBFS_MAGIC	0x958458f6
#ifndef MFD_HUGETLB
#define MFD_HUGETLB	0x0004U
#endif
#define MFD_HUGE_SHIFT	26		/* log2 of the huge page size goes here in the flags */

static void free_memfd(FileEntry *fe);

/* Fill @fe from @dup, our own fd of the memfd; @link is what /proc shows for it. */
int memfd_dump_fd(int dup, const char *link, uint32_t flags, uint64_t pos, FileEntry *fe)
{
	MemfdEntry *m = calloc(1, sizeof(*m));
	const char *name = link + strlen("/memfd:");
	const char *del = strstr(name, " (deleted)");
	struct statfs sf;
	struct stat st;
	int seals;

	if (!m || fstat(dup, &st) || fstatfs(dup, &sf))
		goto err;
	memfd_entry__init(m);
	fe->memfd = m;
	m->name = strndup(name, del ? (size_t)(del - name) : strlen(name));
	seals = fcntl(dup, F_GET_SEALS);
	if (!m->name || seals < 0)
		goto err;
	if ((uint64_t)st.st_size > MEMFD_MAX_SIZE) {
		pr_err("the memfd %s holds %ld bytes, more than we save\n", link, (long)st.st_size);
		goto err;
	}
	m->size = st.st_size;
	m->seals = seals;
	m->has_mode = m->has_uid = m->has_gid = true;
	m->mode = st.st_mode & 07777;
	m->uid = st.st_uid;
	m->gid = st.st_gid;
	/* as the tree sees it (restore gives it that owner from inside its user namespace) */
	if (ns_owner_inside(&m->uid, &m->gid, "a memfd"))
		goto err;
	if (sf.f_type == HUGETLBFS_MAGIC) {
		m->has_huge_page_size = true;
		m->huge_page_size = st.st_blksize;
	}
	m->flags = flags & ~O_CLOEXEC;
	m->pos = pos;
	if (read_chunks(dup, st.st_size, &m->chunks, &m->n_chunks))
		goto err;
	return 0;
err:
	free_memfd(fe);
	return -1;
}

static int dump_memfd(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[4096];
	int dup, ret = -1;

	(void)info;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	/* a description of our own: reading the contents (lseek SEEK_DATA) must not move the task's */
	dup = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (dup < 0)
		pr_perror("can't open %s", path);
	if (dup >= 0 && read_link(path, link, sizeof(link)) >= 0)
		ret = memfd_dump_fd(dup, link, fi->flags, fi->pos, fe);
	if (ret)
		pr_err("can't dump the memfd at fd %d of %d\n", fd, pid);
	if (dup >= 0)
		close(dup);
	return ret;
}

/*
 * hugetlbfs takes no write(): the contents go in through a mapping, the
 * size rounded up to whole huge pages.
 */
static int fill_huge(int fd, MemfdEntry *m)
{
	uint64_t hp = m->huge_page_size, len = (m->size + hp - 1) / hp * hp;
	char *map;

	if (!len)
		return 0;
	if (ftruncate(fd, len))
		return -1;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < m->n_chunks; i++) {
		MemfdChunk *c = m->chunks[i];

		if (c->off > len || c->data.len > len - c->off) {
			pr_err("memfd %s: a chunk lies beyond its size\n", m->name);
			munmap(map, len);
			errno = EINVAL;
			return -1;
		}
		memcpy(map + c->off, c->data.data, c->data.len);
	}
	munmap(map, len);
	return 0;
}

static unsigned int memfd_flags(MemfdEntry *m)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;

	if (m->has_huge_page_size)
		flags |= MFD_HUGETLB | ((unsigned int)__builtin_ctz(m->huge_page_size) << MFD_HUGE_SHIFT);
	return flags;
}

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

/*
 * F_SEAL_FUTURE_WRITE forbids new writable shared mappings, not the ones
 * made before it: such a seal waits until the tree's memory is mapped,
 * and F_SEAL_SEAL with it (it would forbid adding the other).
 */
struct memfd_late {
	uint32_t id;		/* the memfd's file */
	uint32_t seals;
	pid_t pid;		/* a task mapping it, at start-end */
	uint64_t start, end;
};

static struct memfd_late *late_of(struct rst_files *rf, uint32_t id)
{
	for (size_t i = 0; i < rf->nr_memfd_late; i++)
		if (rf->memfd_late[i].id == id)
			return &rf->memfd_late[i];
	return NULL;
}

int memfd_note_vma(struct rst_files *rf, pid_t pid, const VmaEntry *v)
{
	FileEntry *fe, *h;
	struct memfd_late *l;

	if (v->kind != VMA_KIND__VMA_FILE_SHARED || !v->has_file_id || !(v->prot & PROT_WRITE))
		return 0;
	fe = find_file(rf, v->file_id);
	if (!fe || fe->type != FILE_TYPE__FT_REG || !fe->reg || !fe->reg->has_same_as)
		return 0;
	h = find_file(rf, fe->reg->same_as);
	if (!h || h->type != FILE_TYPE__FT_MEMFD || !h->memfd || !(h->memfd->seals & F_SEAL_FUTURE_WRITE) ||
	    late_of(rf, h->id))
		return 0;
	l = realloc(rf->memfd_late, (rf->nr_memfd_late + 1) * sizeof(*l));
	if (!l) {
		pr_err("out of memory\n");
		return -1;
	}
	rf->memfd_late = l;
	l += rf->nr_memfd_late++;
	l->id = h->id;
	l->seals = h->memfd->seals & (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
	l->pid = pid;
	l->start = v->start;
	l->end = v->end;
	return 0;
}

/* The tree's memory is all mapped (its tasks wait on their final traps): the seals held back. */
int memfd_seal_late(struct rst_files *rf)
{
	for (size_t i = 0; i < rf->nr_memfd_late; i++) {
		struct memfd_late *l = &rf->memfd_late[i];
		pid_t host = ns_host_pid(l->pid);
		int fd = host < 0 ? -1 : proc_open(O_RDWR, "%d/map_files/%lx-%lx", host, (unsigned long)l->start,
						   (unsigned long)l->end);

		if (fd < 0 || fcntl(fd, F_ADD_SEALS, l->seals)) {
			pr_perror("can't seal the memfd of file %u again (seals %#x, through the area %lx-%lx of %d)",
				  l->id, l->seals, (unsigned long)l->start, (unsigned long)l->end, l->pid);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* The memfd made again: contents, mode and owner, then seals (some later). An O_RDWR fd of it, or -1. */
int memfd_make(struct rst_files *rf, FileEntry *fe)
{
	struct memfd_late *late;
	uint32_t seals;

	MemfdEntry *m = fe->memfd;
	int fd, ret;

	if (!m || !m->name || m->size > MEMFD_MAX_SIZE ||
	    (m->has_huge_page_size && (m->huge_page_size < 4096 || m->huge_page_size & (m->huge_page_size - 1)))) {
		pr_err("file %u: a bad memfd record\n", fe->id);
		return -1;
	}
	fd = memfd_create(m->name, memfd_flags(m));
	if (fd < 0) {
		pr_perror("memfd_create(%s)", m->name);
		return -1;
	}
	if (m->has_huge_page_size)
		ret = fill_huge(fd, m);
	else
		ret = ftruncate(fd, m->size) || write_chunks(fd, m->chunks, m->n_chunks, m->size) ? -1 : 0;
	/* mode before the seals: F_SEAL_EXEC forbids changing the exec bits */
	if (!ret && m->has_mode && fchmod(fd, m->mode))
		ret = -1;
	if (!ret && m->has_uid && m->has_gid && fchown(fd, m->uid, m->gid))
		ret = -1;
	late = late_of(rf, fe->id);
	seals = m->seals & ~(late ? late->seals : 0);
	if (ret || (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		pr_perror("can't make the memfd %s again", m->name);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The memfd itself was made once for the whole tree (see fileobj.c): this
 * is a description of it, opened as the task had it. A read-write one is
 * memfd_create()'s own file (a dup of the object): a reopen for writing
 * would count as a writer of the inode for as long as it is open, and
 * execveat() of the memfd would fail with ETXTBSY, as it did not before.
 */
static int open_memfd(struct fd_rst *c, FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;
	int fd, flags;

	if (!m) {
		pr_err("file %u: a bad memfd record\n", fe->id);
		return -1;
	}
	flags = m->flags & ~(O_CREAT | O_TRUNC | O_EXCL);
	if ((flags & O_ACCMODE) == O_RDWR) {
		fd = fileobj_dup(c->rf, fe->id);
		if (fd >= 0 && fcntl(fd, F_SETFL, flags & (O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT))) {
			pr_perror("can't set the flags of the memfd %s", m->name);
			close(fd);
			return -1;
		}
	} else {
		fd = fileobj_reopen(c->rf, fe->id, flags);
	}
	if (fd < 0)
		return -1;
	if (lseek(fd, m->pos, SEEK_SET) != (off_t)m->pos) {
		pr_perror("can't seek the memfd %s to %lu", m->name, (unsigned long)m->pos);
		close(fd);
		return -1;
	}
	return fd;
}

static void free_memfd(FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;

	if (!m)
		return;
	free_chunks(m->chunks, m->n_chunks);
	free(m->name);
	free(m);
	fe->memfd = NULL;
}

const struct fd_kind memfd_kind = {
	.link = "/memfd:",
	.prefix = 1,
	.type = FILE_TYPE__FT_MEMFD,
	.dump = dump_memfd,
	.open = open_memfd,
	.free = free_memfd,
};
