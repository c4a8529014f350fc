/*
 * The network namespace, for now only as runc's empty_ns asks for it: a
 * new namespace with loopback alone, up as it was. Dump refuses, by
 * name, a namespace holding anything a fresh one with loopback would not
 * (another link, an address other than loopback's, a route, a netfilter
 * table, a sysctl of its own) unless --empty-ns net says its contents
 * are the caller's business; --external net[INO]:KEY and --join-ns
 * net:PATH give an existing one. Its contents come with the network
 * restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

#include "log.h"
#include "namespaces.h"
#include "util.h"

#define SYSCTL_MAX	4096
#define SYSCTL_LEN	160

/* Every readable sysctl under /proc/sys/net of the reader's namespace: "name=value" lines. */
struct sysctls {
	int nr;
	int overflow;
	int lo_up;
	char what[512];		/* the first thing found that a fresh namespace would not have */
	char line[SYSCTL_MAX][SYSCTL_LEN];
};

/* Values that are not the namespace's settings but its state, or differ between any two. */
static int volatile_sysctl(const char *name)
{
	static const char *const skip[] = { "stable_secret", "nf_conntrack_count", "base_reachable_time",
					    "hash_secret", "flowlabel", "route/flush", "neigh/default/gc_" };

	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (strstr(name, skip[i]))
			return 1;
	return 0;
}

static void walk(struct sysctls *s, char *path, size_t len)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char buf[SYSCTL_LEN];
		struct stat st;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path + len, PATH_MAX - len, "/%s", de->d_name);
		if (lstat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(s, path, strlen(path));
			continue;
		}
		if (!(st.st_mode & 0444) || volatile_sysctl(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (s->nr == SYSCTL_MAX) {
			s->overflow = 1;
			continue;
		}
		snprintf(s->line[s->nr++], SYSCTL_LEN, "%.100s=%.55s", path + strlen("/proc/sys/"), buf);
	}
	path[len] = '\0';
	closedir(d);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int read_sysctls(struct sysctls *s)
{
	char path[PATH_MAX] = "/proc/sys/net";

	s->nr = 0;
	walk(s, path, strlen(path));
	qsort(s->line, s->nr, SYSCTL_LEN, cmp_line);
	return 0;
}

static int lo_flags(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr)) {
		if (sk >= 0)
			close(sk);
		return -1;
	}
	close(sk);
	return ifr.ifr_flags;
}

/* Lines of a /proc/self/net file other than its header, each checked by @ok; the first bad one in @what. */
static int scan(const char *file, int header, int (*ok)(const char *line), char *what, size_t size)
{
	char path[64], line[512];
	FILE *f;
	int n = 0, bad = 0;

	snprintf(path, sizeof(path), "/proc/self/net/%s", file);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* a kind of object the kernel does not have */
	while (!bad && fgets(line, sizeof(line), f))
		if (n++ >= header && !ok(line)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(what, size, "%.40s: %.400s", file, line);
			bad = 1;
		}
	fclose(f);
	return bad;
}

static int dev_ok(const char *l)
{
	while (*l == ' ')
		l++;
	return !strncmp(l, "lo:", 3);
}

static int nothing_ok(const char *l)
{
	(void)l;
	return 0;
}

/* if_inet6: ADDR IDX PLEN SCOPE FLAGS DEV */
static int inet6_ok(const char *l)
{
	return !strncmp(l, "00000000000000000000000000000001 ", 33);
}

/* ipv6_route: DST PLEN SRC PLEN NEXTHOP METRIC REF USE FLAGS DEV: only what loopback brings */
static int route6_ok(const char *l)
{
	size_t n = strlen(l);

	while (n && (l[n - 1] == '\n' || l[n - 1] == ' '))
		n--;
	return n >= 2 && !strncmp(l + n - 2, "lo", 2) && (n < 3 || l[n - 3] == ' ');
}

/* fib_trie: any address of the namespace shows as "/32 host LOCAL" after its "|-- A.B.C.D" line */
static char last_addr[64];
static int trie_ok(const char *l)
{
	const char *p = strstr(l, "|-- ");

	if (p) {
		snprintf(last_addr, sizeof(last_addr), "%s", p + 4);
		last_addr[strcspn(last_addr, "\n")] = '\0';
		return 1;
	}
	if (strstr(l, "/32 host LOCAL") && strncmp(last_addr, "127.", 4)) {
		snprintf(last_addr + strlen(last_addr), sizeof(last_addr) - strlen(last_addr), " (an address)");
		return 0;
	}
	return 1;
}

