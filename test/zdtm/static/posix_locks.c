// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX (fcntl F_SETLK) locks with --file-locks, held by a parent and its
 * child on different ranges of one file, through the one open file
 * description they share: the parent write-locks [0, 100) and read-locks
 * [200, 300), the child write-locks [100, 200) and read-locks [300, EOF).
 * After restore a fresh process asks F_GETLK about each range and must get
 * the right type, start, length and owner pid (reads are shared: a read
 * probe finds nothing over read locks); then each owner unlocks its own
 * ranges and the probe finds them free, the other owner's still held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define FD	40

static char path[4096];

static int set_lock(int fd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return fcntl(fd, F_SETLK, &fl);
}

/* F_GETLK for @type over [start, start+len) from a process of its own. */
static int probe(short type, off_t start, off_t len, struct flock *out)
{
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
		int fd = open(path, O_RDWR);

		if (fd < 0 || fcntl(fd, F_GETLK, &fl) || write(pfd[1], &fl, sizeof(fl)) != sizeof(fl))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], out, sizeof(*out)) != sizeof(*out))
		out->l_type = -1;
	close(pfd[0]);
	if (zdtm_reap(pid, &status))
		return -1;
	return 0;
}

/* The probe must find a lock of @type, @start, @len held by @owner (F_UNLCK: none). */
static void expect(const char *what, short ptype, off_t pstart, off_t plen, short type, off_t start, off_t len,
		   pid_t owner)
{
	struct flock fl;

	if (probe(ptype, pstart, plen, &fl)) {
		fail("%s: the probe failed", what);
		return;
	}
	if (fl.l_type != type) {
		failv("%s: lock type %d, expected %d", what, fl.l_type, type);
		return;
	}
	if (type == F_UNLCK)
		return;
	if (fl.l_start != start || fl.l_len != len || fl.l_pid != owner)
		failv("%s: lock %ld+%ld of %d, expected %ld+%ld of %d", what, (long)fl.l_start, (long)fl.l_len,
		      fl.l_pid, (long)start, (long)len, owner);
}

int main(int argc, char **argv)
{
	int fd, cmd[2], ack[2], status;
	pid_t me, kid;
	char c;

	test_init(argc, argv);
	me = getpid();
	test_path(path, sizeof(path), "posix.locks");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) || dup2(fd, FD) != FD)
		test_bug("open");
	close(fd);
	if (set_lock(FD, F_WRLCK, 0, 100) || set_lock(FD, F_RDLCK, 200, 100))
		test_bug("parent locks");
	if (pipe(cmd) || pipe(ack))
		test_bug("pipe");

	kid = zdtm_fork();
	if (kid == 0) {
		close(cmd[1]);
		close(ack[0]);
		if (set_lock(FD, F_WRLCK, 100, 100) || set_lock(FD, F_RDLCK, 300, 0))
			_exit(1);
		if (write(ack[1], "l", 1) != 1)
			_exit(2);
		/* after restore: unlock our ranges when told */
		if (read(cmd[0], &c, 1) != 1)
			_exit(3);
		if (set_lock(FD, F_UNLCK, 100, 100) || set_lock(FD, F_UNLCK, 300, 0))
			_exit(4);
		if (write(ack[1], "u", 1) != 1)
			_exit(5);
		_exit(0);
	}
	close(cmd[0]);
	close(ack[1]);
	if (read(ack[0], &c, 1) != 1 || c != 'l')
		test_bug("the child could not lock");
	test_daemon();
	test_waitsig();

	expect("parent write", F_WRLCK, 0, 100, F_WRLCK, 0, 100, me);
	expect("child write", F_WRLCK, 100, 100, F_WRLCK, 100, 100, kid);
	expect("parent read", F_WRLCK, 200, 100, F_RDLCK, 200, 100, me);
	expect("parent read, read probe", F_RDLCK, 200, 100, F_UNLCK, 0, 0, 0);
	expect("child read", F_WRLCK, 300, 1000, F_RDLCK, 300, 0, kid);
	expect("first byte", F_WRLCK, 0, 1, F_WRLCK, 0, 100, me);

	/* the child lets go of its own ranges, ours stay */
	if (write(cmd[1], "u", 1) != 1 || read(ack[0], &c, 1) != 1 || c != 'u')
		fail("the child did not unlock");
	if (zdtm_reap(kid, &status))
		failv("the child failed (status %x)", status);
	expect("child write gone", F_WRLCK, 100, 100, F_UNLCK, 0, 0, 0);
	expect("child read gone", F_WRLCK, 300, 1000, F_UNLCK, 0, 0, 0);
	expect("parent write kept", F_WRLCK, 0, 100, F_WRLCK, 0, 100, me);

	if (set_lock(FD, F_UNLCK, 0, 0))
		fail("parent unlock");
	expect("all gone", F_WRLCK, 0, 0, F_UNLCK, 0, 0, 0);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
