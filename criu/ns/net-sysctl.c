/*
 * The namespace's sysctls (/proc/sys/net, as it shows them to a process in
 * it): the global ones that differ from a new namespace's, and every one
 * of each device (conf and neigh of ipv4 and ipv6), since a device takes
 * its values from "default" when it is made, whatever they were then.
 * One that differs from a new namespace's and can't be written there
 * (read-only in a namespace: a hash size its parent chose, multicast
 * routing's mc_forwarding) is refused by name. Restore writes those whose
 * value is not what the new namespace has: the global ones before the
 * links are made ("all" before "default" before the rest), the devices'
 * before they go up. Values are read and written by criu, so that ids in
 * them (ping_group_range) mean the same both times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cr_options.h"
#include "log.h"
#include "netns.h"
#include "proc_parse.h"
#include "util.h"

#define ROOT "/proc/sys/net"
#define MAX_VALUE 4096

struct sysctl {
	char *name;	/* below /proc/sys/net */
	char *value;
};

struct sysctls {
	struct sysctl *s;
	size_t n, cap;
};

static void sysctls_free(struct sysctls *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->s[i].name);
		free(t->s[i].value);
	}
	free(t->s);
	t->s = NULL;
	t->n = t->cap = 0;
}

/*
 * Not settings: write-only triggers, state, and the seconds/jiffies twins
 * of the *_ms neighbour timers (the _ms one carries the value); a device's
 * IPv6 address generation mode is the link's (net-link.c).
 */
static int skipped(const char *name)
{
	static const char *const exact[] = { "ipv4/route/flush", "ipv6/route/flush", "netfilter/nf_conntrack_count" };
	static const char *const last[] = { "base_reachable_time", "retrans_time" };
	const char *base = strrchr(name, '/');
	char dev[64];

	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (!strcmp(name, exact[i]))
			return 1;
	base = base ? base + 1 : name;
	for (size_t i = 0; i < ARRAY_SIZE(last); i++)
		if (!strcmp(base, last[i]) && strstr(name, "/neigh/"))
			return 1;
	return !strcmp(base, "addr_gen_mode") && netns_sysctl_device(name, dev, sizeof(dev));
}

const char *netns_sysctl_device(const char *name, char *dev, size_t size)
{
	static const char *const dirs[] = { "ipv4/conf/", "ipv6/conf/", "ipv4/neigh/", "ipv6/neigh/" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		size_t l = strlen(dirs[i]);
		const char *slash;

		if (strncmp(name, dirs[i], l))
			continue;
		slash = strchr(name + l, '/');
		if (!slash || (size_t)(slash - name - l) >= size)
			return NULL;
		snprintf(dev, size, "%.*s", (int)(slash - name - l), name + l);
		if (!strcmp(dev, "all") || !strcmp(dev, "default"))
			return NULL;
		return dev;
	}
	return NULL;
}

static int add(struct sysctls *t, const char *name, const char *value)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 512;
		struct sysctl *n = realloc(t->s, cap * sizeof(*n));

		if (!n)
			return -1;
		t->s = n;
		t->cap = cap;
	}
	t->s[t->n].name = strdup(name);
	t->s[t->n].value = strdup(value);
	if (!t->s[t->n].name || !t->s[t->n].value)
		return -1;
	t->n++;
	return 0;
}

/*
 * 0 with the value in @buf; 1 when there is none to save: a write-only
 * file, one gone meanwhile, or stable_secret while unset (it reads EIO);
 * -1 on any other error (reported): a value is never left out because a
 * read failed, or the restored namespace would silently keep its default.
 */
static int read_value_at(int dfd, const char *path, char *buf, size_t size)
{
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC), err;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	ssize_t n;

	if (fd < 0) {
		if (errno == EACCES || errno == EPERM || errno == ENOENT)
			return 1;
		pr_perror("can't open sysctl %s", path);
		return -1;
	}
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0 && err == EIO && !strcmp(base, "stable_secret"))
		return 1;
	if (n < 0) {
		errno = err;
		pr_perror("can't read sysctl %s", path);
		return -1;
	}
	if ((size_t)n == size - 1) {
		pr_err("can't read sysctl %s: its value is longer than %zu bytes\n", path, size - 2);
		return -1;
	}
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

