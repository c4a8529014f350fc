/*
 * The mount namespace as a kind of the namespace framework: the mount
 * tree's dump and restore are criu/mount/'s; these are the calls ns.c
 * makes for a tree whose mount namespace is not criu's.
 */
#include "log.h"
#include "mntns.h"
#include "namespaces.h"

/* For criu check --feature mntns (zdtm's ns flavors pivot their tests into a root of their own with it). */
int mnt_ns_supported(void)
{
	return 1;
}

/*
 * Every task is in the root's namespace or one nested below it, made by
 * one task of the tree (ns.c checked): read their mount trees, refuse
 * what can't be made again.
 */
int mnt_ns_dump(pid_t pid, NsEntry *e)
{
	const struct mntns_nested *n;
	size_t nr;

	(void)e;
	ns_dump_mnt_nested(&n, &nr);
	return mntns_dump_prepare(pid, n, nr);
}

/*
 * Called by ns_restore_root() in the root right after unshare(CLONE_NEWNS),
 * in the tree's other namespaces already: build the mount tree, pivot.
 */
int mnt_ns_restore(const NsEntry *e)
{
	(void)e;
	return mntns_restore();
}
