/*
 * Dump of the tree's mount namespace: every mount below the tree's root
 * (listmount/statmount: unique ids, binary attributes, unescaped options),
 * each tied to an origin it can be cloned from at restore:
 *
 * - EXTERNAL: the mountpoint was named with --external mnt[MP]:KEY; only
 *   KEY is saved, restore binds the path KEY maps to.
 * - HOST: criu's own namespace has a mount of the same superblock whose
 *   root holds this mount's root: restore binds it from there (the same
 *   filesystem, so nothing of it is saved). Checked by device and inode.
 * - FRESH: a filesystem criu knows how to make anew (fs-kinds.c): a new
 *   superblock from the saved options, a tmpfs with its saved nodes.
 *
 * Mounts of one superblock share one origin when its root holds theirs,
 * so binds inside the namespace come back as binds of one filesystem.
 * Anything else is refused, naming the mount: an unknown filesystem, a
 * bind of a directory that was removed, an idmapped mount, mounts hidden
 * below the root, a peer group shared with (or a slave of) criu's
 * namespace without --enable-external-sharing (--enable-external-masters).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cr_options.h"
#include "image.h"
#include "log.h"
#include "mnt.h"
#include "mntns.h"
#include "mount-api.h"
#include "namespaces.h"
#include "util.h"

struct origin;
struct mset;

struct dmnt {
	uint64_t id, parent_id;
	uint32_t old_id;
	char *fstype, *source, *root, *point;
	char **opts;
	uint32_t nr_opts;
	uint32_t sb_flags;
	uint64_t attr, prop, peer, master;
	dev_t dev;
	bool idmapped;
	struct dmnt *parent, **kids;
	int nr_kids, cap_kids;
	bool in_tree;
	bool visible;		/* reached at its mountpoint from the namespace's root */
	struct origin *origin;
	const char *rel;	/* its root below the origin's */
	uint32_t img_id;
	struct mset *set;
};

/* A mount namespace of the tree: its own, or one nested below it (a task unshared it). */
struct mset {
	uint64_t ino, parent_ino;	/* nsfs inodes; parent: 0 for the tree's own */
	uint64_t nsid;			/* NS_GET_MNTNS_ID */
	pid_t pid;			/* a task in it */
	int nsfd, rootfd;		/* the namespace, its root (as a helper that joined it sees it) */
	struct dmnt *m;			/* its mounts, by unique id */
	size_t nr;
	struct dmnt *root;		/* the root of its mounts */
	struct dmnt **order;		/* its mounts, parents first */
	size_t nr_order;
};

struct origin {
	uint32_t id;
	MntOriginKind kind;
	struct dmnt *first;	/* the mount it was made for: type, options */
	const char *root;	/* the directory of the filesystem it shows */
	char *path;		/* HOST: where; EXTERNAL: the key */
	dev_t dev;
	struct stat st;		/* HOST: of path */
	bool root_mount;
	const struct fs_kind *fs;
	struct dmnt *content;	/* FRESH with contents: the visible mount they are read through */
	struct origin *next_same_dev;
};

/* A peer group with members outside the tree's namespace, in criu's. */
struct ext_group {
	uint64_t group;
	struct dmnt *host;
};

static struct {
	bool on;
	int host_root, host_nsfd;	/* criu's root and namespace (AT_FDCWD, -1: our own) */
	uint64_t host_nsid;	/* criu's namespace for listmount (0: our own) */
	pid_t pid;		/* the tree's root */
	struct mset *sets;	/* the tree's namespace, then the nested ones */
	size_t nr_sets;
	struct mset *cur;	/* the namespace of the task being dumped (mntns_dump_task()) */
	uint32_t nr_ids;	/* image ids given so far */
	int userns_fd;		/* the tree's user namespace, if not criu's (content_walk()) */
	struct dmnt **all;	/* every set's mounts in order: the image's */
	size_t nr_all;
	struct dmnt *host;	/* criu's own mounts, by device */
	size_t nr_host;
	struct origin **origins;
	size_t nr_origins;
	struct u64_map by_old, origin_by_dev, group_members, host_by_group;
	struct ext_group *ext_groups;
	size_t nr_ext_groups;
} ns = { .host_root = AT_FDCWD, .host_nsfd = -1, .userns_fd = -1 };

bool mntns_dumping(void)
{
	return ns.on;
}

pid_t mntns_dump_pid(void)
{
	return ns.pid;
}

bool mntns_dump_dev_fresh(uint64_t dev)
{
	for (struct origin *o = ns.on ? u64_map_get(&ns.origin_by_dev, dev) : NULL; o; o = o->next_same_dev)
		if (o->kind == MNT_ORIGIN_KIND__MNT_FRESH)
			return true;
	return false;
}

/* ---- reading mounts ---- */

static char *str_at(struct cr_statmount *s, uint64_t bit, uint32_t off)
{
	return strdup((s->mask & bit) ? s->str + off : "");
}

/* One mount through statmount (@nsid 0: criu's namespace). */
static int read_mount(uint64_t id, uint64_t nsid, struct dmnt *m, bool full)
{
	static struct cr_statmount *buf;
	static size_t size = 4096;
	struct cr_mnt_id_req req = {
		.size = CR_MNT_ID_REQ_SIZE_VER1, .mnt_id = id, .mnt_ns_id = nsid,
		.param = CR_STATMOUNT_SB_BASIC | CR_STATMOUNT_MNT_BASIC | CR_STATMOUNT_MNT_ROOT |
			 CR_STATMOUNT_MNT_POINT | CR_STATMOUNT_FS_TYPE |
			 (full ? CR_STATMOUNT_SB_SOURCE | CR_STATMOUNT_OPT_ARRAY | CR_STATMOUNT_MNT_UIDMAP : 0),
	};

	while (1) {
		if (!buf && !(buf = malloc(size)))
			return -1;
		if (cr_statmount(&req, buf, size) >= 0)
			break;
		if (errno == ENOENT)
			return -ENOENT;	/* gone since it was listed: the caller lists again */
		if (errno != EOVERFLOW) {
			pr_perror("statmount of mount %#llx", (unsigned long long)id);
			return -1;
		}
		free(buf);
		buf = NULL;
		size *= 2;
	}
	memset(m, 0, sizeof(*m));
	m->id = buf->mnt_id;
	m->parent_id = buf->mnt_parent_id;
	m->old_id = buf->mnt_id_old;
	m->sb_flags = buf->sb_flags;
	m->attr = buf->mnt_attr;
	m->prop = buf->mnt_propagation;
	m->peer = (m->prop & MS_SHARED) ? buf->mnt_peer_group : 0;
	m->master = (m->prop & MS_SLAVE) ? buf->mnt_master : 0;
	m->dev = makedev(buf->sb_dev_major, buf->sb_dev_minor);
	m->idmapped = (buf->mask & CR_STATMOUNT_MNT_UIDMAP) && buf->mnt_uidmap_num;
	m->fstype = str_at(buf, CR_STATMOUNT_FS_TYPE, buf->fs_type);
	m->root = str_at(buf, CR_STATMOUNT_MNT_ROOT, buf->mnt_root);
	m->point = str_at(buf, CR_STATMOUNT_MNT_POINT, buf->mnt_point);
	m->source = str_at(buf, CR_STATMOUNT_SB_SOURCE, buf->sb_source);
	if (!m->fstype || !m->root || !m->point || !m->source)
		return -1;
	if ((buf->mask & CR_STATMOUNT_OPT_ARRAY) && buf->opt_num) {
		const char *o = buf->str + buf->opt_array;

		m->opts = calloc(buf->opt_num, sizeof(char *));
		if (!m->opts)
			return -1;
		for (uint32_t i = 0; i < buf->opt_num; i++, o += strlen(o) + 1)
			if (!(m->opts[m->nr_opts++] = strdup(o)))
				return -1;
	}
	return 0;
}

