// SPDX-License-Identifier: GPL-2.0-only
/*
 * A uts namespace of the tree's own with its host and domain names set:
 * both come back, in a namespace that is still not the one the test
 * started in, and a child forked after the restore is in it too.
 */
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define HOST	"zdtm-uts-ns-test"
#define DOMAIN	"uts.zdtm.example"

int main(int argc, char **argv)
{
	struct stat host, now;
	struct utsname u;
	int status;
	pid_t c;

	test_init(argc, argv);
	if (stat("/proc/self/ns/uts", &host))
		test_bug("stat");
	if (unshare(CLONE_NEWUTS) || sethostname(HOST, strlen(HOST)) || setdomainname(DOMAIN, strlen(DOMAIN)))
		test_bug("a uts namespace");
	test_daemon();
	test_waitsig();
	if (uname(&u))
		fail("uname");
	if (strcmp(u.nodename, HOST) || strcmp(u.domainname, DOMAIN))
		failv("names are %s and %s", u.nodename, u.domainname);
	if (stat("/proc/self/ns/uts", &now) || now.st_ino == host.st_ino)
		failv("back in the uts namespace the test started in");
	c = zdtm_fork();
	if (c == 0) {
		struct utsname cu;

		_exit(uname(&cu) || strcmp(cu.nodename, HOST));
	}
	if (zdtm_reap(c, &status) != 0)
		failv("a new child sees another hostname");
	if (test_failures)
		return 1;
	pass();
	return 0;
}
