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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "rst.h"

static int reaper_fd = -1;
/* a pidfd of the reaper: readable once it has exited */
static int reaper_alive = -1;
/*
 * The commit itself: one word in a page shared with the reaper and with
 * the restore's network keeper (forked after it). Set before the byte to
 * the reaper, it makes the commit one store: a criu that dies after it
 * and before its word reaches either (the reaper's read, the keeper's
 * end message) leaves both knowing the tree is let go whole. A pipe's
 * byte alone would leave the keeper to relock the network of a tree
 * that runs.
 */
static volatile int *commit_word;

int reaper_committed(void)
{
	return commit_word && __atomic_load_n(commit_word, __ATOMIC_SEQ_CST);
}

/* When a process started, in clock ticks since boot (stat field 22); 0 if gone. */
static unsigned long long start_time(pid_t pid)
{
	char buf[1024], *p;
	unsigned long long t = 0;

	if (compel_read_stat(pid, buf, sizeof(buf), &p))
		return 0;
	/* after ") ", field 3 is the state; field 22 is 20 fields on */
	for (int i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

/*
 * The --pidfile a restore writes just before its commit: a criu dead
 * before the commit leaves its tree killed, and the file would name a
 * pid that is gone (or someone else's). Removed if it names the root.
 */
static void drop_pidfile(const char *path, pid_t root)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		if (atoi(buf) == root)
			unlink(path);
	}
}

static void reaper_main(int rd, const pid_t *pids, int nr, const char *pidfile)
{
	unsigned long long born = start_time(getpid());
	int errors = 0;
	char c = 0;
	ssize_t n;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Only criu's word or the end of the pipe (criu gone) decide: a read
	 * that fails says neither, and killing the tree on it would take a
	 * good restore down. Asked again, a few times (it has no log to say it).
	 */
	do {
		n = read(rd, &c, 1);
	} while (n < 0 && (errno == EINTR || errors++ < 3));
	/*
	 * 'c': the tree is whole. 'a': the restore failed and criu ended
	 * (killed and waited for) all it made itself, or made nothing: a
	 * pid of the tree's that is alive now is someone else's, such as
	 * another restore of the same images that won the pid from us.
	 */
	if ((n == 1 && (c == 'c' || c == 'a')) || reaper_committed())
		_exit(0);
	/*
	 * criu is gone before the tree was whole. What was born after us at
	 * a pid of the tree's is taken to be ours (another restore of these
	 * images at the same moment would lose its process here).
	 */
	for (int i = 0; i < nr; i++) {
		unsigned long long t = start_time(pids[i]);

		/* only what was made after us: a pid may have been taken by anyone since */
		if (t && t >= born)
			kill(pids[i], SIGKILL);
	}
	if (pidfile)
		drop_pidfile(pidfile, pids[0]);
	_exit(0);
}

int reaper_start(struct rst_tree *tr)
{
	pid_t *pids;
	int nr = 0, ret;

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
	ret = reaper_start_pids(pids, nr);
	free(pids);
	return ret;
}

