/*
 * --evasive-devices: at restore, a device file whose path now names
 * another device (or nothing) is opened by its device number instead, as
 * runc asks: it binds a container's device nodes from the host, and the
 * node at a path may differ from the one the task had open.
 *
 * There is no open-by-number: the node is made again in a tmpfs attached
 * to no mount namespace (only the restoring process holds it, and the file
 * opened in it), at the same path inside, so /proc/PID/fd shows the path
 * the task had. The tmpfs goes when the last file opened in it is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cr_options.h"
#include "files.h"
#include "log.h"

static int yard = -1;

static int open_yard(struct rst_files *rf)
{
	int fs;

	if (yard >= 0)
		return 0;
	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) || (yard = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0) {
		pr_perror("can't make a tmpfs for evasive devices");
		if (fs >= 0)
			close(fs);
		return -1;
	}
	close(fs);
	/* out of the way of the fds being placed */
	if (yard < rf->scratch_base) {
		int hi = fcntl(yard, F_DUPFD_CLOEXEC, rf->scratch_base);

		if (hi < 0)
			pr_perror("can't move fd %d above %d", yard, rf->scratch_base);
		close(yard);
		yard = hi;
	}
	return yard < 0 ? -1 : 0;
}

void evasive_fini(void)
{
	if (yard >= 0)
		close(yard);
	yard = -1;
}

int evasive_open(struct rst_files *rf, const RegFileEntry *r, int flags)
{
	char rel[PATH_MAX];
	int fd;

	if (r->path[0] != '/' || snprintf(rel, sizeof(rel), "%s", r->path + 1) >= (int)sizeof(rel) ||
	    open_yard(rf))
		return -1;
	/* the directories on the way, then the node */
	for (char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(yard, rel, 0755) && errno != EEXIST) {
			pr_perror("can't make %s for an evasive device", rel);
			return -1;
		}
		*p = '/';
	}
	if (mknodat(yard, rel, S_IFCHR | (r->mode & 07777), r->rdev) && errno != EEXIST) {
		pr_perror("can't make device %u:%u for %s (--evasive-devices)", major(r->rdev), minor(r->rdev),
			  r->path);
		return -1;
	}
	fd = openat(yard, rel, flags | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open device %u:%u for %s (--evasive-devices)", major(r->rdev), minor(r->rdev),
			  r->path);
	else
		pr_info("%s: opened as device %u:%u (--evasive-devices)\n", r->path, major(r->rdev), minor(r->rdev));
	return fd;
}
