// SPDX-License-Identifier: GPL-2.0-only
/*
 * A file made under a temporary name, mapped, linked to its real name
 * and the temporary name removed, as glibc's sem_open() does (Python's
 * multiprocessing, for one): the mapping and an fd refer to a removed
 * name while the inode keeps another link beside it. That link is found
 * at dump without --link-remap. A real named POSIX semaphore (in
 * /dev/shm) is held too. After C/R: the mapping and the fd are still the
 * file at its real name (a write by that name shows through both), /proc
 * shows the temporary name "(deleted)", the file has one link, and the
 * semaphore is shared with one opened again by its name.
 */
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "zdtmtst.h"

#define SZ	4096

int main(int argc, char **argv)
{
	char tmp[4096], real[4096], want[4200], lnk[4200], path[64], semname[64];
	volatile char *map;
	sem_t *sem, *again;
	int fd, val;
	ssize_t n;

	test_init(argc, argv);
	test_path(tmp, sizeof(tmp), "uol.XXXXXX");
	test_path(real, sizeof(real), "uol.sem");
	fd = mkstemp(tmp);
	if (fd < 0 || ftruncate(fd, SZ) || pwrite(fd, "made", 4, 0) != 4)
		test_bug("the temporary file");
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || link(tmp, real) || unlink(tmp))
		test_bug("mapping and linking it in place");
	snprintf(semname, sizeof(semname), "/zdtm-uol-%d", getpid());
	sem = sem_open(semname, O_CREAT | O_EXCL, 0600, 3);
	if (sem == SEM_FAILED)
		test_bug("sem_open");

	test_daemon();
	test_waitsig();

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	snprintf(want, sizeof(want), "%s (deleted)", tmp);
	n = readlink(path, lnk, sizeof(lnk) - 1);
	if (n < 0 || (lnk[n] = '\0', strcmp(lnk, want)))
		failv("the fd shows '%s', not '%s'", n < 0 ? "?" : lnk, want);
	if (!zdtm_fd_is_path(fd, real, 1))
		failv("the fd is not the file at %s, with one link", real);
	if (memcmp((char *)map, "made", 4))
		fail("the mapping lost its contents");
	n = open(real, O_RDWR);
	if (n < 0 || pwrite(n, "R", 1, 100) != 1 || close(n))
		fail("writing by the real name");
	if (map[100] != 'R')
		fail("the mapping is not the file at the real name");

	again = sem_open(semname, 0);
	if (again == SEM_FAILED || sem_getvalue(sem, &val) || val != 3)
		failv("the semaphore is not back (value %d)", val);
	else if (sem_wait(again) || sem_getvalue(sem, &val) || val != 2)
		failv("the semaphore is not the one of its name (value %d after a wait)", val);
	sem_unlink(semname);
	unlink(real);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
