/*
 * A kernel fact Documentation/compel.md ("Lost wakeups") relies on: a
 * caught signal that comes while a task in pause() leaves a stop can run
 * its handler and return into pause() entered again, with no criu
 * anywhere. Run it by hand: restart_race [tries] [0: a tracer seizes,
 * interrupts and exits | 1: SIGSTOP then SIGCONT]; it prints how many
 * wakeups were lost.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd;

static void on_usr1(int sig)
{
	(void)sig;
}

static void holder(void)
{
	signal(SIGUSR1, on_usr1);
	while (1) {
		pause();
		if (write(report_fd, "x", 1) != 1)
			_exit(1);
	}
}

/* a tracer that seizes the holder, stops it and dies, as a killed criu */
static int tracer_dies(pid_t pid)
{
	pid_t t = fork();
	int st;

	if (t < 0)
		return -1;
	if (!t) {
		if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0) ||
		    waitpid(pid, &st, __WALL) != pid)
			_exit(1);
		_exit(0);
	}
	return waitpid(t, &st, 0) == t && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

static int stop_and_go(pid_t pid)
{
	if (kill(pid, SIGSTOP))
		return -1;
	usleep(200);
	return kill(pid, SIGCONT);
}

static int answered(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&pf, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000, mode = argc > 2 ? atoi(argv[2]) : 0, lost = 0, i;
	int p[2];
	pid_t pid;

	if (pipe(p))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		report_fd = p[1];
		holder();
	}
	usleep(100000);
	for (i = 0; i < n; i++) {
		if ((mode ? stop_and_go(pid) : tracer_dies(pid)) || kill(pid, SIGUSR1)) {
			perror("restart_race");
			break;
		}
		if (answered(p[0], 1000))
			continue;
		lost++;
		if (kill(pid, SIGUSR1) || !answered(p[0], 1000)) {
			fprintf(stderr, "restart_race: the holder answers no signal at all\n");
			break;
		}
	}
	printf("restart_race: %s: %d tries, %d lost wakeups\n", mode ? "SIGSTOP+SIGCONT" : "tracer dies", i,
	       lost);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}
