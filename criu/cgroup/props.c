/*
 * Cgroup properties: the files of a cgroup that say how its tasks are
 * limited or placed, saved for the tree's own cgroups and written back at
 * restore. The table below is also the order they are written in: some
 * need others first (a cpuset's cpus and mems before anything joins it, a
 * CFS period before its quota, the memory limit before memory+swap).
 *
 * What is written is read back: a value the kernel takes differently (or
 * refuses) fails the restore, naming the cgroup and the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "proc_parse.h"
#include "log.h"
#include "util.h"

enum kind {
	PLAIN,		/* one value, written as read */
	LINES,		/* one entry a line (per device), each written alone */
	DEVICES,	/* v1 devices.list: deny all, then allow each line */
	OOM_CONTROL,	/* v1 memory.oom_control: only oom_kill_disable is settable */
	FREEZER_V1,	/* v1 freezer.state, saved from freezer.self_freezing */
	FREEZE_V2,	/* v2 cgroup.freeze */
	SUBTREE,	/* v2 cgroup.subtree_control: "+ctrl -ctrl" */
	TYPE,		/* v2 cgroup.type: only "threaded" is ever written */
};

static const struct prop_desc {
	const char *pattern;
	int phase;
	int kind;
} props[] = {
	{ "cgroup.type",			CG_PHASE_EARLY,	TYPE },
	{ "cgroup.subtree_control",		CG_PHASE_EARLY,	SUBTREE },
	{ "cpuset.mems",			CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.cpus",			CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.cpus.exclusive",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.cpus.partition",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.cpu_exclusive",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.mem_exclusive",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.mem_hardwall",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.memory_migrate",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.memory_spread_page",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.memory_spread_slab",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.sched_load_balance",		CG_PHASE_EARLY,	PLAIN },
	{ "cpuset.sched_relax_domain_level",	CG_PHASE_EARLY,	PLAIN },
	{ "cgroup.clone_children",		CG_PHASE_EARLY,	PLAIN },
	{ "notify_on_release",			CG_PHASE_EARLY,	PLAIN },
	/* a real-time task can't join a cgroup without real-time runtime */
	{ "cpu.rt_period_us",			CG_PHASE_EARLY,	PLAIN },
	{ "cpu.rt_runtime_us",			CG_PHASE_EARLY,	PLAIN },
	/* a devices cgroup that has children can't become a whitelist: before they are made */
	{ "devices.list",			CG_PHASE_EARLY,	DEVICES },

	{ "memory.limit_in_bytes",		CG_PHASE_LATE,	PLAIN },
	{ "memory.memsw.limit_in_bytes",	CG_PHASE_LATE,	PLAIN },
	{ "memory.soft_limit_in_bytes",		CG_PHASE_LATE,	PLAIN },
	{ "memory.swappiness",			CG_PHASE_LATE,	PLAIN },
	{ "memory.oom_control",			CG_PHASE_LATE,	OOM_CONTROL },
	{ "memory.kmem.tcp.limit_in_bytes",	CG_PHASE_LATE,	PLAIN },
	{ "memory.min",				CG_PHASE_LATE,	PLAIN },
	{ "memory.low",				CG_PHASE_LATE,	PLAIN },
	{ "memory.high",			CG_PHASE_LATE,	PLAIN },
	{ "memory.max",				CG_PHASE_LATE,	PLAIN },
	{ "memory.swap.high",			CG_PHASE_LATE,	PLAIN },
	{ "memory.swap.max",			CG_PHASE_LATE,	PLAIN },
	{ "memory.zswap.max",			CG_PHASE_LATE,	PLAIN },
	{ "memory.zswap.writeback",		CG_PHASE_LATE,	PLAIN },
	{ "memory.oom.group",			CG_PHASE_LATE,	PLAIN },
	{ "pids.max",				CG_PHASE_LATE,	PLAIN },
	{ "cpu.shares",				CG_PHASE_LATE,	PLAIN },
	{ "cpu.cfs_period_us",			CG_PHASE_LATE,	PLAIN },
	{ "cpu.cfs_quota_us",			CG_PHASE_LATE,	PLAIN },
	{ "cpu.cfs_burst_us",			CG_PHASE_LATE,	PLAIN },
	{ "cpu.idle",				CG_PHASE_LATE,	PLAIN },
	{ "cpu.weight",				CG_PHASE_LATE,	PLAIN },
	{ "cpu.max",				CG_PHASE_LATE,	PLAIN },
	{ "cpu.max.burst",			CG_PHASE_LATE,	PLAIN },
	{ "cpu.uclamp.min",			CG_PHASE_LATE,	PLAIN },
	{ "cpu.uclamp.max",			CG_PHASE_LATE,	PLAIN },
	{ "blkio.weight",			CG_PHASE_LATE,	PLAIN },
	{ "blkio.throttle.read_bps_device",	CG_PHASE_LATE,	LINES },
	{ "blkio.throttle.write_bps_device",	CG_PHASE_LATE,	LINES },
	{ "blkio.throttle.read_iops_device",	CG_PHASE_LATE,	LINES },
	{ "blkio.throttle.write_iops_device",	CG_PHASE_LATE,	LINES },
	{ "io.weight",				CG_PHASE_LATE,	LINES },
	{ "io.bfq.weight",			CG_PHASE_LATE,	LINES },
	{ "io.max",				CG_PHASE_LATE,	LINES },
	{ "net_cls.classid",			CG_PHASE_LATE,	PLAIN },
	{ "net_prio.ifpriomap",			CG_PHASE_LATE,	LINES },
	{ "hugetlb.*.limit_in_bytes",		CG_PHASE_LATE,	PLAIN },
	{ "hugetlb.*.rsvd.limit_in_bytes",	CG_PHASE_LATE,	PLAIN },
	{ "hugetlb.*.max",			CG_PHASE_LATE,	PLAIN },
	{ "hugetlb.*.rsvd.max",			CG_PHASE_LATE,	PLAIN },
	{ "misc.max",				CG_PHASE_LATE,	LINES },
	{ "cgroup.max.descendants",		CG_PHASE_LATE,	PLAIN },
	{ "cgroup.max.depth",			CG_PHASE_LATE,	PLAIN },

	{ "freezer.state",			CG_PHASE_FREEZER, FREEZER_V1 },
	{ "cgroup.freeze",			CG_PHASE_FREEZER, FREEZE_V2 },
};

