// SPDX-License-Identifier: GPL-2.0-only
/*
 * An inotify watch and a fanotify inode mark (FAN_CREATE, FID events) on a
 * directory of /dev/shm, which the ns flavor's restore makes anew (a tmpfs
 * of the tree's: new inodes, no file handle of the dump finds them; the
 * marked directory is found again by its path). After C/R a file made in
 * the directory is reported by both, with its name, and nothing else is.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME	0x00000c00
#endif

static char dir[256], made[300];

/* The name of the one FAN_CREATE event queued on @fan, or NULL. */
static const char *fan_created(int fan, char *name, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = fan, .events = POLLIN };
	struct fanotify_event_metadata *md = (void *)buf;
	struct fanotify_event_info_fid *fid;
	struct file_handle *fh;
	ssize_t len;

	if (poll(&p, 1, 1000) != 1 || (len = read(fan, buf, sizeof(buf))) <= 0)
		return NULL;
	if (!FAN_EVENT_OK(md, len) || md->mask != FAN_CREATE || md->event_len != len) {
		failv("fanotify: %zd bytes, mask %#llx", len, (unsigned long long)md->mask);
		return NULL;
	}
	fid = (void *)(md + 1);
	fh = (void *)fid->handle;
	snprintf(name, size, "%.255s", (char *)fh->f_handle + fh->handle_bytes);
	return name;
}

static const char *ino_created(int ino, char *name, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = ino, .events = POLLIN };
	struct inotify_event *ev = (void *)buf;
	ssize_t len;

	if (poll(&p, 1, 1000) != 1 || (len = read(ino, buf, sizeof(buf))) <= 0)
		return NULL;
	if (ev->mask != IN_CREATE || (ssize_t)(sizeof(*ev) + ev->len) != len) {
		failv("inotify: %zd bytes, mask %#x", len, ev->mask);
		return NULL;
	}
	snprintf(name, size, "%.255s", ev->name);
	return name;
}

int main(int argc, char **argv)
{
	char name[256];
	const char *n;
	int fan, ino, fd;

	test_init(argc, argv);
	snprintf(dir, sizeof(dir), "/dev/shm/zdtm-fsnotify_shm.%d", getpid());
	snprintf(made, sizeof(made), "%s/made", dir);
	if (mkdir(dir, 0700))
		test_bug("mkdir %s", dir);
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY);
	ino = inotify_init1(IN_NONBLOCK);
	if (fan < 0 || ino < 0)
		test_bug("fanotify_init/inotify_init1");
	if (fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE | FAN_EVENT_ON_CHILD, AT_FDCWD, dir) ||
	    inotify_add_watch(ino, dir, IN_CREATE) != 1)
		test_bug("marking %s", dir);

	test_daemon();
	test_waitsig();

	fd = open(made, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		test_bug("create %s", made);
	close(fd);
	n = fan_created(fan, name, sizeof(name));
	if (!n || strcmp(n, "made"))
		failv("fanotify reports %s, not the creation of 'made'", n ? n : "nothing");
	n = ino_created(ino, name, sizeof(name));
	if (!n || strcmp(n, "made"))
		failv("inotify reports %s, not the creation of 'made'", n ? n : "nothing");
	unlink(made);
	rmdir(dir);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
