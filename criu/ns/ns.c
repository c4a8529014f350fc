/*
 * The namespace framework: the table of kinds, the options that name
 * namespaces (--join-ns, --external KIND[INO]:KEY, --empty-ns), and the
 * parts of dump and restore common to all kinds.
 *
 * Dump: the tree's namespace of a kind is its root's. Every task must be
 * in the tree's namespace of each kind, except pid namespaces, which may
 * nest (pid.c); a namespace of the tree that is not criu's is saved in
 * ns.img by its kind's dump function, or only named if it is external.
 *
 * Restore, in this order: the time namespace is made by criu with its
 * offsets before any task enters it; the first process is cloned into a
 * new user namespace (criu writes its maps while it waits) and a new pid
 * namespace; the root then makes (or joins) the uts, ipc, net, cgroup and
 * mount namespaces, in that order, and fills each before it opens any
 * file or forks any child, who all inherit them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "cr_options.h"
#include "core.pb-c.h"
#include "external.h"
#include "image.h"
#include "ipc-sysv.h"
#include "log.h"
#include "mntns.h"
#include "namespaces.h"
#include "net.h"
#include "netns.h"
#include "nsfs.h"
#include "util.h"

const struct ns_kind ns_kinds[NS_NR] = {
	[NS_USER]	= { "user",	CLONE_NEWUSER,		user_ns_dump,	NULL },
	[NS_PID]	= { "pid",	CLONE_NEWPID,		pid_ns_dump,	NULL },
	[NS_TIME]	= { "time",	CLONE_NEWTIME,		time_ns_dump,	NULL },
	[NS_UTS]	= { "uts",	CLONE_NEWUTS,		uts_ns_dump,	uts_ns_restore },
	[NS_IPC]	= { "ipc",	CLONE_NEWIPC,		ipc_ns_dump,	NULL },
	[NS_NET]	= { "net",	CLONE_NEWNET,		net_ns_dump,	NULL },	/* made by criu: net_ns_make() */
	[NS_CGROUP]	= { "cgroup",	CLONE_NEWCGROUP,	cgroup_ns_dump,	NULL },
	[NS_MNT]	= { "mnt",	CLONE_NEWNS,		mnt_ns_dump,	mnt_ns_restore },
};

static int kind_by_name(const char *name, size_t len)
{
	for (int k = 0; k < NS_NR; k++)
		if (strlen(ns_kinds[k].name) == len && !strncmp(ns_kinds[k].name, name, len))
			return k;
	return -1;
}

/* ---- options ---- */

static const char *join_path[NS_NR];		/* --join-ns */
static struct {
	uint64_t ino;
	const char *key;
} ext_ns[NS_NR];				/* --external KIND[INO]:KEY */
static unsigned long empty_flags;		/* --empty-ns */

int ns_join_add(const char *arg)
{
	const char *colon = strchr(arg, ':');
	int k = colon ? kind_by_name(arg, colon - arg) : -1;

	if (k < 0 || !colon[1]) {
		pr_err("bad --join-ns '%s': expected NS:PATH with NS one of user, pid, time, uts, ipc, net, "
		       "cgroup, mnt\n", arg);
		return -1;
	}
	if (k == NS_MNT || k == NS_USER) {
		/* the mount tree is rebuilt in a namespace of the tree's own; its user namespace owns the rest */
		pr_err("--join-ns %s: joining an existing %s namespace is not supported\n", arg, ns_kinds[k].name);
		return -1;
	}
	if (join_path[k]) {
		pr_err("--join-ns: %s given twice\n", ns_kinds[k].name);
		return -1;
	}
	join_path[k] = colon + 1;
	return 0;
}

int ns_empty_add(const char *arg)
{
	if (strcmp(arg, "net")) {
		pr_err("bad --empty-ns '%s': only net is supported\n", arg);
		return -1;
	}
	empty_flags |= CLONE_NEWNET;
	return 0;
}

/* Only pid and net: mnt[KEY]:VAL and the like name other things. */
int ns_is_external_arg(const char *arg)
{
	return !strncmp(arg, "pid[", 4) || !strncmp(arg, "net[", 4);
}

int ns_external_add(const char *arg)
{
	const char *br = strchr(arg, '[');
	int k = br ? kind_by_name(arg, br - arg) : -1;
	unsigned long long ino;
	int n = 0;

	if (k < 0 || sscanf(br, "[%llu]:%n", &ino, &n) != 1 || !n || !br[n]) {
		pr_err("bad --external '%s': expected KIND[INODE]:KEY, e.g. net[4026531840]:extRootNetNS\n", arg);
		return -1;
	}
	if (k != NS_PID && k != NS_NET) {
		pr_err("--external %s: only pid and net namespaces can be external\n", arg);
		return -1;
	}
	ext_ns[k].ino = ino;
	ext_ns[k].key = br + n;
	return 0;
}

/* ---- criu's own namespaces ---- */

static uint64_t self_id[NS_NR];

uint64_t ns_id_of(pid_t pid, const char *name)
{
	char path[64], link[64], *br;
	ssize_t n;

	/* readlink, not stat: a namespace made for children nobody is in yet can't be opened */
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	br = strchr(link, '[');
	return br ? strtoull(br + 1, NULL, 10) : 0;
}

