// SPDX-License-Identifier: GPL-2.0-only
/*
 * A memfd holding a program, made executable with fchmod() (mode 0750),
 * with a shared writable mapping of a second memfd with mode 0640. After
 * C/R both memfds keep their modes, the first can be run with execveat()
 * (the restore must leave no writer on it: exec would fail with ETXTBSY),
 * and the mapped memfd is still shared with its fd.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define PROG	"/bin/true"
#define SZ	(64 << 10)

static int run(int fd)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { "true", NULL }, *envp[] = { NULL };

		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		_exit(100 + errno);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

static int mode_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (int)(st.st_mode & 07777);
}

int main(int argc, char **argv)
{
	int exe, data, src, ret;
	struct stat st;
	char *map;

	test_init(argc, argv);
	exe = memfd_create("zdtm-exe", MFD_CLOEXEC);
	data = memfd_create("zdtm-data", MFD_CLOEXEC);
	src = open(PROG, O_RDONLY);
	if (exe < 0 || data < 0 || src < 0 || fstat(src, &st))
		test_bug("setup");
	if (sendfile(exe, src, NULL, st.st_size) != st.st_size)
		test_bug("copying %s", PROG);
	close(src);
	if (fchmod(exe, 0750) || fchmod(data, 0640) || ftruncate(data, SZ))
		test_bug("fchmod");
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, data, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	zdtm_fill(map, SZ, 3);
	ret = run(exe);
	if (ret)
		test_bug("running the memfd before the dump: %d", ret);

	test_daemon();
	test_waitsig();

	if (mode_of(exe) != 0750 || mode_of(data) != 0640)
		failv("modes %o and %o, want 750 and 640", mode_of(exe), mode_of(data));
	ret = run(exe);
	if (ret)
		failv("running the memfd after restore: %s",
		      ret > 100 && ret < 200 ? strerror(ret - 100) : "it failed");
	if (zdtm_check(map, SZ, 3) != (size_t)-1)
		failv("the mapping lost its data");
	memcpy(map, "zdtm", 4);
	{
		char buf[4];

		if (pread(data, buf, 4, 0) != 4 || memcmp(buf, "zdtm", 4))
			failv("the mapping is no longer the memfd's");
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
