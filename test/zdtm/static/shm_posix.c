// SPDX-License-Identifier: GPL-2.0-only
/*
 * POSIX shared memory: two objects made with shm_open and mapped
 * MAP_SHARED by the parent and a child; "named" keeps its name in
 * /dev/shm, "gone" was shm_unlink'ed (an unlinked tmpfs file whose
 * contents go into the images). The fds are closed. After C/R the
 * contents are back, the named object is still the file in /dev/shm,
 * the other is still nameless, and parent and child still see each
 * other's writes in both.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <time.h>

#include "zdtmtst.h"

#define SZ	(128 << 10)

static volatile char *shm_map(const char *name, int unlink_it)
{
	void *p;
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);

	if (fd < 0 || ftruncate(fd, SZ))
		test_bug("shm_open %s", name);
	p = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || close(fd) || (unlink_it && shm_unlink(name)))
		test_bug("mmap %s", name);
	return p;
}

int main(int argc, char **argv)
{
	char named[64], gone[64], path[96], buf[4];
	volatile char *a, *b;
	int pfd[2], qfd[2], status, fd;
	pid_t kid;
	char c;

	test_init(argc, argv);
	/* pids repeat in the ns flavors' pid namespaces (/dev/shm is shared): the time too */
	snprintf(named, sizeof(named), "/zdtm-shm-named.%d.%lx", getpid(), (unsigned long)time(NULL));
	snprintf(gone, sizeof(gone), "/zdtm-shm-gone.%d.%lx", getpid(), (unsigned long)time(NULL));
	a = shm_map(named, 0);
	b = shm_map(gone, 1);
	zdtm_fill((char *)a, SZ, 51);
	zdtm_fill((char *)b, SZ, 52);
	if (pipe(pfd) || pipe(qfd))
		test_bug("pipe");

	kid = zdtm_fork();
	if (kid == 0) {
		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		if (a[10] != 'A' || b[10] != 'B')
			_exit(3);
		a[20] = 'a';
		b[20] = 'b';
		_exit(write(qfd[1], "k", 1) == 1 ? 0 : 4);
	}
	test_daemon();
	test_waitsig();

	if (zdtm_check((char *)a, SZ, 51) != (size_t)-1 || zdtm_check((char *)b, SZ, 52) != (size_t)-1)
		failv("the contents are lost");
	a[10] = 'A';
	b[10] = 'B';
	if (write(pfd[1], "g", 1) != 1 || read(qfd[0], &c, 1) != 1)
		fail("talking to the child");
	if (zdtm_reap(kid, &status))
		failv("child: status %#x (3: the parent's writes are not in the child's views)", status);
	if (a[20] != 'a' || b[20] != 'b')
		failv("the child's writes are not in the parent's views");
	/* the named one is still the file in /dev/shm */
	fd = shm_open(named, O_RDWR, 0);
	if (fd < 0 || pread(fd, buf, 1, 20) != 1 || buf[0] != 'a')
		failv("/dev/shm%s is not the mapped object", named);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "/dev/shm%s", gone);
	if (access(path, F_OK) == 0)
		failv("%s has a name again", path);
	shm_unlink(named);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
