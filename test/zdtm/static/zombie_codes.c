// SPDX-License-Identifier: GPL-2.0-only
/*
 * Zombies in every way a process can end: exit codes 0, 1, 42, 127, 128
 * and 255, and death by every signal whose default action kills: the
 * plain ones (SIGHUP, SIGKILL, SIGTERM, SIGUSR1, SIGALRM, SIGPIPE, RT
 * signals, ...) and those that dump core (SIGQUIT, SIGILL, SIGABRT,
 * SIGBUS, SIGFPE, SIGSEGV, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ), with
 * RLIMIT_CORE 0 so that no core is written; and one killed by SIGABRT
 * that did dump core (a tiny one, into the test's directory), if the
 * core pattern writes a file there. After C/R all are zombies still, and
 * reaping each gives the status it had, the core-dump flag included.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static const int codes[] = { 0, 1, 42, 127, 128, 255 };
static const int sigs[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2,
	SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS,
	34, 35, 50, 64,
};
#define NR_CODES	(sizeof(codes) / sizeof(codes[0]))
#define NR_SIGS		(sizeof(sigs) / sizeof(sigs[0]))
#define NR		(NR_CODES + NR_SIGS + 1)

/* In the child that dumps core: a small core, in the cwd if the pattern says so. */
static void core_on(void)
{
	struct rlimit rl;
	int fd = open("/proc/self/coredump_filter", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "0", 1) != 1)
			_exit(5);
		close(fd);
	}
	getrlimit(RLIMIT_CORE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_CORE, &rl);
}

static char state_of(pid_t pid)
{
	char path[64], *buf, st = '?', *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return '?';
	p = strrchr(buf, ')');
	if (p && p[1])
		st = p[2];
	free(buf);
	return st;
}

int main(int argc, char **argv)
{
	struct rlimit nocore;
	pid_t pid[NR];
	int want[NR], status;
	sigset_t all, old;
	siginfo_t si;
	int core_status = 0;

	test_init(argc, argv);
	getrlimit(RLIMIT_CORE, &nocore);
	nocore.rlim_cur = 0;
	if (setrlimit(RLIMIT_CORE, &nocore))
		test_bug("RLIMIT_CORE");
	/* a child takes its signal only once it has the default handlers */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (size_t i = 0; i < NR; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			test_bug("fork");
		if (pid[i] == 0) {
			if (i < NR_CODES)
				_exit(codes[i]);
			if (i == NR - 1)
				core_on();
			for (int s = 1; s < 65; s++)
				signal(s, SIG_DFL);
			sigprocmask(SIG_UNBLOCK, &all, NULL);
			for (;;)
				pause();
		}
		if (i >= NR_CODES)
			kill(pid[i], i == NR - 1 ? SIGABRT : sigs[i - NR_CODES]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (size_t i = 0; i < NR; i++) {
		while (state_of(pid[i]) != 'Z')
			usleep(1000);
		if (waitid(P_PID, pid[i], &si, WEXITED | WNOWAIT))
			test_bug("waitid");
		if (i == NR - 1)
			core_status = SIGABRT | (si.si_code == CLD_DUMPED ? 0x80 : 0);
		want[i] = i < NR_CODES ? codes[i] << 8 : i == NR - 1 ? core_status : sigs[i - NR_CODES];
	}

	test_daemon();
	test_waitsig();

	for (size_t i = 0; i < NR; i++) {
		if (state_of(pid[i]) != 'Z')
			failv("%d is not a zombie (%c)", pid[i], state_of(pid[i]));
		if (waitpid(pid[i], &status, 0) != pid[i])
			fail("waitpid %d", pid[i]);
		else if (status != want[i])
			failv("%d: status %#x, want %#x", pid[i], status, want[i]);
	}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