/*
 * Every kind is compared against criu's own: an id left 0 would make the
 * tree's namespaces look like new ones (a dump of a tree in ours recorded
 * as in a pid namespace of its own), so a failed read stops the run.
 */
int ns_init_self(void)
{
	for (int k = 0; k < NS_NR; k++) {
		self_id[k] = ns_id_of(0, ns_kinds[k].name);
		if (!self_id[k]) {
			pr_perror("can't read criu's own %s namespace (/proc/self/ns/%s)", ns_kinds[k].name,
				  ns_kinds[k].name);
			return -1;
		}
	}
	return 0;
}

uint64_t ns_self_id(int kind)
{
	return self_id[kind];
}

int ns_in_child(pid_t pid, unsigned long flags, int (*fn)(void *arg), void *arg)
{
	int status;
	pid_t child;

	child = fork();
	if (child < 0) {
		pr_perror("fork");
		return -1;
	}
	if (child == 0) {
		int fds[NS_NR];

		/* all opened first: once in another user namespace /proc/PID/ns may be out of reach */
		for (int k = 0; k < NS_NR; k++) {
			char path[64];

			fds[k] = -1;
			if (!(flags & ns_kinds[k].flag))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns_kinds[k].name);
			fds[k] = open(path, O_RDONLY | O_CLOEXEC);
			if (fds[k] < 0) {
				pr_perror("can't open %s", path);
				_exit(1);
			}
		}
		for (int k = 0; k < NS_NR; k++) {
			if (fds[k] < 0)
				continue;
			if (setns(fds[k], ns_kinds[k].flag)) {
				pr_perror("can't enter the %s namespace of %d", ns_kinds[k].name, pid);
				_exit(1);
			}
			close(fds[k]);
		}
		_exit(fn(arg) ? 1 : 0);
	}
	if (waitpid(child, &status, 0) != child) {
		pr_perror("waitpid");
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- dump ---- */

/* criu's own network namespace and the tree's, once the dump joined the latter (-1 before) */
static int criu_net_fd = -1, tree_net_fd = -1;

int ns_dump_join_net(pid_t pid)
{
	char path[64];
	int fd, own;

	if (ns_id_of(pid, "net") == self_id[NS_NET])
		return 0;
	/* sock_diag and the parasites' control sockets see the tree's sockets only from inside */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0) {
		pr_perror("can't open criu's own network namespace");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		pr_perror("can't enter the network namespace of %d", pid);
		if (fd >= 0)
			close(fd);
		close(own);
		return -1;
	}
	if (criu_net_fd >= 0) {
		close(criu_net_fd);
		close(tree_net_fd);
	}
	criu_net_fd = own;
	tree_net_fd = fd;
	return 0;
}

int ns_criu_net_enter(void)
{
	if (criu_net_fd >= 0 && setns(criu_net_fd, CLONE_NEWNET)) {
		pr_perror("can't go back to criu's network namespace");
		return -1;
	}
	return 0;
}

int ns_criu_net_socket(int family, int type, int protocol)
{
	int sk, err;

	if (criu_net_fd < 0)
		return socket(family, type, protocol);
	if (setns(criu_net_fd, CLONE_NEWNET)) {
		pr_perror("can't go back to criu's network namespace for a socket");
		return -1;
	}
	sk = socket(family, type, protocol);
	err = errno;
	if (setns(tree_net_fd, CLONE_NEWNET)) {
		pr_perror("can't go back to the tree's network namespace");
		if (sk >= 0)
			close(sk);
		return -1;
	}
	errno = err;
	return sk;
}

struct task_ns {
	pid_t pid;
	uint64_t id[NS_NR];
	NsIds ids;
	int32_t ns_pid[NS_MAX_PID_LEVEL];
	size_t nr_ns_pid;
};

static struct task_ns *tns;
static int nr_tns;
static struct mntns_nested *mnt_nested;	/* mount namespaces below the tree's */
static size_t nr_mnt_nested;
static NsEntry *ents[NS_NR + 64];	/* the tree's own namespaces, then nested pid ones */
static int nr_ents;
/* the tree's own time namespace, read again when written (ns_dump_write()), and a task in it */
static NsEntry *time_ent;
static pid_t time_pid;
static int tree_has_own;

static NsEntry *new_entry(int kind, uint64_t id)
{
	NsEntry *e;

	if (nr_ents == (int)ARRAY_SIZE(ents)) {
		pr_err("too many nested pid namespaces (at most %d)\n", (int)ARRAY_SIZE(ents) - NS_NR);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		pr_err("out of memory\n");
		return NULL;
	}
	ns_entry__init(e);
	e->kind = (char *)ns_kinds[kind].name;
	e->id = id;
	ents[nr_ents++] = e;
	return e;
}

static NsEntry *find_entry(const char *kind, uint64_t id)
{
	for (int i = 0; i < nr_ents; i++)
		if (!strcmp(ents[i]->kind, kind) && ents[i]->id == id)
			return ents[i];
	return NULL;
}

