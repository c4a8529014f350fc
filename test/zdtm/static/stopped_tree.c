// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stopped tasks below the root, each stopped by its own signal: a child
 * that stopped itself with SIGTSTP, one stopped by SIGTTIN from the root,
 * and a child with three threads stopped by SIGSTOP. Each child leads its
 * own process group (stops by SIGTSTP/SIGTTIN are dropped in an orphaned
 * group). None of the stops has been collected by the root yet. After
 * C/R every thread of every child is stopped (state T), and the root's
 * waitid(WSTOPPED) reports each child as stopped by the very signal that
 * stopped it; after SIGCONT each child runs on, checks its memory and
 * exits 0 on SIGTERM.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "zdtmtst.h"

#define NR	3
#define SZ	(1 << 20)

static const int stopsig[NR] = { SIGTSTP, SIGTTIN, SIGSTOP };
static char *mem;

static void *idle(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

static void __attribute__((noreturn)) child(int i)
{
	sigset_t none;

	setpgid(0, 0);
	signal(SIGTERM, SIG_DFL);
	zdtm_fill(mem, SZ, 100 + i);
	if (i == 2)
		for (int k = 0; k < 2; k++) {
			pthread_t t;

			if (pthread_create(&t, NULL, idle, NULL))
				_exit(2);
		}
	if (i == 0)
		raise(SIGTSTP);
	/* the stop comes; after SIGCONT wait for SIGUSR1 */
	sigemptyset(&none);
	if (zdtm_wait_usr1())
		_exit(3);
	_exit(zdtm_check(mem, SZ, 100 + i) == (size_t)-1 ? 0 : 4);
	(void)none;
}

static int all_stopped(pid_t pid)
{
	char path[320], *buf, *p;
	int n = 0, bad = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, de->d_name);
		if (zdtm_read_file(path, &buf) < 0) {
			bad++;
			continue;
		}
		p = strrchr(buf, ')');
		if (!p || p[2] != 'T')
			bad++;
		n++;
		free(buf);
	}
	closedir(d);
	return n && !bad ? n : 0;
}

int main(int argc, char **argv)
{
	pid_t pid[NR];
	int status;

	test_init(argc, argv);
	mem = malloc(SZ);
	if (!mem)
		test_bug("malloc");
	zdtm_block_usr1(true);

	for (int i = 0; i < NR; i++) {
		pid[i] = zdtm_fork();
		if (!pid[i])
			child(i);
		setpgid(pid[i], pid[i]);
	}
	usleep(100 * 1000);
	kill(pid[1], SIGTTIN);
	kill(pid[2], SIGSTOP);
	for (int i = 0; i < NR; i++)
		while (all_stopped(pid[i]) != (i == 2 ? 3 : 1))
			usleep(1000);
	test_daemon();
	test_waitsig();

	for (int i = 0; i < NR; i++) {
		siginfo_t si = { 0 };

		if (all_stopped(pid[i]) != (i == 2 ? 3 : 1))
			failv("child %d (%d) is not stopped in all its threads", i, pid[i]);
		if (waitid(P_PID, pid[i], &si, WSTOPPED | WNOHANG))
			fail("waitid %d", pid[i]);
		else if (si.si_pid != pid[i] || si.si_code != CLD_STOPPED || si.si_status != stopsig[i])
			failv("child %d: waitid says pid %d code %d status %d, want stopped by %d", i, si.si_pid,
			      si.si_code, si.si_status, stopsig[i]);
	}
	for (int i = 0; i < NR; i++) {
		kill(pid[i], SIGCONT);
		if (zdtm_wake_and_reap(pid[i], &status))
			failv("child %d: status %#x", i, status);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
