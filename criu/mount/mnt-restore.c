/*
 * Restore of the tree's mount namespace, in the tree's root right after
 * it was cloned with CLONE_NEWNS (so in a copy of criu's namespace):
 *
 * 1. Origins: each new superblock is made (fsopen/fsconfig/fsmount) and
 *    a tmpfs filled; each host or external directory is cloned
 *    (open_tree). All are detached, private.
 * 2. Mounts, parents first: a clone of the origin's directory, given its
 *    attributes (mount_setattr), attached below its parent with
 *    move_mount, the target reached from the parent mount's own root
 *    without leaving it. The tree is detached while it grows and all
 *    private, so nothing propagates anywhere.
 * 3. The tree is mounted over "/" and pivoted into; the old root goes.
 * 4. Propagation: each peer group gets one member made shared (after it
 *    joined its master's group and turned slave, if it is a slave), the
 *    others join it with MOVE_MOUNT_SET_GROUP; slaves likewise; groups
 *    with members in criu's namespace are joined through a clone of one
 *    of those, taken in step 1.
 *
 * The tasks are then restored in the new namespace: paths resolve there.
 * Files on a mount their path doesn't reach are opened through that
 * mount's fd (mntns_open_hidden()), kept in service slots.
 *
 * Mount namespaces nested below the tree's are built in step 2 too, from
 * the same origins, each a detached tree; their mounts wait in service
 * slots until the task that made the namespace at dump makes it again
 * (mntns_enter_nested()): a copy of its parent's, the detached tree
 * mounted over its root and pivoted into, then their propagation (peer
 * groups led outside are joined through clones of members taken in the
 * copy first).
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
#include <sys/syscall.h>
#include <unistd.h>

#include "cr_options.h"
#include "image.h"
#include "cgroup.h"
#include "log.h"
#include "mnt.h"
#include "mntns.h"
#include "mount-api.h"
#include "namespaces.h"
#include "tty.pb-c.h"
#include "util.h"

#define MNT_ATTRS	(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | \
			 MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW)

#ifndef SB_RDONLY
#define SB_RDONLY	1
#define SB_SYNCHRONOUS	16
#define SB_DIRSYNC	128
#define SB_LAZYTIME	(1 << 25)
#endif

struct rgroup {
	uint64_t id;
	int leader;		/* index of the member made shared first, -1: none in the tree */
	int ref;		/* a clone of a member in criu's namespace, or -1 */
	int ready;
};

static struct {
	MntNsEntry *ne;
	int *fd;		/* per mount (index id - 1) */
	int *origin_fd;		/* per origin */
	int *slot;		/* per mount: its service slot for files, or -1 */
	int *new_id;		/* per mount: its id once made (fanotify mount marks name mounts by it) */
	uint64_t *new_dev;	/* per origin made anew: its device (fanotify filesystem marks) */
	int nr_slots, nr_pty_slots, base;
	bool *nested_done;	/* per nested namespace: made again by this process or an ancestor */
	int *nested_nsfd;	/* per nested namespace: an empty one to be it (mntns_enter_nested()) */
	uint64_t in_nested;	/* the nested namespace this process is in (0: the tree's) */
	int dfd;		/* the images directory (criu's fd, inherited) */
	struct rst_files *rf;	/* files.img: where the masters of bound ptys were opened */
	struct u64_map groups;
	struct u64_map remade;	/* dump-time devices of filesystems made anew */
	struct {
		int fd;
		uint64_t dev;	/* of the devpts instance */
		unsigned int index;
		bool bound;	/* made for a bind; the others only to get to its index */
	} ptys[16];
	int nr_ptys;
	int *pre;		/* per mount: criu's clone of its directory (mntns_preclone()), or -1 */
} rs;

/* ---- reading, in criu ---- */

/* The nested namespace mount @i (index) is the root of, or NULL. */
static MntNestedNs *nested_root_of(MntNsEntry *ne, size_t i)
{
	for (size_t k = 0; k < ne->n_nested; k++)
		if (ne->nested[k]->first == i + 1)
			return ne->nested[k];
	return NULL;
}

static int check_image(MntNsEntry *ne)
{
	uint32_t next = 0;

	for (size_t k = 0; k < ne->n_nested; k++) {
		MntNestedNs *n = ne->nested[k];

		/* after the tree's mounts (at least its root), one namespace after the other */
		if (!n->nr || n->first < 2 || n->first - 1 + n->nr > ne->n_mounts || (k && n->first != next)) {
			pr_err("mntns.img: nested mount namespace %llu is malformed\n", (unsigned long long)n->id);
			return -1;
		}
		next = n->first + n->nr;
	}
	if (ne->n_nested && next != ne->n_mounts + 1) {
		pr_err("mntns.img: the nested mount namespaces don't end with the mounts\n");
		return -1;
	}
	for (size_t i = 0; i < ne->n_origins; i++) {
		MntOriginEntry *o = ne->origins[i];

		if (o->id != i + 1 || (o->kind != MNT_ORIGIN_KIND__MNT_FRESH && !o->path)) {
			pr_err("mntns.img: origin %zu is malformed\n", i + 1);
			return -1;
		}
	}
	for (size_t i = 0; i < ne->n_mounts; i++) {
		MntEntry *m = ne->mounts[i];

		bool top = i == 0 || nested_root_of(ne, i);

		if (m->id != i + 1 || top != (m->parent == 0) || m->parent > i || !m->origin ||
		    m->origin > ne->n_origins || m->mountpoint[0] != '/' || m->root[0] == '/' ||
		    (!top && !path_within(m->mountpoint, ne->mounts[m->parent - 1]->mountpoint))) {
			pr_err("mntns.img: mount %zu (%s) is malformed\n", i + 1, m->mountpoint);
			return -1;
		}
	}
	return 0;
}