/* The pids of @pid in every pid namespace from ours down (NSpid:), or -1. */
static int read_nspid(pid_t pid, int32_t *out, int max)
{
	char path[64], line[512];
	FILE *f;
	int n = -1, r;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f) {
		pr_perror("can't open %s", path);
		return -1;
	}
	while ((r = read_line_head(f, line, sizeof(line), path)) > 0)
		if (!strncmp(line, "NSpid:", 6)) {
			char *p = line + 6, *end;

			n = 0;
			for (long v = strtol(p, &end, 10); end != p && n < max; v = strtol(p, &end, 10)) {
				out[n++] = v;
				p = end;
			}
			break;
		}
	fclose(f);
	if (r < 0)
		return -1;
	if (n <= 0)
		pr_err("can't read the pids of %d in its pid namespaces\n", pid);
	return n;
}

static int ns_fd_ioctl_ino(pid_t pid, const char *name, unsigned long req, uint64_t *ino)
{
	char path[64];
	struct stat st;
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = ioctl(fd, req);
	close(fd);
	if (r < 0)
		return -1;
	if (fstat(r, &st)) {
		close(r);
		return -1;
	}
	close(r);
	*ino = st.st_ino;
	return 0;
}

/* The id of the parent of pid namespace @id that task @pid is in, 0 if it is ours or above. */
static uint64_t pidns_parent(pid_t pid)
{
	uint64_t ino;

	if (ns_fd_ioctl_ino(pid, "pid", NS_GET_PARENT, &ino))
		return 0;
	return ino;
}

static int check_task_kinds(const struct ns_task *t, struct task_ns *tn, const struct task_ns *root)
{
	for (int k = 0; k < NS_NR; k++) {
		tn->id[k] = ns_id_of(t->pid, ns_kinds[k].name);
		if (!tn->id[k]) {
			pr_perror("can't read /proc/%d/ns/%s", t->pid, ns_kinds[k].name);
			return -1;
		}
		/*
		 * pid and mount namespaces nest (check_pid_nesting(), nested_mnt());
		 * ipc-sysv.c names a task in another ipc namespace itself
		 */
		if (k == NS_PID || k == NS_MNT || k == NS_IPC || tn->id[k] == root->id[k])
			continue;
		pr_err("can't dump task %d: it is in another %s namespace than the tree's root %d; nested %s "
		       "namespaces are not supported\n", t->pid, ns_kinds[k].name, root->pid, ns_kinds[k].name);
		return -1;
	}
	/* a namespace made for children that were never made (unshare without fork) */
	if (ns_id_of(t->pid, "pid_for_children") != tn->id[NS_PID]) {
		pr_err("can't dump task %d: its children would be in another pid namespace than its own "
		       "(unshare(CLONE_NEWPID) without a fork); that is not supported\n", t->pid);
		return -1;
	}
	if (ns_id_of(t->pid, "time_for_children") != tn->id[NS_TIME]) {
		pr_err("can't dump task %d: its children would be in another time namespace than its own "
		       "(unshare(CLONE_NEWTIME) without a fork); that is not supported\n", t->pid);
		return -1;
	}
	return 0;
}

/* A task's pid namespace may be a child of its parent's, if the task is its init. */
static int check_pid_nesting(const struct ns_task *t, struct task_ns *tn, const struct task_ns *parent)
{
	int32_t nspid[NS_MAX_PID_LEVEL + 2];
	int n = read_nspid(t->pid, nspid, ARRAY_SIZE(nspid));
	size_t depth;

	if (n < 0)
		return -1;
	if (n > NS_MAX_PID_LEVEL + 1) {
		pr_err("can't dump task %d: its pid namespaces nest deeper than %d\n", t->pid, NS_MAX_PID_LEVEL);
		return -1;
	}
	depth = n - 1;
	for (int i = 1; i < n; i++)
		tn->ns_pid[i - 1] = nspid[i];
	tn->nr_ns_pid = depth;
	if (!parent) {
		if (depth) {
			pr_err("can't dump task %d: it is not in the pid namespace criu sees it from\n", t->pid);
			return -1;
		}
		return 0;
	}
	if (t->zombie) {
		/* its namespaces are gone with it: it must have been in its parent's */
		tn->id[NS_PID] = parent->id[NS_PID];
		if (depth != parent->nr_ns_pid) {
			pr_err("can't dump zombie %d: it was in another pid namespace than its parent %d\n", t->pid,
			       parent->pid);
			return -1;
		}
		return 0;
	}
	if (tn->id[NS_PID] == parent->id[NS_PID])
		return 0;
	if (depth != parent->nr_ns_pid + 1 || tn->ns_pid[depth - 1] != 1 ||
	    pidns_parent(t->pid) != parent->id[NS_PID]) {
		pr_err("can't dump task %d: it is in a pid namespace (%lu) that its parent %d is not in, and it is "
		       "not the init of a pid namespace made by its parent\n", t->pid,
		       (unsigned long)tn->id[NS_PID], parent->pid);
		return -1;
	}
	return 0;
}

static struct task_ns *tns_find(pid_t pid)
{
	for (int i = 0; i < nr_tns; i++)
		if (tns[i].pid == pid)
			return &tns[i];
	return NULL;
}