static int read_value(const char *path, char *buf, size_t size)
{
	return read_value_at(AT_FDCWD, path, buf, size);
}

/*
 * Some thousand files: opened relative to their directory, told apart by
 * readdir's type, without a stat each (whether one can be written is asked
 * only of the few that differ from a new namespace's: writable()).
 */
static int walk(struct sysctls *t, int dfd, char *path, size_t len)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		pr_perror("can't list %s", path);
		close(dfd);
		return -1;
	}
	while (!ret && (ret = next_dirent(d, &de, path)) > 0) {
		char value[MAX_VALUE];

		ret = 0;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path + len, PATH_MAX - len, "/%s", de->d_name);
		if (de->d_type == DT_DIR) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (sub >= 0)
				ret = walk(t, sub, path, strlen(path));
			else if (errno != ENOENT) {	/* else gone meanwhile (a device) */
				pr_perror("can't open %s", path);
				ret = -1;
			}
			continue;
		}
		if (de->d_type != DT_REG || skipped(path + strlen(ROOT) + 1))
			continue;
		ret = read_value_at(AT_FDCWD, path, value, sizeof(value));
		if (ret > 0) {
			ret = 0;
			continue;	/* write-only, gone, or unset (stable_secret) */
		}
		if (!ret && add(t, path + strlen(ROOT) + 1, value)) {
			pr_err("out of memory\n");
			ret = -1;
		}
	}
	path[len] = '\0';
	closedir(d);
	return ret;
}

static int writable(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), ROOT "/%s", name);
	return !stat(path, &st) && (st.st_mode & 0222);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct sysctl *)a)->name, ((const struct sysctl *)b)->name);
}

/* Every readable sysctl of the caller's network namespace, sorted by name. */
static int read_all(struct sysctls *t)
{
	char path[PATH_MAX] = ROOT;
	int dfd = open(ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0) {
		pr_perror("can't open " ROOT);
		return -1;
	}
	if (walk(t, dfd, path, strlen(path)))
		return -1;
	sort_array(t->s, t->n, sizeof(*t->s), cmp);
	return 0;
}

/*
 * The sysctls of the namespace @nsfd: read by a child in it (while the
 * caller reads its own), sent back as "NAME\tVALUE\n" lines.
 */
struct reader {
	pid_t pid;
	int fd;
};

static int read_in_start(int nsfd, struct reader *rd)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe");
		return -1;
	}
	rd->pid = fork();
	if (rd->pid < 0) {
		pr_perror("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (rd->pid == 0) {
		struct sysctls mine = {};
		FILE *f;

		close(p[0]);
		if (setns(nsfd, CLONE_NEWNET)) {
			pr_perror("can't enter a new network namespace to compare with");
			_exit(1);
		}
		f = fdopen(p[1], "w");
		if (!f || read_all(&mine))
			_exit(1);
		for (size_t i = 0; i < mine.n; i++)
			fprintf(f, "%s\t%s\n", mine.s[i].name, mine.s[i].value);
		_exit(fclose(f) ? 1 : 0);
	}
	close(p[1]);
	rd->fd = p[0];
	return 0;
}

static int read_in_finish(struct reader *rd, struct sysctls *t)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status;

	for (;;) {
		ssize_t n;

		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb)
				break;
			buf = nb;
		}
		n = read(rd->fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += n;
	}
	close(rd->fd);
	if (waitpid(rd->pid, &status, 0) != rd->pid || !WIFEXITED(status) || WEXITSTATUS(status) || !buf) {
		free(buf);
		pr_err("can't read the sysctls of a new network namespace\n");
		return -1;
	}
	buf[len] = '\0';
	for (char *l = buf, *nl; *l; l = nl + 1) {
		char *tab;

		nl = strchr(l, '\n');
		if (!nl)
			break;
		*nl = '\0';
		tab = strchr(l, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		if (add(t, l, tab + 1)) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	/* sorted by name: the child's were */
	return 0;
}

static const struct sysctl *find(const struct sysctls *t, const char *name)
{
	struct sysctl key = { .name = (char *)name };

	return bsearch(&key, t->s, t->n, sizeof(*t->s), cmp);
}

/* What a new device of @name's family had in a new namespace: its "default" twin. */
static const struct sysctl *device_default(const struct sysctls *fresh, const char *name, const char *dev)
{
	char twin[PATH_MAX];
	const char *at = strstr(name, dev);

	snprintf(twin, sizeof(twin), "%.*sdefault%s", (int)(at - name), name, at + strlen(dev));
	return find(fresh, twin);
}

/* "ipv4.conf.eth0.forwarding", for messages (a device name may hold dots: they stay) */
static const char *dotted(const char *name)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '.';
	return buf;
}

