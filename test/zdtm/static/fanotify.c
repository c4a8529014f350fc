// SPDX-License-Identifier: GPL-2.0-only
/*
 * fanotify (root): fd 80 is a notification group (FAN_CLOEXEC|
 * FAN_NONBLOCK, O_RDONLY|O_LARGEFILE event fds) with an inode mark
 * (FAN_ACCESS|FAN_MODIFY) on a file, an inode mark with only an ignored
 * mask (FAN_CLOSE_WRITE, FAN_MARK_IGNORED_SURV_MODIFY) on another, a
 * mark with FAN_MODIFY and a FAN_MARK_IGNORE mask (FAN_OPEN) on a third, a mount
 * mark (FAN_OPEN) and a filesystem mark (FAN_CLOSE_NOWRITE) on a quiet
 * tmpfs (/sys/fs/cgroup, else /dev/shm: the marks must not fill the queue
 * with other programs' events, which would make the dump refuse). After C/R: the group flags, event flags and
 * every mark line of fdinfo are the same (a mount mark's mount by its
 * mountpoint, a filesystem mark's by the quiet path: in a restored mount
 * namespace a mount has a new id, a tmpfs a new device), nothing is queued, and reading
 * the marked file reports FAN_ACCESS with an event fd that is that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "zdtmtst.h"

#define FAN_FD	80

static char file[4096], other[4096], third[4096];
static const char *quiet;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fanotify lines of fdinfo, sorted, for comparing. */
static void marks(int fd, char *out, size_t size)
{
	char path[64], line[512], *lines[32];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		test_bug("open %s", path);
	while (n < 32 && fgets(line, sizeof(line), f)) {
		struct zdtm_mnt m;
		unsigned int id;
		char rest[480], named[1024];

		if (strncmp(line, "fanotify ", 9))
			continue;
		/* a filesystem mark names it by device: a tmpfs made anew at restore has a new one */
		if (sscanf(line, "fanotify sdev:%x %479[^\n]", &id, rest) == 2) {
			struct stat st;

			if (stat(quiet, &st))
				test_bug("stat %s", quiet);
			if (id == (major(st.st_dev) << 20 | minor(st.st_dev))) {
				snprintf(named, sizeof(named), "fanotify fs:%s %s\n", quiet, rest);
				lines[n++] = strdup(named);
				continue;
			}
		}
		/* a mount mark names its mount by id: a restored mount namespace's mounts have new ones */
		if (sscanf(line, "fanotify mnt_id:%x %479[^\n]", &id, rest) == 2) {
			if (zdtm_mountinfo_id(id, &m))
				test_bug("no mount %x", id);
			snprintf(named, sizeof(named), "fanotify mount:%s %s\n", m.point, rest);
			lines[n++] = strdup(named);
			continue;
		}
		lines[n++] = strdup(line);
	}
	fclose(f);
	qsort(lines, n, sizeof(*lines), cmp_str);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		snprintf(out + strlen(out), size - strlen(out), "%s", lines[i]);
		free(lines[i]);
	}
}

/* Whether FAN_ACCESS on @file came (event fds closed); FAN_ACCESS on anything else fails. */
static int read_access(int fd)
{
	char buf[4096] __attribute__((aligned(8))), link[64], target[4200];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int seen = 0;

	while (poll(&p, 1, seen ? 0 : 1000) == 1) {
		ssize_t len = read(fd, buf, sizeof(buf));
		struct fanotify_event_metadata *md = (void *)buf;

		if (len <= 0) {
			fail("read");
			return -1;
		}
		for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
			ssize_t l = -1;

			if (md->fd >= 0) {
				snprintf(link, sizeof(link), "/proc/self/fd/%d", md->fd);
				l = readlink(link, target, sizeof(target) - 1);
				close(md->fd);
			}
			if (l < 0)
				continue;
			target[l] = '\0';
			if ((md->mask & FAN_ACCESS) && !strcmp(target, file))
				seen = 1;
			if ((md->mask & FAN_ACCESS) && strcmp(target, file))
				failv("FAN_ACCESS on %s, which has no mark for it", target);
		}
	}
	return seen;
}

int main(int argc, char **argv)
{
	char before[4096], after[4096], c;
	int fd, g;

	test_init(argc, argv);
	quiet = access("/sys/fs/cgroup", F_OK) ? "/dev/shm" : "/sys/fs/cgroup";
	test_path(file, sizeof(file), "fanotify.file");
	test_path(other, sizeof(other), "fanotify.other");
	test_path(third, sizeof(third), "fanotify.third");
	fd = open(third, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", third);
	close(fd);
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abc", 3) != 3)
		test_bug("create %s", file);
	close(fd);
	fd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		test_bug("create %s", other);
	close(fd);

	g = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	if (g < 0 || dup3(g, FAN_FD, O_CLOEXEC) != FAN_FD)
		test_bug("fanotify_init");
	close(g);
	if (fanotify_mark(FAN_FD, FAN_MARK_ADD, FAN_ACCESS | FAN_MODIFY, AT_FDCWD, file) ||
	    fanotify_mark(FAN_FD, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  FAN_CLOSE_WRITE, AT_FDCWD, other) ||
	    fanotify_mark(FAN_FD, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, third) ||
	    fanotify_mark(FAN_FD, FAN_MARK_ADD | FAN_MARK_IGNORE, FAN_OPEN, AT_FDCWD, third) ||
	    fanotify_mark(FAN_FD, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN, AT_FDCWD, quiet) ||
	    fanotify_mark(FAN_FD, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_NOWRITE, AT_FDCWD, quiet))
		test_bug("fanotify_mark");
	marks(FAN_FD, before, sizeof(before));

	test_daemon();
	test_waitsig();

	if (fcntl(FAN_FD, F_GETFD) != FD_CLOEXEC || !(fcntl(FAN_FD, F_GETFL) & O_NONBLOCK))
		failv("fd %d lost FD_CLOEXEC or O_NONBLOCK", FAN_FD);
	marks(FAN_FD, after, sizeof(after));
	if (strcmp(before, after))
		failv("fanotify fdinfo was:\n%sis:\n%s", before, after);
	while (read_access(FAN_FD) > 0)
		;
	fd = open(file, O_RDONLY);
	if (fd < 0 || read(fd, &c, 1) != 1 || c != 'a')
		test_bug("read %s", file);
	close(fd);
	if (read_access(FAN_FD) != 1)
		failv("no FAN_ACCESS event for %s after restore", file);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
