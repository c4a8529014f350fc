/*
 * Namespace files (/proc/PID/ns/TYPE) held as fds. One of a namespace the
 * holder lives in (or that its children get: pid_for_children,
 * time_for_children) is opened again from /proc/self/ns of the restored
 * holder, which lives in the restored tree's namespace of that type. A
 * namespace of anybody else is refused: nothing would make it again.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fdkinds.h"
#include "log.h"
#include "util.h"

/* The names of /proc/PID/ns; the link of an fd of one reads "TYPE:[INO]". */
static const char *const ns_names[] = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" };

/* The type in a link "TYPE:[INO]", NULL if it is none. */
static const char *ns_type(const char *link, char *buf, size_t size)
{
	unsigned long long ino;
	int n = 0;

	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		size_t len = strlen(ns_names[i]);

		if (strncmp(link, ns_names[i], len) || link[len] != ':')
			continue;
		if (sscanf(link + len, ":[%llu]%n", &ino, &n) != 1 || link[len + n])
			return NULL;
		snprintf(buf, size, "%s", ns_names[i]);
		return buf;
	}
	return NULL;
}

static int is_nsfs(const char *link, const struct stat *st)
{
	char type[16];

	/* nsfs shows its files as regular, read-only ones */
	return S_ISREG(st->st_mode) && ns_type(link, type, sizeof(type));
}

/* Does @pid live in (or make its children in) the namespace @ino of @type? The name it has there, or NULL. */
static const char *holder_ns(pid_t pid, const char *type, ino_t ino, char *name, size_t size)
{
	const char *names[] = { "", "_for_children" };
	char path[96];
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		snprintf(name, size, "%s%s", type, names[i]);
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
		if (!stat(path, &st) && st.st_ino == ino)
			return name;
	}
	return NULL;
}

static void free_nsfs(FileEntry *fe)
{
	if (!fe->nsfs)
		return;
	free(fe->nsfs->type);
	free(fe->nsfs);
	fe->nsfs = NULL;
}

static int dump_nsfs(struct file_table *ft, pid_t pid, int fd, const char *info, const struct proc_fdinfo *fi,
		     FileEntry *fe)
{
	char path[64], link[64], type[16], name[32];
	NsfsEntry *e;
	struct stat st;

	(void)ft;
	(void)info;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (read_link(path, link, sizeof(link)) < 0 || stat(path, &st) || !ns_type(link, type, sizeof(type))) {
		pr_perror("can't read the namespace file at fd %d of %d", fd, pid);
		return -1;
	}
	if (!holder_ns(pid, type, st.st_ino, name, sizeof(name))) {
		pr_err("can't dump task %d: fd %d is the namespace file %s of a namespace the task does not live "
		       "in; only its own namespaces can be made again\n", pid, fd, link);
		return -1;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -1;
	nsfs_entry__init(e);
	fe->nsfs = e;
	e->type = strdup(name);
	e->ino = st.st_ino;
	e->flags = fi->flags & ~O_CLOEXEC;
	if (!e->type) {
		free_nsfs(fe);
		return -1;
	}
	return 0;
}

static int open_nsfs(struct fd_rst *c, FileEntry *fe)
{
	NsfsEntry *e = fe->nsfs;
	char path[64];
	int fd;

	(void)c;
	if (!e || !e->type || strchr(e->type, '/')) {
		pr_err("file %u: a bad namespace file record\n", fe->id);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/ns/%s", e->type);
	/* criu's /proc: the tree's mount namespace may have none */
	fd = proc_open(e->flags & ~(O_CREAT | O_EXCL | O_TRUNC), "self/ns/%s", e->type);
	if (fd < 0)
		pr_perror("can't open %s (it was %s:[%lu])", path, e->type, (unsigned long)e->ino);
	return fd;
}

const struct fd_kind nsfs_kind = {
	.match = is_nsfs,
	.type = FILE_TYPE__FT_NSFS,
	.dump = dump_nsfs,
	.open = open_nsfs,
	.free = free_nsfs,
};