static void free_mount(struct dmnt *m)
{
	free(m->fstype);
	free(m->root);
	free(m->point);
	free(m->source);
	for (uint32_t i = 0; i < m->nr_opts; i++)
		free(m->opts[i]);
	free(m->opts);
	free(m->kids);
}

static int cmp_id(const void *a, const void *b)
{
	const struct dmnt *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct dmnt *find_id(struct mset *s, uint64_t id)
{
	struct dmnt key = { .id = id };

	return bsearch(&key, s->m, s->nr, sizeof(*s->m), cmp_id);
}

/*
 * Every mount of namespace @nsid (and, for the tree's, its root mount, which listmount leaves out);
 * -ENOENT if one went between listing and reading (a frozen tree's mounts can still change by
 * propagation from outside).
 */
static int list_mounts_once(uint64_t nsid, struct dmnt **out, size_t *nr, bool full)
{
	struct cr_mnt_id_req req = { .size = CR_MNT_ID_REQ_SIZE_VER1, .mnt_id = CR_LSMT_ROOT, .mnt_ns_id = nsid };
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	long got;

	do {
		if (n + 256 > cap) {
			uint64_t *x = realloc(ids, (cap += 1024) * sizeof(*ids));

			if (!x)
				goto oom;
			ids = x;
		}
		req.param = n ? ids[n - 1] : 0;
		got = cr_listmount(&req, ids + n, 256);
		if (got < 0) {
			pr_perror("listmount of mount namespace %llu", (unsigned long long)nsid);
			free(ids);
			return -1;
		}
		n += got;
	} while (got == 256);
	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		goto oom;
	*nr = 0;
	for (size_t i = 0; i < n; i++) {
		int ret = read_mount(ids[i], nsid, &(*out)[*nr], full);

		if (ret) {
			free(ids);
			return ret;
		}
		(*nr)++;
	}
	free(ids);
	return 0;
oom:
	free(ids);
	pr_err("out of memory\n");
	return -1;
}

static int list_mounts(uint64_t nsid, struct dmnt **out, size_t *nr, bool full)
{
	for (int try = 0; try < 10; try++) {
		int ret;

		*out = NULL;
		*nr = 0;
		ret = list_mounts_once(nsid, out, nr, full);
		if (ret != -ENOENT)
			return ret;
		pr_info("a mount of namespace %llu went while it was read: again\n", (unsigned long long)nsid);
		for (size_t i = 0; i < *nr; i++)
			free_mount(&(*out)[i]);
		free(*out);
	}
	pr_err("the mounts of namespace %llu keep changing: can't read them\n", (unsigned long long)nsid);
	*out = NULL;
	*nr = 0;
	return -1;
}

static int add_kid(struct dmnt *p, struct dmnt *k)
{
	if (p->nr_kids == p->cap_kids) {
		int cap = p->cap_kids ? p->cap_kids * 2 : 4;
		struct dmnt **n = realloc(p->kids, cap * sizeof(*n));

		if (!n)
			return -1;
		p->kids = n;
		p->cap_kids = cap;
	}
	p->kids[p->nr_kids++] = k;
	return 0;
}

static size_t depth(const char *path)
{
	size_t d = 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/*
 * Siblings are attached at restore in this order: one mounted deeper
 * than another it is below (/a/b under /a) must come first, as it did at
 * dump (once /a is there, /a/b is reached through it); others by id.
 */
static int cmp_kids(const void *a, const void *b)
{
	const struct dmnt *x = *(struct dmnt *const *)a, *y = *(struct dmnt *const *)b;
	size_t dx = depth(x->point), dy = depth(y->point);

	if (dx != dy && (path_within(x->point, y->point) || path_within(y->point, x->point)))
		return dx > dy ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* A namespace's mounts: the topmost one at "/" and all below it, parents first. */
static int order_tree(struct mset *s)
{
	struct dmnt *nsroot = NULL, *cur;
	size_t head = 0;

	for (size_t i = 0; i < s->nr; i++) {
		struct dmnt *p = find_id(s, s->m[i].parent_id);

		s->m[i].set = s;
		if (p == &s->m[i] || !p) {
			if (nsroot && nsroot != &s->m[i]) {
				pr_err("mount namespace %llu has two roots (mounts %#llx and %#llx)\n",
				       (unsigned long long)s->ino, (unsigned long long)nsroot->id,
				       (unsigned long long)s->m[i].id);
				return -1;
			}
			nsroot = &s->m[i];
			continue;
		}
		s->m[i].parent = p;
		if (add_kid(p, &s->m[i]))
			return -1;
	}
	if (!nsroot) {
		pr_err("mount namespace %llu has no root mount\n", (unsigned long long)s->ino);
		return -1;
	}
	/* mounts stacked on "/": only the topmost one is seen */
	for (cur = nsroot;;) {
		struct dmnt *up = NULL;

		for (int i = 0; i < cur->nr_kids; i++)
			if (!strcmp(cur->kids[i]->point, "/"))
				up = cur->kids[i];
		if (!up)
			break;
		for (int i = 0; i < cur->nr_kids; i++)
			if (cur->kids[i] != up) {
				pr_err("mount %u at %s (%s) is hidden under the namespace's root mount; not supported\n",
				       cur->kids[i]->old_id, cur->kids[i]->point, cur->kids[i]->fstype);
				return -1;
			}
		cur = up;
	}
	s->root = cur;
	s->order = calloc(s->nr, sizeof(*s->order));
	if (!s->order)
		return -1;
	s->order[s->nr_order++] = cur;
	while (head < s->nr_order) {
		struct dmnt *m = s->order[head++];

		m->in_tree = true;
		m->img_id = ++ns.nr_ids;
		sort_array(m->kids, m->nr_kids, sizeof(*m->kids), cmp_kids);
		for (int i = 0; i < m->nr_kids; i++)
			s->order[s->nr_order++] = m->kids[i];
	}
	return 0;
}

/* ---- where each mount comes from ---- */

static int cmp_dev(const void *a, const void *b)
{
	const struct dmnt *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return strlen(x->root) < strlen(y->root) ? -1 : strlen(x->root) > strlen(y->root);
}

/* criu's own mount of device @dev that shows @root from the widest directory, reachable at its path. */
static struct dmnt *host_mount(dev_t dev, const char *root)
{
	struct dmnt key = { .dev = dev, .root = "" };
	size_t lo = 0, hi = ns.nr_host;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cmp_dev(&ns.host[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ns.nr_host && ns.host[lo].dev == dev; lo++)
		if (ns.host[lo].visible && path_within(root, ns.host[lo].root))
			return &ns.host[lo];
	return NULL;
}

static bool reached_at(int dfd, const char *path, uint64_t id)
{
	struct statx sx;
	/* from the namespace's root, or from ours */
	const char *rel = dfd != AT_FDCWD && path[0] == '/' ? path + 1 : path;

	if (statx(dfd, rel, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (rel[0] ? 0 : AT_EMPTY_PATH),
		  STATX_MNT_ID_UNIQUE, &sx))
		return false;
	return (sx.stx_mask & STATX_MNT_ID_UNIQUE) && sx.stx_mnt_id == id;
}

static int read_host_mounts(void)
{
	if (list_mounts(ns.host_nsid, &ns.host, &ns.nr_host, false))
		return -1;
	for (size_t i = 0; i < ns.nr_host; i++)
		ns.host[i].visible = reached_at(ns.host_root, ns.host[i].point, ns.host[i].id),
		pr_debug("criu's mount %#llx at %s (%s %u:%u %s)%s\n", (unsigned long long)ns.host[i].id,
			 ns.host[i].point, ns.host[i].fstype, major(ns.host[i].dev), minor(ns.host[i].dev),
			 ns.host[i].root, ns.host[i].visible ? "" : ", covered");
	sort_array(ns.host, ns.nr_host, sizeof(*ns.host), cmp_dev);
	/* a visible member with the widest root, else a hidden one (which restore can't reach) */
	for (size_t i = 0; i < ns.nr_host; i++) {
		struct dmnt *h = &ns.host[i], *cur = h->peer ? u64_map_get(&ns.host_by_group, h->peer) : NULL;

		if (!h->peer || (cur && cur->visible && (!h->visible || strlen(h->root) >= strlen(cur->root))))
			continue;
		if (u64_map_put(&ns.host_by_group, h->peer, h))
			return -1;
	}
	return 0;
}

static bool same_file(int dfd1, const char *p1, int dfd2, const char *p2)
{
	struct stat a, b;

	return !fstatat(dfd1, p1[0] ? p1 : ".", &a, 0) && !fstatat(dfd2, p2[0] ? p2 : ".", &b, 0) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * A filesystem made anew from its options (--enable-fs) is made before the
 * tree's mounts are, in a copy of criu's namespace: a path its options name
 * (overlay's lowerdir, upperdir, workdir) must lead there to what it leads
 * to in the tree, or restore would make another filesystem (or none).
 */
static int path_options(struct dmnt *m)
{
	for (uint32_t i = 0; i < m->nr_opts; i++) {
		char *eq = strchr(m->opts[i], '='), *val, *p, *save = NULL;
		int bad = 0;

		if (!eq || eq[1] != '/')
			continue;
		val = strdup(eq + 1);
		if (!val)
			return -1;
		for (p = strtok_r(val, ":", &save); p && !bad; p = strtok_r(NULL, ":", &save)) {
			const char *host = ns.host_root == AT_FDCWD ? p : p + 1;

			if (p[0] == '/' && !same_file(m->set->rootfd, p + 1, ns.host_root, host)) {
				pr_err("mount %u at %s: a %s filesystem made anew (--enable-fs) whose option %.*s names "
				       "%s, which is not the same directory in criu's mount namespace (restore makes the "
				       "filesystem there, before the tree's mounts); not supported\n", m->old_id,
				       m->point, m->fstype, (int)(eq - m->opts[i]), m->opts[i], p);
				bad = 1;
			}
		}
		free(val);
		if (bad)
			return -1;
	}
	return 0;
}

static struct origin *new_origin(struct dmnt *m, MntOriginKind kind, const char *root)
{
	struct origin *o = calloc(1, sizeof(*o)), **n;

	n = realloc(ns.origins, (ns.nr_origins + 1) * sizeof(*n));
	if (!o || !n) {
		free(o);
		pr_err("out of memory\n");
		return NULL;
	}
	ns.origins = n;
	ns.origins[ns.nr_origins++] = o;
	o->id = ns.nr_origins;
	o->kind = kind;
	o->first = m;
	o->root = root;
	o->dev = m->dev;
	o->next_same_dev = u64_map_get(&ns.origin_by_dev, m->dev);
	if (u64_map_put(&ns.origin_by_dev, m->dev, o))
		return NULL;
	return o;
}

/* An origin of the same superblock already made whose root holds @m's. */
static struct origin *same_sb(struct dmnt *m)
{
	for (struct origin *o = u64_map_get(&ns.origin_by_dev, m->dev); o; o = o->next_same_dev)
		if (path_within(m->root, o->root))
			return o;
	return NULL;
}

/* An origin of criu's mount @h showing directory @root of the filesystem. */
static int host_origin(struct dmnt *m, struct dmnt *h, const char *root)
{
	struct origin *o = new_origin(m, MNT_ORIGIN_KIND__MNT_HOST, root);
	const char *below = path_below(root, h->root);

	if (!o || !below)
		return -1;
	if (asprintf(&o->path, "%s%s%s", h->point, below[0] && strcmp(h->point, "/") ? "/" : "", below) < 0) {
		o->path = NULL;
		return -1;
	}
	if (fstatat(ns.host_root, ns.host_root == AT_FDCWD ? o->path : rel_or_dot(o->path + 1), &o->st, 0) ||
	    o->st.st_dev != m->dev) {
		pr_err("mount %u at %s: its filesystem (%s, device %u:%u) was found at %s in criu's namespace, "
		       "but that path does not lead there\n", m->old_id, m->point, m->fstype, major(m->dev),
		       minor(m->dev), o->path);
		return -1;
	}
	m->origin = o;
	return 0;
}

/*
 * The uid= and gid= options of a filesystem made anew, as the tree's user
 * namespace sees them (statmount shows them as criu's; the restore makes
 * the filesystem inside, where they are parsed).
 */
static int ids_inside(struct dmnt *m)
{
	for (uint32_t i = 0; i < m->nr_opts; i++) {
		int gid = !strncmp(m->opts[i], "gid=", 4);
		char *end, *o;
		unsigned long v;
		uint32_t id;

		if (!gid && strncmp(m->opts[i], "uid=", 4))
			continue;
		v = strtoul(m->opts[i] + 4, &end, 10);
		id = v;
		if (*end || v > UINT32_MAX || ns_uid_inside(&id, gid)) {
			pr_err("mount %u at %s (%s): option %s is not an id mapped in the tree's user namespace\n",
			       m->old_id, m->point, m->fstype, m->opts[i]);
			return -1;
		}
		if (asprintf(&o, "%cid=%u", gid ? 'g' : 'u', id) < 0)
			return -1;
		free(m->opts[i]);
		m->opts[i] = o;
	}
	return 0;
}

static int classify(struct dmnt *m)
{
	const char *key = mnt_ext_key(m->point);
	const struct fs_kind *fs;
	struct dmnt *h;

	if (m->idmapped) {
		pr_err("mount %u at %s (%s) is idmapped; not supported\n", m->old_id, m->point, m->fstype);
		return -1;
	}
	if (key) {
		m->origin = new_origin(m, MNT_ORIGIN_KIND__MNT_EXTERNAL, m->root);
		if (!m->origin || !(m->origin->path = strdup(key)))
			return -1;
		pr_info("mount %u at %s is external: key %s\n", m->old_id, m->point, key);
		goto done;
	}
	if (strstr(m->root, "//deleted")) {
		pr_err("mount %u at %s binds %s of a %s filesystem, a directory that was removed; it can't be "
		       "made again\n", m->old_id, m->point, m->root, m->fstype);
		return -1;
	}
	/* the root mount's origin is its own directory: --root may stand for it at restore */
	if (m != ns.sets[0].root && (m->origin = same_sb(m)))
		goto done;
	h = host_mount(m->dev, m->root);
	if (h) {
		if (host_origin(m, h, m == ns.sets[0].root ? m->root : h->root))
			return -1;
		goto done;
	}
	fs = fs_kind_fresh(m->fstype);
	if (!fs) {
		pr_err("mount %u at %s: a %s filesystem (%s, device %u:%u) that criu can't make again: not "
		       "mounted in criu's namespace, not external (--external mnt[%s]:KEY) and not a type made "
		       "anew (--enable-fs %s)\n", m->old_id, m->point, m->fstype, m->source, major(m->dev),
		       minor(m->dev), m->point, m->fstype);
		return -1;
	}
	if (u64_map_get(&ns.origin_by_dev, m->dev)) {
		/* one superblock made anew, but no mount of it shows the others' roots */
		pr_err("mount %u at %s shows %s of a %s filesystem that is made anew from another mount not "
		       "holding it; not supported\n", m->old_id, m->point, m->root, m->fstype);
		return -1;
	}
	if (!fs->dump_contents && path_options(m))
		return -1;
	m->origin = new_origin(m, MNT_ORIGIN_KIND__MNT_FRESH, "/");
	if (!m->origin || ids_inside(m))
		return -1;
	m->origin->fs = fs;
done:
	m->rel = path_below(m->root, m->origin->root);
	if (m == ns.sets[0].root)
		m->origin->root_mount = true;
	return 0;
}

/*
 * A tmpfs made anew is read through the mount of it with the widest root,
 * which must hold every other one's root. One seen from the root is read
 * as it is; one covered by other mounts is uncovered first, in a private
 * copy of the namespace (content_walk()).
 */
static int pick_content_mounts(void)
{
	for (size_t i = 0; i < ns.nr_all; i++) {
		struct dmnt *m = ns.all[i];
		struct origin *o = m->origin;

		if (o->kind != MNT_ORIGIN_KIND__MNT_FRESH || !o->fs->dump_contents)
			continue;
		if (!o->content || strlen(m->root) < strlen(o->content->root) ||
		    (strlen(m->root) == strlen(o->content->root) && m->visible && !o->content->visible))
			o->content = m;
	}
	for (size_t i = 0; i < ns.nr_all; i++) {
		struct dmnt *m = ns.all[i];
		struct origin *o = m->origin;

		if (o->kind != MNT_ORIGIN_KIND__MNT_FRESH || !o->fs->dump_contents)
			continue;
		if (!path_within(m->root, o->content->root)) {
			pr_err("mount %u at %s shows %s of a %s filesystem that no mount shows whole enough to save "
			       "its contents; not supported\n", m->old_id, m->point, m->root, m->fstype);
			return -1;
		}
	}
	return 0;
}

/* ---- propagation ---- */

/*
 * Peer groups come back whole: restore makes one member shared and the
 * others join it (MOVE_MOUNT_SET_GROUP, which needs a mount of the group
 * whose root holds theirs); a slave joins its master's group, then turns
 * slave. A group with members in criu's namespace is joined through one
 * of those.
 */
struct grp {
	uint64_t id;
	struct dmnt *leader;	/* the tree's member with the widest root */
	struct dmnt *host;	/* criu's visible member with the widest root */
	bool noted;
};

static struct grp *grp_of(uint64_t g)
{
	struct grp *p = u64_map_get(&ns.group_members, g);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p || u64_map_put(&ns.group_members, g, p)) {
		free(p);
		pr_err("out of memory\n");
		return NULL;
	}
	p->id = g;
	p->host = u64_map_get(&ns.host_by_group, g);
	return p;
}

static int note_ext_group(struct grp *p)
{
	struct ext_group *n;

	if (p->noted)
		return 0;
	n = realloc(ns.ext_groups, (ns.nr_ext_groups + 1) * sizeof(*n));
	if (!n)
		return -1;
	ns.ext_groups = n;
	n[ns.nr_ext_groups++] = (struct ext_group){ .group = p->id, .host = p->host };
	p->noted = true;
	return 0;
}

static int check_group(struct dmnt *m, uint64_t g, bool slave)
{
	struct grp *p = grp_of(g);
	struct dmnt *from;

	if (!p)
		return -1;
	if (p->host && p->leader && !mnt_ext_sharing()) {
		pr_err("mount %u at %s is in peer group %llu, which mounts of criu's namespace are in too (%s); "
		       "dump with --enable-external-sharing to join it again at restore\n", m->old_id, m->point,
		       (unsigned long long)g, p->host->point);
		return -1;
	}
	if (p->host && m->set != &ns.sets[0]) {
		pr_err("mount %u at %s, in a mount namespace nested below the tree's, is %s peer group %llu of "
		       "criu's namespace; not supported\n", m->old_id, m->point, slave ? "a slave of" : "in",
		       (unsigned long long)g);
		return -1;
	}
	if (!p->leader && !p->host) {
		pr_err("mount %u at %s is a slave of peer group %llu, which has no mount in the tree nor one "
		       "criu's namespace shows; not supported\n", m->old_id, m->point, (unsigned long long)g);
		return -1;
	}
	if (!p->leader && !mnt_ext_masters()) {
		pr_err("mount %u at %s is a slave of peer group %llu of criu's namespace (%s); dump with "
		       "--enable-external-masters to make it one again at restore\n", m->old_id, m->point,
		       (unsigned long long)g, p->host->point);
		return -1;
	}
	if (p->host && !p->host->visible) {
		pr_err("mount %u at %s: its peer group %llu has members in criu's namespace, all covered by other "
		       "mounts there; not supported\n", m->old_id, m->point, (unsigned long long)g);
		return -1;
	}
	from = p->host ? p->host : p->leader;
	if (from->dev != m->dev || !path_within(m->root, from->root)) {
		pr_err("mount %u at %s (%s) is %s peer group %llu, but no mount of the group %sshows its "
		       "directory; not supported\n", m->old_id, m->point, m->root, slave ? "a slave of" : "in",
		       (unsigned long long)g, p->host ? "in criu's namespace " : "");
		return -1;
	}
	return p->host ? note_ext_group(p) : 0;
}

static int check_propagation(void)
{
	for (size_t i = 0; i < ns.nr_all; i++) {
		struct dmnt *m = ns.all[i];
		struct grp *p = m->peer ? grp_of(m->peer) : NULL;

		if (m->peer && !p)
			return -1;
		/* in the outermost namespace with a member (made first at restore), the widest root there */
		if (p && (!p->leader || (m->set == p->leader->set && strlen(m->root) < strlen(p->leader->root))))
			p->leader = m;
	}
	for (size_t i = 0; i < ns.nr_all; i++) {
		struct dmnt *m = ns.all[i];

		if (m->peer && check_group(m, m->peer, false))
			return -1;
		if (m->master && check_group(m, m->master, true))
			return -1;
	}
	return 0;
}

/* ---- the entry points ---- */

static int send_root(void *arg, int sk)
{
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)arg;
	if (fd < 0) {
		pr_perror("can't open the root of the tree's mount namespace");
		return -1;
	}
	return send_fd(sk, fd);
}

/* The mounts of namespace @s (its task @s->pid), ordered, each found visible or not. */
static int read_set(struct mset *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", s->pid);
	s->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->nsfd < 0 || ioctl(s->nsfd, NS_GET_MNTNS_ID, &s->nsid)) {
		pr_perror("can't read the mount namespace of %d", s->pid);
		return -1;
	}
	if (list_mounts(s->nsid, &s->m, &s->nr, true))
		return -1;
	sort_array(s->m, s->nr, sizeof(*s->m), cmp_id);
	/* listmount leaves out the namespace's root mount: it is the parent nobody lists */
	for (size_t i = 0; i < s->nr; i++)
		if (!find_id(s, s->m[i].parent_id)) {
			uint64_t root_id = s->m[i].parent_id;
			struct dmnt *n = realloc(s->m, (s->nr + 1) * sizeof(*n));

			if (!n || read_mount(root_id, s->nsid, &n[s->nr], true)) {
				s->m = n ? n : s->m;
				return -1;
			}
			s->m = n;
			s->nr++;
			sort_array(s->m, s->nr, sizeof(*s->m), cmp_id);
			break;
		}
	if (order_tree(s) || mnt_helper(s->nsfd, send_root, NULL, &s->rootfd))
		return -1;
	for (size_t i = 0; i < s->nr_order; i++)
		s->order[i]->visible = reached_at(s->rootfd, s->order[i]->point, s->order[i]->id);
	return 0;
}

int mntns_dump_prepare(pid_t pid, const struct mntns_nested *nested, size_t nr_nested)
{
	ns.on = true;
	ns.pid = pid;
	ns.sets = calloc(nr_nested + 1, sizeof(*ns.sets));
	if (!ns.sets) {
		pr_err("out of memory\n");
		return -1;
	}
	ns.nr_sets = nr_nested + 1;
	for (size_t i = 0; i < ns.nr_sets; i++) {
		ns.sets[i].nsfd = ns.sets[i].rootfd = -1;
		ns.sets[i].pid = i ? nested[i - 1].pid : pid;
		ns.sets[i].ino = i ? nested[i - 1].id : 0;
		ns.sets[i].parent_ino = i ? nested[i - 1].parent : 0;
	}
	/* a dump agent (criu/ns/pid.c) works in a copy of criu's namespace: criu's mounts are seen through these */
	ns_dump_criu_mnt(&ns.host_root, &ns.host_nsfd);
	if (ns.host_nsfd >= 0 && ioctl(ns.host_nsfd, NS_GET_MNTNS_ID, &ns.host_nsid)) {
		pr_perror("can't read the id of criu's mount namespace");
		return -1;
	}
	for (size_t i = 0; i < ns.nr_sets; i++) {
		if (read_set(&ns.sets[i]))
			return -1;
		ns.nr_all += ns.sets[i].nr_order;
		pr_info("mount namespace %llu%s: %zu mounts\n", (unsigned long long)ns.sets[i].nsid,
			i ? " (nested)" : " (the tree's)", ns.sets[i].nr_order);
	}
	ns.all = calloc(ns.nr_all, sizeof(*ns.all));
	if (!ns.all || read_host_mounts())
		return -1;
	ns.nr_all = 0;
	for (size_t i = 0; i < ns.nr_sets; i++)
		for (size_t j = 0; j < ns.sets[i].nr_order; j++)
			ns.all[ns.nr_all++] = ns.sets[i].order[j];
	/* the tree's first: mounts of nested namespaces are mostly copies of its own (same origins) */
	for (size_t i = 0; i < ns.nr_all; i++) {
		struct dmnt *m = ns.all[i];

		if (u64_map_put(&ns.by_old, m->old_id, m) || classify(m))
			return -1;
	}
	mnt_ext_report_unused();
	if (pick_content_mounts() || check_propagation())
		return -1;
	pr_info("%zu mounts in %zu mount namespaces of the tree, %zu origins\n", ns.nr_all, ns.nr_sets,
		ns.nr_origins);
	ns.cur = &ns.sets[0];
	return 0;
}

static struct mset *set_of(pid_t pid)
{
	uint64_t ino;

	if (ns.nr_sets < 2)
		return &ns.sets[0];
	ino = ns_id_of(pid, "mnt");
	for (size_t i = 1; i < ns.nr_sets; i++)
		if (ns.sets[i].ino == ino)
			return &ns.sets[i];
	return &ns.sets[0];
}

void mntns_dump_task(pid_t pid)
{
	if (ns.on)
		ns.cur = set_of(pid);
}

bool mntns_dump_nested(pid_t pid)
{
	return ns.on && set_of(pid) != &ns.sets[0];
}

const char *mntns_path(const char *path, char *buf, size_t size)
{
	pid_t view = ns_dump_view_pid();

	if (path[0] != '/' || (!ns.on && !view))
		return path;
	if (ns.on)
		snprintf(buf, size, "/proc/self/fd/%d%s", ns.cur->rootfd, path);
	else
		/* criu's namespace, seen from a dump agent's copy of it: through the tree's root task */
		snprintf(buf, size, "/proc/%d/root%s", view, path);
	return buf;
}

int mntns_file_mount(pid_t pid, int fd, int mnt_id, const char *path, const struct stat *st, RegFileEntry *r)
{
	struct dmnt *m;
	struct statx sx;
	struct mset *s;

	if (!ns.on || path[0] != '/')
		return 0;
	s = set_of(pid);
	m = u64_map_get(&ns.by_old, (uint64_t)mnt_id);
	/* a mount of another namespace of the tree (opened before an unshare): as one outside */
	if (m && m->set != s)
		m = NULL;
	if (statx(s->rootfd, path + 1, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (path[1] ? 0 : AT_EMPTY_PATH),
		  STATX_MNT_ID_UNIQUE | STATX_INO, &sx))
		sx.stx_ino = 0;
	if (!m) {
		/*
		 * A mount outside the namespace (say, stdout inherited from
		 * criu's): reopened by its path, which must lead to the file
		 * in the tree's namespace too. A device is the device wherever
		 * its node is: restore checks the number it opens (or, with
		 * --evasive-devices, finds another node).
		 */
		bool dev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode);

		if (!dev && (!sx.stx_ino || sx.stx_ino != st->st_ino ||
			     makedev(sx.stx_dev_major, sx.stx_dev_minor) != st->st_dev)) {
			pr_err("can't dump task %d: fd %d (%s) is on a mount outside its mount namespace, where that "
			       "path leads elsewhere; name it with --external file[%x:%lx] and --inherit-fd\n", pid,
			       fd, path, mnt_id, (unsigned long)st->st_ino);
			return -1;
		}
		pr_debug("fd %d of %d: %s is on mount %d, not in the tree's namespace\n", fd, pid, path, mnt_id);
		return 0;
	}
	if (sx.stx_ino && sx.stx_mnt_id == m->id && sx.stx_ino == st->st_ino)
		return 0;
	if (!path_within(path, m->point)) {
		pr_err("can't dump task %d: fd %d (%s) is on mount %u at %s, outside it; not supported\n", pid, fd,
		       path, m->old_id, m->point);
		return -1;
	}
	/*
	 * Restore opens it from the mount's root without leaving the mount:
	 * a mount on the way stops it. (Not one over the mount's root: the
	 * walk starts below it.)
	 */
	for (int k = 0; k < m->nr_kids; k++)
		if (strcmp(m->kids[k]->point, m->point) && path_within(path, m->kids[k]->point)) {
			pr_err("can't dump task %d: fd %d (%s) is on mount %u at %s, below mount %u at %s over it; "
			       "not supported\n", pid, fd, path, m->old_id, m->point, m->kids[k]->old_id,
			       m->kids[k]->point);
			return -1;
		}
	pr_info("fd %d of %d: %s is on mount %u at %s, which its path does not reach: reopened through it\n",
		fd, pid, path, m->old_id, m->point);
	r->has_mnt_id = true;
	r->mnt_id = m->img_id;
	return 0;
}

int mntns_check_holder(pid_t pid, int fd, const struct file_desc *d)
{
	struct mset *s, *first;
	struct statx sx;
	const char *path = d->reg.path;

	if (!ns.on || ns.nr_sets < 2 || d->owner_pid <= 0)
		return 0;
	s = set_of(pid);
	first = set_of(d->owner_pid);
	if (s == first || mntns_pathless(&d->fe))
		return 0;
	/* a file opened by path is opened again by one of its holders: the path must be the same file in each's */
	if (d->fe.type == FILE_TYPE__FT_REG && path && path[0] == '/' && !d->reg.has_same_as && !d->ghost_src) {
		if (d->reg.has_mnt_id)
			return 0;	/* through its mount's fd, from any namespace */
		if (!statx(s->rootfd, path + 1, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (path[1] ? 0 : AT_EMPTY_PATH),
			   STATX_INO, &sx) && sx.stx_ino == d->st.st_ino &&
		    makedev(sx.stx_dev_major, sx.stx_dev_minor) == d->st.st_dev)
			return 0;
	}
	pr_err("can't dump task %d: fd %d (%s) is shared with %d, which is in another mount namespace of the tree, "
	       "where it is not the same file (or a kind opened by path); not supported\n", pid, fd,
	       path ? path : "?", d->owner_pid);
	return -1;
}

int mntns_check_reach(pid_t pid, const char *what, const char *link, const char *path)
{
	struct statx a, b;

	if (!ns.on || path[0] != '/')
		return 0;
	if (statx(AT_FDCWD, link, AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE | STATX_INO, &a)) {
		pr_perror("can't stat %s", link);
		return -1;
	}
	if (statx(set_of(pid)->rootfd, path + 1, AT_NO_AUTOMOUNT | (path[1] ? 0 : AT_EMPTY_PATH),
		  STATX_MNT_ID_UNIQUE | STATX_INO, &b) ||
	    a.stx_mnt_id != b.stx_mnt_id || a.stx_ino != b.stx_ino || a.stx_dev_major != b.stx_dev_major ||
	    a.stx_dev_minor != b.stx_dev_minor) {
		pr_err("can't dump task %d: its %s %s is on a mount that path doesn't lead to (covered by another "
		       "mount); not supported\n", pid, what, path);
		return -1;
	}
	return 0;
}

/* ---- writing ---- */

/* ---- reading covered mounts: in a private copy of the namespace, their covers unmounted ---- */

struct copy {
	struct mset *s;		/* the namespace copied */
	struct dmnt *m;		/* the copy's mounts, by unique id */
	size_t nr;
	uint64_t *of;		/* the copy of each of its mounts (by position in its order) */
};

static size_t pos(const struct copy *c, const struct dmnt *m)
{
	return m->img_id - c->s->order[0]->img_id;
}

static struct dmnt *copy_find(struct copy *c, uint64_t id)
{
	struct dmnt key = { .id = id };

	return bsearch(&key, c->m, c->nr, sizeof(*c->m), cmp_id);
}

/* Which mount of the copy is which of the tree: the same parent, mountpoint, device and root. */
static int map_copy(struct copy *c)
{
	struct statx sx;

	if (list_mounts(0, &c->m, &c->nr, false))
		return -1;
	sort_array(c->m, c->nr, sizeof(*c->m), cmp_id);
	c->of = calloc(c->s->nr_order, sizeof(*c->of));
	if (!c->of || statx(AT_FDCWD, "/", AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &sx))
		return -1;
	c->of[0] = sx.stx_mnt_id;
	for (size_t i = 0; i < c->nr; i++) {
		struct dmnt *k = &c->m[i], *p = copy_find(c, k->parent_id);

		if (p && p != k && add_kid(p, k))
			return -1;
	}
	for (size_t i = 1; i < c->s->nr_order; i++) {
		struct dmnt *m = c->s->order[i], *p = copy_find(c, c->of[pos(c, m->parent)]);

		for (int j = 0; p && j < p->nr_kids; j++)
			if (p->kids[j]->dev == m->dev && !strcmp(p->kids[j]->point, m->point) &&
			    !strcmp(p->kids[j]->root, m->root))
				c->of[i] = p->kids[j]->id;
		if (!c->of[i]) {
			pr_err("mount %u at %s has no copy in a copy of its namespace\n", m->old_id, m->point);
			return -1;
		}
	}
	return 0;
}

static uint64_t mnt_at(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &sx))
		return 0;
	return sx.stx_mnt_id;
}