/* The tree's namespaces other than user must belong to its user namespace. */
static int check_owner(pid_t pid, int k, uint64_t userns)
{
	uint64_t owner;

	if (k == NS_USER)
		return 0;
	if (ns_fd_ioctl_ino(pid, ns_kinds[k].name, NS_GET_USERNS, &owner)) {
		pr_perror("can't find the owner of the %s namespace of %d", ns_kinds[k].name, pid);
		return -1;
	}
	/* criu makes the time namespace before the user namespace: either owner comes back as criu's */
	if (k == NS_TIME && (owner == userns || owner == self_id[NS_USER]))
		return 0;
	if (owner != userns) {
		pr_err("can't dump: the %s namespace of %d belongs to another user namespace than the tree's; "
		       "restore would make it in the tree's\n", ns_kinds[k].name, pid);
		return -1;
	}
	return 0;
}

static int set_ids(struct task_ns *tn)
{
	NsIds *ids = &tn->ids;
	uint64_t *v[NS_NR] = { &ids->user, &ids->pid, &ids->time, &ids->uts, &ids->ipc, &ids->net,
			       &ids->cgroup, &ids->mnt };
	protobuf_c_boolean *h[NS_NR] = { &ids->has_user, &ids->has_pid, &ids->has_time, &ids->has_uts,
					 &ids->has_ipc, &ids->has_net, &ids->has_cgroup, &ids->has_mnt };

	ns_ids__init(ids);
	for (int k = 0; k < NS_NR; k++)
		if (tn->id[k] && tn->id[k] != self_id[k]) {
			*v[k] = tn->id[k];
			*h[k] = true;
		}
	return 0;
}

/*
 * A mount namespace below the tree's is made again from a copy of its
 * parent's by the task that made it (unshare(CLONE_NEWNS)), its
 * descendants inherit it: one entry task each.
 */
static int nested_mnt(const struct ns_task *t, struct task_ns *tn, const struct task_ns *parent,
		      const struct task_ns *root)
{
	uint64_t id = tn->id[NS_MNT];
	struct mntns_nested *n;

	if (id == parent->id[NS_MNT] || t->zombie)
		return 0;
	if (id == root->id[NS_MNT]) {
		pr_err("can't dump task %d: it is in the tree's mount namespace, its parent %d in one nested "
		       "below it (setns back); not supported\n", t->pid, parent->pid);
		return -1;
	}
	if (root->id[NS_MNT] == self_id[NS_MNT]) {
		pr_err("can't dump task %d: it is in another mnt namespace than the tree's root %d, which is in "
		       "criu's; a mount namespace nested below criu's is not supported (dump a tree whose root "
		       "has a mount namespace of its own)\n", t->pid, root->pid);
		return -1;
	}
	if (id == self_id[NS_MNT]) {
		pr_err("can't dump task %d: it is in criu's mount namespace, its parent %d is not\n", t->pid,
		       parent->pid);
		return -1;
	}
	for (size_t i = 0; i < nr_mnt_nested; i++)
		if (mnt_nested[i].id == id) {
			pr_err("can't dump task %d: it is in mount namespace %llu, as %d is, and neither's parent is "
			       "(setns into it); only a namespace one task made, with its descendants, is supported\n",
			       t->pid, (unsigned long long)id, mnt_nested[i].pid);
			return -1;
		}
	if (check_owner(t->pid, NS_MNT, root->id[NS_USER]))
		return -1;
	n = realloc(mnt_nested, (nr_mnt_nested + 1) * sizeof(*n));
	if (!n) {
		pr_err("out of memory\n");
		return -1;
	}
	mnt_nested = n;
	n[nr_mnt_nested++] = (struct mntns_nested){ .pid = t->pid, .id = id,
		.parent = parent->id[NS_MNT] == root->id[NS_MNT] ? 0 : parent->id[NS_MNT] };
	pr_info("task %d is in mount namespace %llu, nested below its parent's\n", t->pid, (unsigned long long)id);
	return 0;
}

void ns_dump_mnt_nested(const struct mntns_nested **n, size_t *nr)
{
	*n = mnt_nested;
	*nr = nr_mnt_nested;
}

