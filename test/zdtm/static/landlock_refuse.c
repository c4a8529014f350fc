// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a thread restricted by a landlock domain (it may not
 * read directories). A domain can't be read back, and a restore without
 * it would free the thread: the dump must refuse, naming the thread.
 * After SIGTERM the thread is still restricted and the leader is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

static volatile int step;

static void *thread(void *arg)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = LANDLOCK_ACCESS_FS_READ_DIR };
	int fd, ruleset;

	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0))
		return (void *)1;
	close(ruleset);
	step = 1;
	while (step != 2)
		usleep(1000);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd >= 0 || errno != EACCES)
		return (void *)2;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;
	int fd;

	test_init(argc, argv);
	if (pthread_create(&th, NULL, thread, NULL))
		test_bug("pthread_create");
	while (!step)
		usleep(1000);

	test_daemon();
	test_waitsig();

	step = 2;
	if (pthread_join(th, &ret) || ret)
		failv("the thread: %ld (2: no longer restricted)", (long)ret);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		fail("the leader is restricted too");
	close(fd);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
