// SPDX-License-Identifier: GPL-2.0-only
/*
 * For wakeup_kill.py: threads waiting for a signal in the three ways the
 * kernel restarts a syscall, each reporting what the signal did to it:
 *
 *   main   pause() until SIGUSR1 (no SA_RESTART): pause must return EINTR;
 *   sleep  nanosleep(1000 s) until SIGUSR2 (no SA_RESTART): EINTR, early;
 *   read   read() of FIFO with SIGHUP caught with SA_RESTART: the read
 *          must go on after the handler, and return the byte written
 *          into the FIFO after the signal, not EINTR.
 *
 * It writes "ready MAIN SLEEP READ" (thread ids) to OUT, then each thread
 * writes OUT.NAME: "ok" or "bad: why". A signal whose wakeup is lost
 * leaves a thread silent.
 *
 *   wakeup_holder OUT FIFO
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *out;
static int fifo_fd;
static volatile sig_atomic_t got_usr1, got_usr2, got_hup;
static volatile pid_t tid_sleep, tid_read;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else if (sig == SIGUSR2)
		got_usr2 = 1;
	else
		got_hup = 1;
}

static void report(const char *name, const char *text)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s%s", out, *name ? "." : "", name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%s\n", text);
	fclose(f);
	rename(tmp, path);
}

static void catch(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

static void *sleeper(void *arg)
{
	struct timespec t = { 1000, 0 };
	char why[128];
	int r;

	(void)arg;
	tid_sleep = syscall(SYS_gettid);
	while (1) {
		r = nanosleep(&t, &t);
		if (r && errno == EINTR && got_usr2) {
			report("sleep", "ok");
			got_usr2 = 0;
			t.tv_sec = 1000;
			t.tv_nsec = 0;
			continue;
		}
		snprintf(why, sizeof(why), "bad: nanosleep gave %d (%s) without SIGUSR2", r, strerror(errno));
		report("sleep", why);
		t.tv_sec = 1000;
	}
	return NULL;
}

static void *reader(void *arg)
{
	char c, why[128];
	ssize_t n;

	(void)arg;
	tid_read = syscall(SYS_gettid);
	while (1) {
		n = read(fifo_fd, &c, 1);
		if (n == 1 && got_hup) {
			got_hup = 0;
			report("read", "ok");
			continue;
		}
		snprintf(why, sizeof(why), "bad: read gave %zd (%s), SIGHUP %s", n, n < 0 ? strerror(errno) : "-",
			 got_hup ? "caught" : "not caught");
		got_hup = 0;
		report("read", why);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t1, t2;
	char text[128];

	if (argc != 3)
		return 2;
	out = argv[1];
	fifo_fd = open(argv[2], O_RDWR);
	if (fifo_fd < 0)
		return 1;
	catch(SIGUSR1, 0);
	catch(SIGUSR2, 0);
	catch(SIGHUP, SA_RESTART);
	if (pthread_create(&t1, NULL, sleeper, NULL) || pthread_create(&t2, NULL, reader, NULL))
		return 1;
	while (!tid_sleep || !tid_read)
		usleep(1000);
	snprintf(text, sizeof(text), "ready %d %d %d", getpid(), tid_sleep, tid_read);
	report("", text);
	while (1) {
		int r = pause();

		if (r == -1 && errno == EINTR && got_usr1) {
			got_usr1 = 0;
			report("main", "ok");
			continue;
		}
		report("main", "bad: pause returned without SIGUSR1");
	}
	return 0;
}
