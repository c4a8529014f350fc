/*
 * The tree's cgroups, v1 and v2.
 *
 * Dump: every thread's cgroups (/proc/PID/task/TID/cgroup) become sets,
 * one path per hierarchy. Per hierarchy, the tree's home is the deepest
 * cgroup holding all of its tasks. If home is the tree's own (neither
 * criu's cgroup nor above it), its whole subtree is saved, empty cgroups
 * and properties included; otherwise only the cgroups the tasks are in.
 *
 * Restore: every hierarchy is mounted afresh in a yard (a detached tmpfs
 * only criu holds, so nothing shows in any mount namespace), homes move
 * to --cgroup-root if given, cgroups are made per --manage-cgroups with
 * their early properties, and a helper (mover.c), outside every namespace
 * of the tree and with criu's rights, moves each restore process into its
 * cgroups as it starts, threads once they exist, and sets the late
 * properties and freezer states at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cr_options.h"
#include "image.h"
#include "proc_parse.h"
#include "log.h"
#include "util.h"

#define MAX_DIRS	4096

/* criu's own hierarchies, from /proc/self/cgroup */
static struct cg_hier {
	char ctrls[256];	/* "cpu,cpuacct", "name=systemd", "" for cgroup2 */
	char self[PATH_MAX];	/* criu's cgroup in it */
	bool v2, freezer;
} hiers[CG_MAX_HIERS];
static int nr_hiers;
static int yard = -1;		/* a detached tmpfs with hierarchy i mounted at "i" */

/* All of a file, NUL-terminated, malloc'ed; NULL with errno set. */
static char *read_text_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *b = realloc(buf, cap *= 2);

			if (!b) {
				n = -1;
				break;
			}
			buf = b;
		}
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static char *read_text(const char *path)
{
	return read_text_at(AT_FDCWD, path);
}

static int write_file_at(int dirfd, const char *name, const char *val)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC), err;
	ssize_t len = strlen(val), n;

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	if (n == len)
		return 0;
	errno = n < 0 ? err : EIO;
	return -1;
}

/* Two controller lists naming the same set ("cpu,cpuacct" and "cpuacct,cpu"). */
static bool same_ctrls(const char *a, const char *b)
{
	char x[256], *save = NULL;
	int na = 0, nb = 1;

	if (!a[0] || !b[0])
		return !a[0] && !b[0];
	snprintf(x, sizeof(x), "%s", a);
	/* each name of a alone is one of b's */
	for (char *c = strtok_r(x, ",", &save); c; c = strtok_r(NULL, ",", &save), na++)
		if (!cg_ctrl_matches(b, c))
			return false;
	for (const char *p = b; *p; p++)
		nb += *p == ',';
	return na == nb;
}

static int find_hier(const char *ctrls)
{
	for (int i = 0; i < nr_hiers; i++)
		if (same_ctrls(hiers[i].ctrls, ctrls))
			return i;
	return -1;
}

static int read_self_hiers(void)
{
	struct cg_line lines[CG_MAX_HIERS];
	char *buf = read_text("/proc/self/cgroup");
	int n;

	if (!buf) {
		pr_perror("can't read /proc/self/cgroup");
		return -1;
	}
	n = cg_parse_proc(buf, lines, CG_MAX_HIERS);
	if (n < 0) {
		pr_err("can't parse /proc/self/cgroup\n");
		free(buf);
		return -1;
	}
	nr_hiers = 0;
	for (int i = 0; i < n; i++) {
		struct cg_hier *h = &hiers[nr_hiers];

		/* a v1 controller line on a pure v2 system has no hierarchy */
		if (lines[i].id && !lines[i].ctrls[0])
			continue;
		snprintf(h->ctrls, sizeof(h->ctrls), "%s", lines[i].ctrls);
		snprintf(h->self, sizeof(h->self), "%s", lines[i].path);
		h->v2 = lines[i].id == 0 && !lines[i].ctrls[0];
		h->freezer = !h->v2 && cg_ctrl_matches(h->ctrls, "freezer");
		nr_hiers++;
	}
	free(buf);
	return 0;
}

/* Mount hierarchy @h afresh (its root as criu's cgroup namespace sees it); the mount's fd. */
static int mount_hier(const struct cg_hier *h)
{
	char ctrls[256], *save = NULL;
	bool named_only = true;
	int fs, mnt;

	fs = fsopen(h->v2 ? "cgroup2" : "cgroup", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	snprintf(ctrls, sizeof(ctrls), "%s", h->ctrls);
	for (char *c = strtok_r(ctrls, ",", &save); c && !h->v2; c = strtok_r(NULL, ",", &save)) {
		int r;

		if (!strncmp(c, "name=", 5)) {
			r = fsconfig(fs, FSCONFIG_SET_STRING, "name", c + 5, 0);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, c, NULL, 0);
			named_only = false;
		}
		if (r)
			goto err;
	}
	if (!h->v2 && named_only && fsconfig(fs, FSCONFIG_SET_FLAG, "none", NULL, 0))
		goto err;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto err;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	return mnt;
err:
	close(fs);
	return -1;
}

/*
 * The yard: a tmpfs attached nowhere, with hierarchy i mounted at "i" the
 * first time it is needed (a cgroup2 mount costs milliseconds: most dumps
 * and restores need none).
 */
static bool mounted[CG_MAX_HIERS];

static int use_hier(int h)
{
	char name[16];
	int m;

	if (yard < 0) {
		int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);

		if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) ||
		    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) || (yard = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0) {
			pr_perror("can't make a tmpfs for the cgroup yard");
			if (fs >= 0)
				close(fs);
			return -1;
		}
		close(fs);
		memset(mounted, 0, sizeof(mounted));
	}
	if (mounted[h])
		return 0;
	snprintf(name, sizeof(name), "%d", h);
	m = mount_hier(&hiers[h]);
	if (m < 0 || mkdirat(yard, name, 0700) || move_mount(m, "", yard, name, MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("can't mount cgroup hierarchy %s", hiers[h].v2 ? "cgroup2" : hiers[h].ctrls);
		if (m >= 0)
			close(m);
		return -1;
	}
	close(m);
	mounted[h] = true;
	return 0;
}