int ns_dump_collect(const struct ns_task *t, int nr)
{
	struct task_ns *root;
	uint64_t userns;

	tns = calloc(nr, sizeof(*tns));
	if (!tns) {
		pr_err("out of memory\n");
		return -1;
	}
	nr_tns = nr;
	for (int i = 0; i < nr; i++) {
		const struct task_ns *parent = i ? tns_find(t[i].ppid) : NULL;

		tns[i].pid = t[i].pid;
		if (!t[i].zombie && check_task_kinds(&t[i], &tns[i], &tns[0]))
			return -1;
		if (t[i].zombie)
			memcpy(tns[i].id, parent->id, sizeof(tns[i].id));
		if (check_pid_nesting(&t[i], &tns[i], parent))
			return -1;
	}
	root = &tns[0];
	userns = root->id[NS_USER];
	if (userns != self_id[NS_USER]) {
		uint64_t up;

		if (ns_fd_ioctl_ino(root->pid, "user", NS_GET_PARENT, &up) || up != self_id[NS_USER]) {
			pr_err("can't dump: the user namespace of %d is not a child of criu's; nested user namespaces "
			       "are not supported\n", root->pid);
			return -1;
		}
	}
	if (userns != self_id[NS_USER] && root->id[NS_PID] == self_id[NS_PID]) {
		/* its restore processes could not set pids in criu's pid namespace from inside it */
		pr_err("can't dump: a user namespace of the tree's own (task %d) without a pid namespace of its own "
		       "is not supported\n", root->pid);
		return -1;
	}
	for (int i = 1; i < nr; i++)
		if (nested_mnt(&t[i], &tns[i], tns_find(t[i].ppid), root))
			return -1;
	/* the tree's own namespaces: user first, mnt last (the kinds' order) */
	for (int k = 0; k < NS_NR; k++) {
		NsEntry *e;

		if (root->id[k] == self_id[k])
			continue;
		if (check_owner(root->pid, k, userns))
			return -1;
		tree_has_own = 1;
		e = new_entry(k, root->id[k]);
		if (!e)
			return -1;
		if (ext_ns[k].key && ext_ns[k].ino == root->id[k]) {
			e->external = (char *)ext_ns[k].key;
			pr_info("%s namespace %lu is external: %s\n", ns_kinds[k].name, (unsigned long)root->id[k],
				ext_ns[k].key);
			continue;
		}
		if (k == NS_NET && (empty_flags & CLONE_NEWNET)) {
			e->has_empty = e->empty = true;
			continue;
		}
		if (ns_kinds[k].dump(root->pid, e))
			return -1;
		if (k == NS_TIME) {
			time_ent = e;
			time_pid = root->pid;
		}
	}
	/* nested pid namespaces, each after its parent (tree order: parents come first) */
	for (int i = 1; i < nr; i++) {
		struct task_ns *tn = &tns[i], *parent = tns_find(t[i].ppid);
		NsEntry *e;

		if (tn->id[NS_PID] == parent->id[NS_PID] || find_entry("pid", tn->id[NS_PID]))
			continue;
		if (check_owner(tn->pid, NS_PID, userns))
			return -1;
		tree_has_own = 1;
		e = new_entry(NS_PID, tn->id[NS_PID]);
		if (!e)
			return -1;
		e->has_parent = true;
		e->parent = parent->id[NS_PID] == self_id[NS_PID] ? 0 : parent->id[NS_PID];
	}
	for (int i = 0; i < nr; i++)
		set_ids(&tns[i]);
	return 0;
}

int ns_dump_pid_seen(pid_t holder, pid_t target)
{
	struct task_ns *h = tns_find(holder), *t = tns_find(target);
	char path[64];
	int fd, up;

	/* a task of the tree's pid namespace sees all; one outside the tree is not ours to judge here */
	if (!h || !h->nr_ns_pid || !t)
		return 1;
	if (t->nr_ns_pid < h->nr_ns_pid)
		return 0;
	if (t->id[NS_PID] == h->id[NS_PID])
		return 1;
	/* the target's pid namespace at the holder's depth must be the holder's */
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", target);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for (size_t d = t->nr_ns_pid; fd >= 0 && d > h->nr_ns_pid; d--) {
		up = ioctl(fd, NS_GET_PARENT);
		close(fd);
		fd = up;
	}
	if (fd < 0)
		return 0;
	{
		struct stat st;
		int same = !fstat(fd, &st) && st.st_ino == h->id[NS_PID];

		close(fd);
		return same;
	}
}

void ns_fill_pstree(pid_t pid, PstreeEntry *pe)
{
	struct task_ns *tn = tns_find(pid);

	if (!tn || !tree_has_own)
		return;
	pe->ns = &tn->ids;
	pe->n_ns_pid = tn->nr_ns_pid;
	pe->ns_pid = tn->ns_pid;
}

int ns_dump_write(int dfd)
{
	struct cr_img *img;
	int ret = 0;

	if (!nr_ents)
		return 0;
	/*
	 * The clocks as the tasks read them, as late as can be: after every
	 * timer was read. The restored clocks go on from these values and the
	 * timers from what was left of them: read earlier, the timers would
	 * come due that much sooner against the clocks.
	 */
	if (time_ent && time_ns_dump(time_pid, time_ent))
		return -1;
	if (net_ns_dump_write(dfd))
		return -1;
	img = open_image_at(dfd, CR_FD_NS, O_DUMP);
	if (!img)
		return -1;
	for (int i = 0; i < nr_ents && !ret; i++)
		ret = pb_write_one(img, ents[i]);
	return finish_image(img, ret);
}

void ns_dump_free(void)
{
	net_ns_dump_free();
	for (int i = 0; i < nr_ents; i++)
		free(ents[i]);
	nr_ents = 0;
	time_ent = NULL;
	time_pid = 0;
	free(tns);
	tns = NULL;
	nr_tns = 0;
	free(mnt_nested);
	mnt_nested = NULL;
	nr_mnt_nested = 0;
}

/* ---- restore ---- */

static NsEntry *rst_ent[NS_NR];		/* the tree's own namespace of each kind */
static NsEntry **rst_all;
static size_t nr_rst_all;
static pid_t rst_root_vpid;
static int self_fd[NS_NR] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static int root_time_fd = -1;		/* the tree's time namespace, for a root the supervisor clones */
static int rst_dfd = -1;
/*
 * The tree's network namespace: made and filled by criu (net_ns_make()),
 * or the joined one; criu keeps it open until the restore is over (the
 * network lock is removed there). The root gets a new one through net_sk.
 */
static int net_fd = -1;
static int net_sk[2] = { -1, -1 };

