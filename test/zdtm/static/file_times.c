// SPDX-License-Identifier: GPL-2.0-only
/*
 * A dump and restore change no file's atime or mtime, though they read,
 * map and make things: every file below has times days old (atime older
 * than a day and than mtime, so that even relatime would update it):
 *  - a file open read-only (fd 40) and mapped shared read-only;
 *  - a file open read-write (fd 41) and mapped private, its pages written;
 *  - a directory holding an unlinked file (fd 42, its own times too), a
 *    unix socket bound in it (fd 43), and a FIFO (fd 44) with bytes queued;
 *  - the slave of a pty (fds 45, 46) with bytes queued both ways.
 * After restore every one of these times is what it was, to the ns.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>

#include "zdtmtst.h"

#define DAY	(24 * 3600)

static char dir[4096], paths[6][4200];
static struct timespec want[2];

static void set_old(const char *path)
{
	if (utimensat(AT_FDCWD, path, want, AT_SYMLINK_NOFOLLOW))
		test_bug("utimensat %s", path);
}

static void check(const char *what, const struct stat *st)
{
	if (st->st_atim.tv_sec != want[0].tv_sec || st->st_atim.tv_nsec != want[0].tv_nsec ||
	    st->st_mtim.tv_sec != want[1].tv_sec || st->st_mtim.tv_nsec != want[1].tv_nsec)
		failv("%s: atime %ld.%09ld mtime %ld.%09ld, want %ld.%09ld and %ld.%09ld", what,
		      (long)st->st_atim.tv_sec, st->st_atim.tv_nsec, (long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		      (long)want[0].tv_sec, want[0].tv_nsec, (long)want[1].tv_sec, want[1].tv_nsec);
}

static void check_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		fail("lstat %s", path);
	else
		check(path, &st);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *ro, *priv, name[64];
	int fd, m, s, w;
	struct stat st;

	test_init(argc, argv);
	clock_gettime(CLOCK_REALTIME, &want[1]);
	want[0].tv_sec = want[1].tv_sec - 3 * DAY;
	want[0].tv_nsec = 123456789;
	want[1].tv_sec -= 2 * DAY;
	want[1].tv_nsec = 987654321;

	test_path(paths[0], sizeof(paths[0]), "times.ro");
	test_path(paths[1], sizeof(paths[1]), "times.rw");
	test_path(dir, sizeof(dir), "times.dir");
	snprintf(paths[2], sizeof(paths[2]), "%s/ghost", dir);
	snprintf(paths[3], sizeof(paths[3]), "%s/sock", dir);
	snprintf(paths[4], sizeof(paths[4]), "%s/fifo", dir);
	for (int i = 0; i < 2; i++) {
		fd = open(paths[i], O_RDWR | O_CREAT, 0600);
		if (fd < 0 || ftruncate(fd, 8192) || zdtm_fd_at(fd, 40 + i) < 0)
			test_bug("%s", paths[i]);
	}
	if (zdtm_fd_at(open(paths[0], O_RDONLY), 40) < 0)
		test_bug("reopen");
	ro = mmap(NULL, 8192, PROT_READ, MAP_SHARED, 40, 0);
	priv = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, 41, 0);
	if (ro == MAP_FAILED || priv == MAP_FAILED)
		test_bug("mmap");
	priv[100] = 'x';

	if (mkdir(dir, 0755) || zdtm_fd_at(open(paths[2], O_RDWR | O_CREAT, 0600), 42) < 0 || write(42, "g", 1) != 1 ||
	    unlink(paths[2]))
		test_bug("ghost");
	strcpy(a.sun_path, paths[3]);
	if (zdtm_fd_at(socket(AF_UNIX, SOCK_DGRAM, 0), 43) < 0 || bind(43, (struct sockaddr *)&a, sizeof(a)))
		test_bug("socket");
	if (mkfifo(paths[4], 0600) || zdtm_fd_at(open(paths[4], O_RDONLY | O_NONBLOCK), 44) < 0)
		test_bug("fifo");
	w = open(paths[4], O_WRONLY);
	if (w < 0 || write(w, "fifo", 4) != 4 || close(w))
		test_bug("fifo writer");

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) || zdtm_fd_at(m, 45) < 0)
		test_bug("pty");
	s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	{
		struct termios t;

		if (zdtm_fd_at(s, 46) < 0 || tcgetattr(46, &t))
			test_bug("slave");
		cfmakeraw(&t);
		if (tcsetattr(46, TCSANOW, &t) || write(45, "in", 2) != 2 || write(46, "out", 3) != 3)
			test_bug("pty queues");
	}
	snprintf(paths[5], sizeof(paths[5]), "%s", name);
	usleep(100000);		/* the pty takes its bytes in */

	for (int i = 0; i < 6; i++)
		if (i != 2)
			set_old(paths[i]);
	{
		char proc[64];

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", 42);
		if (utimensat(AT_FDCWD, proc, want, 0))
			test_bug("the ghost's times");
	}
	set_old(dir);

	test_daemon();
	test_waitsig();

	check_path(paths[0]);
	check_path(paths[1]);
	if (fstat(42, &st))
		fail("fstat 42");
	else
		check("the unlinked file", &st);
	check_path(paths[3]);
	check_path(paths[4]);
	check_path(paths[5]);
	check_path(dir);
	if (ro[0] || priv[100] != 'x')
		fail("the mappings");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
