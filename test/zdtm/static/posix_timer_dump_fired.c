// SPDX-License-Identifier: GPL-2.0-only
/*
 * One-shot POSIX timers that go off while their task is being dumped,
 * between the read of its pending signals and the parasite's read of its
 * timers: read spent and with their signals in no list, they came back
 * spent and silent, their expiries lost. A child keeps three chains of
 * one-shot timers going (each handler arms its timer again, 250 ms on;
 * the chains 83 ms apart, so one of them goes off in any 83 ms), and its
 * parent's 512 MiB, dumped before the child's parasite runs, hold that
 * window open for well over 83 ms. After C/R every chain must still go
 * on: a lost expiry ends its chain.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

#define MEM	(512UL << 20)
#define CHAINS	3
#define STEP_MS	250

static timer_t timers[CHAINS];
static volatile sig_atomic_t fired[CHAINS];

static void arm(int k, long ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (ms % 1000) * 1000 * 1000 } };

	timer_settime(timers[k], 0, &its, NULL);
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	int k = si->si_value.sival_int;

	fired[k]++;
	arm(k, STEP_MS);
}

/* The child: its chains, then its verdict in its exit status once told (SIGTERM from the parent). */
static int child(void)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct timespec ts = { .tv_nsec = 3 * STEP_MS * 1000 * 1000 };
	int before[CHAINS], sig;
	sigset_t term;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	for (int k = 0; k < CHAINS; k++) {
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + k,
				       .sigev_value.sival_int = k };

		if (sigaction(SIGRTMIN + k, &sa, NULL) || timer_create(CLOCK_MONOTONIC, &ev, &timers[k]))
			return 2;
	}
	for (int k = 0; k < CHAINS; k++)
		arm(k, STEP_MS + k * STEP_MS / CHAINS);
	while (sigwait(&term, &sig))
		;
	for (int k = 0; k < CHAINS; k++)
		before[k] = fired[k];
	while (nanosleep(&ts, &ts))
		;
	for (int k = 0; k < CHAINS; k++)
		if (fired[k] == before[k])
			return 10 + k;
	return 0;
}

int main(int argc, char **argv)
{
	int status;
	char *mem;
	pid_t pid;

	test_init(argc, argv);
	pid = zdtm_fork();
	if (!pid)
		_exit(child());
	/* the parent's memory only: the child's parasite comes after it */
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		test_bug("mmap");
	for (size_t i = 0; i < MEM; i += 4096)
		mem[i] = (char)(i >> 12) | 1;	/* no zero pages: each is dumped */
	test_daemon();
	test_waitsig();

	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		fail("the child did not exit");
	else if (WEXITSTATUS(status) >= 10)
		failv("timer chain %d stopped: an expiry was lost", WEXITSTATUS(status) - 10);
	else if (WEXITSTATUS(status))
		failv("the child failed (%d)", WEXITSTATUS(status));
	for (size_t i = 0; i < MEM; i += 4096)
		if (mem[i] != ((char)(i >> 12) | 1)) {
			fail("memory changed");
			break;
		}
	if (test_failures)
		return 1;
	pass();
	return 0;
}
