// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two devpts instances in the test's own mount namespace, each with a
 * pty at index 0 held at both ends: ptys are known by their index, so the
 * dump must refuse naming the second one, and both ptys still work.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "zdtmtst.h"

static void open_pty(const char *dir, int *m, int *s)
{
	char path[700];
	int unlock = 0;

	snprintf(path, sizeof(path), "%s/%s", test_dir(), dir);
	if (mkdir(path, 0755) || mount("devpts", path, "devpts", 0, "newinstance,ptmxmode=0666"))
		test_bug("devpts at %s", dir);
	snprintf(path, sizeof(path), "%s/%s/ptmx", test_dir(), dir);
	*m = open(path, O_RDWR | O_NOCTTY);
	if (*m < 0 || ioctl(*m, TIOCSPTLCK, &unlock))
		test_bug("ptmx of %s", dir);
	snprintf(path, sizeof(path), "%s/%s/0", test_dir(), dir);
	*s = open(path, O_RDWR | O_NOCTTY);
	if (*s < 0)
		test_bug("pts 0 of %s", dir);
}

int main(int argc, char **argv)
{
	int m1, s1, m2, s2;
	char c;

	test_init(argc, argv);
	zdtm_mntns();
	open_pty("pts1", &m1, &s1);
	open_pty("pts2", &m2, &s2);
	test_daemon();
	test_waitsig();
	if (write(m1, "a\n", 2) != 2 || read(s1, &c, 1) != 1 || c != 'a' || write(m2, "b\n", 2) != 2 ||
	    read(s2, &c, 1) != 1 || c != 'b')
		fail("the ptys");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
