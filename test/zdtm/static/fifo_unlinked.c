// SPDX-License-Identifier: GPL-2.0-only
/*
 * A FIFO (mode 0640) whose path was unlinked, with 1000 bytes queued:
 * the task holds a read end (fd 60, non-blocking) and a write end (61),
 * which its child inherited; the child also opened a write end of its own
 * (62). After C/R: the FIFO is still unlinked with its mode, the task's
 * ends are one inode, the 1000 bytes come out of 60 once and in order, and
 * what the child writes through its own description comes out of the
 * task's read end: one pipe. The old path stays free.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int child(void)
{
	if (zdtm_wait_usr1())
		return 2;
	if (write(62, "child", 5) != 5)
		return 3;
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096], data[1000], buf[1200];
	struct stat st, st2;
	int fd, go[2], status = 0;
	pid_t kid;
	ssize_t n;

	test_init(argc, argv);
	test_path(path, sizeof(path), "fifo_unlinked.fifo");
	unlink(path);
	if (mkfifo(path, 0600))
		test_bug("mkfifo");
	fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || dup2(fd, 60) != 60)
		test_bug("open the read end");
	close(fd);
	fd = open(path, O_WRONLY);
	if (fd < 0 || dup2(fd, 61) != 61)
		test_bug("open the write end");
	close(fd);
	if (fchmod(60, 0640))
		test_bug("fchmod");
	for (int i = 0; i < 1000; i++)
		data[i] = i * 13;
	if (write(61, data, 1000) != 1000)
		test_bug("write");

	zdtm_block_usr1(true);
	if (pipe(go))
		test_bug("pipe");
	kid = zdtm_fork();
	if (kid == 0) {
		close(go[0]);
		fd = open(path, O_WRONLY);
		if (fd < 0 || dup2(fd, 62) != 62)
			_exit(1);
		close(fd);
		close(go[1]);
		_exit(child());
	}
	if (zdtm_wait_ready(go))
		test_bug("sync with the child");
	if (unlink(path))
		test_bug("unlink");

	test_daemon();
	test_waitsig();

	if (fstat(60, &st) || fstat(61, &st2) || !S_ISFIFO(st.st_mode) || st.st_ino != st2.st_ino)
		fail("fds 60 and 61 are not one FIFO");
	if (st.st_nlink != 0 || (st.st_mode & 07777) != 0640)
		failv("the FIFO has %lu links and mode %o, want 0 and 640", (unsigned long)st.st_nlink,
		      st.st_mode & 07777);
	if (!access(path, F_OK) || errno != ENOENT)
		fail("something is at the FIFO's old path");
	n = read(60, buf, sizeof(buf));
	if (n != 1000 || memcmp(buf, data, 1000))
		failv("read %zd bytes back, want the 1000 queued ones", n);
	if (zdtm_wake_and_reap(kid, &status))
		failv("the child could not write through its own end (status %#x)", status);
	n = read(60, buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "child", 5))
		failv("read %zd bytes after the child's write, want its 5", n);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