int mntns_read(int dfd)
{
	struct cr_img *img;

	if (!image_exists(dfd, CR_FD_MNTNS))
		return 0;
	img = open_image_at(dfd, CR_FD_MNTNS, O_RDONLY);
	if (!img)
		return -1;
	rs.dfd = dfd;
	if (pb_read_one_required(img, (void **)&rs.ne) || check_image(rs.ne)) {
		close_image(img);
		return -1;
	}
	close_image(img);
	for (size_t i = 0; i < rs.ne->n_origins; i++)
		if (rs.ne->origins[i]->kind == MNT_ORIGIN_KIND__MNT_FRESH &&
		    u64_map_put(&rs.remade, rs.ne->origins[i]->dump_dev, rs.ne->origins[i]))
			return -1;
	rs.fd = calloc(rs.ne->n_mounts, sizeof(int));
	rs.slot = calloc(rs.ne->n_mounts, sizeof(int));
	rs.origin_fd = calloc(rs.ne->n_origins + 1, sizeof(int));
	rs.new_id = calloc(rs.ne->n_mounts, sizeof(int));
	rs.new_dev = calloc(rs.ne->n_origins + 1, sizeof(uint64_t));
	rs.nested_done = calloc(rs.ne->n_nested + 1, sizeof(bool));
	rs.nested_nsfd = calloc(rs.ne->n_nested + 1, sizeof(int));
	if (!rs.fd || !rs.slot || !rs.origin_fd || !rs.new_id || !rs.new_dev || !rs.nested_done || !rs.nested_nsfd)
		return -1;
	for (size_t k = 0; k < rs.ne->n_nested; k++)
		rs.nested_nsfd[k] = -1;
	for (size_t i = 0; i < rs.ne->n_mounts; i++)
		rs.fd[i] = rs.slot[i] = rs.new_id[i] = -1;
	for (size_t i = 0; i < rs.ne->n_origins; i++)
		rs.origin_fd[i] = -1;
	if (opts.root)
		pr_info("the root mount comes from %s (--root)\n", opts.root);
	return 0;
}

bool mntns_restoring(void)
{
	return rs.ne;
}

uint64_t mntns_dev(uint64_t dump_dev)
{
	MntOriginEntry *o = rs.ne ? u64_map_get(&rs.remade, dump_dev) : NULL;

	return o ? rs.new_dev[o->id - 1] : dump_dev;
}

int mntns_mnt_id(int dump_id)
{
	if (!rs.ne)
		return dump_id;
	for (size_t i = 0; i < rs.ne->n_mounts; i++)
		if (rs.ne->mounts[i]->dump_mnt_id == (uint32_t)dump_id)
			return rs.new_id[i];
	return -1;
}

bool mntns_dev_remade(uint64_t dev)
{
	return rs.ne && u64_map_get(&rs.remade, dev);
}

static int pty_index(const char *rel, unsigned int *index);

/* Binds of /dev/pts/N of a devpts made anew: each keeps its pty's master until tty.c takes it. */
static int nr_pty_binds(void)
{
	int nr = 0;

	for (size_t i = 0; i < rs.ne->n_mounts; i++) {
		MntEntry *m = rs.ne->mounts[i];
		MntOriginEntry *o = rs.ne->origins[m->origin - 1];
		unsigned int index;

		nr += o->kind == MNT_ORIGIN_KIND__MNT_FRESH && !strcmp(o->fstype, "devpts") && pty_index(m->root, &index);
	}
	return nr;
}

int mntns_plan_fds(struct rst_files *rf, int base)
{
	rs.base = base;
	for (size_t i = 0; i < rf->nr; i++) {
		RegFileEntry *r = rf->fe[i]->type == FILE_TYPE__FT_REG ? rf->fe[i]->reg : NULL;

		if (!r || !r->has_mnt_id)
			continue;
		if (!rs.ne || !r->mnt_id || r->mnt_id > rs.ne->n_mounts) {
			pr_err("files.img: %s is opened through mount %u, which mntns.img doesn't have\n", r->path,
			       r->mnt_id);
			return -1;
		}
		if (rs.slot[r->mnt_id - 1] < 0)
			rs.slot[r->mnt_id - 1] = rs.nr_slots++;
	}
	rs.rf = rf;
	if (!rs.ne)
		return 0;
	/* every mount of a nested namespace: the task that makes it again attaches and sets them up */
	for (size_t k = 0; k < rs.ne->n_nested; k++)
		for (uint32_t i = rs.ne->nested[k]->first - 1; i < rs.ne->nested[k]->first - 1 + rs.ne->nested[k]->nr; i++)
			if (rs.slot[i] < 0)
				rs.slot[i] = rs.nr_slots++;
	rs.nr_pty_slots = nr_pty_binds();
	return mntns_nr_fds();
}

/* ---- building, in the root ---- */

static void fs_errors(int fs)
{
	char buf[512];
	ssize_t n;

	/* the filesystem's own words about what it didn't like */
	while ((n = read(fs, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		pr_err("  %s\n", buf);
	}
}

static int set_option(int fs, const char *opt)
{
	const char *eq = strchr(opt, '=');
	char key[256];
	int ret;

	if (!eq)
		return fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - opt), opt);
	ret = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
	return ret;
}

