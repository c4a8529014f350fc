/*
 * The cgroup namespace: its root in each hierarchy. A task sees its
 * cgroups relative to the root of its cgroup namespace; criu sees them
 * from its own: the root is criu's path less the task's. Restore moves
 * the root restore process into those cgroups (made if missing), then
 * unshares, so that the new namespace's root is the same. Which cgroups
 * below the root the tasks are in is the cgroup restore's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "namespaces.h"
#include "nsfs.h"
#include "proc_parse.h"
#include "util.h"

#define CG_BUF	16384

struct cg_read {
	pid_t pid;
	char buf[CG_BUF];
};

static int read_cgroup_file(pid_t pid, char *buf, size_t size)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	return read_text_file(path, buf, size) < 0 ? -1 : 0;
}

static int read_inside(void *arg)
{
	struct cg_read *r = arg;

	return read_cgroup_file(r->pid, r->buf, sizeof(r->buf));
}

/* The path of hierarchy @hier in a /proc/PID/cgroup text, or NULL. */
static char *find_line(char *text, const char *hier_ctrl, size_t len)
{
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, hier_ctrl, len))
			return l + len;
	return NULL;
}

static int add_root(NsEntry *e, unsigned int hier, const char *ctrl, const char *path)
{
	NsCgroupRoot **n = realloc(e->cg_roots, (e->n_cg_roots + 1) * sizeof(*n));
	NsCgroupRoot *r = calloc(1, sizeof(*r));

	if (!n || !r) {
		free(r);
		return -1;
	}
	e->cg_roots = n;
	ns_cgroup_root__init(r);
	r->hierarchy = hier;
	r->controllers = strdup(ctrl);
	r->path = strdup(path);
	e->cg_roots[e->n_cg_roots++] = r;
	return r->controllers && r->path ? 0 : -1;
}

int cgroup_ns_dump(pid_t pid, NsEntry *e)
{
	struct cg_read *in = mmap(NULL, sizeof(*in), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *out = malloc(CG_BUF), *save = NULL;
	int ret = -1;

	if (in == MAP_FAILED || !out) {
		pr_err("out of memory\n");
		goto done;
	}
	in->pid = pid;
	if (read_cgroup_file(pid, out, CG_BUF) || ns_in_child(pid, CLONE_NEWCGROUP, read_inside, in))
		goto done;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *inside, *nl, root[4096];
		size_t hl, il;

		if (!c2)
			continue;
		inside = find_line(in->buf, l, c2 + 1 - l);
		if (!inside) {
			pr_err("can't find hierarchy %.*s of %d inside its cgroup namespace\n", (int)(c2 - l), l, pid);
			goto done;
		}
		nl = strchr(inside, '\n');
		il = nl ? (size_t)(nl - inside) : strlen(inside);
		hl = strlen(c2 + 1);
		if (!strncmp(inside, "/..", 3) || il > hl || (il > 1 && strncmp(c2 + 1 + hl - il, inside, il))) {
			pr_err("can't dump: task %d is in cgroup %.*s outside its cgroup namespace's root\n", pid,
			       (int)il, inside);
			goto done;
		}
		/* the root: criu's path less the task's ("/" inside: all of it) */
		if (il == 1)
			il = 0;
		snprintf(root, sizeof(root), "%.*s", (int)(hl - il), c2 + 1);
		if (!root[0])
			strcpy(root, "/");
		*c2 = '\0';
		if (add_root(e, strtoul(l, NULL, 10), c1 + 1, root))
			goto done;
		pr_info("cgroup namespace root in %s: %s\n", c1 + 1, root);
	}
	ret = 0;
done:
	if (in != MAP_FAILED)
		munmap(in, sizeof(*in));
	free(out);
	return ret;
}

/* Does a cgroup mount's super options name every controller of @ctrl? */
static int opts_have(const char *sopts, const char *ctrl)
{
	char c[256], *save = NULL;

	snprintf(c, sizeof(c), "%s", ctrl);
	for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(t);
		const char *p = sopts;
		int found = 0;

		while ((p = strstr(p, t))) {
			if ((p == sopts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0' || p[n] == '\n')) {
				found = 1;
				break;
			}
			p += n;
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* Where criu has hierarchy @r mounted (its root mounted), in @dir. */
static int find_mount(const NsCgroupRoot *r, char *dir, size_t size)
{
	/* all of it: a line can be long (overlay options), and a failed read must not look like the end */
	char *text = read_proc_file(0, "mountinfo", NULL), *line, *save = NULL;
	int ret = -1;

	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); ret && line; line = strtok_r(NULL, "\n", &save)) {
		char root[1024], mnt[1024], fstype[64], src[256], sopts[1024];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*d %*d %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %255s %1023s", fstype, src, sopts) != 3 || strcmp(root, "/"))
			continue;
		if (r->hierarchy == 0 && !r->controllers[0] ? !strcmp(fstype, "cgroup2")
							   : !strcmp(fstype, "cgroup") && opts_have(sopts, r->controllers)) {
			snprintf(dir, size, "%s", mnt);
			ret = 0;
		}
	}
	free(text);
	if (ret)
		pr_err("criu has no mount of cgroup hierarchy %u (%s): can't restore the cgroup namespace\n",
		       r->hierarchy, r->controllers);
	return ret;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			pr_perror("can't make cgroup %s", path);
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST) {
		pr_perror("can't make cgroup %s", path);
		return -1;
	}
	return 0;
}

int cgroup_ns_enter_root(const NsEntry *e)
{
	if (!e)
		return 0;
	for (size_t i = 0; i < e->n_cg_roots; i++) {
		const NsCgroupRoot *r = e->cg_roots[i];
		char mnt[1024], path[1024 + PATH_MAX + 16], root[PATH_MAX];
		int fd;

		if (find_mount(r, mnt, sizeof(mnt)) ||
		    cgroup_restore_relocate(r->controllers, r->path, root, sizeof(root)))
			return -1;
		snprintf(path, sizeof(path), "%s%s", mnt, strcmp(root, "/") ? root : "");
		if (mkdir_p(path))
			return -1;
		strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			pr_perror("can't move the restore into %s", path);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}
