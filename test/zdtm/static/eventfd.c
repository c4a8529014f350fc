// SPDX-License-Identifier: GPL-2.0-only
/*
 * eventfds: a counter of 5 at fd 78, a semaphore-mode one holding 3 with
 * O_NONBLOCK, and one shared (dup'ed) at two numbers. After C/R: the
 * counts, the semaphore behaviour, the flags and the sharing are back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	int a, s, d, d2;
	eventfd_t v;

	test_init(argc, argv);
	a = eventfd(5, 0);
	s = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
	d = eventfd(0, 0);
	if (a < 0 || s < 0 || d < 0 || dup2(a, 78) != 78 || eventfd_write(s, 3))
		test_bug("eventfd");
	close(a);
	d2 = dup(d);
	eventfd_write(d, 40);

	test_daemon();
	test_waitsig();

	if (eventfd_read(78, &v) || v != 5)
		failv("fd 78 counter is %llu, want 5", (unsigned long long)v);
	for (int i = 0; i < 3; i++)
		if (eventfd_read(s, &v) || v != 1)
			failv("semaphore read %d gave %llu", i, (unsigned long long)v);
	errno = 0;
	if (eventfd_read(s, &v) != -1 || errno != EAGAIN)
		failv("the semaphore eventfd is not empty and non-blocking");
	if (!(fcntl(s, F_GETFL) & O_NONBLOCK))
		failv("O_NONBLOCK lost");
	eventfd_write(d2, 2);
	if (eventfd_read(d, &v) || v != 42)
		failv("the dup'ed eventfd is not shared: %llu", (unsigned long long)v);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
