/*
 * compel against a real child process: syscall injection, loading a blob
 * with relocations, RPC, fd passing both ways, a crashing parasite, and
 * that the child always carries on as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "compel/compel.h"
#include "testblob-blob.h"
#include "testblob.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = 1;
}

/* The child: sleeps in sigsuspend until SIGUSR1, then exits 7. */
static pid_t start_child(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t mask, old;

		/* a failed assertion ends the test without finish_child(): go with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGUSR1, on_usr1);
		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR1);
		sigprocmask(SIG_BLOCK, &mask, &old);
		while (!got_usr1)
			sigsuspend(&old);
		_exit(7);
	}
	usleep(50 * 1000);	/* let it reach sigsuspend */
	return pid;
}

static char *read_maps(pid_t pid)
{
	char path[64], *buf = calloc(1, 1 << 16);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && buf);
	assert_true(read(fd, buf, (1 << 16) - 1) > 0);
	close(fd);
	return buf;
}

/* Detach, wake it, and require it to exit 7 as it would have. */
static void finish_child(pid_t pid)
{
	int status;

	assert_int_equal(compel_resume_task(pid, COMPEL_TASK_ALIVE), 0);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
}

static void test_blob_relocs(void **state)
{
	const struct compel_blob *b = &testblob_blob;
	uint8_t *m1 = calloc(1, b->mem_size), *m2 = calloc(1, b->mem_size);

	/* the handler table must need relocating */
	assert_true(b->nr_relocs >= 4);
	compel_blob_load(b, m1, 0x10000);
	compel_blob_load(b, m2, 0x7f0000000000UL);
	for (size_t i = 0; i < b->nr_relocs; i++) {
		uint64_t v1, v2;

		memcpy(&v1, m1 + b->relocs[i].off, 8);
		memcpy(&v2, m2 + b->relocs[i].off, 8);
		assert_int_equal(v1 - 0x10000, b->relocs[i].addend);
		assert_int_equal(v2 - 0x7f0000000000UL, b->relocs[i].addend);
	}
	free(m1);
	free(m2);
}

static void test_syscall(void **state)
{
	pid_t pid = start_child();
	struct parasite_ctl *ctl;
	char *before = read_maps(pid), *after;
	long ret = 0;

	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	/* it was stopped inside sigsuspend */
	assert_int_equal(compel_orig_state(ctl)->regs.orig_rax, __NR_rt_sigsuspend);
	assert_int_equal(compel_syscall(ctl, __NR_getpid, &ret, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(ret, pid);
	assert_int_equal(compel_syscall(ctl, __NR_getppid, &ret, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(ret, getpid());
	assert_int_equal(compel_cure(ctl), 0);
	after = read_maps(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	free(before);
	free(after);
}

static void test_infect_rpc(void **state)
{
	pid_t pid = start_child();
	struct testblob_args *a;
	struct parasite_ctl *ctl;
	char *before = read_maps(pid), *after, buf[16] = { 0 };
	struct stat s1, s2;
	int p[2], back = -1;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(*a)), 0);
	a = compel_parasite_args(ctl);

	a->x = 2;
	a->y = 40;
	assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_ADD), 0);
	assert_int_equal(a->result, 42);

	assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_GETPID), 0);
	assert_int_equal(a->result, pid);

	assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_STRING), 0);
	assert_string_equal(a->str, "hello from the blob");

	assert_int_equal(compel_rpc_call(ctl, TB_CMD_FDS), 0);
	assert_int_equal(compel_send_fds(ctl, &p[1], 1), 0);
	assert_int_equal(compel_recv_fds(ctl, &back, 1), 0);
	assert_int_equal(compel_rpc_sync(ctl, TB_CMD_FDS), 0);
	assert_int_equal(read(p[0], buf, 8), 8);
	assert_string_equal(buf, "parasite");
	assert_int_equal(fstat(back, &s1), 0);
	assert_int_equal(fstat(p[1], &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);

	/* an unknown command is an error, not a crash */
	assert_int_equal(compel_rpc_call_sync(ctl, 1000), -1);
	assert_int_equal(errno, ENOSYS);

	assert_int_equal(compel_cure(ctl), 0);
	after = read_maps(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	close(p[0]);
	close(p[1]);
	close(back);
	free(before);
	free(after);
}

static void test_parasite_crash(void **state)
{
	pid_t pid = start_child();
	struct parasite_ctl *ctl;
	char *before = read_maps(pid), *after;

	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)), 0);
	assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_CRASH), -1);
	/* cure after a crash still takes everything out */
	compel_cure(ctl);
	after = read_maps(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	free(before);
	free(after);
}

