// SPDX-License-Identifier: GPL-2.0-only
/*
 * Task name and personality.  The test renames itself with PR_SET_NAME
 * and sets ADDR_NO_RANDOMIZE | UNAME26 | WHOLE_SECONDS.  After C/R the
 * name is the same through prctl() and /proc/self/comm, personality()
 * returns the same value, and UNAME26 is in effect (uname() reports a
 * 2.6 kernel).
 */
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include "zdtmtst.h"

#define NAME	"zdtm-renamed"
#define PERS	(PER_LINUX | ADDR_NO_RANDOMIZE | UNAME26 | WHOLE_SECONDS)

int main(int argc, char **argv)
{
	char name[32] = {}, *comm;
	struct utsname u0, u;
	int pers0, pers;
	ssize_t len;

	test_init(argc, argv);

	if (prctl(PR_SET_NAME, NAME, 0, 0, 0))
		test_bug("PR_SET_NAME");
	if (personality(PERS) < 0)
		test_bug("personality");
	pers0 = personality(0xffffffff);
	if (pers0 != PERS)
		test_bug("personality is %#x after setting %#x", pers0, PERS);
	if (uname(&u0) || strncmp(u0.release, "2.6.", 4))
		test_bug("UNAME26 not in effect: %s", u0.release);

	test_daemon();
	test_waitsig();

	if (prctl(PR_GET_NAME, name, 0, 0, 0))
		fail("PR_GET_NAME");
	else if (strcmp(name, NAME))
		failv("name is \"%s\", expected \"" NAME "\"", name);
	len = zdtm_read_file("/proc/self/comm", &comm);
	if (len < 0)
		fail("read /proc/self/comm");
	else if (len != sizeof(NAME) || memcmp(comm, NAME "\n", len))
		failv("/proc/self/comm is \"%.*s\"", (int)len, comm);

	pers = personality(0xffffffff);
	if (pers != pers0)
		failv("personality is %#x, expected %#x", pers, pers0);
	if (uname(&u))
		fail("uname");
	else if (strcmp(u.release, u0.release))
		failv("uname release \"%s\", expected \"%s\"", u.release,
		      u0.release);

	if (test_failures)
		return 1;
	pass();
	return 0;
}
