/*
 * memfd: name, size, seals, position and contents (holes left out), read
 * through a duplicate of the task's fd. Restored with memfd_create(), the
 * contents written back, then the seals added.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdkinds.h"
#include "log.h"
#include "util.h"

#define MEMFD_MAX_SIZE	(1ULL << 30)	/* contents go into the image entry */

static void free_memfd(FileEntry *fe);

static int add_chunk(MemfdEntry *m, int fd, off_t off, size_t len)
{
	MemfdChunk *c = calloc(1, sizeof(*c)), **n;

	n = realloc(m->chunks, (m->n_chunks + 1) * sizeof(*n));
	if (!c || !n) {
		free(c);
		return -1;
	}
	m->chunks = n;
	memfd_chunk__init(c);
	c->off = off;
	c->data.data = malloc(len);
	c->data.len = len;
	m->chunks[m->n_chunks++] = c;
	if (!c->data.data || pread(fd, c->data.data, len, off) != (ssize_t)len) {
		pr_perror("reading a memfd at %ld", (long)off);
		return -1;
	}
	return 0;
}

static int dump_memfd(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[4096], *name, *del;
	MemfdEntry *m = calloc(1, sizeof(*m));
	int dup = task_fd(pid, fd), seals;
	struct stat st;
	off_t off = 0;

	if (!m || dup < 0 || fstat(dup, &st))
		goto err;
	memfd_entry__init(m);
	fe->memfd = m;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0)
		goto err;
	name = link + strlen("/memfd:");
	del = strstr(name, " (deleted)");
	if (del)
		*del = '\0';
	m->name = strdup(name);
	seals = fcntl(dup, F_GET_SEALS);
	if (!m->name || seals < 0)
		goto err;
	if ((uint64_t)st.st_size > MEMFD_MAX_SIZE) {
		pr_err("can't dump task %d: memfd fd %d holds %ld bytes, more than we save\n", pid, fd,
		       (long)st.st_size);
		goto err;
	}
	m->size = st.st_size;
	m->seals = seals;
	m->flags = fi->flags & ~O_CLOEXEC;
	m->pos = fi->pos;
	while (off < st.st_size) {
		off_t data = lseek(dup, off, SEEK_DATA), hole;

		if (data < 0)
			break;		/* ENXIO: only a hole is left */
		hole = lseek(dup, data, SEEK_HOLE);
		if (hole < 0 || hole > st.st_size)
			hole = st.st_size;
		if (add_chunk(m, dup, data, hole - data))
			goto err;
		off = hole;
	}
	close(dup);
	return 0;
err:
	pr_err("can't dump the memfd at fd %d of %d\n", fd, pid);
	if (dup >= 0)
		close(dup);
	free_memfd(fe);
	return -1;
}

static int open_memfd(FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;
	char path[64];
	int fd, ret;

	if (!m || !m->name || m->size > MEMFD_MAX_SIZE) {
		pr_err("file %u: a bad memfd record\n", fe->id);
		return -1;
	}
	fd = memfd_create(m->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		pr_perror("memfd_create(%s)", m->name);
		return -1;
	}
	if (ftruncate(fd, m->size))
		goto err;
	for (size_t i = 0; i < m->n_chunks; i++) {
		MemfdChunk *c = m->chunks[i];

		if (c->off > m->size || c->data.len > m->size - c->off ||
		    pwrite(fd, c->data.data, c->data.len, c->off) != (ssize_t)c->data.len)
			goto err;
	}
	if (m->seals && fcntl(fd, F_ADD_SEALS, m->seals))
		goto err;
	/* the same file opened as the task had it (it may be read-only) */
	if ((m->flags & O_ACCMODE) != O_RDWR) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ret = open(path, (m->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
		close(fd);
		fd = ret;
		if (fd < 0)
			goto err;
	} else if (fcntl(fd, F_SETFL, m->flags)) {
		goto err;
	}
	if (lseek(fd, m->pos, SEEK_SET) != (off_t)m->pos)
		goto err;
	return fd;
err:
	pr_perror("can't make the memfd %s again", m->name);
	if (fd >= 0)
		close(fd);
	return -1;
}

static void free_memfd(FileEntry *fe)
{
	MemfdEntry *m = fe->memfd;

	if (!m)
		return;
	for (size_t i = 0; i < m->n_chunks; i++) {
		free(m->chunks[i]->data.data);
		free(m->chunks[i]);
	}
	free(m->chunks);
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
