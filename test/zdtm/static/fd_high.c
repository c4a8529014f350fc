// SPDX-License-Identifier: GPL-2.0-only
/*
 * High fd numbers and holes: 2,000 files at fds 100-2099 (each its own
 * open of one of four files, at an offset of its own), nothing from 2100
 * to 8191, a pipe at 8192/8193 with data queued, a file at 12345 and a
 * socketpair at 18000/18001, with the fd limit raised to the hard one.
 * The restore's own fds go above the task's: with this many files that
 * is more than a layout growing with the task's files would find room for
 * under a 20,000 limit. After restore: the same numbers, nothing in the
 * holes, every file at its offset, the pipe's and socket's data.
 */
#include <fcntl.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define NR_FILES	2000
#define FIRST		100

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	ino_t ino[4];
	char path[4096], buf[16];
	int p[2], sv[2], fd;

	test_init(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl))
		test_bug("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 18100)
		test_bug("the fd limit is %lu", (unsigned long)rl.rlim_cur);
	for (int i = 0; i < 4; i++) {
		struct stat st;

		snprintf(buf, sizeof(buf), "high.%d", i);
		test_path(path, sizeof(path), buf);
		fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || fstat(fd, &st) || close(fd))
			test_bug("open %s", path);
		ino[i] = st.st_ino;
	}
	for (int i = 0; i < NR_FILES; i++) {
		snprintf(buf, sizeof(buf), "high.%d", i % 4);
		test_path(path, sizeof(path), buf);
		fd = open(path, O_RDWR);
		if (fd < 0 || dup2(fd, FIRST + i) != FIRST + i || close(fd) || lseek(FIRST + i, i, SEEK_SET) != i)
			test_bug("file %d", i);
	}
	if (pipe(p) || dup2(p[0], 8192) != 8192 || dup2(p[1], 8193) != 8193 || close(p[0]) || close(p[1]) ||
	    write(8193, "pipe", 4) != 4)
		test_bug("pipe");
	if (dup2(FIRST, 12345) != 12345 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || dup2(sv[0], 18000) != 18000 ||
	    dup2(sv[1], 18001) != 18001 || close(sv[0]) || close(sv[1]) || write(18001, "sock", 4) != 4)
		test_bug("high fds");

	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR_FILES; i++) {
		struct stat st;

		if (fstat(FIRST + i, &st) || st.st_ino != ino[i % 4] || lseek(FIRST + i, 0, SEEK_CUR) != i) {
			failv("fd %d is not file %d at %d", FIRST + i, i % 4, i);
			break;
		}
	}
	for (int fd = FIRST + NR_FILES; fd < 8192; fd++)
		if (is_open(fd)) {
			failv("fd %d is open, in a hole", fd);
			break;
		}
	if (read(8192, buf, 4) != 4 || memcmp(buf, "pipe", 4))
		fail("the pipe at 8192");
	if (lseek(12345, 0, SEEK_CUR) != 0 || lseek(FIRST, 0, SEEK_CUR) != 0)
		fail("fd 12345 is no dup of fd %d", FIRST);
	lseek(12345, 7, SEEK_SET);
	if (lseek(FIRST, 0, SEEK_CUR) != 7)
		fail("fd 12345 and fd %d are not one description", FIRST);
	if (read(18000, buf, 4) != 4 || memcmp(buf, "sock", 4))
		fail("the socket at 18000");
	for (int fd = 18002; fd < 18100; fd++)
		if (is_open(fd)) {
			failv("fd %d is open above the task's fds", fd);
			break;
		}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