/* The directory of cgroup @path of hierarchy @h, in the yard. */
static int open_cg(int h, const char *path, int flags)
{
	char rel[PATH_MAX + 16];

	if (use_hier(h))
		return -1;
	snprintf(rel, sizeof(rel), "%d%s", h, path);
	return openat(yard, rel, flags | O_DIRECTORY | O_CLOEXEC);
}

static void close_yard(void)
{
	if (yard >= 0)
		close(yard);
	yard = -1;
}

/* ---- dump ---- */

struct dset {
	char *paths[CG_MAX_HIERS];
};

static struct {
	struct dset *sets;
	size_t nr_sets;
	CgroupMember *members;
	size_t nr_members, cap_members;
	bool ready;
} dmp;

int cgroup_dump_init(void)
{
	if (read_self_hiers())
		return -1;
	dmp.ready = true;
	return 0;
}

static int set_of(char **paths)
{
	struct dset *n;

	for (size_t i = 0; i < dmp.nr_sets; i++) {
		int h;

		for (h = 0; h < nr_hiers; h++)
			if (strcmp(dmp.sets[i].paths[h], paths[h]))
				break;
		if (h == nr_hiers)
			return i;
	}
	n = realloc(dmp.sets, (dmp.nr_sets + 1) * sizeof(*n));
	if (!n)
		return -1;
	dmp.sets = n;
	memset(&n[dmp.nr_sets], 0, sizeof(n[0]));
	for (int h = 0; h < nr_hiers; h++) {
		n[dmp.nr_sets].paths[h] = strdup(paths[h]);
		if (!n[dmp.nr_sets].paths[h])
			return -1;
	}
	return dmp.nr_sets++;
}

/*
 * The cgroups of thread @tid of @pid: one path per criu hierarchy, into
 * @paths (pointing into @buf). A hierarchy criu did not know is left out
 * if new: any when @restoring, a named one holding the thread in its root
 * otherwise.
 */
static int read_task_cgroups(pid_t pid, pid_t tid, char **buf, char **paths, bool restoring)
{
	struct cg_line lines[CG_MAX_HIERS];
	bool in[CG_MAX_HIERS] = { false };
	char path[64];
	int n, seen = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", pid, tid);
	*buf = read_text(path);
	if (!*buf) {
		pr_perror("can't read %s", path);
		return -1;
	}
	n = cg_parse_proc(*buf, lines, CG_MAX_HIERS);
	if (n < 0) {
		pr_err("can't parse %s\n", path);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int h;

		if (lines[i].id && !lines[i].ctrls[0])
			continue;
		h = find_hier(lines[i].ctrls);
		/*
		 * Made since criu looked: by the restored tree's mount namespace
		 * (gone_with_tree()), or by anyone mounting a named hierarchy
		 * meanwhile, which has every task in its root: not the tree's.
		 */
		if (h < 0 && (restoring || (!strncmp(lines[i].ctrls, "name=", 5) && !strcmp(lines[i].path, "/")))) {
			pr_debug("thread %d of %d: cgroup hierarchy %s is new\n", tid, pid, lines[i].ctrls);
			continue;
		}
		if (h < 0) {
			pr_err("thread %d of %d is in a cgroup hierarchy criu is not in (%s)\n", tid, pid,
			       lines[i].ctrls);
			return -1;
		}
		/* a cgroup above the root of criu's cgroup namespace has no path criu could use */
		if (!strncmp(lines[i].path, "/..", 3)) {
			pr_err("can't dump thread %d of %d: its cgroup %s:%s is outside criu's cgroup namespace\n",
			       tid, pid, lines[i].ctrls, lines[i].path);
			return -1;
		}
		paths[h] = lines[i].path;
		in[h] = true;
		seen++;
	}
	/* every task is in every hierarchy: one missing went away since criu looked, a named one is no loss */
	for (int h = 0; h < nr_hiers; h++)
		if (!in[h] && !strncmp(hiers[h].ctrls, "name=", 5)) {
			pr_debug("thread %d of %d: cgroup hierarchy %s is gone\n", tid, pid, hiers[h].ctrls);
			paths[h] = "/";
			seen++;
		}
	if (seen != nr_hiers) {
		pr_err("thread %d of %d is in %d cgroup hierarchies, criu in %d\n", tid, pid, seen, nr_hiers);
		return -1;
	}
	return 0;
}

int cgroup_dump_task(pid_t pid, const pid_t *tids, int nr)
{
	if (opts.manage_cgroups == CG_MODE_IGNORE || !dmp.ready)
		return 0;
	for (int i = 0; i < nr; i++) {
		char *buf = NULL, *paths[CG_MAX_HIERS];
		int set;

		if (read_task_cgroups(pid, tids[i], &buf, paths, false)) {
			free(buf);
			return -1;
		}
		set = set_of(paths);
		free(buf);
		if (set < 0) {
			pr_err("out of memory\n");
			return -1;
		}
		if (dmp.nr_members == dmp.cap_members) {
			size_t cap = dmp.cap_members ? dmp.cap_members * 2 : 64;
			CgroupMember *m = realloc(dmp.members, cap * sizeof(*m));

			if (!m) {
				pr_err("out of memory\n");
				return -1;
			}
			dmp.members = m;
			dmp.cap_members = cap;
		}
		cgroup_member__init(&dmp.members[dmp.nr_members]);
		dmp.members[dmp.nr_members].tid = tids[i];
		dmp.members[dmp.nr_members].set = set;
		dmp.nr_members++;
	}
	return 0;
}