/* A configured context for a new superblock of @o's type; -1, or -2 to try again. */
static int configure(MntOriginEntry *o, const struct fs_kind *fs)
{
	static const struct { uint32_t flag; const char *name; } sbf[] = {
		{ SB_SYNCHRONOUS, "sync" }, { SB_DIRSYNC, "dirsync" }, { SB_LAZYTIME, "lazytime" },
	};
	int ctx = fsopen(o->fstype, FSOPEN_CLOEXEC);

	if (ctx < 0) {
		pr_perror("can't make a %s filesystem", o->fstype);
		return -1;
	}
	if (o->source && o->source[0] && fsconfig(ctx, FSCONFIG_SET_STRING, "source", o->source, 0))
		goto err;
	for (size_t i = 0; i < o->n_options; i++)
		if (set_option(ctx, o->options[i])) {
			pr_perror("the %s filesystem takes no option %s", o->fstype, o->options[i]);
			goto err;
		}
	if (fs->more_options && fs->more_options(ctx, o->options, o->n_options))
		goto err;
	for (size_t i = 0; i < sizeof(sbf) / sizeof(sbf[0]); i++)
		if ((o->sb_flags & sbf[i].flag) && fsconfig(ctx, FSCONFIG_SET_FLAG, sbf[i].name, NULL, 0))
			goto err;
	/*
	 * Read-only from the start when there are no contents to fill: a
	 * superblock of the host's user namespace (sysfs) can't be made
	 * read-only later from inside a user namespace of the tree's.
	 */
	if ((o->sb_flags & SB_RDONLY) && !fs->restore_contents && fsconfig(ctx, FSCONFIG_SET_FLAG, "ro", NULL, 0))
		goto err;
	if (!fsconfig(ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		return ctx;
	/*
	 * A filesystem that asks for a restart (a cgroup hierarchy still
	 * going away) leaves the context failed, and the restarted call
	 * says EBUSY: a new context may do.
	 */
	if (errno == EBUSY) {
		close(ctx);
		return -2;
	}
err:
	pr_perror("can't make the %s filesystem %s (origin %u)", o->fstype, o->source ? o->source : "", o->id);
	fs_errors(ctx);
	close(ctx);
	return -1;
}

static int make_fresh(int dfd, MntOriginEntry *o)
{
	const struct fs_kind *fs = fs_kind_fresh(o->fstype);
	int ctx = -2, mfd, tries = 0;

	if (!fs) {
		pr_err("the images need a new %s filesystem, which criu doesn't make (--enable-fs %s?)\n", o->fstype,
		       o->fstype);
		return -1;
	}
	while (ctx == -2 && tries++ < 100) {
		ctx = configure(o, fs);
		if (ctx == -2)
			usleep(10000);
	}
	if (ctx < 0) {
		if (ctx == -2)
			pr_err("the %s filesystem %s (origin %u) stays busy\n", o->fstype, o->source, o->id);
		return -1;
	}
	mfd = fsmount(ctx, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0) {
		pr_perror("can't mount the new %s filesystem (origin %u)", o->fstype, o->id);
		fs_errors(ctx);
		close(ctx);
		return -1;
	}
	close(ctx);
	if (fs->restore_contents && fs->restore_contents(dfd, o->id, mfd))
		goto err;
	/* read-only once it is filled */
	if ((o->sb_flags & SB_RDONLY) && fs->restore_contents) {
		ctx = fspick(mfd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
		if (ctx < 0 || fsconfig(ctx, FSCONFIG_SET_FLAG, "ro", NULL, 0) ||
		    fsconfig(ctx, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0)) {
			pr_perror("can't make the %s filesystem (origin %u) read-only", o->fstype, o->id);
			if (ctx >= 0) {
				fs_errors(ctx);
				close(ctx);
			}
			goto err;
		}
		close(ctx);
	}
	return mfd;
err:
	close(mfd);
	return -1;
}

/*
 * A directory (or file) of criu's namespace (we are in a copy of it still)
 * that mounts are cloned from, each its own part: not a clone of the whole
 * origin first, which in a user namespace of the tree's fails for a mount
 * with mounts below it (they are locked to it).
 */
static int clone_path(MntOriginEntry *o, const char *path, bool check)
{
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		pr_perror("can't bind %s for the %s mount of origin %u", path, o->fstype, o->id);
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_perror("can't stat %s", path);
		goto err;
	}
	if (check && o->has_dev && (st.st_dev != o->dev || st.st_ino != o->ino)) {
		pr_err("%s is not the directory the tree's %s mount showed at dump (device %lx inode %lu, now %lx "
		       "%lu); restore with -M auto to take it anyway\n", path, o->fstype, (unsigned long)o->dev,
		       (unsigned long)o->ino, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

/* The directory of origin @o, not made anew: O_PATH fd, or -1. */
static int open_origin_dir(MntOriginEntry *o)
{
	const char *path;

	if (o->root_mount && opts.root)
		return clone_path(o, opts.root, false);
	if (o->kind != MNT_ORIGIN_KIND__MNT_EXTERNAL)
		return clone_path(o, o->path, !mnt_ext_auto());
	path = mnt_ext_path(o->path);
	if (!path) {
		pr_err("the tree had the external mount %s: restore needs --external mnt[%s]:PATH "
		       "(or -M %s:PATH)\n", o->path, o->path, o->path);
		return -1;
	}
	return clone_path(o, path, false);
}

static int make_origin(int dfd, MntOriginEntry *o)
{
	if (o->kind == MNT_ORIGIN_KIND__MNT_FRESH) {
		if (o->root_mount && opts.root)
			pr_warn("the root mount was a %s made anew: --root %s is not used\n", o->fstype, opts.root);
		return make_fresh(dfd, o);
	}
	return open_origin_dir(o);
}

/*
 * The directory of mount @m in origin @o (@ofd): a cgroup mount's goes
 * where the restore moves the tree's cgroups (--cgroup-root, runc's
 * cg_root: a container restored under another name), as its tasks do.
 */
static const char *mount_root(MntOriginEntry *o, int ofd, MntEntry *m, char *buf, size_t size)
{
	char path[PATH_MAX], to[PATH_MAX];
	size_t lo = strlen(o->root);
	struct stat st;

	if ((strcmp(o->fstype, "cgroup") && strcmp(o->fstype, "cgroup2")) || fstat(ofd, &st))
		return m->root;
	snprintf(path, sizeof(path), "%s%s%s", o->root, lo && o->root[lo - 1] == '/' ? "" : "/", m->root);
	if (cgroup_restore_relocate_dev(st.st_dev, path, to, sizeof(to)) || strcmp(path, to) == 0)
		return m->root;
	/* back relative to the origin's directory; a root moved out of it stays where it was */
	if (strncmp(to, o->root, lo) || (to[lo] && to[lo] != '/' && strcmp(o->root, "/")))
		return m->root;
	snprintf(buf, size, "%s", to + lo + (to[lo] == '/'));
	pr_info("cgroup mount %u at %s: %s moved to %s\n", m->id, m->mountpoint, path, to);
	return buf;
}

/* A detached private clone of mount @m's directory of its origin @o (@ofd), with its attributes. */
static int clone_mount(MntOriginEntry *o, int ofd, MntEntry *m)
{
	struct mount_attr a = { .attr_set = m->attr & MNT_ATTRS, .attr_clr = MNT_ATTRS,
				.propagation = MS_PRIVATE };
	char buf[PATH_MAX];
	const char *root = mount_root(o, ofd, m, buf, sizeof(buf));
	int fd;

	/* a clone is private at once (its attributes below): it joins no group of criu's namespace */
	fd = open_tree(ofd, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (root[0] ? 0 : AT_EMPTY_PATH));
	if (fd < 0) {
		pr_perror("can't make mount %u at %s (%s of origin %u)", m->id, m->mountpoint, root, m->origin);
		return -1;
	}
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("can't give mount %u at %s its attributes %#llx", m->id, m->mountpoint,
			  (unsigned long long)m->attr);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A tree with a user namespace of its own makes its mount namespace as a
 * copy of criu's owned by that user namespace, where the kernel locks
 * every mount copied to the ones above it: a clone of a directory of
 * criu's mounts with mounts below it (open_tree() without AT_RECURSIVE)
 * fails there. So criu clones them first, in its own namespace; the tree's
 * root may attach such a detached mount in its new namespace. The clones
 * wait at @base and up (the temporaries' room, unused until files open).
 */
static void ns_range(int k, size_t *lo, size_t *hi);

int mntns_preclone(int base)
{
	size_t lo, hi;

	if (!rs.ne || !ns_restore_new_userns())
		return 0;
	pr_info("the tree has a user namespace of its own: criu clones the directories of its mounts of criu's\n");
	rs.pre = calloc(rs.ne->n_mounts, sizeof(int));
	if (!rs.pre)
		return -1;
	for (size_t i = 0; i < rs.ne->n_mounts; i++)
		rs.pre[i] = -1;
	/* the tree's namespace only: nested ones are built detached, in the root's namespace */
	ns_range(-1, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		MntEntry *m = rs.ne->mounts[i];
		MntOriginEntry *o = rs.ne->origins[m->origin - 1];
		int ofd, fd, high;

		if (o->kind == MNT_ORIGIN_KIND__MNT_FRESH)
			continue;
		ofd = open_origin_dir(o);
		if (ofd < 0)
			return -1;
		fd = clone_mount(o, ofd, m);
		close(ofd);
		if (fd < 0)
			return -1;
		high = fcntl(fd, F_DUPFD_CLOEXEC, base);
		close(fd);
		if (high < 0) {
			pr_perror("can't move the clone of mount %u above %d", m->id, base);
			return -1;
		}
		rs.pre[i] = high;
	}
	return 0;
}

/*
 * An origin criu cloned mounts of: one of those clones stands for it (its
 * device), as the directory itself may be closed to the namespace's root.
 */
static int premade_origin(MntOriginEntry *o)
{
	int first = -1;

	/* a mount of it criu did not clone (a nested namespace's) is cloned from its directory */
	for (size_t i = 0; rs.pre && i < rs.ne->n_mounts; i++)
		if (rs.ne->mounts[i]->origin == o->id) {
			if (rs.pre[i] < 0)
				return -1;
			if (first < 0)
				first = rs.pre[i];
		}
	return first < 0 ? -1 : fcntl(first, F_DUPFD_CLOEXEC, 0);
}

void mntns_preclone_done(void)
{
	for (size_t i = 0; rs.pre && i < rs.ne->n_mounts; i++)
		if (rs.pre[i] >= 0) {
			close(rs.pre[i]);
			rs.pre[i] = -1;
		}
}

/*
 * A bind of /dev/pts/N of a devpts made anew needs pty N before it is
 * bound: it is made once the namespace is in place, by the path its
 * master had (so the master's fd shows that path), keeping the master
 * for tty.c. The ptys below N it had to take are given back after.
 */
static int make_pty(const char *ptmx, uint64_t dev, unsigned int index)
{
	for (int i = 0; i < rs.nr_ptys; i++)
		if (rs.ptys[i].dev == dev && rs.ptys[i].index == index) {
			rs.ptys[i].bound = true;
			return 0;
		}
	while (1) {
		int m = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
		unsigned int n;

		if (m < 0 || ioctl(m, TIOCGPTN, &n)) {
			pr_perror("can't make pty %u (%s) for a bind of it", index, ptmx);
			if (m >= 0)
				close(m);
			return -1;
		}
		if (rs.nr_ptys == (int)(sizeof(rs.ptys) / sizeof(rs.ptys[0]))) {
			pr_err("too many ptys made for binds of them\n");
			close(m);
			return -1;
		}
		rs.ptys[rs.nr_ptys++] = (typeof(rs.ptys[0])){ .fd = m, .dev = dev, .index = n, .bound = n == index };
		if (n == index)
			return 0;
		if (n > index) {
			pr_err("can't make pty %u for a bind of it: the kernel gave %u\n", index, n);
			return -1;
		}
	}
}

static int pty_index(const char *rel, unsigned int *index)
{
	char *end;
	unsigned long n = strtoul(rel, &end, 10);

	if (!rel[0] || *end || n > 1 << 20)
		return 0;
	*index = n;
	return 1;
}

/*
 * The tree's root mount from criu's clone of it (mntns_preclone()): a
 * detached tree of another namespace's takes no mounts below it, so it is
 * mounted over "/" of our copy a moment, cloned there into a detached tree
 * of ours, and unmounted. @pre is closed; the new clone, or -1.
 */
/*
 * Our cwd, to come back to, or "/" when it is a directory this process may
 * not search (no relative path would resolve from it anyway): the restore
 * of a tree with a user namespace runs as its root there, in the runtime's
 * bundle, which may belong to another id (podman's restore --import --name
 * of a --userns=auto container: a new range, the bundle not its root's).
 */
static int open_cwd(void)
{
	int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == EACCES) {
		pr_debug("the current directory can't be searched: back to / instead\n");
		fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	return fd;
}

static int own_root(int pre)
{
	int cwd = open_cwd(), fd = -1;

	if (cwd < 0) {
		pr_perror("can't open the current directory");
		close(pre);
		return -1;
	}
	/* our copy of criu's tree: nothing done here may reach criu's */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    move_mount(pre, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH)) {
		pr_perror("can't mount criu's clone of the tree's root mount");
		goto out;
	}
	fd = open_tree(pre, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (fd < 0)
		pr_perror("can't clone the tree's root mount");
	if (fchdir(pre) || umount2(".", MNT_DETACH) || fchdir(cwd)) {
		pr_perror("can't unmount criu's clone of the tree's root mount");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	close(cwd);
	close(pre);
	return fd;
}

static int make_mount(MntEntry *m)
{
	int fd, target;
	struct statx sx;
	bool pre = rs.pre && rs.pre[m->id - 1] >= 0;

	if (pre) {
		fd = rs.pre[m->id - 1];
		rs.pre[m->id - 1] = -1;
		if (!m->parent && (fd = own_root(fd)) < 0)
			return -1;
	} else {
		fd = clone_mount(rs.ne->origins[m->origin - 1], rs.origin_fd[m->origin - 1], m);
		if (fd < 0)
			return -1;
	}
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) || !(sx.stx_mask & STATX_MNT_ID)) {
		pr_perror("can't read the id of mount %u at %s", m->id, m->mountpoint);
		goto err;
	}
	rs.new_id[m->id - 1] = sx.stx_mnt_id;
	rs.fd[m->id - 1] = fd;
	if (!m->parent)
		return 0;
	MntEntry *p = rs.ne->mounts[m->parent - 1];
	const char *rel = path_below(m->mountpoint, p->mountpoint);

	/* from the parent's own root, never into another mount: where it was at dump */
	target = cr_openat2(rs.fd[p->id - 1], rel_or_dot(rel), O_PATH | O_NOFOLLOW | O_CLOEXEC,
			    RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (target < 0 && errno == EACCES && img_served()) {
		/* a directory on the way the namespace's root can't search (its owner unmapped) */
		target = img_lookup_at(rs.fd[p->id - 1], rel_or_dot(rel));
		if (target >= 0)
			pr_info("mountpoint %s of mount %u: found by criu (a directory on the way is closed to "
				"the user namespace's root)\n", m->mountpoint, m->id);
	}
	if (target < 0) {
		pr_perror("can't find the mountpoint %s of mount %u in mount %u", m->mountpoint, m->id, p->id);
		return -1;
	}
	if (move_mount(fd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		pr_perror("can't mount mount %u at %s", m->id, m->mountpoint);
		close(target);
		return -1;
	}
	close(target);
	return 0;
err:
	close(fd);
	return -1;
}

/* Clones of members of the peer groups we join outside (taken before anything changes). */
static int take_group_refs(void)
{
	for (size_t i = 0; i < rs.ne->n_groups; i++) {
		MntGroupEntry *g = rs.ne->groups[i];
		struct rgroup *rg = calloc(1, sizeof(*rg));
		struct cr_mnt_id_req req = { .size = CR_MNT_ID_REQ_SIZE_VER1, .param = CR_STATMOUNT_MNT_BASIC };
		struct cr_statmount sm;
		struct statx sx;

		if (!rg || u64_map_put(&rs.groups, g->group, rg))
			return -1;
		rg->id = g->group;
		rg->leader = -1;
		if (statx(AT_FDCWD, g->host_path, AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, &sx) ||
		    !(req.mnt_id = sx.stx_mnt_id) || cr_statmount(&req, &sm, sizeof(sm)) < 0 ||
		    sm.mnt_peer_group != g->group || !(sm.mnt_propagation & MS_SHARED)) {
			pr_err("peer group %llu of criu's namespace, which mounts of the tree were in, is not at %s "
			       "any more\n", (unsigned long long)g->group, g->host_path);
			return -1;
		}
		rg->ref = open_tree(AT_FDCWD, g->host_path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (rg->ref < 0) {
			pr_perror("can't take a member of peer group %llu at %s", (unsigned long long)g->group,
				  g->host_path);
			return -1;
		}
	}
	return 0;
}

static struct rgroup *group(uint64_t id)
{
	struct rgroup *g = u64_map_get(&rs.groups, id);

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g || u64_map_put(&rs.groups, id, g)) {
		free(g);
		return NULL;
	}
	g->id = id;
	g->leader = g->ref = -1;
	return g;
}

static int set_group(int from, int to, const MntEntry *m)
{
	if (move_mount(from, "", to, "", MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)) {
		pr_perror("can't put mount %u at %s into its peer group", m->id, m->mountpoint);
		return -1;
	}
	return 0;
}

static int set_prop(int fd, unsigned long prop, const MntEntry *m)
{
	struct mount_attr a = { .propagation = prop };

	if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		pr_perror("can't set the propagation %#lx of mount %u at %s", prop, m->id, m->mountpoint);
		return -1;
	}
	return 0;
}

static int group_source(uint64_t id);

/* Turn @m into a slave of group @master. */
static int make_slave(const MntEntry *m, uint64_t master)
{
	int from = group_source(master);

	if (from < 0 || set_group(from, rs.fd[m->id - 1], m))
		return -1;
	return set_prop(rs.fd[m->id - 1], MS_SLAVE, m);
}

/* A mount shared in group @id (set up first, after its own master), to join it or receive from it. */
static int group_source(uint64_t id)
{
	struct rgroup *g = group(id);
	const MntEntry *l;

	if (!g)
		return -1;
	if (g->ref >= 0)
		return g->ref;
	if (g->leader < 0) {
		pr_err("peer group %llu has no mount to be made from\n", (unsigned long long)id);
		return -1;
	}
	l = rs.ne->mounts[g->leader];
	if (!g->ready) {
		g->ready = 1;
		if (l->has_master && l->master && make_slave(l, l->master))
			return -1;
		if (set_prop(rs.fd[l->id - 1], MS_SHARED, l))
			return -1;
	}
	return rs.fd[l->id - 1];
}

/* The mounts of the tree's namespace (@k -1) or of nested namespace @k: [*lo, *hi). */
static void ns_range(int k, size_t *lo, size_t *hi)
{
	if (k < 0) {
		*lo = 0;
		*hi = rs.ne->n_nested ? rs.ne->nested[0]->first - 1 : rs.ne->n_mounts;
		return;
	}
	*lo = rs.ne->nested[k]->first - 1;
	*hi = *lo + rs.ne->nested[k]->nr;
}

/* Propagation of the mounts of one namespace (ns_range()), attached in ours. */
static int set_propagation(size_t lo, size_t hi)
{
	MntEntry **ms = rs.ne->mounts;

	for (size_t i = lo; i < hi; i++) {
		struct rgroup *g = ms[i]->group_leader ? group(ms[i]->shared) : NULL;

		if (ms[i]->group_leader && (!g || !ms[i]->shared || g->leader >= 0)) {
			pr_err("mntns.img: peer group %llu has no single leader\n", (unsigned long long)ms[i]->shared);
			return -1;
		}
		if (g)
			g->leader = i;
	}
	for (size_t i = lo; i < hi; i++) {
		MntEntry *m = ms[i];
		int from;

		if (m->shared) {
			from = group_source(m->shared);
			if (from < 0 || (from != rs.fd[i] && set_group(from, rs.fd[i], m)))
				return -1;
		} else if (m->master && make_slave(m, m->master)) {
			return -1;
		}
		if (m->unbindable && set_prop(rs.fd[i], MS_UNBINDABLE, m))
			return -1;
	}
	return 0;
}

static bool is_pty_bind(const MntEntry *m)
{
	MntOriginEntry *o = rs.ne->origins[m->origin - 1];
	unsigned int index;

	return o->kind == MNT_ORIGIN_KIND__MNT_FRESH && !strcmp(o->fstype, "devpts") && pty_index(m->root, &index);
}

/* The path the master of pty @index of the devpts mounted at @point had, if the tree held it. */
static const char *master_path(const char *point, unsigned int index)
{
	for (size_t i = 0; rs.rf && i < rs.rf->nr; i++) {
		FileEntry *fe = rs.rf->fe[i];
		const char *rel;

		if (fe->type != FILE_TYPE__FT_TTY || !fe->tty || fe->tty->type != TTY_TYPE__TTY_MASTER ||
		    fe->tty->index != index || !fe->tty->info)
			continue;
		rel = path_below(fe->tty->info->slave_path, point);
		if (rel && !strchr(rel, '/'))
			return fe->tty->path;
	}
	return NULL;
}

/* Binds of /dev/pts/N: with the namespace in place, pty N is made, then bound. */
static int make_pty_binds(void)
{
	for (size_t i = 0; i < rs.ne->n_mounts; i++) {
		MntEntry *m = rs.ne->mounts[i], *main = NULL;
		char ptmx[PATH_MAX];
		const char *path;
		unsigned int index = 0;
		struct stat st;

		if (!is_pty_bind(m))
			continue;
		pty_index(m->root, &index);
		/* the devpts mounted whole: its ptmx is the one a master of the tree had */
		for (size_t j = 0; j < rs.ne->n_mounts && !main; j++)
			if (rs.ne->mounts[j]->origin == m->origin && !rs.ne->mounts[j]->root[0])
				main = rs.ne->mounts[j];
		if (!main) {
			pr_err("mount %u at %s binds pty %u of a devpts mounted nowhere whole; not supported\n", m->id,
			       m->mountpoint, index);
			return -1;
		}
		path = master_path(main->mountpoint, index);
		snprintf(ptmx, sizeof(ptmx), "%s/ptmx", main->mountpoint);
		if (fstat(rs.origin_fd[m->origin - 1], &st) || make_pty(path ? path : ptmx, st.st_dev, index) ||
		    make_mount(m))
			return -1;
	}
	return 0;
}

static int pivot(int root)
{
	/* our copy of criu's tree: nothing done here may reach criu's */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("can't make the copy of criu's mounts private");
		return -1;
	}
	if (move_mount(root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) || fchdir(root) ||
	    syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/")) {
		pr_perror("can't make the tree's mounts the namespace's root");
		return -1;
	}
	return 0;
}

/* Move @fd above the fd layout (its top: base + all slots), out of the way of the service fds. */
static int lift(int *fd, const char *what)
{
	int n = fcntl(*fd, F_DUPFD_CLOEXEC, rs.base + mntns_nr_fds());

	if (n < 0) {
		pr_perror("can't keep the fd of %s", what);
		return -1;
	}
	close(*fd);
	*fd = n;
	return 0;
}

/*
 * Once the tree is built: every fd of ours goes but the mounts files are
 * opened through and the masters of bound ptys, which wait above the fd
 * layout until mntns_place_fds() (the root moves its service fds first).
 */
static int keep_fds(void)
{
	for (size_t i = 0; i < rs.ne->n_mounts; i++) {
		if (rs.slot[i] >= 0 && lift(&rs.fd[i], rs.ne->mounts[i]->mountpoint))
			return -1;
		if (rs.slot[i] < 0) {
			close(rs.fd[i]);
			rs.fd[i] = -1;
		}
	}
	for (int i = 0; i < rs.nr_ptys; i++)
		if (rs.ptys[i].fd >= 0 && lift(&rs.ptys[i].fd, "a pty's master"))
			return -1;
	for (size_t k = 0; k < rs.ne->n_nested; k++)
		if (lift(&rs.nested_nsfd[k], "a nested mount namespace"))
			return -1;
	return 0;
}

static int make_nested_nses(void);

int mntns_restore(void)
{
	uint64_t t0 = now_us();
	size_t lo, hi;
	int dfd = rs.dfd;

	if (!rs.ne)
		return 0;
	if (make_nested_nses() || take_group_refs())
		return -1;
	for (size_t i = 0; i < rs.ne->n_origins; i++) {
		struct stat st;

		rs.origin_fd[i] = premade_origin(rs.ne->origins[i]);
		if (rs.origin_fd[i] < 0)
			rs.origin_fd[i] = make_origin(dfd, rs.ne->origins[i]);
		if (rs.origin_fd[i] < 0)
			return -1;
		if (fstat(rs.origin_fd[i], &st)) {
			pr_perror("can't stat origin %u", rs.ne->origins[i]->id);
			return -1;
		}
		rs.new_dev[i] = st.st_dev;
	}
	tmpfs_restore_done();
	for (size_t i = 0; i < rs.ne->n_mounts; i++)
		if (!is_pty_bind(rs.ne->mounts[i]) && make_mount(rs.ne->mounts[i]))
			return -1;
	mntns_preclone_done();
	ns_range(-1, &lo, &hi);
	if (pivot(rs.fd[0]) || make_pty_binds() || set_propagation(lo, hi))
		return -1;
	for (size_t i = 0; i < rs.ne->n_origins; i++)
		close(rs.origin_fd[i]);
	for (size_t i = 0; i < rs.groups.cap; i++) {
		struct rgroup *g = rs.groups.vals[i];

		if (g && g->ref >= 0) {
			close(g->ref);
			g->ref = -1;
		}
	}
	/* ptys made only to get to a bound one's index are given back */
	for (int i = 0; i < rs.nr_ptys; i++)
		if (!rs.ptys[i].bound) {
			close(rs.ptys[i].fd);
			rs.ptys[i].fd = -1;
		}
	if (keep_fds())
		return -1;
	pr_info("%zu mounts made in %llu us\n", rs.ne->n_mounts, (unsigned long long)(now_us() - t0));
	return 0;
}

int mntns_nr_fds(void)
{
	return rs.nr_slots + rs.nr_pty_slots + (rs.ne ? (int)rs.ne->n_nested : 0);
}

int mntns_place_fds(int base)
{
	if (!rs.ne)
		return 0;
	if (base != rs.base) {
		pr_err("the fds of mounts were planned at %d, not %d\n", rs.base, base);
		return -1;
	}
	for (size_t i = 0; i < rs.ne->n_mounts; i++)
		if (rs.slot[i] >= 0) {
			if (move_fd(rs.fd[i], base + rs.slot[i]) < 0) {
				pr_perror("can't move the fd of mount %zu", i + 1);
				return -1;
			}
			rs.fd[i] = base + rs.slot[i];
			fcntl(rs.fd[i], F_SETFD, FD_CLOEXEC);
		}
	for (int i = 0, k = 0; i < rs.nr_ptys; i++) {
		if (rs.ptys[i].fd < 0)
			continue;
		if (k == rs.nr_pty_slots || move_fd(rs.ptys[i].fd, base + rs.nr_slots + k) < 0) {
			pr_perror("can't move the master of pty %u", rs.ptys[i].index);
			return -1;
		}
		rs.ptys[i].fd = base + rs.nr_slots + k++;
		fcntl(rs.ptys[i].fd, F_SETFD, FD_CLOEXEC);
	}
	for (size_t k = 0; k < rs.ne->n_nested; k++) {
		int to = base + rs.nr_slots + rs.nr_pty_slots + k;

		if (move_fd(rs.nested_nsfd[k], to) < 0) {
			pr_perror("can't move a nested mount namespace's fd");
			return -1;
		}
		rs.nested_nsfd[k] = to;
		fcntl(to, F_SETFD, FD_CLOEXEC);
	}
	return 0;
}

/*
 * The nested namespaces, made (copies of ours, left behind when they are
 * entered) before any of their mounts: the kernel lists a namespace from
 * its first mount, and those below it must be newer (listmount, statmount
 * of another namespace). Made here, not by a helper: a child would take a
 * pid of the tree's pid namespace.
 */
static int make_nested_nses(void)
{
	int self, cwd, ret = -1;

	if (!rs.ne->n_nested)
		return 0;
	self = openat(proc_dir(), "self/ns/mnt", O_RDONLY | O_CLOEXEC);
	cwd = open_cwd();
	if (self < 0 || cwd < 0) {
		pr_perror("can't open our mount namespace");
		goto out;
	}
	for (size_t k = 0; k < rs.ne->n_nested; k++) {
		if (unshare(CLONE_NEWNS)) {
			pr_perror("can't make a mount namespace");
			goto out;
		}
		rs.nested_nsfd[k] = openat(proc_dir(), "self/ns/mnt", O_RDONLY | O_CLOEXEC);
		if (rs.nested_nsfd[k] < 0 || setns(self, CLONE_NEWNS) || fchdir(cwd)) {
			pr_perror("can't make a mount namespace for a nested one");
			goto out;
		}
	}
	ret = 0;
out:
	if (self >= 0)
		close(self);
	if (cwd >= 0)
		close(cwd);
	return ret;
}

static int nested_index(uint64_t id)
{
	for (size_t k = 0; k < rs.ne->n_nested; k++)
		if (rs.ne->nested[k]->id == id)
			return k;
	return -1;
}

/*
 * Peer groups the mounts of nested namespace @k are in (or slaves of)
 * that are led outside it: a clone of a member in the namespace it was
 * made from (we are in that one still) joins each.
 */
static int take_parent_refs(int k)
{
	MntEntry **ms = rs.ne->mounts;
	size_t lo, hi, plo, phi;

	ns_range(k, &lo, &hi);
	ns_range(rs.ne->nested[k]->parent ? nested_index(rs.ne->nested[k]->parent) : -1, &plo, &phi);
	for (size_t i = lo; i < hi; i++)
		for (int w = 0; w < 2; w++) {
			uint64_t id = w ? ms[i]->master : ms[i]->shared;
			struct rgroup *g = id ? group(id) : NULL;
			size_t j, best = phi;
			bool here = false;

			if (!id)
				continue;
			if (!g)
				return -1;
			for (j = lo; j < hi; j++)
				here |= ms[j]->group_leader && ms[j]->shared == id;
			if (here || g->ref >= 0)
				continue;
			for (j = plo; j < phi; j++)
				if (ms[j]->shared == id && (best == phi || strlen(ms[j]->root) < strlen(ms[best]->root)))
					best = j;
			if (best == phi) {
				pr_err("mount %u at %s: peer group %llu has no member in the namespace its own was made "
				       "from\n", ms[i]->id, ms[i]->mountpoint, (unsigned long long)id);
				return -1;
			}
			g->ref = open_tree(AT_FDCWD, ms[best]->mountpoint, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (g->ref < 0) {
				pr_perror("can't take a member of peer group %llu at %s", (unsigned long long)id,
					  ms[best]->mountpoint);
				return -1;
			}
		}
	return 0;
}

int mntns_enter_nested(uint64_t id)
{
	MntNestedNs *n = NULL;
	size_t k;

	if (!rs.ne || id == rs.in_nested)
		return 0;
	for (k = 0; k < rs.ne->n_nested && !n; k++)
		if (rs.ne->nested[k]->id == id)
			n = rs.ne->nested[k];
	if (!n || rs.nested_done[k - 1]) {
		pr_err("mount namespace %llu of a task is not in mntns.img (or made already)\n",
		       (unsigned long long)id);
		return -1;
	}
	if (n->parent != rs.in_nested) {
		pr_err("mount namespace %llu was made from %llu, this task is in %llu\n", (unsigned long long)id,
		       (unsigned long long)n->parent, (unsigned long long)rs.in_nested);
		return -1;
	}
	/*
	 * Members of peer groups led outside, from the namespace it was made
	 * from (ours); then the namespace made for it (make_nested_nses()),
	 * whose mounts, left behind, are made private, the tree over its root.
	 * Its root holds the detached tree; its mounts' fds are in service slots.
	 */
	if (take_parent_refs(k - 1))
		return -1;
	if (setns(rs.nested_nsfd[k - 1], CLONE_NEWNS)) {
		pr_perror("can't make mount namespace %llu again", (unsigned long long)id);
		return -1;
	}
	close(rs.nested_nsfd[k - 1]);
	rs.nested_nsfd[k - 1] = -1;
	if (pivot(rs.fd[n->first - 1]))
		return -1;
	rs.nested_done[k - 1] = true;
	/* its mounts' fds (the root process's, inherited) in the namespace now */
	{
		size_t lo, hi;

		ns_range(k - 1, &lo, &hi);
		if (set_propagation(lo, hi))
			return -1;
	}
	for (size_t i = 0; i < rs.groups.cap; i++) {
		struct rgroup *g = rs.groups.vals[i];

		if (g && g->ref >= 0) {
			close(g->ref);
			g->ref = -1;
		}
	}
	rs.in_nested = id;
	pr_info("in mount namespace %llu again (%u mounts)\n", (unsigned long long)id, n->nr);
	return 0;
}

int mntns_open_hidden(const RegFileEntry *r, int flags)
{
	MntEntry *m;
	const char *rel;
	int fd;

	if (!rs.ne || !r->mnt_id || r->mnt_id > rs.ne->n_mounts || rs.fd[r->mnt_id - 1] < 0) {
		pr_err("%s is opened through mount %u, which is not there\n", r->path, r->mnt_id);
		errno = ENOENT;
		return -1;
	}
	m = rs.ne->mounts[r->mnt_id - 1];
	rel = path_below(r->path, m->mountpoint);
	if (!rel) {
		pr_err("%s is not on mount %u at %s\n", r->path, m->id, m->mountpoint);
		errno = EINVAL;
		return -1;
	}
	fd = cr_openat2(rs.fd[m->id - 1], rel_or_dot(rel), (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC,
			RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS);
	if (fd < 0)
		pr_perror("can't open %s through mount %u at %s", r->path, m->id, m->mountpoint);
	return fd;
}

int mntns_take_pty(const char *slave_path, unsigned int index)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (!rs.nr_ptys)
		return -1;
	snprintf(dir, sizeof(dir), "%s", slave_path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if (stat(dir[0] ? dir : "/", &st))
		return -1;
	for (int i = 0; i < rs.nr_ptys; i++)
		if (rs.ptys[i].fd >= 0 && rs.ptys[i].dev == st.st_dev && rs.ptys[i].index == index) {
			int fd = rs.ptys[i].fd;

			rs.ptys[i].fd = -1;
			return fd;
		}
	return -1;
}

static pid_t restored_root;

void mntns_restored(pid_t root)
{
	restored_root = root;
}

const char *mntns_rst_path(const char *path, char *buf, size_t size)
{
	if (!rs.ne || !restored_root || path[0] != '/')
		return path;
	snprintf(buf, size, "/proc/%d/root%s", restored_root, path);
	return buf;
}

void mntns_restore_fini(void)
{
	if (rs.ne)
		mnt_ns_entry__free_unpacked(rs.ne, NULL);
	for (size_t i = 0; i < rs.groups.cap; i++)
		free(rs.groups.vals[i]);
	u64_map_free(&rs.groups);
	u64_map_free(&rs.remade);
	free(rs.fd);
	free(rs.slot);
	free(rs.new_id);
	free(rs.new_dev);
	free(rs.origin_fd);
	free(rs.nested_done);
	free(rs.nested_nsfd);
	memset(&rs, 0, sizeof(rs));
}