/*
 * Unmount what covers the copy of @m: walking its mountpoint from "/",
 * every prefix must lead to the deepest of its ancestors mounted there.
 * 1 if a cover is locked (@locked_ok: a copy in a user namespace).
 */
static int uncover(struct copy *c, struct dmnt *m, bool locked_ok)
{
	char prefix[PATH_MAX];
	size_t len = strlen(m->point);

	for (int tries = 0; tries < 1000; tries++) {
		bool changed = false;

		for (size_t end = 1; end <= len && !changed; end++) {
			struct dmnt *want = m;

			if (end < len && m->point[end] != '/')
				continue;
			snprintf(prefix, sizeof(prefix), "%.*s", (int)end, m->point);
			while (want->parent && want != c->s->root && !path_within(prefix, want->point))
				want = want->parent;
			if (end < len && want == m)
				want = m->parent;
			if (mnt_at(prefix) == c->of[pos(c, want)])
				continue;
			if (umount2(prefix, MNT_DETACH)) {
				/* only the mount at prefix can be the cause: the shorter ones are right */
				if (locked_ok && errno == EINVAL)
					return 1;
				pr_perror("can't uncover mount %u at %s (at %s)", m->old_id, m->point, prefix);
				return -1;
			}
			changed = true;
		}
		if (!changed)
			return 0;
	}
	pr_err("mount %u at %s stays covered\n", m->old_id, m->point);
	return -1;
}

