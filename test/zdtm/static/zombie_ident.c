// SPDX-License-Identifier: GPL-2.0-only
/*
 * A zombie keeps its name and ids: ps shows them and the parent's
 * waitid() reports its real uid (si_uid). The child names itself and,
 * when it may, takes other real/effective/saved uids and gids before it
 * exits. After C/R /proc/PID/comm and the Uid:/Gid: lines of its status
 * are what they were, and waitid() gives the same si_uid and status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NAME "zident-child"

/* comm, Uid: and Gid: of @pid in one string */
static int ident(pid_t pid, char *out, size_t len)
{
	char path[64], *buf, *u, *g, *e;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	n = snprintf(out, len, "%s", buf);
	free(buf);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (zdtm_read_file(path, &buf) < 0)
		return -1;
	u = strstr(buf, "\nUid:");
	g = strstr(buf, "\nGid:");
	if (!u || !g) {
		free(buf);
		return -1;
	}
	e = strchr(g + 1, '\n');
	if (e)
		*e = '\0';
	snprintf(out + n, len - n, "%.*s%s", (int)(g - u), u, g);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	char before[256], after[256];
	siginfo_t si = {};
	pid_t z;

	test_init(argc, argv);
	z = fork();
	if (z < 0) {
		fail("fork");
		return 1;
	}
	if (z == 0) {
		prctl(PR_SET_NAME, NAME);
		/* as root (also in a user namespace): ids that are nobody else's */
		if (geteuid() == 0 && (setresgid(2001, 2002, 2003) || setresuid(1001, 1002, 1003)))
			_exit(1);
		_exit(7);
	}
	for (;;) {
		si.si_pid = 0;
		if (waitid(P_PID, z, &si, WEXITED | WNOWAIT)) {
			fail("waitid");
			return 1;
		}
		if (si.si_pid == z)
			break;
	}
	if (si.si_code != CLD_EXITED || si.si_status != 7) {
		failv("the child could not take its ids (code %d status %d)", si.si_code, si.si_status);
		return 1;
	}
	if (ident(z, before, sizeof(before))) {
		fail("can't read the zombie's name and ids");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (ident(z, after, sizeof(after)))
		fail("can't read the zombie's name and ids after the restore");
	else if (strcmp(before, after))
		failv("the zombie was\n%s\nand is now\n%s", before, after);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, z, &si, WEXITED))
		fail("waitid");
	else if (si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != 7 ||
		 si.si_uid != (geteuid() == 0 ? 1001 : getuid()))
		failv("waitid: pid %d code %d status %d uid %d", si.si_pid, si.si_code, si.si_status, si.si_uid);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
