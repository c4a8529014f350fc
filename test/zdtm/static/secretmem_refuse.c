// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a memfd_secret() fd at fd 47, mapped and written. Its
 * pages are out of reach from outside the task: the dump must refuse,
 * naming the pid, fd 47 and memfd_secret (not ask for --link-remap, as
 * it did for what looked like a removed file). After SIGTERM the secret
 * is still there.
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zdtmtst.h"

#define SECRET_FD	47

int main(int argc, char **argv)
{
	char *p;
	int fd;

	test_init(argc, argv);
	fd = syscall(SYS_memfd_secret, 0);
	if (fd < 0)
		test_bug("memfd_secret (secretmem.enable=0?)");
	if (dup2(fd, SECRET_FD) != SECRET_FD || close(fd) || ftruncate(SECRET_FD, 4096))
		test_bug("dup2/ftruncate");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, SECRET_FD, 0);
	if (p == MAP_FAILED)
		test_bug("mmap");
	strcpy(p, "secret");

	test_daemon();
	test_waitsig();

	if (strcmp(p, "secret"))
		failv("the secret is now \"%.8s\"", p);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