static int open_join(int k)
{
	int fd;

	if (join_path[k]) {
		fd = open(join_path[k], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			pr_perror("--join-ns %s:%s: can't open it", ns_kinds[k].name, join_path[k]);
		return fd;
	}
	fd = inherit_fd_lookup(rst_ent[k]->external);
	if (fd < 0) {
		pr_err("the %s namespace is external (%s): restore needs --inherit-fd fd[N]:%s or --join-ns %s:PATH\n",
		       ns_kinds[k].name, rst_ent[k]->external, rst_ent[k]->external, ns_kinds[k].name);
		return -1;
	}
	return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static int joined(int k)
{
	return join_path[k] || (rst_ent[k] && rst_ent[k]->external);
}

static int is_new(int k)
{
	return rst_ent[k] && !joined(k);
}

/*
 * In a user namespace whose setgroups is "deny", the tree's tasks kept the
 * supplementary groups their creator had (`runuser -u USER -- unshare -Ur`
 * gives USER's): no task there can set them, so criu takes them, as it sees
 * them, before it clones the tree's root into a new such namespace.
 */
int ns_restore_take_groups(int dfd, pid_t root_vpid)
{
	const NsEntry *e = rst_ent[NS_USER];
	struct cr_img *img;
	CoreEntry *c = NULL;
	gid_t *g = NULL;
	int ret = -1;
	size_t n;

	if (!is_new(NS_USER) || !(e->has_setgroups_deny && e->setgroups_deny))
		return 0;
	img = open_image_at(dfd, CR_FD_CORE, O_RDONLY, root_vpid);
	if (!img)
		return -1;
	if (pb_read_one_required(img, (void **)&c) || !c->tc || !c->tc->creds) {
		pr_err("core-%d.img has no credentials\n", root_vpid);
		goto out;
	}
	n = c->tc->creds->n_groups;
	g = calloc(n + 1, sizeof(*g));
	if (!g)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = c->tc->creds->groups[i];
		size_t k;

		for (k = 0; k < e->n_gid_map; k++)
			if (id >= e->gid_map[k]->first && id - e->gid_map[k]->first < e->gid_map[k]->count)
				break;
		/* unmapped (the overflow gid): the tree can't tell which it was; the restorer says so */
		g[i] = k < e->n_gid_map ? id - e->gid_map[k]->first + e->gid_map[k]->lower : id;
	}
	if (setgroups(n, g)) {
		pr_perror("can't take the %zu supplementary groups of the tree's root", n);
		goto out;
	}
	ret = 0;
out:
	free(g);
	if (c)
		core_entry__free_unpacked(c, NULL);
	close_image(img);
	return ret;
}

int ns_restore_new_userns(void)
{
	return is_new(NS_USER);
}

int ns_restore_read(int dfd, const PstreeEntry *root)
{
	struct cr_img *img;
	void *msg;
	int r;

	rst_root_vpid = root->pid;
	rst_dfd = dfd;
	if (!image_exists(dfd, CR_FD_NS))
		goto check;
	img = open_image_at(dfd, CR_FD_NS, O_RDONLY);
	if (!img)
		return -1;
	while ((r = pb_read_one(img, &msg)) == 1) {
		NsEntry *e = msg, **n;
		int k = kind_by_name(e->kind, strlen(e->kind));

		if (k < 0) {
			pr_err("ns.img: unknown namespace kind '%s'\n", e->kind);
			r = -1;
			break;
		}
		n = realloc(rst_all, (nr_rst_all + 1) * sizeof(*n));
		if (!n) {
			r = -1;
			break;
		}
		rst_all = n;
		rst_all[nr_rst_all++] = e;
		if (!(k == NS_PID && e->has_parent) && !rst_ent[k])
			rst_ent[k] = e;
	}
	close_image(img);
	if (r < 0)
		return -1;
check:
	for (int k = 0; k < NS_NR; k++) {
		int fd;

		/* the lazy-pages daemon and page-server --lazy-pages read the images and join nothing */
		if (!rst_ent[k] || !rst_ent[k]->external || join_path[k] || inherit_fd_unused)
			continue;
		fd = open_join(k);	/* only to say early that it is missing */
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (is_new(NS_USER) && !rst_ent[NS_USER]->n_uid_map) {
		pr_err("ns.img: the user namespace has no uid map\n");
		return -1;
	}
	return 0;
}

enum ns_pid_mode ns_restore_pid_mode(void)
{
	if (joined(NS_PID))
		return NS_PID_JOIN;
	if (!rst_ent[NS_PID])
		return NS_PID_NONE;
	return rst_root_vpid == 1 ? NS_PID_INIT : NS_PID_HELPER;
}

int ns_pid_join_fd(void)
{
	return open_join(NS_PID);
}

static int send_fd(int sk, int fd)
{
	char c = 'n', cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);

	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	if (sendmsg(sk, &mh, 0) != 1) {
		pr_perror("can't pass the network namespace to the restore");
		return -1;
	}
	return 0;
}

static int recv_fd(int sk)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *ch;
	int fd;

	if (recvmsg(sk, &mh, MSG_CMSG_CLOEXEC) != 1 || !(ch = CMSG_FIRSTHDR(&mh)) || ch->cmsg_type != SCM_RIGHTS) {
		pr_perror("can't get the network namespace from criu");
		return -1;
	}
	memcpy(&fd, CMSG_DATA(ch), sizeof(int));
	return fd;
}

