// SPDX-License-Identifier: GPL-2.0-only
/*
 * A thread in seccomp strict mode (read, write, _exit, rt_sigreturn only)
 * beside a free main thread: an echo server on two pipes, keeping a value
 * in xmm7 across its reads. criu reads its state with syscalls injected
 * into it (entered as rt_sigreturn, made real at their entry stop). After
 * C/R the thread is still in mode 1, still answers with its register
 * intact, and the main thread is free.
 */
#include <linux/seccomp.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stdlib.h>

#include "zdtmtst.h"

static int in[2], out[2];
static pid_t tid;

static int seccomp_mode(pid_t t)
{
	char path[64], *buf, *s;
	int mode = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", t);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	s = strstr(buf, "\nSeccomp:");
	if (s)
		sscanf(s, "\nSeccomp: %d", &mode);
	free(buf);
	return mode;
}

static void *server(void *arg)
{
	uint64_t want[2] = { 0x1122334455667788ULL, 0x99aabbccddeeff00ULL }, got[2];
	char c;

	tid = syscall(SYS_gettid);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0))
		return NULL;
	asm volatile("movdqu %0, %%xmm7" : : "m"(want) : "xmm7");
	for (;;) {
		if (syscall(SYS_read, in[0], &c, 1) != 1)
			syscall(SYS_exit, 2);
		asm volatile("movdqu %%xmm7, %0" : "=m"(got));
		if (memcmp(want, got, sizeof(want)))
			c = '!';	/* told through the answer */
		else
			c++;
		if (syscall(SYS_write, out[1], &c, 1) != 1)
			syscall(SYS_exit, 3);
	}
}

static int ask(char q, char want)
{
	char c = q;

	if (write(in[1], &c, 1) != 1 || read(out[0], &c, 1) != 1) {
		fail("the strict thread does not answer");
		return -1;
	}
	if (c != want) {
		failv("the strict thread answered '%c' to '%c' (want '%c')", c, q, want);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th;

	test_init(argc, argv);
	if (pipe(in) || pipe(out))
		test_bug("pipe");
	if (pthread_create(&th, NULL, server, NULL))
		test_bug("pthread_create");
	if (ask('a', 'b'))
		test_bug("the thread does not answer before C/R");
	if (seccomp_mode(tid) != 1 || seccomp_mode(getpid()) != 0)
		test_bug("seccomp modes %d (thread) %d (main)", seccomp_mode(tid), seccomp_mode(getpid()));

	test_daemon();
	test_waitsig();

	if (seccomp_mode(tid) != 1)
		failv("the thread's seccomp mode is %d", seccomp_mode(tid));
	if (seccomp_mode(getpid()) != 0)
		failv("the main thread's seccomp mode is %d", seccomp_mode(getpid()));
	ask('x', 'y');
	if (test_failures)
		return 1;
	pass();
	return 0;
}
