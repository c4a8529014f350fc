/*
 * evasive_devices: fd 50 is a character device node of the test's own
 * (1:3, what /dev/null is) and fd 51 another (1:5); between dump and
 * restore the runner puts another device (1:5) at the first one's path
 * (or removes it). With --evasive-devices the restore opens the device by
 * its number: fd 50 is 1:3 again and behaves as /dev/null (reads end at
 * once), /proc/self/fd/50 shows the same path, the path itself is left as
 * the runner made it, and fd 51 is opened by its path as usual.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[PATH_MAX], path2[PATH_MAX], link[PATH_MAX];
	struct stat st;
	char buf[8];
	ssize_t n;
	int bad = 0;

	test_init(argc, argv);
	test_path(path, sizeof(path), "dev1");
	test_path(path2, sizeof(path2), "dev2");
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) || mknod(path2, S_IFCHR | 0666, makedev(1, 5)))
		test_bug("mknod");
	if (zdtm_fd_at(open(path, O_RDWR), 50) < 0 || zdtm_fd_at(open(path2, O_RDONLY), 51) < 0)
		test_bug("open");

	test_daemon();
	test_waitsig();

	if (fstat(50, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
		failv("fd 50 is not device 1:3 (%u:%u)", major(st.st_rdev), minor(st.st_rdev));
		bad = 1;
	}
	n = read(50, buf, sizeof(buf));
	if (n != 0) {
		failv("a read of fd 50 gave %zd, not the end of /dev/null", n);
		bad = 1;
	}
	if (write(50, "x", 1) != 1) {
		fail("write to fd 50");
		bad = 1;
	}
	n = readlink("/proc/self/fd/50", link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	if (strcmp(link, path)) {
		failv("fd 50 shows %s, not %s", link, path);
		bad = 1;
	}
	if (!stat(path, &st) && st.st_rdev != makedev(1, 5)) {
		failv("%s was changed back to %u:%u", path, major(st.st_rdev), minor(st.st_rdev));
		bad = 1;
	}
	if (fstat(51, &st) || st.st_rdev != makedev(1, 5) || read(51, buf, 4) != 4 || buf[0]) {
		failv("fd 51 is not /dev/zero's device any more");
		bad = 1;
	}
	if (bad)
		return 1;
	pass();
	return 0;
}
