/*
 * --shell-job restored in the foreground of a terminal: criu stands in for
 * the job the way a shell's child would. A job that was its terminal's
 * foreground group at the dump becomes the foreground group of criu's
 * terminal (criu is its stand-in: the shell waits for criu), so that it
 * reads the terminal and Ctrl-C, Ctrl-Z reach it, not criu. When the job
 * stops, criu takes the terminal back and stops the same way, so the
 * shell sees a stopped job; `fg` gives the job the terminal again, `bg`
 * lets it go on in the background. When it ends, the terminal goes back
 * to criu's group, then to the shell. The job gets its terminal modes
 * (a full-screen program's raw mode) on criu's terminal, and a SIGWINCH
 * once it runs, as on a resize: a full-screen program draws itself anew
 * on the new terminal, at its size.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "rst.h"

static int jc_tty = -1;		/* criu's terminal, while the job may hold it */
static pid_t jc_pgid;
static struct termios jc_ours;	/* the terminal's modes when we took it */
static int jc_have_ours;

/* SIGTTOU would stop a background caller of tcsetpgrp(). */
static int set_fg(pid_t pgrp)
{
	sigset_t ttou, old;
	int ret;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	ret = tcsetpgrp(jc_tty, pgrp);
	if (ret)
		pr_perror("can't make group %d the foreground of criu's terminal", pgrp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* The job's modes on the terminal, but its line settings (speed, size, parity: cflag) */
static void job_modes(const ShellTtyEntry *st)
{
	struct termios t;

	jc_have_ours = !tcgetattr(jc_tty, &jc_ours);
	if (!st || !jc_have_ours)
		return;
	t = jc_ours;
	t.c_iflag = st->iflag;
	t.c_oflag = st->oflag;
	t.c_lflag = st->lflag;
	memcpy(t.c_cc, st->cc.data, st->cc.len < NCCS ? st->cc.len : NCCS);
	if (tcsetattr(jc_tty, TCSADRAIN, &t))
		pr_warn("can't give criu's terminal the job's modes: %s\n", strerror(errno));
}

/* Back to the modes the terminal had, as a shell does when its job stops or ends. */
static void our_modes(void)
{
	sigset_t ttou, old;

	if (!jc_have_ours)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetattr(jc_tty, TCSADRAIN, &jc_ours);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int jobctl_take(const InventoryEntry *inv, pid_t root)
{
	if (!opts.shell_job || !inv->shell_job_fg || opts.restore_detached || opts.restore_sibling)
		return 0;
	jc_tty = open_shell_tty();
	if (jc_tty < 0)
		return 0;
	/* in the background ourselves (`criu restore ... &`): the job stays there too */
	if (tcgetpgrp(jc_tty) != getpgrp()) {
		close(jc_tty);
		jc_tty = -1;
		return 0;
	}
	jc_pgid = root;
	job_modes(inv->shell_tty);
	if (set_fg(root)) {
		our_modes();
		close(jc_tty);
		jc_tty = -1;
		return -1;
	}
	pr_info("group %d is the foreground of criu's terminal\n", root);
	return 0;
}

/* The state letter of @pid, '?' if unknown. */
static char task_state(pid_t pid)
{
	char buf[512], *p;

	if (compel_read_stat(pid, buf, sizeof(buf), &p))
		return '?';
	return p && p[1] == ' ' ? p[2] : '?';
}

/*
 * Once the job sleeps again (in the read or poll it was dumped in, most
 * likely): a signal that came as it went back into that call would be
 * handled before it, and a program that only looks at what its handler
 * noted when the call is interrupted would not look until input comes.
 */
void jobctl_resumed(void)
{
	if (jc_tty < 0)
		return;
	for (int i = 0; i < 100 && task_state(jc_pgid) == 'R'; i++)
		usleep(5000);
	kill(-jc_pgid, SIGWINCH);
}

void jobctl_give_back(void)
{
	if (jc_tty < 0)
		return;
	if (tcgetpgrp(jc_tty) == jc_pgid)
		set_fg(getpgrp());
	our_modes();
	close(jc_tty);
	jc_tty = -1;
}

/* The job stopped: so do we, as it did; on SIGCONT it goes on too, in the foreground if we are there. */
static void follow_stop(int sig)
{
	struct termios job;
	int have_job;

	if (tcgetpgrp(jc_tty) == jc_pgid)
		set_fg(getpgrp());
	/* its modes, for when it goes on in the foreground; the shell gets ours */
	have_job = !tcgetattr(jc_tty, &job);
	our_modes();
	signal(sig, SIG_DFL);
	kill(getpid(), sig == SIGSTOP ? SIGSTOP : sig);
	/* continued: by `fg` (our group has the terminal) or `bg` */
	if (tcgetpgrp(jc_tty) == getpgrp()) {
		jc_have_ours = !tcgetattr(jc_tty, &jc_ours);
		if (have_job)
			tcsetattr(jc_tty, TCSADRAIN, &job);
		set_fg(jc_pgid);
	}
	kill(-jc_pgid, SIGCONT);
}

int jobctl_wait(pid_t pid, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, jc_tty >= 0 ? WUNTRACED : 0);

		if (w < 0 && errno == EINTR)
			continue;
		if (w != pid) {
			pr_perror("waiting for %d", pid);
			jobctl_give_back();
			return -1;
		}
		if (WIFSTOPPED(*status)) {
			int sig = WSTOPSIG(*status);

			follow_stop(sig == SIGTTIN || sig == SIGTTOU || sig == SIGSTOP ? sig : SIGTSTP);
			continue;
		}
		jobctl_give_back();
		return 0;
	}
}
