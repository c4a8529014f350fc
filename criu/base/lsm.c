/*
 * Linux security modules at restore: --lsm-profile TYPE:NAME (runc, crun
 * and LXC ask for the profile the container's tasks run under),
 * --external TYPE:NAME (LXC names the same profile that way too) and
 * --lsm-mount-context (SELinux labels for the mounts).
 *
 * criu gives tasks no LSM label of their own yet. What it can keep is a
 * request that asks for nothing: the module isn't active on this host and
 * the profile is its "unconfined" one, so the tasks run as they were.
 * Anything else is refused here, by name, before anything is restored.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lsm.h"

static bool apparmor_enabled(void)
{
	char c = 'N';
	FILE *f = fopen("/sys/module/apparmor/parameters/enabled", "r");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 'N';
		fclose(f);
	}
	return c == 'Y';
}

static bool selinux_enabled(void)
{
	return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

int lsm_is_arg(const char *arg)
{
	return !strncmp(arg, "apparmor:", 9) || !strncmp(arg, "selinux:", 8);
}

int lsm_opt_profile(const char *arg)
{
	if (!strcmp(arg, "none") || !strcmp(arg, "none:"))
		return 0;
	if (!strncmp(arg, "apparmor:", 9)) {
		const char *name = arg + 9;

		if (!strcmp(name, "unconfined")) {
			pr_info("LSM profile %s: the tasks run unconfined, as criu does\n", arg);
			return 0;
		}
		if (!apparmor_enabled())
			pr_err("LSM profile %s: AppArmor is not enabled on this host; the tasks can't run under "
			       "profile %s\n", arg, name);
		else
			pr_err("LSM profile %s: restoring tasks under an AppArmor profile is not supported yet\n",
			       arg);
		return -1;
	}
	if (!strncmp(arg, "selinux:", 8)) {
		if (!selinux_enabled())
			pr_err("LSM profile %s: SELinux is not enabled on this host\n", arg);
		else
			pr_err("LSM profile %s: restoring tasks with an SELinux label is not supported yet\n", arg);
		return -1;
	}
	pr_err("bad LSM profile '%s': expected apparmor:NAME, selinux:LABEL or none\n", arg);
	return -1;
}

int lsm_opt_mount_context(const char *arg)
{
	if (!arg[0])
		return 0;
	pr_err("LSM mount context %s: labelling the restored mounts is not supported yet%s\n", arg,
	       selinux_enabled() ? "" : " (and SELinux is not enabled on this host)");
	return -1;
}
