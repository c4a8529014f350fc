// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mount tree runc gives a default container (containers.md section 2),
 * in a mount and IPC namespace of the test's own, dumped and restored
 * with the options runc passes (the desc): "/" a bind of a rootfs,
 * remounted read-only; /proc; /dev a tmpfs of mknod'ed nodes with
 * ptmx -> pts/ptmx; /dev/pts a devpts newinstance; /dev/shm; /dev/mqueue;
 * /sys read-only; a volume (/data) bound from the host and dumped as an
 * external mount (dest=dest), restored from another host directory;
 * masked paths (/proc/keys, /proc/timer_list: binds of the tmpfs's /dev/null;
 * /sys/firmware: a read-only tmpfs); read-only paths (/proc/sys,
 * /proc/bus, /proc/fs, /proc/irq: read-only self-binds); /dev/console
 * a bind of the pty the test holds. Every device path is passed as an
 * unused external key at both ends, as runc does.
 * After restore each mount is there again with its kind, options and
 * behaviour.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <termios.h>

#include "zdtmtst.h"

static const struct {
	const char *name;
	unsigned int maj, min;
} devs[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 },
	     { "tty", 5, 0 } };
static const char *const masked_files[] = { "/proc/keys", "/proc/timer_list" };
static const char *const ro_paths[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys" };

static void must(int ret, const char *what)
{
	if (ret)
		test_bug("%s", what);
}

static void make_dev(void)
{
	char path[64];

	must(mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"), "/dev");
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", devs[i].name);
		must(mknod(path, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) || chmod(path, 0666), path);
	}
	must(symlink("pts/ptmx", "/dev/ptmx") || mkdir("/dev/pts", 0755) || mkdir("/dev/shm", 01777) ||
	     mkdir("/dev/mqueue", 0755), "/dev entries");
	int fd = open("/dev/console", O_CREAT | O_WRONLY, 0600);

	must(fd < 0 || close(fd), "/dev/console");
	must(mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
	     "/dev/pts");
	must(mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"), "/dev/shm");
	must(mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "/dev/mqueue");
}

static void mask_and_protect(void)
{
	for (size_t i = 0; i < sizeof(masked_files) / sizeof(masked_files[0]); i++)
		must(mount("/dev/null", masked_files[i], NULL, MS_BIND, NULL), masked_files[i]);
	must(mount("tmpfs", "/sys/firmware", "tmpfs", MS_RDONLY, NULL), "/sys/firmware");
	for (size_t i = 0; i < sizeof(ro_paths) / sizeof(ro_paths[0]); i++)
		must(mount(ro_paths[i], ro_paths[i], NULL, MS_BIND | MS_REC, NULL) ||
		     mount(NULL, ro_paths[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL), ro_paths[i]);
}

static int is_ro(const char *path)
{
	struct statvfs sv;

	return !statvfs(path, &sv) && (sv.f_flag & ST_RDONLY);
}

static void check_mount(const char *point, const char *fstype, const char *root)
{
	struct zdtm_mnt m;

	if (zdtm_mountinfo(point, &m) || strcmp(m.fstype, fstype) || (root && strcmp(m.root, root)))
		failv("%s is %s %s, not %s %s", point, m.fstype, m.root, fstype, root ? root : "");
}

int main(int argc, char **argv)
{
	char vol[600], buf[16] = "";
	struct stat st;
	int ptm, pts, con, fd, unlock = 0;
	unsigned int idx;
	struct termios t;

	test_init(argc, argv);
	zdtm_rootfs("rootfs");
	snprintf(vol, sizeof(vol), "%s/rootfs/data", test_dir());
	must(mkdir(vol, 0755), "mkdir data");
	snprintf(vol, sizeof(vol), "%s/vol", test_dir());
	must(mkdir(vol, 0755), "mkdir vol");
	snprintf(vol, sizeof(vol), "%s/vol/marker", test_dir());
	fd = open(vol, O_CREAT | O_WRONLY, 0644);
	must(fd < 0 || write(fd, "dump", 4) != 4 || close(fd), "vol marker");
	snprintf(vol, sizeof(vol), "%s/vol2", test_dir());
	must(mkdir(vol, 0755), "mkdir vol2");
	snprintf(vol, sizeof(vol), "%s/vol2/marker", test_dir());
	fd = open(vol, O_CREAT | O_WRONLY, 0644);
	must(fd < 0 || write(fd, "restore", 7) != 7 || close(fd), "vol2 marker");
	snprintf(vol, sizeof(vol), "%s/vol", test_dir());
	must(unshare(CLONE_NEWIPC), "unshare(CLONE_NEWIPC)");
	zdtm_mntns_rootfs("rootfs", false);
	/* the volume: the host directory is still reachable through the test directory */
	must(mount(vol, "/data", NULL, MS_BIND, NULL), "/data");
	must(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "/proc");
	make_dev();
	must(mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "/sys");
	mask_and_protect();
	ptm = open("/dev/ptmx", O_RDWR | O_NOCTTY);
	must(ptm < 0 || ioctl(ptm, TIOCSPTLCK, &unlock) || ioctl(ptm, TIOCGPTN, &idx) || idx, "ptmx");
	pts = open("/dev/pts/0", O_RDWR | O_NOCTTY);
	must(pts < 0 || tcgetattr(pts, &t), "pts/0");
	cfmakeraw(&t);
	must(tcsetattr(pts, TCSANOW, &t) || mount("/dev/pts/0", "/dev/console", NULL, MS_BIND, NULL), "console");
	con = open("/dev/console", O_RDWR | O_NOCTTY);
	must(con < 0, "open /dev/console");
	must(mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), "read-only /");

	test_daemon();
	test_waitsig();

	if (!is_ro("/") || access("/marker", F_OK))
		fail("/ is not the read-only rootfs");
	check_mount("/proc", "proc", "/");
	check_mount("/dev", "tmpfs", "/");
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/%s", devs[i].name);
		if (stat(path, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(devs[i].maj, devs[i].min) ||
		    (st.st_mode & 07777) != 0666)
			failv("%s is not the device node it was", path);
	}
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1 || readlink("/dev/ptmx", buf, sizeof(buf) - 1) != 8 ||
	    strcmp(buf, "pts/ptmx"))
		fail("/dev/null or /dev/ptmx");
	check_mount("/dev/pts", "devpts", "/");
	check_mount("/dev/shm", "tmpfs", "/");
	check_mount("/dev/mqueue", "mqueue", "/");
	check_mount("/dev/console", "devpts", "/0");
	/* one pty: master to console, console to master, master to slave */
	if (write(ptm, "a", 1) != 1 || read(con, buf, 1) != 1 || buf[0] != 'a' || write(con, "b", 1) != 1 ||
	    read(ptm, buf, 1) != 1 || buf[0] != 'b' || write(ptm, "c", 1) != 1 || read(pts, buf, 1) != 1 ||
	    buf[0] != 'c')
		fail("/dev/console, /dev/pts/0 and the master are not one pty");
	check_mount("/sys", "sysfs", NULL);
	if (!is_ro("/sys"))
		fail("/sys is not read-only");
	for (size_t i = 0; i < sizeof(masked_files) / sizeof(masked_files[0]); i++) {
		check_mount(masked_files[i], "tmpfs", "/null");
		fd = open(masked_files[i], O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) != 0 || fstat(fd, &st) || st.st_rdev != makedev(1, 3))
			failv("%s is not /dev/null", masked_files[i]);
		if (fd >= 0)
			close(fd);
	}
	check_mount("/sys/firmware", "tmpfs", "/");
	if (!is_ro("/sys/firmware"))
		fail("/sys/firmware is not read-only");
	for (size_t i = 0; i < sizeof(ro_paths) / sizeof(ro_paths[0]); i++) {
		check_mount(ro_paths[i], "proc", ro_paths[i] + 5);
		if (!is_ro(ro_paths[i]))
			failv("%s is not read-only", ro_paths[i]);
	}
	fd = open("/data/marker", O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) != 7 || strcmp(buf, "restore"))
		failv("/data holds '%s', not the restore's volume", buf);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