static void copy_free(struct copy *c)
{
	for (size_t i = 0; i < c->nr; i++)
		free_mount(&c->m[i]);
	free(c->m);
	free(c->of);
	memset(c, 0, sizeof(*c));
}

static int send_empty_fs(int sk, struct dmnt *m)
{
	int fs, fd = -1, ret;

	/* owned by the namespace's root: criu's own ids may have no mapping in it */
	fs = fsopen(m->fstype, FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "uid", "0", 0) || fsconfig(fs, FSCONFIG_SET_STRING, "gid", "0", 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) || (fd = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0) {
		pr_perror("can't make an empty %s for mount %u at %s", m->fstype, m->old_id, m->point);
		if (fs >= 0)
			close(fs);
		return -1;
	}
	close(fs);
	ret = send_fd(sk, fd);
	close(fd);
	return ret;
}

/*
 * A covered mount of a namespace of the tree's user namespace: a copy of
 * the namespace made from criu's would lock its mounts (none could be
 * unmounted), so a helper makes it from inside the user namespace,
 * uncovers the mount there and hands back a clone of it alone; the
 * contents are read from criu's (owners as criu sees them).
 */
static int uncovered_userns(void *arg, int sk)
{
	struct dmnt *m = arg;
	struct copy c = { .s = m->set };
	int fd;

	if (setns(ns.userns_fd, CLONE_NEWUSER)) {
		pr_perror("can't enter the tree's user namespace");
		return -1;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || map_copy(&c)) {
		pr_perror("can't make a copy of mount namespace %llu", (unsigned long long)m->set->nsid);
		return -1;
	}
	switch (uncover(&c, m, true)) {
	case 0:
		break;
	case 1:
		/*
		 * A mount the tree's namespace inherited from a more privileged
		 * one covers it (e.g. criu's /dev/shm over another, copied by
		 * `unshare -Urm`): the kernel locks such covers, so nothing in the
		 * tree can ever reach it. Its contents, as the tree could see them,
		 * are an empty filesystem of its kind.
		 */
		pr_info("mount %u at %s: covered by a locked mount, out of the tree's reach: saved empty\n",
			m->old_id, m->point);
		return send_empty_fs(sk, m);
	default:
		return -1;
	}
	fd = open_tree(AT_FDCWD, m->point, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't read the %s at %s", m->fstype, m->point);
		return -1;
	}
	return send_fd(sk, fd);
}