static int save(NetnsEntry *ne, const struct sysctl *s)
{
	NetnsSysctl *e = pb_grow((void ***)&ne->sysctls, &ne->n_sysctls, sizeof(*e));

	if (!e)
		return -1;
	netns_sysctl__init(e);
	e->name = strdup(s->name);
	e->value = strdup(s->value);
	return e->name && e->value ? 0 : -1;
}

int netns_sysctls_dump(struct netns_dump *d, int fresh_fd)
{
	struct sysctls in = {}, fresh = {};
	struct reader rd;
	int ret = -1;

	if (read_in_start(fresh_fd, &rd))
		return -1;
	if (read_all(&in)) {
		read_in_finish(&rd, &fresh);
		goto out;
	}
	if (read_in_finish(&rd, &fresh))
		goto out;
	for (size_t i = 0; i < in.n; i++) {
		const struct sysctl *s = &in.s[i], *f;
		char dev[64];
		int per_dev = !!netns_sysctl_device(s->name, dev, sizeof(dev));

		f = per_dev ? device_default(&fresh, s->name, dev) : find(&fresh, s->name);
		if (f && !strcmp(f->value, s->value) && !per_dev)
			continue;	/* as in any new namespace */
		if (!writable(s->name)) {
			if (f && !strcmp(f->value, s->value))
				continue;
			pr_err("can't dump the network namespace of %d: sysctl net.%s is %s, not %s as in a new "
			       "namespace, and it can't be set there (read-only)\n", d->pid, dotted(s->name), s->value,
			       f ? f->value : "absent");
			goto out;
		}
		if (!f && !per_dev) {
			pr_err("can't dump the network namespace of %d: sysctl net.%s (%s) does not exist in a new "
			       "namespace\n", d->pid, dotted(s->name), s->value);
			goto out;
		}
		if (save(d->ne, s))
			goto out;
	}
	ret = 0;
out:
	sysctls_free(&in);
	sysctls_free(&fresh);
	return ret;
}

/* ---- restore ---- */

static int write_one(const NetnsSysctl *s)
{
	char path[PATH_MAX], cur[MAX_VALUE];
	size_t len = strlen(s->value);
	int fd;

	if (strstr(s->name, "..") || s->name[0] == '/') {
		pr_err("netns.img: a bad sysctl name %s\n", s->name);
		return -1;
	}
	snprintf(path, sizeof(path), ROOT "/%s", s->name);
	if (!read_value(path, cur, sizeof(cur)) && !strcmp(cur, s->value))
		return 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s->value, len) != (ssize_t)len) {
		/* --weak-sysctls: the caller takes a namespace without it (a kernel that lacks it, or refuses) */
		if (opts.weak_sysctls)
			pr_pwarn("--weak-sysctls: sysctl net.%s is not set to %s", dotted(s->name), s->value);
		else
			pr_perror("can't set sysctl net.%s to %s", dotted(s->name), s->value);
		if (fd >= 0)
			close(fd);
		return opts.weak_sysctls ? 0 : -1;
	}
	close(fd);
	return 0;
}

int netns_sysctls_restore(struct netns_rst *r, int per_device)
{
	for (size_t i = 0; i < r->ne->n_sysctls; i++) {
		const NetnsSysctl *s = r->ne->sysctls[i];
		char dev[64];

		if (!!netns_sysctl_device(s->name, dev, sizeof(dev)) != per_device)
			continue;
		if (write_one(s))
			return -1;
	}
	return 0;
}
