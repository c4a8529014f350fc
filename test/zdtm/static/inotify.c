// SPDX-License-Identifier: GPL-2.0-only
/*
 * inotify: fd 77 (IN_NONBLOCK, FD_CLOEXEC) watches a directory
 * (IN_CREATE|IN_DELETE|IN_MOVED_TO) as wd 1, a file (IN_MODIFY|
 * IN_CLOSE_WRITE|IN_EXCL_UNLINK) as wd 6 after four watches were added and
 * removed, and another file (IN_ATTRIB|IN_ONESHOT) as wd 7; fd 78 is a
 * blocking inotify fd with one watch (IN_OPEN) on the first file. After
 * C/R: flags, wd numbers and masks as /proc shows them are the same, and
 * writing, closing, creating, chmod'ing and opening produce exactly the
 * events expected, with their wd, mask and name; the one-shot watch fires
 * once and goes away; the next new watch gets wd 8.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define FD_A	77
#define FD_B	78

struct want {
	int wd;
	uint32_t mask;
	const char *name;
};

static char dir[4000], file[4200], file2[4200], spare[4200];

/* Every event read now (nothing blocks: poll first) must be the ones in @w, in order. */
static void expect(int fd, const struct want *w, int n, const char *what)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int got = 0;
	ssize_t len;

	while (poll(&p, 1, got < n ? 1000 : 0) == 1) {
		len = read(fd, buf, sizeof(buf));
		if (len <= 0) {
			fail("%s: read", what);
			return;
		}
		for (ssize_t off = 0; off < len;) {
			struct inotify_event *ev = (void *)(buf + off);
			const char *name = ev->len ? ev->name : "";

			if (got >= n)
				failv("%s: extra event wd %d mask %#x name '%s'", what, ev->wd, ev->mask, name);
			else if (ev->wd != w[got].wd || ev->mask != w[got].mask || strcmp(name, w[got].name))
				failv("%s: event %d is wd %d mask %#x name '%s', want wd %d mask %#x name '%s'", what,
				      got, ev->wd, ev->mask, name, w[got].wd, w[got].mask, w[got].name);
			got++;
			off += sizeof(*ev) + ev->len;
		}
	}
	if (got < n)
		failv("%s: %d events, want %d", what, got, n);
}

/* The watches /proc shows, as "wd:mask" in wd order, for comparing. */
static void watches(int fd, char *out, size_t size)
{
	char path[64], line[512];
	unsigned int wd, mask;
	int have[64] = { 0 };
	unsigned int masks[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		test_bug("open %s", path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "inotify wd:%x ino:%*x sdev:%*x mask:%x", &wd, &mask) == 2 && wd < 64) {
			have[wd] = 1;
			masks[wd] = mask;
		}
	fclose(f);
	out[0] = '\0';
	for (int i = 0; i < 64; i++)
		if (have[i])
			snprintf(out + strlen(out), size - strlen(out), "%d:%x ", i, masks[i]);
}

static int make(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		test_bug("create %s", path);
	return fd;
}

int main(int argc, char **argv)
{
	char before_a[1024], before_b[1024], after[1024];
	int a, b, w_dir, w_file, w_file2, w_open, fd;

	test_init(argc, argv);
	test_path(dir, sizeof(dir), "inotify.d");
	snprintf(file, sizeof(file), "%s/watched", dir);
	snprintf(file2, sizeof(file2), "%s/oneshot", dir);
	snprintf(spare, sizeof(spare), "%s/spare", dir);
	if (mkdir(dir, 0755) && errno != EEXIST)
		test_bug("mkdir %s", dir);
	close(make(file));
	close(make(file2));
	close(make(spare));

	a = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	b = inotify_init1(0);
	if (a < 0 || b < 0 || dup3(a, FD_A, O_CLOEXEC) != FD_A || dup3(b, FD_B, 0) != FD_B)
		test_bug("inotify_init1");
	close(a);
	close(b);
	w_dir = inotify_add_watch(FD_A, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_ONLYDIR);
	for (int i = 0; i < 4; i++) {
		int wd = inotify_add_watch(FD_A, spare, IN_ACCESS);

		if (wd < 0 || inotify_rm_watch(FD_A, wd))
			test_bug("add/remove a watch");
	}
	w_file = inotify_add_watch(FD_A, file, IN_MODIFY | IN_CLOSE_WRITE | IN_EXCL_UNLINK);
	w_file2 = inotify_add_watch(FD_A, file2, IN_ATTRIB | IN_ONESHOT);
	w_open = inotify_add_watch(FD_B, file, IN_OPEN);
	if (w_dir != 1 || w_file != 6 || w_file2 != 7 || w_open != 1)
		test_bug("watches got wds %d %d %d %d", w_dir, w_file, w_file2, w_open);
	/* the IN_IGNORED of the removed watches: the queue must be empty for the dump */
	{
		struct want ign[4] = { { 2, IN_IGNORED, "" }, { 3, IN_IGNORED, "" }, { 4, IN_IGNORED, "" },
				       { 5, IN_IGNORED, "" } };

		expect(FD_A, ign, 4, "setup");
	}
	watches(FD_A, before_a, sizeof(before_a));
	watches(FD_B, before_b, sizeof(before_b));

	test_daemon();
	test_waitsig();

	if (!(fcntl(FD_A, F_GETFL) & O_NONBLOCK) || fcntl(FD_A, F_GETFD) != FD_CLOEXEC)
		failv("fd %d lost O_NONBLOCK or FD_CLOEXEC", FD_A);
	if ((fcntl(FD_B, F_GETFL) & O_NONBLOCK) || fcntl(FD_B, F_GETFD) != 0)
		failv("fd %d became non-blocking or close-on-exec", FD_B);
	watches(FD_A, after, sizeof(after));
	if (strcmp(before_a, after))
		failv("fd %d watches '%s', were '%s'", FD_A, after, before_a);
	watches(FD_B, after, sizeof(after));
	if (strcmp(before_b, after))
		failv("fd %d watches '%s', were '%s'", FD_B, after, before_b);

	/* nothing may be queued from the restore */
	expect(FD_A, NULL, 0, "after restore");
	expect(FD_B, NULL, 0, "after restore (fd 78)");

	fd = open(file, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		test_bug("write %s", file);
	close(fd);
	{
		struct want w[] = { { 6, IN_MODIFY, "" }, { 6, IN_CLOSE_WRITE, "" } };
		struct want o[] = { { 1, IN_OPEN, "" } };

		expect(FD_A, w, 2, "write");
		expect(FD_B, o, 1, "open");
	}

	char probe[4200];

	snprintf(probe, sizeof(probe), "%s/probe", dir);
	close(make(probe));
	unlink(probe);
	{
		struct want w[] = { { 1, IN_CREATE, "probe" }, { 1, IN_DELETE, "probe" } };

		expect(FD_A, w, 2, "create");
	}

	if (chmod(file2, 0600) || chmod(file2, 0644))
		test_bug("chmod %s", file2);
	{
		struct want w[] = { { 7, IN_ATTRIB, "" }, { 7, IN_IGNORED, "" } };

		expect(FD_A, w, 2, "oneshot");
	}

	/* the wd counter goes on from the last watch made, as before */
	fd = inotify_add_watch(FD_A, spare, IN_ACCESS);
	if (fd != 8)
		failv("a new watch got wd %d, want 8", fd);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
