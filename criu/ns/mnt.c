/*
 * The mount namespace: the mount tree's dump and restore belong to the
 * mount work (its own files); these are the two calls the namespace
 * framework makes. Until the mount tree is supported, a tree in a mount
 * namespace of its own is refused by name.
 */
#include "log.h"
#include "namespaces.h"

/* For criu check --feature mntns (zdtm's ns flavor pivots its tests into a root of their own with it). */
int mnt_ns_supported(void)
{
	return 0;
}

int mnt_ns_dump(pid_t pid, NsEntry *e)
{
	(void)e;
	pr_err("can't dump task %d: it is in another mnt namespace than criu; mount namespaces are not "
	       "supported yet\n", pid);
	return -1;
}

/*
 * The hook for the mount tree's restore: called by ns_restore_root() in
 * the root restore process, right after unshare(CLONE_NEWNS), with the
 * user, time, pid, uts, ipc, net and cgroup namespaces already the tree's
 * (so proc, sysfs, mqueue and cgroup mounts can be made), before the root
 * opens any file of the images' tasks or forks any child. The images
 * directory is open (its fd is the restore's, see rst.h SVC_DIR once
 * lifted; criu's own fds are still where criu had them here).
 */
int mnt_ns_restore(const NsEntry *e)
{
	(void)e;
	pr_err("can't restore a mount namespace: not supported yet\n");
	return -1;
}
