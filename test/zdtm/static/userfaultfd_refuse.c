// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a userfaultfd (UFFD_USER_MODE_ONLY, which needs no
 * privilege) at fd 84 with a page registered for missing faults. It is not
 * supported: the dump must refuse, naming the pid, "userfaultfd" and fd 84.
 * After SIGTERM the page is still registered (a second registration of
 * the same range with the same mode succeeds, unregistering it too) and
 * the API handshake is not asked again (a second UFFDIO_API fails).
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define UFFD_FD	84

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

int main(int argc, char **argv)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_range range;
	void *page;
	int fd;

	test_init(argc, argv);
	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 || dup2(fd, UFFD_FD) != UFFD_FD)
		test_bug("userfaultfd");
	close(fd);
	if (ioctl(UFFD_FD, UFFDIO_API, &api))
		test_bug("UFFDIO_API");
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		test_bug("mmap");
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)page;
	reg.range.len = 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(UFFD_FD, UFFDIO_REGISTER, &reg))
		test_bug("UFFDIO_REGISTER");

	test_daemon();
	test_waitsig();

	api.api = UFFD_API;
	api.features = 0;
	if (!ioctl(UFFD_FD, UFFDIO_API, &api))
		failv("UFFDIO_API worked a second time: not the same userfaultfd");
	range.start = (uintptr_t)page;
	range.len = 4096;
	if (ioctl(UFFD_FD, UFFDIO_UNREGISTER, &range))
		fail("UFFDIO_UNREGISTER");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