/* The same for these pids (in a pid namespace of the tree's: its first process, which takes it all along). */
int reaper_start_pids(const pid_t *pids, int nr)
{
	char full[4096];
	const char *pidfile = opts.pidfile ? pidfile_path(opts.pidfile, full, sizeof(full)) : NULL;
	pid_t child;
	int p[2], q[2], status;

	if (!commit_word) {
		void *w = mmap(NULL, sizeof(*commit_word), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (w == MAP_FAILED) {
			pr_perror("shared page for the restore's commit");
			return -1;
		}
		commit_word = w;
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("pipe for the restore's reaper");
		return -1;
	}
	if (pipe2(q, O_CLOEXEC)) {
		pr_perror("pipe for the restore's reaper");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	/* twice forked, so that it is nobody's child of ours and outlives us */
	child = fork();
	if (child < 0) {
		pr_perror("fork of the restore's reaper");
		close(p[0]);
		close(p[1]);
		close(q[0]);
		close(q[1]);
		return -1;
	}
	if (child == 0) {
		pid_t g;

		close(p[1]);
		close(q[0]);
		g = fork();
		if (g < 0)
			_exit(1);	/* reported by criu: no reaper, no restore */
		if (g == 0) {
			/* nothing of criu's kept open: an inherited pipe end would keep its reader waiting */
			if (p[0] > 0)
				syscall(SYS_close_range, 0, p[0] - 1, 0);
			syscall(SYS_close_range, p[0] + 1, ~0U, 0);
			reaper_main(p[0], pids, nr, pidfile);
		}
		/* its pid, for criu to wait for its end: it waits for criu's word till then */
		_exit(write(q[1], &g, sizeof(g)) == sizeof(g) ? 0 : 1);
	}
	close(p[0]);
	close(q[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || read(q[0], &child, sizeof(child)) != sizeof(child)) {
		/* the commit would have written to a pipe nobody reads: SIGPIPE */
		pr_err("can't fork the restore's reaper (its parent ended with status 0x%x)\n", status);
		close(p[1]);
		close(q[0]);
		return -1;
	}
	close(q[0]);
	reaper_fd = p[1];
	/* without a pidfd (not expected here) criu just does not wait for it */
	reaper_alive = syscall(SYS_pidfd_open, child, 0);
	return 0;
}

/*
 * criu returns only once the reaper is gone: a caller that finds a
 * process of criu's left after a failed restore would be right to count
 * it (mutate.py did, about one failed restore in 80). Its pidfd, not the
 * EOF of a pipe it holds: files are closed early in an exit, and the
 * process was still found running.
 */
static void reaper_wait(void)
{
	struct pollfd p = { .fd = reaper_alive, .events = POLLIN };

	if (reaper_alive < 0)
		return;
	/* its work after our word is a few kill()s: 5 s is plenty, never hang on it */
	while (poll(&p, 1, 5000) < 0 && errno == EINTR)
		;
	if (!(p.revents & POLLIN))
		pr_warn("the restore's reaper did not end within 5 s\n");
	close(reaper_alive);
	reaper_alive = -1;
}

/* In a restoring process: the commit is criu's alone to make. */
void reaper_forget(void)
{
	if (reaper_fd >= 0)
		close(reaper_fd);
	reaper_fd = -1;
	if (reaper_alive >= 0)
		close(reaper_alive);
	reaper_alive = -1;
}

int reaper_commit(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	ssize_t n;

	if (reaper_fd < 0)
		return 0;
	__atomic_store_n(commit_word, 1, __ATOMIC_SEQ_CST);
	pr_info("the restore is committed: the tree runs whatever becomes of criu\n");
	/* a reaper gone (killed by someone) is an error of ours, not a SIGPIPE */
	sigaction(SIGPIPE, &ign, &old);
	n = write(reaper_fd, "c", 1);
	sigaction(SIGPIPE, &old, NULL);
	if (n != 1) {
		__atomic_store_n(commit_word, 0, __ATOMIC_SEQ_CST);
		pr_perror("telling the reaper the restore is done");
		return -1;
	}
	close(reaper_fd);
	reaper_fd = -1;
	reaper_wait();
	return 0;
}

/*
 * A failed restore that ended (killed and waited for) everything it made,
 * or made nothing: the reaper must kill nothing.
 */
void reaper_abort(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;

	if (reaper_fd >= 0) {
		/* a reaper gone or not told kills what was born after it: the pipe's end says so */
		sigaction(SIGPIPE, &ign, &old);
		if (write(reaper_fd, "a", 1) != 1)
			pr_perror("telling the reaper the tree is gone");
		sigaction(SIGPIPE, &old, NULL);
		close(reaper_fd);
	}
	reaper_fd = -1;
	reaper_wait();
}
