// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process-tree features at once around an unlinked file. The test maps
 * an unlinked 64 KiB file MAP_SHARED read-write (fd 30 kept). Its child
 * A makes a process group, child B joins it and A exits and is reaped,
 * so the group has no leader; child Z exits with 42 and stays a zombie;
 * child V is made with clone(CLONE_VM | CLONE_SIGHAND) and stops itself
 * (SIGSTOP). B and V have the
 * file mapped through the test's mapping (B a copy of it, V the very
 * same). After C/R: B is in group A and A's pid is free; Z is a zombie
 * and reaping it gives 42; V is stopped until SIGCONT; kill(-A, SIGUSR1) reaches B, which then writes
 * page 1 of its mapping; V writes page 2 once told through memory; the
 * test sees both writes in its mapping and through fd 30, which is still
 * an unlinked file, and B and V exit 0 (V had found the test's SIGUSR2
 * handler installed after C/R as its own).
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define FD	30
#define SZ	(64 * 1024)
#define SEED	0x6a05
#define PG	ZDTM_PAGE_SIZE

static char *map;
static volatile int v_step, v_usr2;
static volatile sig_atomic_t b_go;

static void on_usr1(int sig)
{
	b_go = 1;
}

static void on_usr2(int sig)
{
	v_usr2 = 1;
}

static char state_of(pid_t pid)
{
	char path[64], *buf, st = '?', *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && p[1] == ' ')
		st = p[2];
	free(buf);
	return st;
}

static void __attribute__((noreturn)) member(pid_t pgid)
{
	sigset_t none;

	sigemptyset(&none);
	while (!b_go)
		sigsuspend(&none);
	if (getpgrp() != pgid)
		_exit(3);
	if (zdtm_check(map + PG, PG, SEED + 1) != (size_t)-1)
		_exit(4);
	memcpy(map + PG, "written by B", 12);
	_exit(0);
}

static int vm_child(void *arg)
{
	raise(SIGSTOP);
	while (v_step < 1)
		usleep(1000);
	if (zdtm_check(map + 2 * PG, PG, SEED + 2) != (size_t)-1)
		return 4;
	memcpy(map + 2 * PG, "written by V", 12);
	raise(SIGUSR2);
	return v_usr2 ? 0 : 5;
}

static void reap(pid_t pid, int want, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid %s", who);
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != want)
		failv("%s ended with %#x, want exit %d", who, st, want);
}

int main(int argc, char **argv)
{
	char buf[16] = {};
	sigset_t usr1;
	struct stat st;
	pid_t a, b, z, v;
	int fd, s;

	test_init(argc, argv);
	fd = open("ghost", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || dup2(fd, FD) != FD || ftruncate(FD, SZ))
		test_bug("file");
	close(fd);
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, FD, 0);
	if (map == MAP_FAILED)
		test_bug("mmap");
	for (int i = 0; i < SZ / (int)PG; i++)
		zdtm_fill(map + i * PG, PG, SEED + i);
	if (unlink("ghost"))
		test_bug("unlink");

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGUSR1, on_usr1);
	a = fork();
	if (a < 0)
		test_bug("fork");
	if (a == 0) {
		if (setpgid(0, 0))
			_exit(1);
		pause();
		_exit(0);
	}
	setpgid(a, a);
	b = fork();
	if (b < 0)
		test_bug("fork");
	if (b == 0) {
		if (setpgid(0, a))
			_exit(1);
		member(a);
	}
	setpgid(b, a);
	kill(a, SIGKILL);
	if (waitpid(a, &s, 0) != a)
		test_bug("reap the leader");
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);
	signal(SIGUSR1, SIG_IGN);
	z = fork();
	if (z < 0)
		test_bug("fork");
	if (z == 0)
		_exit(42);
	v = zdtm_clone(vm_child, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	if (v < 0)
		test_bug("clone");
	while (state_of(z) != 'Z' || state_of(v) != 'T')
		usleep(1000);
	if (getpgid(b) != a)
		test_bug("B is in group %d, not %d", getpgid(b), a);

	test_daemon();
	test_waitsig();

	if (getpgid(b) != a)
		failv("B is in group %d, want %d", getpgid(b), a);
	if (kill(a, 0) == 0 || errno != ESRCH)
		failv("the group leader's pid %d is taken", a);
	if (state_of(z) != 'Z')
		failv("Z is in state %c, not a zombie", state_of(z));
	reap(z, 42, "the zombie");
	if (state_of(v) != 'T')
		failv("V is in state %c, not stopped", state_of(v));
	kill(v, SIGCONT);
	signal(SIGUSR2, on_usr2);
	v_step = 1;
	if (kill(-a, SIGUSR1))
		fail("kill(-%d)", a);
	reap(b, 0, "B");
	reap(v, 0, "V");
	if (memcmp(map + PG, "written by B", 12) || memcmp(map + 2 * PG, "written by V", 12))
		failv("the children's writes are not in the mapping");
	if (pread(FD, buf, 12, 2 * PG) != 12 || memcmp(buf, "written by V", 12))
		failv("V's write is not in the file: '%s'", buf);
	if (pread(FD, buf, 12, PG) != 12 || memcmp(buf, "written by B", 12))
		failv("B's write is not in the file: '%s'", buf);
	for (int i = 3; i < SZ / (int)PG; i++)
		if (zdtm_check(map + i * PG, PG, SEED + i) != (size_t)-1)
			failv("page %d of the file changed", i);
	if (fstat(FD, &st) || st.st_nlink != 0 || st.st_size != SZ)
		failv("fd %d is no unlinked file of %d bytes (nlink %ld)", FD, SZ, (long)st.st_nlink);
	if (!test_failures)
		pass();
	return 0;
}
