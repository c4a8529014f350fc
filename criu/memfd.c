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

#include "chunks.h"
#include "fdkinds.h"
#include "log.h"
#include "util.h"

#define MEMFD_MAX_SIZE	(1ULL << 30)	/* contents go into the image entry */

static void free_memfd(FileEntry *fe);

static int dump_memfd(pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi, FileEntry *fe)
{
	char path[64], link[4096], *name, *del;
	MemfdEntry *m = calloc(1, sizeof(*m));
	int dup = task_fd(pid, fd), seals;
	struct stat st;

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
	if (read_chunks(dup, st.st_size, &m->chunks, &m->n_chunks))
		goto err;
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
	if (write_chunks(fd, m->chunks, m->n_chunks, m->size))
		goto err;
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
