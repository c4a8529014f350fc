/*
 * The user namespace: its uid and gid maps and its setgroups mode. The
 * tree's must be a child of criu's (nested ones are refused in ns.c);
 * restore clones the first process into a new one and writes the maps
 * while it waits. Credentials are saved as the tasks see them inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdbool.h>

#include "log.h"
#include "namespaces.h"
#include "util.h"

static NsEntry *dumped;		/* for ns_uid_inside() */

static int read_map(pid_t pid, const char *name, NsIdExtent ***out, size_t *nr)
{
	char path[64], line[128];
	unsigned int first, lower, count;
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("can't open %s", path);
		return -1;
	}
	*nr = 0;
	*out = NULL;
	while ((ret = read_line(f, line, sizeof(line), path)) > 0) {
		NsIdExtent **n;
		NsIdExtent *x;

		if (sscanf(line, "%u %u %u", &first, &lower, &count) != 3) {
			pr_err("can't parse %s: \"%.*s\"\n", path, (int)strcspn(line, "\n"), line);
			ret = -1;
			break;
		}
		n = realloc(*out, (*nr + 1) * sizeof(*n));
		if (n)
			*out = n;
		x = n ? calloc(1, sizeof(*x)) : NULL;
		if (!x) {
			pr_err("out of memory reading %s\n", path);
			ret = -1;
			break;
		}
		ns_id_extent__init(x);
		x->first = first;
		x->lower = lower;
		x->count = count;
		(*out)[(*nr)++] = x;
	}
	fclose(f);
	return ret;
}

int user_ns_dump(pid_t pid, NsEntry *e)
{
	char path[64], buf[16] = "";
	int fd;

	if (read_map(pid, "uid_map", &e->uid_map, &e->n_uid_map) ||
	    read_map(pid, "gid_map", &e->gid_map, &e->n_gid_map))
		return -1;
	if (!e->n_uid_map || !e->n_gid_map) {
		pr_err("can't dump: the user namespace of %d has no %s map; its tasks could not be restored with "
		       "their ids\n", pid, e->n_uid_map ? "gid" : "uid");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0) {
		pr_perror("can't read %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	e->has_setgroups_deny = true;
	e->setgroups_deny = !strncmp(buf, "deny", 4);
	dumped = e;
	pr_info("user namespace: %zu uid and %zu gid extents, setgroups %s\n", e->n_uid_map, e->n_gid_map,
		e->setgroups_deny ? "deny" : "allow");
	return 0;
}

static int map_inside(NsIdExtent **m, size_t n, uint32_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (*id >= m[i]->lower && *id - m[i]->lower < m[i]->count) {
			*id = *id - m[i]->lower + m[i]->first;
			return 0;
		}
	return -1;
}

/* An id as criu sees it -> as the tree sees it; -1 if the tree can't see it. */
int ns_uid_inside(uint32_t *id, int gid)
{
	if (!dumped)
		return 0;
	if (gid)
		return map_inside(dumped->gid_map, dumped->n_gid_map, id);
	return map_inside(dumped->uid_map, dumped->n_uid_map, id);
}

int ns_tree_has_userns(void)
{
	return dumped != NULL;
}

int ns_owner_inside(uint32_t *uid, uint32_t *gid, const char *what)
{
	uint32_t u = *uid, g = *gid;

	if (!dumped)
		return 0;
	if (ns_uid_inside(uid, 0) || ns_uid_inside(gid, 1)) {
		pr_err("can't dump: %s: uid %u gid %u are not mapped in the tree's user namespace; restore could "
		       "not give them back\n", what ? what : "a file's owner", u, g);
		return -1;
	}
	return 0;
}

int ns_creds_inside(CredsEntry *cr)
{
	uint32_t *u[] = { &cr->uid, &cr->euid, &cr->suid, &cr->fsuid };
	uint32_t *g[] = { &cr->gid, &cr->egid, &cr->sgid, &cr->fsgid };
	uint32_t *groups;

	if (!dumped)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(u); i++)
		if (ns_uid_inside(u[i], 0) || ns_uid_inside(g[i], 1)) {
			pr_err("can't dump: a task's uid %u or gid %u is not mapped in its user namespace\n", *u[i],
			       *g[i]);
			return -1;
		}
	/* the groups array is the status parser's: translate a copy */
	groups = malloc((cr->n_groups + 1) * sizeof(*groups));
	if (!groups)
		return -1;
	for (size_t i = 0; i < cr->n_groups; i++) {
		groups[i] = cr->groups[i];
		if (ns_uid_inside(&groups[i], 1)) {
			pr_err("can't dump: a task's group %u is not mapped in its user namespace\n", groups[i]);
			free(groups);
			return -1;
		}
	}
	cr->groups = groups;	/* leaked with the dump: one small array per thread */
	return 0;
}

static int write_file(pid_t pid, const char *name, const char *buf, size_t len)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		pr_perror("can't write %s", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_map(pid_t pid, const char *name, NsIdExtent **m, size_t n)
{
	char buf[4096];
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, sizeof(buf) - off, "%u %u %u\n", m[i]->first, m[i]->lower, m[i]->count);

		if (w < 0 || (size_t)w >= sizeof(buf) - off) {
			pr_err("%s: too many extents\n", name);
			return -1;
		}
		off += w;
	}
	return write_file(pid, name, buf, off);
}

int user_ns_write_maps(pid_t pid, const NsEntry *e)
{
	/* "deny" can only be written before the gid map */
	if (e->has_setgroups_deny && e->setgroups_deny && write_file(pid, "setgroups", "deny", 4))
		return -1;
	if (write_map(pid, "uid_map", e->uid_map, e->n_uid_map) || write_map(pid, "gid_map", e->gid_map, e->n_gid_map))
		return -1;
	pr_info("user namespace of %d: maps written\n", pid);
	return 0;
}
