// SPDX-License-Identifier: GPL-2.0-only
/*
 * Seccomp filters: the process installs two (uname fails with EPERM;
 * sync kills the process), and a worker thread one more of its own
 * (getcwd fails with EACCES in that thread only). After C/R every filter
 * still holds: uname fails, a forked child calling sync dies by SIGSYS,
 * getcwd fails in the worker and works in the main thread.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "zdtmtst.h"

static int install(int nr, unsigned int action)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = 4, .filter = f };

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static volatile int worker_go, worker_result = -1;

static void *worker(void *arg)
{
	sigset_t term;
	char buf[256];

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	if (install(SYS_getcwd, SECCOMP_RET_ERRNO | EACCES))
		return NULL;
	worker_result = -2;
	while (!worker_go)
		usleep(10 * 1000);
	worker_result = (getcwd(buf, sizeof(buf)) == NULL && errno == EACCES);
	return NULL;
}

int main(int argc, char **argv)
{
	struct utsname u;
	pthread_t t;
	char buf[256];
	int status;
	pid_t pid;

	test_init(argc, argv);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    install(SYS_uname, SECCOMP_RET_ERRNO | EPERM) ||
	    install(SYS_sync, SECCOMP_RET_KILL_PROCESS))
		test_bug("installing filters");
	if (pthread_create(&t, NULL, worker, NULL))
		test_bug("pthread_create");
	while (worker_result != -2)
		usleep(1000);

	test_daemon();
	test_waitsig();

	errno = 0;
	if (uname(&u) == 0 || errno != EPERM)
		failv("uname is not filtered any more (errno %d)", errno);
	pid = fork();
	if (pid == 0) {
		sync();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		failv("a child calling sync was not killed by SIGSYS (status %#x)", status);
	if (!getcwd(buf, sizeof(buf)))
		fail("getcwd in the main thread");
	worker_go = 1;
	pthread_join(t, NULL);
	if (worker_result != 1)
		failv("getcwd is not filtered in the worker thread (%d)", worker_result);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
