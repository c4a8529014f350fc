// SPDX-License-Identifier: GPL-2.0-only
/*
 * File leases (F_SETLEASE, with --file-locks): a read lease at fd 37 on a
 * file opened read-only, a write lease at fd 38 on another file opened
 * read-write, SIGUSR1 as the lease-break signal of fd 38 (F_SETSIG).
 * After restore F_GETLEASE tells the same leases, and they work: a child
 * opening the first file for writing (non-blocking) gets EWOULDBLOCK and
 * we get SIGIO; opening the second for reading, the same with SIGUSR1. We
 * give both leases up and the opens succeed.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static volatile sig_atomic_t got_io, got_usr1;

static void on_sig(int sig)
{
	if (sig == SIGIO)
		got_io = 1;
	else
		got_usr1 = 1;
}

/* What an open of @path with @flags from another process gets: 0, or its errno. */
static int open_elsewhere(const char *path, int flags)
{
	int status;
	pid_t kid = zdtm_fork();

	if (kid == 0) {
		int fd = open(path, flags | O_NONBLOCK);

		_exit(fd < 0 ? errno : 0);
	}
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	char rpath[4096], wpath[4096];
	int fd;

	test_init(argc, argv);
	signal(SIGIO, on_sig);
	signal(SIGUSR1, on_sig);
	test_path(rpath, sizeof(rpath), "lease.read");
	test_path(wpath, sizeof(wpath), "lease.write");
	fd = open(rpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || close(fd) || zdtm_fd_at(open(rpath, O_RDONLY), 37) < 0 || fcntl(37, F_SETLEASE, F_RDLCK))
		test_bug("read lease");
	if (zdtm_fd_at(open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0600), 38) < 0 || fcntl(38, F_SETSIG, SIGUSR1) ||
	    fcntl(38, F_SETLEASE, F_WRLCK))
		test_bug("write lease");

	test_daemon();
	test_waitsig();

	if (fcntl(37, F_GETLEASE) != F_RDLCK || fcntl(38, F_GETLEASE) != F_WRLCK)
		failv("the leases are %d and %d, want F_RDLCK and F_WRLCK", fcntl(37, F_GETLEASE),
		      fcntl(38, F_GETLEASE));
	if (open_elsewhere(rpath, O_WRONLY) != EWOULDBLOCK || open_elsewhere(wpath, O_RDONLY) != EWOULDBLOCK)
		fail("opens elsewhere did not wait for the leases");
	for (int i = 0; i < 1000 && (!got_io || !got_usr1); i++)
		usleep(1000);
	if (!got_io || !got_usr1)
		failv("lease-break signals: SIGIO %d, SIGUSR1 %d", got_io, got_usr1);
	if (fcntl(37, F_SETLEASE, F_UNLCK) || fcntl(38, F_SETLEASE, F_UNLCK))
		fail("giving the leases up");
	if (open_elsewhere(rpath, O_WRONLY) || open_elsewhere(wpath, O_RDONLY))
		fail("opens elsewhere fail after the leases are gone");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
