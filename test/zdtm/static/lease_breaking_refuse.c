// SPDX-License-Identifier: GPL-2.0-only
/*
 * A read lease (F_SETLEASE) at fd 37 that is being broken: a process
 * outside the tree asked to open the file for writing (non-blocking, so it
 * got EWOULDBLOCK and the kernel started the break, with its timer). Even
 * with --file-locks the dump must refuse, naming the lease being broken
 * and the fd, and leave the task running with fd 37 still reading the
 * file's bytes; the task then gives the lease up.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	char path[4096], buf[8] = "";
	int fd, status;
	pid_t kid;

	test_init(argc, argv);
	signal(SIGIO, SIG_IGN);
	test_path(path, sizeof(path), "lease.file");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "leased", 6) != 6 || close(fd))
		test_bug("file");
	/* a read lease needs a read-only fd and no writer */
	if (zdtm_fd_at(open(path, O_RDONLY), 37) < 0 || fcntl(37, F_SETLEASE, F_RDLCK))
		test_bug("F_SETLEASE");
	/* the breaker leaves the tree at once: a grandchild that exits */
	kid = zdtm_fork();
	if (kid == 0) {
		if (fork() == 0) {
			for (int i = 0; i < 1024; i++)
				close(i);
			_exit(open(path, O_WRONLY | O_NONBLOCK) < 0 && errno == EWOULDBLOCK ? 0 : 1);
		}
		_exit(0);
	}
	if (waitpid(kid, &status, 0) != kid)
		test_bug("waitpid");
	while (fcntl(37, F_GETLEASE) == F_RDLCK)
		usleep(1000);

	test_daemon();
	test_waitsig();

	if (pread(37, buf, 6, 0) != 6 || memcmp(buf, "leased", 6))
		fail("fd 37 reads '%s'", buf);
	if (fcntl(37, F_SETLEASE, F_UNLCK))
		fail("giving the lease up");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