static int look_inside(void *arg)
{
	struct sysctls *s = arg;
	size_t w = sizeof(s->what);

	s->lo_up = lo_flags();
	if (s->lo_up < 0) {
		pr_perror("can't read the flags of lo");
		return -1;
	}
	s->lo_up = !!(s->lo_up & IFF_UP);
	if (scan("dev", 2, dev_ok, s->what, w) || scan("if_inet6", 0, inet6_ok, s->what, w) ||
	    scan("route", 1, nothing_ok, s->what, w) || scan("ipv6_route", 0, route6_ok, s->what, w) ||
	    scan("ip_tables_names", 0, nothing_ok, s->what, w) || scan("ip6_tables_names", 0, nothing_ok, s->what, w) ||
	    scan("arp_tables_names", 0, nothing_ok, s->what, w))
		return 0;
	if (scan("fib_trie", 0, trie_ok, s->what, w)) {
		snprintf(s->what, w, "fib_trie: %s", last_addr);
		return 0;
	}
	return read_sysctls(s);
}

static int fresh(void *arg)
{
	if (unshare(CLONE_NEWNET)) {
		pr_perror("can't make a network namespace to compare with");
		return -1;
	}
	return read_sysctls(arg);
}

int net_ns_dump(pid_t pid, NsEntry *e)
{
	size_t size = sizeof(struct sysctls);
	struct sysctls *in = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sysctls *ref = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ret = -1, i = 0, j = 0;

	if (in == MAP_FAILED || ref == MAP_FAILED) {
		pr_perror("mmap");
		goto out;
	}
	unsigned long userns = ns_id_of(pid, "user") != ns_self_id(NS_USER) ? CLONE_NEWUSER : 0;

	/* read as the tree reads them: some values are ids mapped into the reader's user namespace */
	if (ns_in_child(pid, userns | CLONE_NEWNET, look_inside, in))
		goto out;
	if (in->what[0]) {
		pr_err("can't dump the network namespace of %d: it holds more than loopback (%s); network namespace "
		       "contents are not supported yet (--empty-ns net leaves them to the caller)\n", pid, in->what);
		goto out;
	}
	/* a new one as the restore makes it: in the tree's user namespace (that hides some sysctls) */
	if (ns_in_child(pid, userns, fresh, ref))
		goto out;
	if (in->overflow || ref->overflow) {
		pr_err("can't dump the network namespace of %d: too many sysctls to compare\n", pid);
		goto out;
	}
	/* both sorted: the first line one has and the other not */
	while (i < in->nr || j < ref->nr) {
		int c = i == in->nr ? 1 : j == ref->nr ? -1 : strcmp(in->line[i], ref->line[j]);

		if (!c) {
			i++, j++;
			continue;
		}
		pr_err("can't dump the network namespace of %d: sysctl %s differs from a new namespace's (%s); "
		       "network namespace contents are not supported yet\n", pid,
		       c < 0 ? in->line[i] : ref->line[j], c < 0 ? "set inside" : "default");
		goto out;
	}
	e->has_lo_up = true;
	e->lo_up = in->lo_up;
	pr_info("network namespace of %d: loopback only (%s), %d sysctls as in a new one\n", pid,
		in->lo_up ? "up" : "down", in->nr);
	ret = 0;
out:
	if (in != MAP_FAILED)
		munmap(in, size);
	if (ref != MAP_FAILED)
		munmap(ref, size);
	return ret;
}

int net_ns_restore(const NsEntry *e)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int sk;

	if (e->has_empty && e->empty) {
		/* as a new container's: loopback up */
	} else if (!e->lo_up) {
		return 0;
	}
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr)) {
		pr_perror("can't read the flags of lo");
		goto err;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr)) {
		pr_perror("can't bring lo up");
		goto err;
	}
	close(sk);
	return 0;
err:
	if (sk >= 0)
		close(sk);
	return -1;
}
