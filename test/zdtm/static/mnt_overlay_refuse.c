// SPDX-License-Identifier: GPL-2.0-only
/*
 * An overlay whose lower, upper and work directories are on a tmpfs of
 * the test's own mount namespace, dumped with --enable-fs overlay: restore
 * makes such a filesystem from its options before the tree's mounts, in a
 * copy of criu's namespace, where those paths lead elsewhere (or nowhere).
 * The dump must refuse, naming the mount and the option, and leave the
 * task running; the overlay still shows its files afterwards.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static void put(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd))
		test_bug("write");
}

static int has(const char *path, const char *text)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == (int)strlen(text) && !strcmp(buf, text);
}

int main(int argc, char **argv)
{
	char t[520], p[600], opts[2000];
	const char *d[] = { "l", "u", "w", "m" };

	test_init(argc, argv);
	snprintf(t, sizeof(t), "%s/t", test_dir());
	if (mkdir(t, 0755))
		test_bug("mkdir");
	zdtm_mntns();
	if (mount("zdtm-ovt", t, "tmpfs", 0, NULL))
		test_bug("mount tmpfs");
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", t, d[i]);
		if (mkdir(p, 0755))
			test_bug("mkdir");
	}
	snprintf(p, sizeof(p), "%s/l/lower", t);
	put(p, "lower");
	snprintf(opts, sizeof(opts), "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", t, t, t);
	snprintf(p, sizeof(p), "%s/m", t);
	if (mount("zdtm-ovl", p, "overlay", 0, opts))
		test_bug("mount overlay");
	snprintf(p, sizeof(p), "%s/m/upper", t);
	put(p, "upper");
	test_daemon();
	test_waitsig();
	snprintf(p, sizeof(p), "%s/m/lower", t);
	if (!has(p, "lower"))
		fail("the overlay lost its lower file");
	snprintf(p, sizeof(p), "%s/m/upper", t);
	if (!has(p, "upper"))
		fail("the overlay lost its upper file");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
