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
#include <unistd.h>

#include "chunks.h"
#include "fdkinds.h"
#include "fileobj.h"
#include "log.h"
#include "util.h"

#define MEMFD_MAX_SIZE	(1ULL << 30)	/* contents go into the image entry */

static void free_memfd(FileEntry *fe);

/* Fill @fe from @dup, our own fd of the memfd; @link is what /proc shows for it. */
int memfd_dump_fd(int dup, const char *link, uint32_t flags, uint64_t pos, FileEntry *fe)
{
	MemfdEntry *m = calloc(1, sizeof(*m));
	const char *name = link + strlen("/memfd:");
	const char *del = strstr(name, " (deleted)");
	struct stat st;
	int seals;

	if (!m || fstat(dup, &st))
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

/* The memfd made again, contents and seals: an O_RDWR fd of it, or -1. */
int memfd_make(FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;
	int fd;

	if (!m || !m->name || m->size > MEMFD_MAX_SIZE) {
		pr_err("file %u: a bad memfd record\n", fe->id);
		return -1;
	}
	fd = memfd_create(m->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		pr_perror("memfd_create(%s)", m->name);
		return -1;
	}
	if (ftruncate(fd, m->size) || write_chunks(fd, m->chunks, m->n_chunks, m->size) ||
	    (m->seals && fcntl(fd, F_ADD_SEALS, m->seals))) {
		pr_perror("can't make the memfd %s again", m->name);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The memfd itself was made once for the whole tree (see fileobj.c): this
 * is a new description of it, opened as the task had it.
 */
static int open_memfd(struct fd_rst *c, FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;
	int fd;

	if (!m) {
		pr_err("file %u: a bad memfd record\n", fe->id);
		return -1;
	}
	fd = fileobj_reopen(c->rf, fe->id, m->flags & ~(O_CREAT | O_TRUNC | O_EXCL));
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
