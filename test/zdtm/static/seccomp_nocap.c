// SPDX-License-Identifier: GPL-2.0-only
/*
 * A container's way with seccomp (runc, podman): the filter goes in while
 * the task still has CAP_SYS_ADMIN, then the task drops it, without
 * no_new_privs. Restore must still get the filter in (the kernel wants
 * one of the two to install it) and give back the capabilities as they
 * were: uname fails with EPERM, CAP_SYS_ADMIN is neither effective nor
 * permitted, no_new_privs is still clear, and a second thread has the
 * same.
 */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

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

static int get_caps(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &h, d);
}

static int drop_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (get_caps(d))
		return -1;
	d[0].effective &= ~(1U << CAP_SYS_ADMIN);
	d[0].permitted &= ~(1U << CAP_SYS_ADMIN);
	return syscall(SYS_capset, &h, d);
}

/* The filter holds, CAP_SYS_ADMIN is gone, no_new_privs is clear. */
static const char *check_state(void)
{
	struct __user_cap_data_struct d[2];
	struct utsname u;

	errno = 0;
	if (uname(&u) == 0 || errno != EPERM)
		return "uname is not filtered";
	if (get_caps(d))
		return "capget";
	if ((d[0].effective | d[0].permitted) & (1U << CAP_SYS_ADMIN))
		return "CAP_SYS_ADMIN is back";
	if (!(d[0].effective & (1U << CAP_KILL)))
		return "CAP_KILL is gone";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
		return "no_new_privs is set";
	return NULL;
}

static volatile int go;
static const char *thread_result = "not run";

static void *worker(void *arg)
{
	while (!go)
		usleep(10 * 1000);
	thread_result = check_state();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *r;
	pthread_t t;

	test_init(argc, argv);
	if (install(SYS_uname, SECCOMP_RET_ERRNO | EPERM))
		test_bug("installing the filter");
	if (drop_admin())
		test_bug("dropping CAP_SYS_ADMIN");
	if (pthread_create(&t, NULL, worker, NULL))
		test_bug("pthread_create");
	if ((r = check_state()))
		test_bug("%s before the dump", r);

	test_daemon();
	test_waitsig();

	go = 1;
	pthread_join(t, NULL);
	if ((r = check_state()))
		failv("%s", r);
	else if (thread_result)
		failv("the thread: %s", thread_result);
	else
		pass();
	return 0;
}