/* The tree's new network namespace, owned by @userns_pid's user namespace (0: criu's), for the root. */
static int make_net(pid_t userns_pid)
{
	net_fd = net_ns_make(rst_dfd, rst_ent[NS_NET], userns_pid);
	if (net_fd < 0)
		return -1;
	return send_fd(net_sk[0], net_fd);
}

int ns_restore_has_net(void)
{
	return rst_ent[NS_NET] || join_path[NS_NET];
}

int ns_restore_prepare(void)
{
	if (is_new(NS_NET)) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, net_sk)) {
			pr_perror("socketpair");
			return -1;
		}
		/* owned by the tree's user namespace, if it has one: made once that exists */
		if (!is_new(NS_USER) && make_net(0))
			return -1;
	} else if (joined(NS_NET)) {
		/* the lock (of the dump's connections) goes where they will be */
		net_fd = open_join(NS_NET);
		if (net_fd < 0 || net_restore_lock(rst_dfd, net_fd))
			return -1;
	}

	/* criu goes back to its own time namespace for children once the first process is made */
	self_fd[NS_TIME] = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	if (joined(NS_TIME)) {
		int fd = open_join(NS_TIME);

		if (fd < 0 || setns(fd, CLONE_NEWTIME)) {
			pr_perror("can't join the time namespace");
			return -1;
		}
		close(fd);
	} else if (is_new(NS_TIME) && time_ns_prepare(rst_ent[NS_TIME])) {
		return -1;
	}
	/* a root cloned by the supervisor (which keeps criu's clocks) enters it itself */
	if (joined(NS_TIME) || is_new(NS_TIME)) {
		root_time_fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
		if (root_time_fd < 0) {
			pr_perror("can't open the tree's time namespace");
			return -1;
		}
	}
	return 0;
}

/* The first process is made (it entered the time namespace): criu's children keep criu's clocks. */
void ns_restore_time_done(void)
{
	if (self_fd[NS_TIME] >= 0 && setns(self_fd[NS_TIME], CLONE_NEWTIME))
		pr_perror("can't go back to criu's time namespace");
}

unsigned long ns_first_clone_flags(void)
{
	unsigned long f = 0;

	if (is_new(NS_USER))
		f |= CLONE_NEWUSER;
	if (is_new(NS_PID))
		f |= CLONE_NEWPID;
	return f;
}

int ns_restore_first_made(pid_t pid)
{
	if (!is_new(NS_USER))
		return 0;
	if (user_ns_write_maps(pid, rst_ent[NS_USER]))
		return -1;
	return is_new(NS_NET) ? make_net(pid) : 0;
}

void ns_restore_parent_done(void)
{
	if (self_fd[NS_TIME] >= 0 && setns(self_fd[NS_TIME], CLONE_NEWTIME))
		pr_perror("can't go back to criu's time namespace");
	for (int i = 0; i < 2; i++)
		if (net_sk[i] >= 0) {
			close(net_sk[i]);
			net_sk[i] = -1;
		}
	if (net_fd >= 0)
		close(net_fd);
	net_fd = -1;
}

void ns_restore_failed(void)
{
	/* the ends made outside the namespace (it goes with the tree) */
	netns_ext_links_undo();
}

static int img_srv_fd = -1;		/* criu's image server (a user namespace of the tree's) */
static pid_t img_srv_pid;

/* Set by the parent for a root it does not clone itself: what the root joins first. */
static int root_mnt_fd = -1, root_user_fd = -1;

void ns_restore_root_joins(int mnt_fd, int user_fd)
{
	root_mnt_fd = mnt_fd;
	root_user_fd = user_fd;
}

static int enter(int k)
{
	const NsEntry *e = rst_ent[k];
	int fd;

	if (joined(k)) {
		fd = open_join(k);
		if (fd < 0)
			return -1;
		if (setns(fd, ns_kinds[k].flag)) {
			pr_perror("can't join the %s namespace", ns_kinds[k].name);
			close(fd);
			return -1;
		}
		close(fd);
		pr_info("joined the given %s namespace\n", ns_kinds[k].name);
		return 0;
	}
	if (!e && !(k == NS_IPC && ipc_sysv_clone_flags()))
		return 0;
	if (k == NS_NET) {
		/* criu made and filled it (net_ns_make()) */
		fd = recv_fd(net_sk[1]);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			pr_perror("can't enter the tree's network namespace");
			return -1;
		}
		close(fd);
		return 0;
	}
	if (k == NS_CGROUP && cgroup_ns_enter_root(e))
		return -1;
	if (unshare(ns_kinds[k].flag)) {
		pr_perror("can't make a new %s namespace", ns_kinds[k].name);
		return -1;
	}
	if (e && ns_kinds[k].restore && ns_kinds[k].restore(e))
		return -1;
	return 0;
}

/*
 * In a user namespace of the tree's the restore runs as its root: files it
 * makes get owners the namespace maps, sysctls and devpts nodes of the
 * namespace are its root's. The images, whose owner is not mapped, come
 * through criu's image server (img_use_server()).
 */