#define MAX_VALUE	(64 * 1024)

static const struct prop_desc *find_desc(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(props); i++)
		if (!fnmatch(props[i].pattern, name, 0))
			return &props[i];
	return NULL;
}

/* The file's contents without the last newline, malloc'ed; NULL with errno set. */
static char *read_value(int dirfd, const char *name)
{
	char *buf = malloc(MAX_VALUE + 1), extra;
	ssize_t n = 0, len = 0;
	int fd, err;

	if (!buf)
		return NULL;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while (len < MAX_VALUE && (n = read(fd, buf + len, MAX_VALUE - len)) > 0)
		len += n;
	if (len == MAX_VALUE && (n = read(fd, &extra, 1)) > 0) {
		n = -1;		/* more than we take: never a value cut short */
		errno = EFBIG;
	}
	err = errno;
	close(fd);
	if (n < 0) {
		free(buf);
		errno = err;
		return NULL;
	}
	if (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return buf;
}

static int write_value(int dirfd, const char *name, const char *val)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	ssize_t len = strlen(val), n;

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	close(fd);
	if (n == len)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/* ---- dump ---- */

static int add_prop(CgroupDir *d, const char *name, char *value)
{
	CgroupProp **n = realloc(d->props, (d->n_props + 1) * sizeof(*n));
	CgroupProp *p = malloc(sizeof(*p));

	if (!n || !p) {
		free(p);
		free(value);
		pr_err("out of memory\n");
		return -1;
	}
	d->props = n;
	cgroup_prop__init(p);
	p->name = strdup(name);
	p->value = value;
	d->props[d->n_props++] = p;
	if (!p->name) {
		pr_err("out of memory\n");
		return -1;
	}
	return 0;
}

static int desc_index(const char *name)
{
	const struct prop_desc *p = find_desc(name);

	return p ? (int)(p - props) : (int)ARRAY_SIZE(props);
}

static int cmp_props(const void *a, const void *b)
{
	const CgroupProp *x = *(CgroupProp *const *)a, *y = *(CgroupProp *const *)b;
	int i = desc_index(x->name), j = desc_index(y->name);

	return i != j ? i - j : strcmp(x->name, y->name);
}

/* v1: the state the cgroup was frozen into by a write of its own (not an ancestor's). */
static char *freezer_v1_state(int dirfd, int orig)
{
	char *self;

	if (orig >= 0)
		return strdup(orig ? "FROZEN" : "THAWED");
	self = read_value(dirfd, "freezer.self_freezing");
	if (!self)
		return NULL;
	if (strcmp(self, "0") && strcmp(self, "1")) {
		pr_err("freezer.self_freezing reads '%s'\n", self);
		free(self);
		errno = EINVAL;
		return NULL;
	}
	strcpy(self, self[0] == '1' ? "FROZEN" : "THAWED");
	return self;
}

int cg_props_dump(int dirfd, bool v2, bool freezer, CgroupDir *d)
{
	DIR *dir;
	struct dirent *de;
	struct stat st;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), orig, ret = 0;

	if (fd < 0 || fstat(fd, &st)) {
		pr_perror("can't look at cgroup %s", d->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* --freeze-cgroup froze or thawed it: what it was before counts */
	orig = cgfreeze_orig_state(st.st_dev, st.st_ino);
	dir = fdopendir(fd);
	if (!dir) {
		pr_perror("can't list cgroup %s", d->path);
		close(fd);
		return -1;
	}
	while (!ret && (ret = next_dirent(dir, &de, d->path)) > 0) {
		const struct prop_desc *p = find_desc(de->d_name);
		char *val;

		ret = 0;
		if (!p || de->d_type == DT_DIR)
			continue;
		if ((p->kind == FREEZER_V1 && (v2 || !freezer)) || ((p->kind == FREEZE_V2 || p->kind == TYPE ||
									p->kind == SUBTREE) && !v2))
			continue;
		if (p->kind == FREEZER_V1)
			val = freezer_v1_state(dirfd, orig);
		else if (p->kind == FREEZE_V2 && orig >= 0)
			val = strdup(orig ? "1" : "0");
		else
			val = read_value(dirfd, de->d_name);
		if (!val) {
			/* a controller file may exist but not be readable in this cgroup (a root's limit) */
			if (errno == EOPNOTSUPP || errno == ENODEV || errno == EINVAL)
				continue;
			pr_perror("can't read %s of cgroup %s", de->d_name, d->path);
			ret = -1;
			break;
		}
		if (p->kind == OOM_CONTROL) {
			char *k = strstr(val, "oom_kill_disable ");

			if (!k) {
				pr_err("cgroup %s: memory.oom_control reads '%s'\n", d->path, val);
				free(val);
				ret = -1;
				break;
			}
			memmove(val, k + 17, 2);
			val[1] = '\0';
		}
		if (p->kind == TYPE && strcmp(val, "domain") && strcmp(val, "threaded") &&
		    strcmp(val, "domain threaded") && strcmp(val, "domain invalid")) {
			pr_err("can't dump cgroup %s: its cgroup.type is '%s', which criu doesn't know\n", d->path, val);
			free(val);
			ret = -1;
			break;
		}
		ret = add_prop(d, de->d_name, val);
	}
	closedir(dir);
	if (!ret && d->n_props > 1)
		sort_array(d->props, d->n_props, sizeof(*d->props), cmp_props);
	return ret;
}

void cg_props_free(CgroupDir *d)
{
	for (size_t i = 0; i < d->n_props; i++) {
		free(d->props[i]->name);
		free(d->props[i]->value);
		free(d->props[i]);
	}
	free(d->props);
	d->props = NULL;
	d->n_props = 0;
}

/* ---- restore ---- */

/* Is @w one of the space-separated words of @list? */
static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* The two controller lists hold the same names. */
static bool same_words(const char *a, const char *b)
{
	char x[1024], y[1024], *save = NULL;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (char *w = strtok_r(x, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (!has_word(b, w))
			return false;
	save = NULL;
	for (char *w = strtok_r(y, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (!has_word(a, w))
			return false;
	return true;
}

/* "+memory +pids -cpu": what turns the current list into the wanted one. */
static int subtree_change(const char *cur, const char *want, char *out, size_t size)
{
	char x[1024], *save = NULL;
	size_t len = 0;

	out[0] = '\0';
	snprintf(x, sizeof(x), "%s", want);
	for (char *w = strtok_r(x, " ", &save); w && len < size; w = strtok_r(NULL, " ", &save))
		if (!has_word(cur, w))
			len += snprintf(out + len, size - len, "%s+%s", len ? " " : "", w);
	snprintf(x, sizeof(x), "%s", cur);
	save = NULL;
	for (char *w = strtok_r(x, " ", &save); w && len < size; w = strtok_r(NULL, " ", &save))
		if (!has_word(want, w))
			len += snprintf(out + len, size - len, "%s-%s", len ? " " : "", w);
	return len < size ? 0 : -1;
}

static int write_lines(int dirfd, const char *name, const char *val)
{
	char *copy = strdup(val), *save = NULL;
	int ret = 0;

	if (!copy)
		return -1;
	for (char *l = strtok_r(copy, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save))
		ret = write_value(dirfd, name, l);
	free(copy);
	return ret;
}

static int write_devices(int dirfd, const char *val)
{
	if (!strcmp(val, "a *:* rwm"))
		return write_value(dirfd, "devices.allow", "a");
	if (write_value(dirfd, "devices.deny", "a"))
		return -1;
	return write_lines(dirfd, "devices.allow", val);
}

/* The freezer takes a moment to reach a state: wait for it (5 s at most). */
static int wait_frozen(int dirfd, int kind, bool frozen)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 5000; i++) {
		char *v = read_value(dirfd, kind == FREEZER_V1 ? "freezer.state" : "cgroup.events");
		bool done;

		if (!v)
			return -1;
		if (kind == FREEZER_V1)
			done = !strcmp(v, frozen ? "FROZEN" : "THAWED");
		else
			done = strstr(v, frozen ? "frozen 1" : "frozen 0") != NULL;
		free(v);
		if (done)
			return 0;
		nanosleep(&ts, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int restore_one(int dirfd, const char *where, const struct prop_desc *pd, const CgroupProp *p)
{
	char *cur = NULL, change[1024];
	int ret = -1;
	bool same;

	if (pd->kind == FREEZER_V1)
		cur = freezer_v1_state(dirfd, -1);
	else
		cur = read_value(dirfd, p->name);
	if (!cur) {
		pr_perror("can't read %s of cgroup %s", p->name, where);
		return -1;
	}
	if (pd->kind == OOM_CONTROL) {
		char *k = strstr(cur, "oom_kill_disable ");

		same = k && k[17] == p->value[0];
	} else if (pd->kind == SUBTREE) {
		same = same_words(cur, p->value);
	} else if (pd->kind == TYPE) {
		/* the other types follow from what the children are */
		same = strcmp(p->value, "threaded") || !strcmp(cur, "threaded");
	} else {
		same = !strcmp(cur, p->value);
	}
	if (same) {
		free(cur);
		return 0;
	}
	pr_debug("cgroup %s: %s '%s' -> '%s'\n", where, p->name, cur, p->value);
	switch (pd->kind) {
	case PLAIN:
	case FREEZE_V2:
		ret = write_value(dirfd, p->name, p->value);
		break;
	case LINES:
		ret = write_lines(dirfd, p->name, p->value);
		break;
	case DEVICES:
		ret = write_devices(dirfd, p->value);
		break;
	case OOM_CONTROL:
		ret = write_value(dirfd, p->name, p->value);
		break;
	case FREEZER_V1:
		ret = write_value(dirfd, p->name, p->value);
		break;
	case SUBTREE:
		ret = subtree_change(cur, p->value, change, sizeof(change));
		if (!ret)
			ret = write_value(dirfd, p->name, change);
		break;
	case TYPE:
		ret = write_value(dirfd, p->name, "threaded");
		break;
	}
	if (ret) {
		pr_perror("can't set %s of cgroup %s back to '%s' (it is '%s')", p->name, where, p->value, cur);
		free(cur);
		return -1;
	}
	free(cur);
	if (pd->kind == FREEZER_V1 || pd->kind == FREEZE_V2) {
		bool frozen = !strcmp(p->value, "FROZEN") || !strcmp(p->value, "1");

		if (wait_frozen(dirfd, pd->kind, frozen)) {
			pr_perror("cgroup %s did not become %s", where, frozen ? "frozen" : "thawed");
			return -1;
		}
		return 0;
	}
	/* read back: a value the kernel rounds, clamps or ignores is not the one we had */
	cur = read_value(dirfd, p->name);
	if (!cur) {
		pr_perror("can't read %s of cgroup %s", p->name, where);
		return -1;
	}
	if (pd->kind == OOM_CONTROL) {
		char *k = strstr(cur, "oom_kill_disable ");

		same = k && k[17] == p->value[0];
	} else if (pd->kind == SUBTREE) {
		same = same_words(cur, p->value);
	} else if (pd->kind == TYPE) {
		same = !strcmp(cur, "threaded");
	} else {
		same = !strcmp(cur, p->value);
	}
	if (!same)
		pr_err("can't set %s of cgroup %s back: wrote '%s', it reads '%s'\n", p->name, where, p->value, cur);
	free(cur);
	return same ? 0 : -1;
}

int cg_props_restore(int dirfd, const char *where, const CgroupDir *d, int phase)
{
	/* in the table's order, not the image's */
	for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
		if (props[i].phase != phase)
			continue;
		for (size_t j = 0; j < d->n_props; j++) {
			const CgroupProp *p = d->props[j];

			if (find_desc(p->name) == &props[i] && restore_one(dirfd, where, &props[i], p))
				return -1;
		}
	}
	return 0;
}