/*
 * fds that can't be passed (sendmsg fails) while the parasite waits for
 * them: the cure still takes everything out, and at once. It used to send
 * FINI down the channel out of step and wait out the RPC timeout (2 min).
 */
static void test_send_fds_fails(void **state)
{
	pid_t pid = start_child();
	struct parasite_ctl *ctl;
	char *before = read_maps(pid), *after;
	struct timespec t0, t1;
	int bad = 1000;		/* not open: sendmsg() fails with EBADF */

	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)), 0);
	assert_int_equal(compel_rpc_call(ctl, TB_CMD_FDS), 0);
	assert_int_equal(compel_send_fds(ctl, &bad, 1), -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	compel_cure(ctl);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	after = read_maps(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	free(before);
	free(after);
}

/* The fds of @pid, as "N N N ..." (malloc'ed). */
static char *read_fds(pid_t pid)
{
	char path[64], *out = calloc(1, 4096);
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	assert_non_null(d);
	assert_non_null(out);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			snprintf(out + strlen(out), 4096 - strlen(out), "%s ", de->d_name);
	closedir(d);
	return out;
}

/*
 * The daemon can be stopped between opening an fd and noting its number
 * (its socket, right after socket()): the cure closes every fd the task
 * did not have before the daemon ran.
 */
static void test_cure_closes_unnoted_fds(void **state)
{
	pid_t pid = start_child();
	struct parasite_ctl *ctl;
	struct testblob_args *a;
	char *before, *after;

	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	before = read_fds(pid);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)), 0);
	a = compel_parasite_args(ctl);
	assert_int_equal(compel_rpc_call(ctl, TB_CMD_LEAK), 0);
	assert_true(a->result >= 0);
	assert_int_equal(compel_cure(ctl), 0);
	after = read_fds(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	free(before);
	free(after);
}

/* A child whose seccomp filter fails uname() with EPERM; it exits 3 if one ever succeeds. */
static pid_t start_filtered_child(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct utsname u;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		while (1)
			if (uname(&u) == 0)
				_exit(3);
	}
	usleep(50 * 1000);
	return pid;
}

/*
 * A dying tool closes its files (the control socket) before the kernel
 * detaches its tracees. The daemon must not put the task back in between:
 * the task would run its own code with its filter suspended. The "tool"
 * here is a process that closes its files and lingers, still tracing,
 * before it exits: the child must find its filter in force throughout.
 */
static void test_tool_dies_seccomp(void **state)
{
	pid_t pid = start_filtered_child(), tool;
	int status;

	tool = fork();
	assert_true(tool >= 0);
	if (tool == 0) {
		struct parasite_ctl *ctl;

		if (compel_stop_task(pid) != COMPEL_TASK_ALIVE)
			_exit(1);
		ctl = compel_prepare(pid);
		if (!ctl || compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)))
			_exit(1);
		syscall(SYS_close_range, 3, ~0U, 0);
		usleep(300 * 1000);
		_exit(0);
	}
	assert_int_equal(waitpid(tool, &status, 0), tool);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	usleep(200 * 1000);
	/* still looping, its filter never lifted while no one traced it */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
}

/*
 * A task in seccomp strict mode (read, write, _exit, rt_sigreturn only)
 * whose tool dies with a command sent: the daemon runs the command's
 * syscalls after the kernel has let go of the task, where strict mode
 * kills for any of them. Each must heal it instead (rt_sigreturn of the
 * frame): it answers on its pipe as before, still in strict mode, and
 * untraced.
 */
