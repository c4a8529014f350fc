/*
 * Filesystems a mount can be made anew of at restore: a new superblock
 * from the type and options statmount gave at dump. Everything the
 * filesystem holds is either rebuilt by the kernel for the namespaces the
 * restored root is in (proc for its pid namespace, sysfs for its network
 * namespace, mqueue for its IPC namespace, cgroup for its cgroup
 * namespace), made by the restore itself (devpts: the ptys of the
 * tree's files), or saved with the mount (tmpfs: its nodes).
 *
 * Other types are made anew only when named with --enable-fs (LXC passes
 * hugetlbfs and tracefs). A mount of a filesystem criu's own namespace has
 * too is never made anew: it is bound from there (mnt-dump.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "log.h"
#include "mnt.h"
#include "util.h"

/*
 * A v1 hierarchy without controllers (name=X only) shows no "none", but
 * a new one can't be made without it.
 */
static int cgroup_options(int ctx, char *const *opts, size_t nr)
{
	char line[256], name[64];
	FILE *f;
	int fd = proc_open(O_RDONLY, "cgroups"), r;

	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		pr_perror("can't read /proc/cgroups");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((r = read_line(f, line, sizeof(line), "/proc/cgroups")) > 0)
		if (line[0] != '#' && sscanf(line, "%63s", name) == 1)
			for (size_t i = 0; i < nr; i++)
				if (!strcmp(opts[i], name)) {
					fclose(f);
					return 0;
				}
	fclose(f);
	if (r < 0)
		return -1;
	return fsconfig(ctx, FSCONFIG_SET_FLAG, "none", NULL, 0);
}

static const struct fs_kind kinds[] = {
	{ .name = "tmpfs", .dump_contents = tmpfs_dump_contents, .restore_contents = tmpfs_restore_contents },
	{ .name = "proc" },
	{ .name = "sysfs" },
	{ .name = "devpts" },
	{ .name = "mqueue" },
	{ .name = "cgroup", .more_options = cgroup_options },
	{ .name = "cgroup2" },
};

/* for --enable-fs types: no contents of their own to save */
static const struct fs_kind enabled = { .name = "enabled" };

const struct fs_kind *fs_kind_fresh(const char *fstype)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, fstype))
			return &kinds[i];
	return mnt_fs_enabled(fstype) ? &enabled : NULL;
}