static int become_ns_root(void)
{
	const NsEntry *e = rst_ent[NS_USER];
	uint32_t zero_u = 0, zero_g = 0;
	int mapped_u = 0, mapped_g = 0;

	for (size_t i = 0; i < e->n_uid_map; i++)
		mapped_u |= e->uid_map[i]->first == 0;
	for (size_t i = 0; i < e->n_gid_map; i++)
		mapped_g |= e->gid_map[i]->first == 0;
	if (!mapped_u || !mapped_g) {
		pr_info("uid or gid 0 is not mapped in the user namespace: the restore keeps criu's ids\n");
		return 0;
	}
	if (!(e->has_setgroups_deny && e->setgroups_deny) && setgroups(0, NULL)) {
		pr_perror("can't drop the groups in the user namespace");
		return -1;
	}
	if (setresgid(zero_g, zero_g, zero_g) || setresuid(zero_u, zero_u, zero_u)) {
		pr_perror("can't become root in the user namespace");
		return -1;
	}
	/* an id change made us undumpable: /proc/self would be root's (criu's) and closed to us */
	if (prctl(PR_SET_DUMPABLE, 1)) {
		pr_perror("PR_SET_DUMPABLE");
		return -1;
	}
	return 0;
}

int ns_restore_root(void)
{
	/* a root cloned from inside the pid namespace comes back to criu's mounts first */
	if (root_mnt_fd >= 0 && setns(root_mnt_fd, CLONE_NEWNS)) {
		pr_perror("can't go back to criu's mount namespace");
		return -1;
	}
	if (root_mnt_fd >= 0 && root_time_fd >= 0 && setns(root_time_fd, CLONE_NEWTIME)) {
		pr_perror("can't enter the tree's time namespace");
		return -1;
	}
	if (root_time_fd >= 0)
		close(root_time_fd);
	if (root_user_fd >= 0 && setns(root_user_fd, CLONE_NEWUSER)) {
		pr_perror("can't enter the tree's user namespace");
		return -1;
	}
	if (root_mnt_fd >= 0)
		close(root_mnt_fd);
	if (root_user_fd >= 0)
		close(root_user_fd);
	/* the mount tree's images (tmpfs contents) are read once in the tree's user namespace */
	if (img_srv_fd >= 0)
		img_use_server(img_srv_fd);
	for (int k = NS_UTS; k < NS_MNT; k++)
		if (enter(k))
			return -1;
	/* the mount tree's files and filesystems are made by the user namespace's root (owners it maps) */
	if (is_new(NS_USER) && become_ns_root())
		return -1;
	return enter(NS_MNT);
}

int ns_child_pids(const PstreeEntry *parent, const PstreeEntry *child, pid_t *tids, int *nr, unsigned long *flags)
{
	size_t n = child->n_ns_pid;

	*flags = 0;
	*nr = 0;
	for (size_t i = 0; i < n; i++)
		tids[(*nr)++] = child->ns_pid[n - 1 - i];
	tids[(*nr)++] = child->pid;
	if (child->ns && parent->ns && child->ns->pid != parent->ns->pid)
		*flags |= CLONE_NEWPID;
	return 0;
}

int ns_pid_parent(uint64_t id, uint64_t *parent)
{
	for (size_t i = 0; i < nr_rst_all; i++) {
		const NsEntry *e = rst_all[i];

		if (e->has_parent && e->id == id && !strcmp(e->kind, "pid")) {
			*parent = e->parent;
			return 0;
		}
	}
	return -1;
}

int ns_restore_pid_finish(void)
{
	const NsEntry *e = rst_ent[NS_PID];
	char buf[32];
	int fd, n;

	if (!is_new(NS_PID) || !e->has_last_pid)
		return 0;
	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%d", e->last_pid);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("can't set ns_last_pid to %d", e->last_pid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}


int ns_restore_image_server(int dfd)
{
	int sk[2];

	if (!is_new(NS_USER))
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't make the image server's socket");
		return -1;
	}
	img_srv_pid = fork();
	if (img_srv_pid < 0) {
		pr_perror("can't fork the image server");
		return -1;
	}
	if (img_srv_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sk[1]);
		img_serve(sk[0], dfd);
		_exit(0);
	}
	close(sk[0]);
	img_srv_fd = sk[1];
	return 0;
}

int ns_image_server_fd(void)
{
	return img_srv_fd;
}

void ns_restore_image_server_done(void)
{
	if (img_srv_fd >= 0)
		close(img_srv_fd);
	img_srv_fd = -1;
	if (img_srv_pid > 0)
		kill_child(img_srv_pid, "the image server");
	img_srv_pid = 0;
}

const NsEntry *ns_restore_entry(int kind)
{
	return rst_ent[kind];
}

int ns_restore_joined(int kind)
{
	return joined(kind);
}

int ns_restore_is_new(int kind)
{
	return is_new(kind);
}

/* The restore's ids in a user namespace of the tree's, as criu sees them (become_ns_root()); -1 if none. */
int ns_restore_root_ids(uid_t *uid, gid_t *gid)
{
	const NsEntry *e = is_new(NS_USER) ? rst_ent[NS_USER] : NULL;
	int found = 0;

	if (!e)
		return -1;
	for (size_t i = 0; i < e->n_uid_map; i++)
		if (e->uid_map[i]->first == 0) {
			*uid = e->uid_map[i]->lower;
			found |= 1;
		}
	for (size_t i = 0; i < e->n_gid_map; i++)
		if (e->gid_map[i]->first == 0) {
			*gid = e->gid_map[i]->lower;
			found |= 2;
		}
	return found == 3 ? 0 : -1;
}