static void test_tool_dies_strict(void **state)
{
	int in[2], out[2], status;
	pid_t pid, tool;
	char c = 'a';

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(in[1]);
		close(out[0]);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
			_exit(2);
		while (syscall(SYS_read, in[0], &c, 1) == 1) {
			c++;
			syscall(SYS_write, out[1], &c, 1);
		}
		syscall(SYS_exit, 3);
	}
	close(in[0]);
	close(out[1]);
	assert_int_equal(write(in[1], &c, 1), 1);
	assert_int_equal(read(out[0], &c, 1), 1);
	assert_int_equal(c, 'b');

	tool = fork();
	assert_true(tool >= 0);
	if (tool == 0) {
		struct parasite_ctl *ctl;

		if (compel_stop_task(pid) != COMPEL_TASK_ALIVE)
			_exit(1);
		ctl = compel_prepare(pid);
		if (!ctl || compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)) ||
		    compel_rpc_call(ctl, TB_CMD_GETPID))
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(tool, &status, 0), tool);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	c = 'x';
	assert_int_equal(write(in[1], &c, 1), 1);
	/* a task left stopped or traced would never answer: not a hang of the test */
	struct pollfd pf = { .fd = out[0], .events = POLLIN };

	assert_int_equal(poll(&pf, 1, 5000), 1);
	assert_int_equal(read(out[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	close(in[1]);
	close(out[0]);
}

static int always(void)
{
	return 1;
}

/*
 * The tool interrupted (SIGINT to criu) while the task is ours: injected
 * syscalls still complete and the cure still takes everything out. The
 * waits for a task running our code once gave up at the interrupt, which
 * left the area mapped or the task running injected code unwatched.
 */
static void test_interrupted(void **state)
{
	pid_t pid = start_child();
	struct parasite_ctl *ctl;
	char *before = read_maps(pid), *after;
	long ret = 0;

	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	compel_set_interrupt(always);
	assert_true(compel_interrupted());
	assert_int_equal(compel_syscall(ctl, __NR_getpid, &ret, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(ret, pid);
	compel_set_interrupt(NULL);
	assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)), 0);
	assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_GETPID), 0);
	compel_set_interrupt(always);
	assert_int_equal(compel_cure(ctl), 0);
	compel_set_interrupt(NULL);
	after = read_maps(pid);
	assert_string_equal(before, after);
	finish_child(pid);
	free(before);
	free(after);
}

static int rt_out = -1;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int v = si->si_value.sival_int;

	if (write(rt_out, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

/*
 * Caught real-time signals queued while the tool holds a task stopped in
 * a read() (-ERESTARTSYS): the task must take them in the order they were
 * queued, as without the tool. Letting one through to learn of it at its
 * signal-delivery-stop and giving it back blocked requeues it behind the
 * others (kernel/signal.c, ptrace_signal()).
 */
static void rt_signal_order(int infect)
{
	int out[2], in[2], v[3];
	union sigval sv;
	struct parasite_ctl *ctl;
	long ret = 0;
	pid_t pid;
	int status;

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(in), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rt_out = out[1];
		sigaction(SIGRTMIN, &sa, NULL);
		while (read(in[0], &c, 1) != 1)
			;
		_exit(7);
	}
	usleep(50 * 1000);	/* let it reach read() */
	assert_int_equal(compel_stop_task(pid), COMPEL_TASK_ALIVE);
	for (int i = 0; !infect && i < 3; i++) {
		sv.sival_int = i + 1;
		assert_int_equal(sigqueue(pid, SIGRTMIN, sv), 0);
	}
	ctl = compel_prepare(pid);
	assert_non_null(ctl);
	assert_int_equal(compel_syscall(ctl, __NR_getpid, &ret, 0, 0, 0, 0, 0, 0), 0);
	assert_int_equal(ret, pid);
	if (infect) {
		/* queued while the parasite runs, all blocked: the cure's munmap must not take one */
		assert_int_equal(compel_infect(ctl, &testblob_blob, sizeof(struct testblob_args)), 0);
		for (int i = 0; i < 3; i++) {
			sv.sival_int = i + 1;
			assert_int_equal(sigqueue(pid, SIGRTMIN, sv), 0);
		}
		assert_int_equal(compel_rpc_call_sync(ctl, TB_CMD_GETPID), 0);
	}
	assert_int_equal(compel_cure(ctl), 0);
	assert_int_equal(compel_resume_task(pid, COMPEL_TASK_ALIVE), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(read(out[0], &v[i], sizeof(v[i])), sizeof(v[i]));
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	assert_int_equal(v[2], 3);
	assert_int_equal(write(in[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	close(out[0]);
	close(out[1]);
	close(in[0]);
	close(in[1]);
}

static void test_rt_signal_order(void **state)
{
	rt_signal_order(0);
}

static void test_rt_signal_order_cure(void **state)
{
	rt_signal_order(1);
}

static void quiet(int level, const char *fmt, va_list args)
{
	if (getenv("COMPEL_TEST_VERBOSE"))
		vfprintf(stderr, fmt, args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blob_relocs),
		cmocka_unit_test(test_syscall),
		cmocka_unit_test(test_infect_rpc),
		cmocka_unit_test(test_parasite_crash),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_send_fds_fails),
		cmocka_unit_test(test_tool_dies_seccomp),
		cmocka_unit_test(test_tool_dies_strict),
		cmocka_unit_test(test_cure_closes_unnoted_fds),
		cmocka_unit_test(test_rt_signal_order),
		cmocka_unit_test(test_rt_signal_order_cure),
	};

	compel_set_log(quiet);
	if (geteuid() != 0) {
		fprintf(stderr, "test_compel needs root (ptrace and /proc/PID/map_files)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