static int add_dir(CgroupHier *ch, const char *path)
{
	CgroupDir **n, *d;

	if (ch->n_dirs == MAX_DIRS) {
		pr_err("can't dump: more than %d cgroups under %s:%s\n", MAX_DIRS, ch->controllers, ch->home);
		return -1;
	}
	n = realloc(ch->dirs, (ch->n_dirs + 1) * sizeof(*n));
	d = calloc(1, sizeof(*d));
	if (!n || !d) {
		free(d);
		pr_err("out of memory\n");
		return -1;
	}
	ch->dirs = n;
	cgroup_dir__init(d);
	d->path = strdup(path);
	ch->dirs[ch->n_dirs++] = d;
	return d->path ? 0 : -1;
}

/* @path and every cgroup below it, parents first, with their properties. */
static int walk_owned(CgroupHier *ch, int h, const char *path)
{
	int fd = open_cg(h, path, O_RDONLY), dfd;
	CgroupDir *d;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int ret = 0;

	if (fd < 0) {
		pr_perror("can't open cgroup %s:%s", ch->controllers, path);
		return -1;
	}
	if (add_dir(ch, path) || fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	d = ch->dirs[ch->n_dirs - 1];
	if (st.st_uid || st.st_gid) {
		d->has_uid = d->has_gid = true;
		d->uid = st.st_uid;
		d->gid = st.st_gid;
	}
	if (cg_props_dump(fd, hiers[h].v2, hiers[h].freezer, d)) {
		close(fd);
		return -1;
	}
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* a description of its own: readdir offsets are shared by dups */
	dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	close(fd);
	if (!dir) {
		pr_perror("can't list cgroup %s:%s", ch->controllers, path);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while (!ret && (ret = next_dirent(dir, &de, path)) > 0) {
		char sub[PATH_MAX];

		ret = 0;
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", strcmp(path, "/") ? path : "", de->d_name) >=
		    (int)sizeof(sub)) {
			pr_err("cgroup path %s/%s is too long\n", path, de->d_name);
			ret = -1;
			break;
		}
		ret = walk_owned(ch, h, sub);
	}
	closedir(dir);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dump_hier(CgroupHier *ch, int h)
{
	char home[PATH_MAX];
	char **paths;
	size_t n = 0;
	int ret = 0;

	snprintf(home, sizeof(home), "%s", dmp.sets[0].paths[h]);
	for (size_t i = 1; i < dmp.nr_sets; i++) {
		char tmp[PATH_MAX];

		cg_common_ancestor(home, dmp.sets[i].paths[h], tmp, sizeof(tmp));
		memcpy(home, tmp, sizeof(home));
	}
	ch->controllers = hiers[h].ctrls;
	ch->home = strdup(home);
	if (!ch->home)
		return -1;
	/* criu's own cgroup, or one above it, is the machine's, not the tree's */
	ch->owned = !cg_path_within(hiers[h].self, home);
	pr_info("cgroup hierarchy %s: the tree's home is %s%s\n", hiers[h].v2 ? "cgroup2" : ch->controllers, home,
		ch->owned ? ", its own" : "");
	if (ch->owned)
		return walk_owned(ch, h, home);
	/* just the cgroups the tasks are in, parents before children (sorted, a parent is a prefix) */
	paths = calloc(dmp.nr_sets, sizeof(*paths));
	if (!paths)
		return -1;
	for (size_t i = 0; i < dmp.nr_sets; i++)
		paths[i] = dmp.sets[i].paths[h];
	sort_array(paths, dmp.nr_sets, sizeof(*paths), cmp_str);
	for (size_t i = 0; i < dmp.nr_sets && !ret; i++)
		if (!n || strcmp(paths[i], paths[n - 1])) {
			ret = add_dir(ch, paths[i]);
			paths[n++] = paths[i];
		}
	free(paths);
	return ret;
}

static void free_entry(CgroupEntry *e)
{
	for (size_t i = 0; i < e->n_hiers; i++) {
		CgroupHier *ch = e->hiers[i];

		for (size_t j = 0; j < ch->n_dirs; j++) {
			cg_props_free(ch->dirs[j]);
			free(ch->dirs[j]->path);
			free(ch->dirs[j]);
		}
		free(ch->dirs);
		free(ch->home);
		free(ch);
	}
	free(e->hiers);
	for (size_t i = 0; i < e->n_sets; i++)
		free(e->sets[i]);
	free(e->sets);
}

int cgroup_dump_write(int dfd)
{
	CgroupEntry e = CGROUP_ENTRY__INIT;
	CgroupMember **mp = NULL;
	struct cr_img *img;
	int ret = -1;

	if (opts.manage_cgroups == CG_MODE_IGNORE || !dmp.ready || !dmp.nr_sets)
		return 0;
	e.hiers = calloc(nr_hiers, sizeof(*e.hiers));
	e.sets = calloc(dmp.nr_sets, sizeof(*e.sets));
	mp = calloc(dmp.nr_members, sizeof(*mp));
	if (!e.hiers || !e.sets || !mp)
		goto out;
	for (int h = 0; h < nr_hiers; h++) {
		CgroupHier *ch = calloc(1, sizeof(*ch));

		if (!ch)
			goto out;
		cgroup_hier__init(ch);
		e.hiers[e.n_hiers++] = ch;
		if (dump_hier(ch, h))
			goto out;
	}
	for (size_t i = 0; i < dmp.nr_sets; i++) {
		CgroupSet *s = calloc(1, sizeof(*s));

		if (!s)
			goto out;
		cgroup_set__init(s);
		s->n_paths = nr_hiers;
		s->paths = dmp.sets[i].paths;
		e.sets[e.n_sets++] = s;
	}
	for (size_t i = 0; i < dmp.nr_members; i++)
		mp[i] = &dmp.members[i];
	e.n_members = dmp.nr_members;
	e.members = mp;
	img = open_image_at(dfd, CR_FD_CGROUP, O_DUMP);
	if (!img)
		goto out;
	ret = finish_image(img, pb_write_one(img, &e));
out:
	if (ret)
		pr_err("can't dump the tree's cgroups\n");
	for (size_t i = 0; i < e.n_hiers; i++)
		e.hiers[i]->controllers = NULL;	/* hiers[]'s */
	free_entry(&e);
	free(mp);
	return ret;
}

void cgroup_dump_fini(void)
{
	for (size_t i = 0; i < dmp.nr_sets; i++)
		for (int h = 0; h < nr_hiers; h++)
			free(dmp.sets[i].paths[h]);
	free(dmp.sets);
	free(dmp.members);
	memset(&dmp, 0, sizeof(dmp));
	close_yard();
}

int cgroup_task_frozen(pid_t pid)
{
	char *buf = NULL, *paths[CG_MAX_HIERS];
	int ret = 0;

	if (!dmp.ready)
		return 0;
	if (read_task_cgroups(pid, pid, &buf, paths, false)) {
		free(buf);
		return -1;
	}
	for (int h = 0; h < nr_hiers && !ret; h++) {
		char *v;
		int fd;

		if ((!hiers[h].v2 && !hiers[h].freezer) || !strcmp(paths[h], "/"))
			continue;
		fd = open_cg(h, paths[h], O_RDONLY);
		if (fd < 0) {
			pr_perror("can't open cgroup %s of task %d", paths[h], pid);
			ret = -1;
			break;
		}
		v = read_text_at(fd, hiers[h].v2 ? "cgroup.events" : "freezer.state");
		close(fd);
		if (!v) {
			pr_perror("can't read the freezer state of cgroup %s", paths[h]);
			ret = -1;
		} else if (hiers[h].v2 ? strstr(v, "frozen 1") != NULL : strncmp(v, "THAWED", 6) != 0) {
			pr_err("can't dump task %d: it is in the frozen cgroup %s:%s; dump it with --freeze-cgroup "
			       "(criu thaws the cgroup to seize it and freezes it again) or thaw it first\n", pid,
			       hiers[h].v2 ? "cgroup2" : "freezer", paths[h]);
			ret = 1;
		}
		free(v);
	}
	free(buf);
	return ret;
}

/* ---- options ---- */

/* --cgroup-root [CTRL:]PATH; without CTRL it is the default for every hierarchy */
static struct cg_root {
	char *ctrl;
	const char *path;
} roots[CG_MAX_HIERS];
static int nr_roots;

int cgroup_root_add(const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct cg_root *r;

	if (nr_roots == CG_MAX_HIERS) {
		pr_err("too many --cgroup-root options (at most %d)\n", CG_MAX_HIERS);
		return -1;
	}
	r = &roots[nr_roots];
	if (arg[0] == '/' || !colon) {
		r->ctrl = NULL;
		r->path = arg;
	} else {
		r->ctrl = strndup(arg, colon - arg);
		r->path = colon + 1;
		if (!r->ctrl)
			return -1;
	}
	if (r->path[0] != '/') {
		pr_err("bad --cgroup-root '%s': [CONTROLLER:]PATH, with an absolute PATH\n", arg);
		free(r->ctrl);
		return -1;
	}
	nr_roots++;
	return 0;
}

/* Where hierarchy @ctrls' home goes: the root given for it, else the default, else NULL (stays). */
static const char *root_for(const char *ctrls)
{
	const char *def = NULL;

	for (int i = 0; i < nr_roots; i++) {
		if (!roots[i].ctrl) {
			def = def ? def : roots[i].path;
			continue;
		}
		if (cg_ctrl_matches(ctrls, roots[i].ctrl))
			return roots[i].path;
	}
	return def;
}

/* ---- restore ---- */

struct rdir {
	int ih;			/* the image's hierarchy */
	char *path;		/* relocated */
	const CgroupDir *d;
	bool props;		/* its properties are put back */
};

static struct {
	CgroupEntry *e;
	struct cr_img *img;
	int map[CG_MAX_HIERS];	/* image hierarchy -> criu's */
	char ***paths;		/* [set][image hierarchy], relocated */
	struct rdir *dirs;
	size_t nr_dirs;
	char **made;		/* "H/path" of every cgroup criu made, in order */
	size_t nr_made;
	char **thawed;		/* "H/path" of frozen cgroups thawed for the restore, frozen again at the end */
	size_t nr_thawed;
	int sk;			/* to the mover; a service fd in restore processes */
	bool active;
} rs = { .sk = -1 };

static int mode(void)
{
	return opts.manage_cgroups == CG_MODE_DEFAULT ? CG_MODE_SOFT : opts.manage_cgroups;
}

static const char *hier_name(int ih)
{
	const char *c = rs.e->hiers[ih]->controllers;

	return c[0] ? c : "cgroup2";
}

static int note_made(int h, const char *path)
{
	char **n = realloc(rs.made, (rs.nr_made + 1) * sizeof(*n));
	char buf[PATH_MAX + 16];

	if (!n)
		return -1;
	rs.made = n;
	snprintf(buf, sizeof(buf), "%d%s", h, path);
	rs.made[rs.nr_made] = strdup(buf);
	return rs.made[rs.nr_made++] ? 0 : -1;
}

/* mkdir -p in the yard, noting what is new. */
static int make_path(int ih, const char *path)
{
	int h = rs.map[ih];
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		char rel[PATH_MAX + 16];
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		snprintf(rel, sizeof(rel), "%d%s", h, buf);
		if (mkdirat(yard, rel, 0755) == 0) {
			pr_info("made cgroup %s:%s\n", hier_name(ih), buf);
			if (note_made(h, buf))
				return -1;
		} else if (errno != EEXIST) {
			pr_perror("can't make cgroup %s:%s", hier_name(ih), buf);
			return -1;
		}
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

/* A delegated cgroup: its owner gets it back, with the files delegation hands over. */
static int chown_dir(int fd, const struct rdir *rd, bool v2)
{
	static const char *const v1_files[] = { "cgroup.procs", "tasks" };
	static const char *const v2_files[] = { "cgroup.procs", "cgroup.threads", "cgroup.subtree_control" };
	const char *const *files = v2 ? v2_files : v1_files;
	size_t n = v2 ? ARRAY_SIZE(v2_files) : ARRAY_SIZE(v1_files);

	if (!rd->d->has_uid)
		return 0;
	if (fchown(fd, rd->d->uid, rd->d->gid)) {
		pr_perror("can't give cgroup %s:%s to %u:%u", hier_name(rd->ih), rd->path, rd->d->uid, rd->d->gid);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (fchownat(fd, files[i], rd->d->uid, rd->d->gid, 0) && errno != ENOENT) {
			pr_perror("can't give %s of cgroup %s:%s to %u", files[i], hier_name(rd->ih), rd->path,
				  rd->d->uid);
			return -1;
		}
	return 0;
}

static int prepare_dir(struct rdir *rd)
{
	bool owned = rs.e->hiers[rd->ih]->owned, exists;
	char where[PATH_MAX + 300];
	int fd;

	/* criu is in it (or below): it exists, and it is not the tree's own */
	if (!owned && cg_path_within(hiers[rs.map[rd->ih]].self, rd->path))
		return 0;
	fd = open_cg(rs.map[rd->ih], rd->path, O_RDONLY);
	snprintf(where, sizeof(where), "%s:%s", hier_name(rd->ih), rd->path);
	exists = fd >= 0;
	if (!exists && errno != ENOENT) {
		pr_perror("can't open cgroup %s", where);
		return -1;
	}
	if (exists) {
		if (mode() == CG_MODE_STRICT && owned) {
			pr_err("cgroup %s exists already, and --manage-cgroups=strict makes all of the tree's own "
			       "anew\n", where);
			close(fd);
			return -1;
		}
		rd->props = owned && (mode() == CG_MODE_PROPS || mode() == CG_MODE_FULL);
	} else {
		if (mode() == CG_MODE_NONE || mode() == CG_MODE_PROPS) {
			pr_err("cgroup %s does not exist, and --manage-cgroups=%s makes none\n", where,
			       cg_mode_name(mode()));
			return -1;
		}
		if (make_path(rd->ih, rd->path))
			return -1;
		fd = open_cg(rs.map[rd->ih], rd->path, O_RDONLY);
		if (fd < 0) {
			pr_perror("can't open cgroup %s", where);
			return -1;
		}
		rd->props = owned;
	}
	if (rd->props && (chown_dir(fd, rd, hiers[rs.map[rd->ih]].v2) ||
			  cg_props_restore(fd, where, rd->d, CG_PHASE_EARLY))) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int relocate(int ih, const char *path, char **out)
{
	const CgroupHier *ch = rs.e->hiers[ih];
	const char *to = root_for(ch->controllers);
	char buf[PATH_MAX];

	if (path[0] != '/' || !cg_path_within(path, ch->home)) {
		pr_err("cgroup.img: cgroup %s of %s is not below the tree's home %s\n", path, hier_name(ih), ch->home);
		return -1;
	}
	if (!to)
		to = ch->home;
	if (cg_relocate(path, ch->home, to, buf, sizeof(buf))) {
		pr_err("cgroup %s moved to %s: path too long\n", path, to);
		return -1;
	}
	*out = strdup(buf);
	return *out ? 0 : -1;
}

/*
 * Cgroup @path of image hierarchy @ih where this restore puts it (the
 * tree's home moved by --cgroup-root, runc's cg_root): into @out.
 */
static int relocate_into(int ih, const char *path, char *out, size_t size)
{
	const CgroupHier *ch = rs.e->hiers[ih];
	const char *to = root_for(ch->controllers);

	if (!to || !cg_path_within(path, ch->home)) {
		snprintf(out, size, "%s", path);
		return 0;
	}
	if (cg_relocate(path, ch->home, to, out, size)) {
		pr_err("cgroup %s moved to %s: path too long\n", path, to);
		return -1;
	}
	return 0;
}

int cgroup_restore_relocate(const char *ctrls, const char *path, char *out, size_t size)
{
	for (size_t ih = 0; rs.active && ih < rs.e->n_hiers; ih++)
		if (same_ctrls(rs.e->hiers[ih]->controllers, ctrls))
			return relocate_into(ih, path, out, size);
	snprintf(out, size, "%s", path);
	return 0;
}

int cgroup_restore_relocate_dev(dev_t dev, const char *path, char *out, size_t size)
{
	char name[16];
	struct stat st;

	for (size_t ih = 0; rs.active && ih < rs.e->n_hiers; ih++) {
		int h = rs.map[ih];

		if (h < 0 || use_hier(h))
			continue;
		snprintf(name, sizeof(name), "%d", h);
		if (!fstatat(yard, name, &st, 0) && st.st_dev == dev)
			return relocate_into(ih, path, out, size);
	}
	snprintf(out, size, "%s", path);
	return 0;
}

static int read_rst_image(int dfd)
{
	void *msg;

	rs.img = open_image_at(dfd, CR_FD_CGROUP, O_RDONLY);
	if (!rs.img || pb_read_one_required(rs.img, &msg))
		return -1;
	rs.e = msg;
	if (rs.e->n_hiers > CG_MAX_HIERS) {
		pr_err("cgroup.img: %zu hierarchies\n", rs.e->n_hiers);
		return -1;
	}
	for (size_t i = 0; i < rs.e->n_sets; i++)
		if (rs.e->sets[i]->n_paths != rs.e->n_hiers) {
			pr_err("cgroup.img: set %zu has %zu paths for %zu hierarchies\n", i, rs.e->sets[i]->n_paths,
			       rs.e->n_hiers);
			return -1;
		}
	for (size_t i = 0; i < rs.e->n_members; i++)
		if (rs.e->members[i]->set >= rs.e->n_sets) {
			pr_err("cgroup.img: thread %d is in set %u of %zu\n", rs.e->members[i]->tid,
			       rs.e->members[i]->set, rs.e->n_sets);
			return -1;
		}
	return 0;
}

/* Is cgroup @rel ("H/path") frozen by a write of its own? 1, 0 or -1. */
static int own_frozen(int h, const char *rel)
{
	int fd = use_hier(h) ? -1 : openat(yard, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *v;
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	v = read_text_at(fd, hiers[h].v2 ? "cgroup.freeze" : "freezer.self_freezing");
	close(fd);
	if (!v)
		return -1;
	r = v[0] == '1';
	free(v);
	return r;
}

static int set_frozen(const char *rel, bool v2, bool on)
{
	int fd = openat(yard, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write_file_at(fd, v2 ? "cgroup.freeze" : "freezer.state", v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED"));
	close(fd);
	return ret;
}

/*
 * A task moved into a frozen cgroup stops there, restore and all: every
 * frozen cgroup the tree goes into, or above one, is thawed for the
 * restore and frozen again once the tree is let go (or the restore failed).
 */
static int thaw_for_restore(void)
{
	for (size_t i = 0; i < rs.nr_dirs; i++) {
		int h = rs.map[rs.dirs[i].ih];
		char rel[PATH_MAX + 16], *end;

		/* criu's own cgroup and those above it are not frozen: criu runs */
		if ((!hiers[h].v2 && !hiers[h].freezer) || cg_path_within(hiers[h].self, rs.dirs[i].path))
			continue;
		snprintf(rel, sizeof(rel), "%d%s", h, rs.dirs[i].path);
		/* the cgroup and each one above it, up to (not with) the root */
		for (end = rel + strlen(rel); end > strchr(rel, '/'); end = strrchr(rel, '/')) {
			bool seen = false;
			char **n;
			int r;

			*end = '\0';
			if (cg_path_within(hiers[h].self, strchr(rel, '/')))
				break;
			for (size_t k = 0; k < rs.nr_thawed && !seen; k++)
				seen = !strcmp(rs.thawed[k], rel);
			if (seen || (r = own_frozen(h, rel)) == 0)
				goto up;
			n = realloc(rs.thawed, (rs.nr_thawed + 1) * sizeof(*n));
			if (r < 0 || !n || !(n[rs.nr_thawed] = strdup(rel))) {
				pr_perror("can't look at the freezer state of cgroup %s (hierarchy number first)", rel);
				return -1;
			}
			rs.thawed = n;
			rs.nr_thawed++;
			if (set_frozen(rel, hiers[h].v2, false)) {
				pr_perror("can't thaw cgroup %s (hierarchy number first) for the restore", rel);
				return -1;
			}
			pr_info("cgroup %s (hierarchy number first) thawed for the restore\n", rel);
up:
			;
		}
	}
	return 0;
}

/* What the restore thawed freezes again, unless its own saved state is put back. */
static int refreeze(bool props_too)
{
	int ret = 0;

	for (size_t k = 0; k < rs.nr_thawed; k++) {
		char *slash = strchr(rs.thawed[k], '/');
		int h = atoi(rs.thawed[k]);
		bool own = false;

		for (size_t i = 0; props_too && i < rs.nr_dirs && !own; i++)
			own = rs.dirs[i].props && rs.map[rs.dirs[i].ih] == h && !strcmp(rs.dirs[i].path, slash);
		if (own)
			continue;
		if (set_frozen(rs.thawed[k], hiers[h].v2, true)) {
			pr_perror("can't freeze cgroup %s (hierarchy number first) again", rs.thawed[k]);
			ret = -1;
		}
	}
	return ret;
}

/*
 * A hierarchy that is gone from this machine (a named v1 hierarchy some
 * tool mounted for a while, say: every process shows in its root then)
 * in whose root every task of the tree was, with nothing of the tree's
 * own in it, holds nothing to restore: it is left out.
 */
static void drop_absent_root_hiers(void)
{
	size_t ih = 0;

	while (ih < rs.e->n_hiers) {
		CgroupHier *ch = rs.e->hiers[ih];
		int at_root = find_hier(ch->controllers) < 0 && !strcmp(ch->home, "/");

		for (size_t d = 0; at_root && d < ch->n_dirs; d++)
			at_root = !strcmp(ch->dirs[d]->path, "/") && !ch->dirs[d]->n_props;
		for (size_t s = 0; at_root && s < rs.e->n_sets; s++)
			at_root = ih < rs.e->sets[s]->n_paths && !strcmp(rs.e->sets[s]->paths[ih], "/");
		if (!at_root) {
			ih++;
			continue;
		}
		pr_warn("cgroup hierarchy %s is not on this machine; the tree was in its root: left out\n",
			ch->controllers);
		cgroup_hier__free_unpacked(ch, NULL);
		memmove(&rs.e->hiers[ih], &rs.e->hiers[ih + 1], (rs.e->n_hiers - ih - 1) * sizeof(*rs.e->hiers));
		rs.e->n_hiers--;
		for (size_t s = 0; s < rs.e->n_sets; s++) {
			CgroupSet *set = rs.e->sets[s];

			free(set->paths[ih]);
			memmove(&set->paths[ih], &set->paths[ih + 1], (set->n_paths - ih - 1) * sizeof(*set->paths));
			set->n_paths--;
		}
	}
}

/*
 * A named v1 hierarchy the tree mounted in a mount namespace of its own
 * goes away with its last mount when the dumped tree dies, and comes back
 * when the restored namespace mounts it again, every task in its root.
 * So missing here, it is no loss if the tree was all in its root (and
 * not asked to go elsewhere): nothing to make or move in it.
 */
static bool gone_with_tree(size_t ih)
{
	const CgroupHier *ch = rs.e->hiers[ih];
	const char *to = root_for(ch->controllers);

	if (strncmp(ch->controllers, "name=", 5) || ch->owned || strcmp(ch->home, "/") || (to && strcmp(to, "/")))
		return false;
	for (size_t s = 0; s < rs.e->n_sets; s++)
		if (strcmp(rs.e->sets[s]->paths[ih], "/"))
			return false;
	return true;
}

int cgroup_restore_prepare(int dfd)
{
	size_t nr = 0;

	if (!image_exists(dfd, CR_FD_CGROUP))
		return 0;
	if (opts.manage_cgroups == CG_MODE_IGNORE) {
		pr_info("--manage-cgroups=ignore: the tree stays in criu's cgroups\n");
		return 0;
	}
	if (read_rst_image(dfd) || read_self_hiers())
		return -1;
	drop_absent_root_hiers();
	for (size_t ih = 0; ih < rs.e->n_hiers; ih++) {
		int h = find_hier(rs.e->hiers[ih]->controllers);

		if (h < 0 && gone_with_tree(ih)) {
			pr_info("cgroup hierarchy %s is gone: the tree was in its root, where its mount puts it again\n",
				hier_name(ih));
			rs.map[ih] = -1;
			continue;
		}
		if (h < 0) {
			pr_err("can't restore: the tree was in cgroup hierarchy %s, which this machine does not have\n",
			       hier_name(ih));
			return -1;
		}
		rs.map[ih] = h;
		nr += rs.e->hiers[ih]->n_dirs;
	}
	rs.paths = calloc(rs.e->n_sets, sizeof(*rs.paths));
	rs.dirs = calloc(nr ? nr : 1, sizeof(*rs.dirs));
	if (!rs.paths || !rs.dirs)
		return -1;
	for (size_t s = 0; s < rs.e->n_sets; s++) {
		rs.paths[s] = calloc(rs.e->n_hiers, sizeof(char *));
		if (!rs.paths[s])
			return -1;
		for (size_t ih = 0; ih < rs.e->n_hiers; ih++)
			if (relocate(ih, rs.e->sets[s]->paths[ih], &rs.paths[s][ih]))
				return -1;
	}
	rs.active = true;
	for (size_t ih = 0; ih < rs.e->n_hiers; ih++)
		for (size_t i = 0; rs.map[ih] >= 0 && i < rs.e->hiers[ih]->n_dirs; i++) {
			struct rdir *rd = &rs.dirs[rs.nr_dirs++];

			rd->ih = ih;
			rd->d = rs.e->hiers[ih]->dirs[i];
			if (relocate(ih, rd->d->path, &rd->path) || prepare_dir(rd))
				return -1;
		}
	if (thaw_for_restore())
		return -1;
	rs.sk = cg_mover_start();
	return rs.sk < 0 ? -1 : 0;
}

int cgroup_restore_sk(void)
{
	return rs.active ? rs.sk : -1;
}

void cgroup_restore_set_sk(int fd)
{
	rs.sk = fd;
}

static int member_set(pid_t tid)
{
	for (size_t i = 0; i < rs.e->n_members; i++)
		if (rs.e->members[i]->tid == tid)
			return rs.e->members[i]->set;
	return -1;
}

int cgroup_restore_task(pid_t pid, pid_t ppid)
{
	int set, base;

	if (!rs.active)
		return 0;
	set = member_set(pid);
	if (set < 0) {
		pr_err("cgroup.img: process %d is in no cgroup\n", pid);
		return -1;
	}
	/* a child starts in its parent's cgroups; the root was moved about by namespaces maybe */
	base = ppid ? member_set(ppid) : -1;
	if (base == set)
		return 0;
	if (cg_mover_request(rs.sk, CG_OP_MOVE_PROC, set, base, getpid())) {
		pr_err("can't move process %d into its cgroups\n", pid);
		return -1;
	}
	return 0;
}

int cgroup_restore_threads(pid_t pid, const int32_t *tids, size_t nr)
{
	int base;

	if (!rs.active)
		return 0;
	base = member_set(pid);
	for (size_t i = 0; i < nr; i++) {
		int set = member_set(tids[i]);

		if (tids[i] == pid || set < 0 || set == base)
			continue;
		if (cg_mover_request(rs.sk, CG_OP_MOVE_THREAD, set, base, tids[i])) {
			pr_err("can't move thread %d of %d into its cgroups\n", tids[i], pid);
			return -1;
		}
	}
	return 0;
}

int cgroup_restore_finish(void)
{
	if (!rs.active)
		return 0;
	return cg_mover_request(rs.sk, CG_OP_LATE, 0, 0, getpid());
}

int cgroup_restore_freezer(void)
{
	if (!rs.active)
		return 0;
	return cg_mover_request(rs.sk, CG_OP_FREEZER, 0, 0, getpid());
}

/*
 * A v2 threaded cgroup takes no process: the process goes into the
 * threaded domain above it (the nearest "domain ..." ancestor), then its
 * thread into @path.
 */
static int move_to_threaded(int h, const char *path, int fd, const char *num)
{
	char up[PATH_MAX];

	snprintf(up, sizeof(up), "%s", path);
	while (strcmp(up, "/")) {
		char *slash = strrchr(up, '/'), *type;
		int dfd;

		if (slash == up)
			slash[1] = '\0';
		else
			*slash = '\0';
		dfd = open_cg(h, up, O_RDONLY);
		if (dfd < 0)
			return -1;
		type = read_text_at(dfd, "cgroup.type");
		if (type && !strncmp(type, "domain", 6)) {
			int ret = write_file_at(dfd, "cgroup.procs", num);

			free(type);
			close(dfd);
			return ret ? -1 : write_file_at(fd, "cgroup.threads", num);
		}
		free(type);
		close(dfd);
	}
	errno = EOPNOTSUPP;
	return -1;
}

/* In the mover: @pid (or thread) into set @set, where it differs from @base. */
int cg_rst_move(pid_t pid, int set, int base, bool thread)
{
	char num[16], *buf = NULL, *now[CG_MAX_HIERS];

	if (set < 0 || (size_t)set >= rs.e->n_sets || base >= (int)rs.e->n_sets)
		return -1;
	/* where it is now: only what differs is written (it starts where criu was, often its place) */
	if (read_task_cgroups(pid, pid, &buf, now, true)) {
		free(buf);
		return -1;
	}
	snprintf(num, sizeof(num), "%d", pid);
	for (size_t ih = 0; ih < rs.e->n_hiers; ih++) {
		const char *p = rs.paths[set][ih];
		int h = rs.map[ih], fd, ret;

		if (h < 0)
			continue;	/* gone_with_tree() */
		if ((base >= 0 && !strcmp(p, rs.paths[base][ih])) || !strcmp(p, now[h]))
			continue;
		fd = open_cg(h, p, O_RDONLY);
		if (fd < 0) {
			pr_perror("can't open cgroup %s:%s", hier_name(ih), p);
			free(buf);
			return -1;
		}
		ret = write_file_at(fd, thread ? (hiers[h].v2 ? "cgroup.threads" : "tasks") : "cgroup.procs", num);
		/* a threaded v2 cgroup takes threads only: the process goes to its domain, then the thread here */
		if (ret && errno == EOPNOTSUPP && hiers[h].v2 && !thread)
			ret = move_to_threaded(h, p, fd, num);
		close(fd);
		if (ret) {
			pr_perror("can't move %s %d into cgroup %s:%s", thread ? "thread" : "process", pid,
				  hier_name(ih), p);
			free(buf);
			return -1;
		}
		pr_debug("%s %d is in cgroup %s:%s\n", thread ? "thread" : "process", pid, hier_name(ih), p);
	}
	free(buf);
	return 0;
}

int cg_rst_props(int phase)
{
	/* a cgroup whose state is saved gets it below; the others what they had */
	if (phase == CG_PHASE_FREEZER && refreeze(true))
		return -1;
	for (size_t i = 0; i < rs.nr_dirs; i++) {
		struct rdir *rd = &rs.dirs[i];
		char where[PATH_MAX + 300];
		int fd, ret;

		if (!rd->props)
			continue;
		snprintf(where, sizeof(where), "%s:%s", hier_name(rd->ih), rd->path);
		fd = open_cg(rs.map[rd->ih], rd->path, O_RDONLY);
		if (fd < 0) {
			pr_perror("can't open cgroup %s", where);
			return -1;
		}
		ret = cg_props_restore(fd, where, rd->d, phase);
		close(fd);
		if (ret)
			return -1;
	}
	return 0;
}

/* The cgroups the restore froze (their saved state), thawed again. */
static void thaw_restored(void)
{
	for (size_t i = 0; i < rs.nr_dirs; i++) {
		const CgroupDir *d = rs.dirs[i].d;
		int h = rs.map[rs.dirs[i].ih];

		if (!rs.dirs[i].props || (!hiers[h].v2 && !hiers[h].freezer))
			continue;
		for (size_t j = 0; j < d->n_props; j++)
			if ((!strcmp(d->props[j]->name, "freezer.state") && !strcmp(d->props[j]->value, "FROZEN")) ||
			    (!strcmp(d->props[j]->name, "cgroup.freeze") && !strcmp(d->props[j]->value, "1"))) {
				char rel[PATH_MAX + 16];

				snprintf(rel, sizeof(rel), "%d%s", h, rs.dirs[i].path);
				set_frozen(rel, hiers[h].v2, false);
			}
	}
}

/* What criu made goes again, deepest first; a task that is dying may hold one a moment longer. */
static void remove_made(void)
{
	struct timespec ts = { 0, 10000000 };

	for (size_t i = rs.nr_made; i-- > 0;) {
		int tries = 100, r;

		while ((r = unlinkat(yard, rs.made[i], AT_REMOVEDIR)) && errno == EBUSY && tries-- > 0)
			nanosleep(&ts, NULL);
		if (r && errno != ENOENT)
			pr_warn("can't remove cgroup %s (hierarchy number first) made for the failed restore: %s\n",
				rs.made[i], strerror(errno));
	}
}

/*
 * A failed restore: the mover goes (criu is about to wait for every child
 * it has) and the cgroups the tree went into are thawed, as a killed task
 * in a frozen cgroup dies only once it is thawed. cgroup_restore_fini()
 * cleans up the rest once the tree is reaped.
 */
void cgroup_restore_abort(void)
{
	cg_mover_stop();
	thaw_restored();
}

void cgroup_restore_fini(bool ok)
{
	cg_mover_stop();
	/* a killed task in a frozen cgroup dies only once it is thawed */
	if (!ok)
		thaw_restored();
	if (!ok && rs.nr_made)
		remove_made();
	/* (after a success the mover froze them again) */
	if (!ok && rs.nr_thawed)
		refreeze(false);
	for (size_t i = 0; i < rs.nr_thawed; i++)
		free(rs.thawed[i]);
	free(rs.thawed);
	for (size_t i = 0; i < rs.nr_made; i++)
		free(rs.made[i]);
	free(rs.made);
	for (size_t i = 0; i < rs.nr_dirs; i++)
		free(rs.dirs[i].path);
	free(rs.dirs);
	for (size_t s = 0; rs.paths && s < rs.e->n_sets; s++) {
		for (size_t ih = 0; rs.paths[s] && ih < rs.e->n_hiers; ih++)
			free(rs.paths[s][ih]);
		free(rs.paths[s]);
	}
	free(rs.paths);
	if (rs.e)
		pb_free(rs.img, rs.e);
	if (rs.img)
		close_image(rs.img);
	if (rs.sk >= 0)
		close(rs.sk);
	close_yard();
	memset(&rs, 0, sizeof(rs));
	rs.sk = -1;
}
