/*
 * The restore's last word, should criu die before it: a helper that
 * outlives criu and kills what the restore made unless criu told it that
 * the tree is complete.
 *
 * Every restoring process is traced by criu with PTRACE_O_EXITKILL, so a
 * dead criu takes them along. But the tree is let go one thread at a
 * time at the end; a criu killed in the middle of that would leave part
 * of it running. So criu first takes EXITKILL off every thread, then
 * commits (a byte to the reaper), then detaches: a death before the
 * commit gets the reaper to kill every task of the tree, after it the
 * tracees are let go whole by the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rst.h"

static int reaper_fd = -1;
/* Read end of a pipe the reaper holds open while it lives: EOF once it is gone. */
static int reaper_gone_fd = -1;

/* When a process started, in clock ticks since boot (stat field 22); 0 if gone. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* after ") ", field 3 is the state; field 22 is 20 fields on */
	for (int i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

static void reaper_main(int rd, const pid_t *pids, int nr)
{
	unsigned long long born = start_time(getpid());
	char c = 0;
	ssize_t n;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	do {
		n = read(rd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1 && c == 'c')
		_exit(0);
	/* criu is gone (or gave up) before the tree was whole */
	for (int i = 0; i < nr; i++) {
		unsigned long long t = start_time(pids[i]);

		/* only what was made after us: a pid may have been taken by anyone since */
		if (t && t >= born)
			kill(pids[i], SIGKILL);
	}
	_exit(0);
}

int reaper_start(struct rst_tree *tr)
{
	pid_t *pids, child;
	int nr = 0, p[2], g[2], status;

	for (int i = 0; i < tr->nr; i++)
		nr += 1 + (tr->t[i].pe ? (int)tr->t[i].pe->n_threads : 0);
	pids = calloc(nr + 1, sizeof(*pids));
	if (!pids) {
		pr_err("out of memory\n");
		return -1;
	}
	nr = 0;
	for (int i = 0; i < tr->nr; i++) {
		pids[nr++] = tr->t[i].pid;
		for (size_t j = 0; tr->t[i].pe && j < tr->t[i].pe->n_threads; j++)
			if (tr->t[i].pe->threads[j] != tr->t[i].pid)
				pids[nr++] = tr->t[i].pe->threads[j];
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe for the restore's reaper");
		free(pids);
		return -1;
	}
	if (pipe2(g, O_CLOEXEC)) {
		pr_perror("pipe for the restore's reaper");
		close(p[0]);
		close(p[1]);
		free(pids);
		return -1;
	}
	/* twice forked, so that it is nobody's child of ours and outlives us */
	child = fork();
	if (child < 0) {
		pr_perror("fork of the restore's reaper");
		close(p[0]);
		close(p[1]);
		close(g[0]);
		close(g[1]);
		free(pids);
		return -1;
	}
	if (child == 0) {
		close(p[1]);
		close(g[0]);
		if (fork() == 0) {
			int rd = fcntl(p[0], F_DUPFD, 3), gone = fcntl(g[1], F_DUPFD, 3);

			/* nothing of criu's kept open: an inherited pipe end would keep its reader waiting */
			if (rd < 0 || gone < 0 || dup2(rd, 0) < 0 || dup2(gone, 1) < 0)
				_exit(1);
			syscall(SYS_close_range, 2, ~0U, 0);
			reaper_main(0, pids, nr);
		}
		_exit(0);
	}
	close(p[0]);
	close(g[1]);
	reaper_gone_fd = g[0];
	free(pids);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	reaper_fd = p[1];
	return 0;
}

/* In a restoring process: the commit is criu's alone to make. */
void reaper_forget(void)
{
	if (reaper_fd >= 0)
		close(reaper_fd);
	if (reaper_gone_fd >= 0)
		close(reaper_gone_fd);
	reaper_fd = reaper_gone_fd = -1;
}

/*
 * criu's exit must not come before the reaper's: whoever waits for criu
 * then finds nothing of the restore still running. Not for ever: it has
 * only a few kills to make.
 */
static void reaper_wait_gone(void)
{
	struct pollfd pfd = { .fd = reaper_gone_fd, .events = POLLIN };
	char c;

	if (reaper_gone_fd < 0)
		return;
	while (poll(&pfd, 1, 5000) < 0 && errno == EINTR)
		;
	if (!(pfd.revents & (POLLIN | POLLHUP)) || read(reaper_gone_fd, &c, 1) != 0)
		pr_warn("the restore's reaper did not end within 5 s\n");
	close(reaper_gone_fd);
	reaper_gone_fd = -1;
}

int reaper_commit(void)
{
	if (reaper_fd < 0)
		return 0;
	if (write(reaper_fd, "c", 1) != 1) {
		pr_perror("telling the reaper the restore is done");
		return -1;
	}
	close(reaper_fd);
	reaper_fd = -1;
	reaper_wait_gone();
	return 0;
}

/* A failed restore: the reaper kills whatever is still there, at once. */
void reaper_abort(void)
{
	if (reaper_fd >= 0)
		close(reaper_fd);
	reaper_fd = -1;
	reaper_wait_gone();
}