static int content_walk(void *arg, int sk)
{
	struct copy c = { 0 };
	struct mset *in = &ns.sets[0];	/* the helper joined it */
	int dfd = *(int *)arg;

	(void)sk;
	for (size_t i = 0; i < ns.nr_origins; i++) {
		struct origin *o = ns.origins[i];
		int fd;

		if (o->kind != MNT_ORIGIN_KIND__MNT_FRESH || !o->fs->dump_contents)
			continue;
		/* a filesystem read through a mount of a nested namespace: in that one (or a copy of it) */
		if (o->content->set != in) {
			in = o->content->set;
			copy_free(&c);
			if (setns(in->nsfd, CLONE_NEWNS)) {
				pr_perror("can't enter mount namespace %llu", (unsigned long long)in->nsid);
				return -1;
			}
		}
		/*
		 * A mount in sight is read where it is: the copy made for a
		 * covered one may have lost what was over it (a tmpfs on a
		 * tmpfs at the same point, LXC's /dev/shm under a container's
		 * own): there the top one would read as the one below.
		 */
		if (o->content->visible && c.of) {
			copy_free(&c);
			if (setns(in->nsfd, CLONE_NEWNS)) {
				pr_perror("can't enter mount namespace %llu", (unsigned long long)in->nsid);
				return -1;
			}
		}
		c.s = in;
		if (!o->content->visible && ns.userns_fd >= 0) {
			if (mnt_helper(in->nsfd, uncovered_userns, o->content, &fd))
				return -1;
			goto read;
		}
		/* nothing done here reaches the tree's namespace: this copy is ours, and private */
		if (!o->content->visible && !c.of &&
		    (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || map_copy(&c))) {
			pr_perror("can't make a copy of the tree's mount namespace");
			return -1;
		}
		if (!o->content->visible && uncover(&c, o->content, false))
			return -1;
		/* a copy of this mount alone: what other mounts cover is seen too */
		fd = open_tree(AT_FDCWD, o->content->point, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't read the %s at %s", o->content->fstype, o->content->point);
			return -1;
		}
read:
		if (o->fs->dump_contents(dfd, o->id, fd, o->content->root + 1)) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	/* tmpfs is the only kind with contents: its images stay open across filesystems */
	return tmpfs_contents_done();
}

static MntOriginEntry *origin_entry(struct origin *o, MntOriginEntry *e)
{
	struct dmnt *m = o->first;

	mnt_origin_entry__init(e);
	e->id = o->id;
	e->kind = o->kind;
	e->fstype = m->fstype;
	e->root = (char *)o->root;
	e->dump_dev = o->dev;
	e->has_root_mount = o->root_mount;
	e->root_mount = o->root_mount;
	if (o->kind == MNT_ORIGIN_KIND__MNT_FRESH) {
		e->source = m->source;
		e->n_options = m->nr_opts;
		e->options = m->opts;
		e->has_sb_flags = true;
		e->sb_flags = m->sb_flags;
	} else {
		e->path = o->path;
	}
	if (o->kind == MNT_ORIGIN_KIND__MNT_HOST) {
		e->has_dev = e->has_ino = true;
		e->dev = o->st.st_dev;
		e->ino = o->st.st_ino;
	}
	return e;
}

static void mount_entry(struct dmnt *m, MntEntry *e)
{
	mnt_entry__init(e);
	e->id = m->img_id;
	e->parent = m == m->set->root ? 0 : m->parent->img_id;
	e->mountpoint = m->point;
	e->origin = m->origin->id;
	e->root = (char *)m->rel;
	e->attr = m->attr;
	e->has_shared = !!m->peer;
	e->shared = m->peer;
	e->has_master = !!m->master;
	e->master = m->master;
	e->has_unbindable = !!(m->prop & MS_UNBINDABLE);
	e->unbindable = e->has_unbindable;
	if (m->peer) {
		struct grp *p = u64_map_get(&ns.group_members, m->peer);

		e->has_group_leader = e->group_leader = p && p->leader == m && !p->host;
	}
	e->dump_mnt_id = m->old_id;
	e->dump_unique_id = m->id;
}

int mntns_dump(int dfd)
{
	MntNsEntry ne = MNT_NS_ENTRY__INIT;
	MntOriginEntry *oe = NULL, **op = NULL;
	MntEntry *me = NULL, **mp = NULL;
	MntGroupEntry *ge = NULL, **gp = NULL;
	MntNestedNs *nn = NULL, **np = NULL;
	struct cr_img *img;
	int ret = -1;

	if (!ns.on)
		return 0;
	oe = calloc(ns.nr_origins + 1, sizeof(*oe));
	op = calloc(ns.nr_origins + 1, sizeof(*op));
	me = calloc(ns.nr_all, sizeof(*me));
	mp = calloc(ns.nr_all, sizeof(*mp));
	ge = calloc(ns.nr_ext_groups + 1, sizeof(*ge));
	gp = calloc(ns.nr_ext_groups + 1, sizeof(*gp));
	nn = calloc(ns.nr_sets, sizeof(*nn));
	np = calloc(ns.nr_sets, sizeof(*np));
	if (!oe || !op || !me || !mp || !ge || !gp || !nn || !np) {
		pr_err("out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < ns.nr_origins; i++)
		op[i] = origin_entry(ns.origins[i], &oe[i]);
	for (size_t i = 0; i < ns.nr_all; i++) {
		mount_entry(ns.all[i], &me[i]);
		mp[i] = &me[i];
	}
	for (size_t i = 0; i < ns.nr_ext_groups; i++) {
		mnt_group_entry__init(&ge[i]);
		ge[i].group = ns.ext_groups[i].group;
		ge[i].host_path = ns.ext_groups[i].host->point;
		ge[i].host_dev = ns.ext_groups[i].host->dev;
		gp[i] = &ge[i];
	}
	for (size_t i = 1; i < ns.nr_sets; i++) {
		mnt_nested_ns__init(&nn[i - 1]);
		nn[i - 1].id = ns.sets[i].ino;
		nn[i - 1].parent = ns.sets[i].parent_ino;
		nn[i - 1].first = ns.sets[i].root->img_id;
		nn[i - 1].nr = ns.sets[i].nr_order;
		np[i - 1] = &nn[i - 1];
	}
	ne.n_origins = ns.nr_origins;
	ne.origins = op;
	ne.n_mounts = ns.nr_all;
	ne.mounts = mp;
	ne.n_groups = ns.nr_ext_groups;
	ne.groups = gp;
	ne.n_nested = ns.nr_sets - 1;
	ne.nested = np;
	ne.has_auto_ext = mnt_ext_auto();
	ne.auto_ext = mnt_ext_auto();
	img = open_image_at(dfd, CR_FD_MNTNS, O_DUMP);
	if (!img)
		goto out;
	ret = finish_image(img, pb_write_one(img, &ne));
	if (!ret && ns_id_of(ns.pid, "user") != ns_self_id(NS_USER)) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/user", ns.pid);
		ns.userns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ns.userns_fd < 0) {
			pr_perror("can't open %s", path);
			ret = -1;
		}
	}
	if (!ret)
		ret = mnt_helper(ns.sets[0].nsfd, content_walk, &dfd, NULL);
	if (ns.userns_fd >= 0)
		close(ns.userns_fd);
	ns.userns_fd = -1;
out:
	free(oe);
	free(op);
	free(me);
	free(mp);
	free(ge);
	free(gp);
	free(nn);
	free(np);
	return ret;
}

void mntns_dump_fini(void)
{
	for (size_t k = 0; k < ns.nr_sets; k++) {
		struct mset *s = &ns.sets[k];

		for (size_t i = 0; i < s->nr; i++)
			free_mount(&s->m[i]);
		free(s->m);
		free(s->order);
		if (s->nsfd >= 0)
			close(s->nsfd);
		if (s->rootfd >= 0)
			close(s->rootfd);
	}
	free(ns.sets);
	free(ns.all);
	for (size_t i = 0; i < ns.nr_host; i++)
		free_mount(&ns.host[i]);
	for (size_t i = 0; i < ns.nr_origins; i++) {
		free(ns.origins[i]->path);
		free(ns.origins[i]);
	}
	free(ns.origins);
	free(ns.host);
	free(ns.ext_groups);
	u64_map_free(&ns.by_old);
	u64_map_free(&ns.origin_by_dev);
	for (size_t i = 0; i < ns.group_members.cap; i++)
		free(ns.group_members.vals[i]);
	u64_map_free(&ns.group_members);
	u64_map_free(&ns.host_by_group);
	memset(&ns, 0, sizeof(ns));
	ns.host_nsfd = ns.userns_fd = -1;
	ns.host_root = AT_FDCWD;
}
