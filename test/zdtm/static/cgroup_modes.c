/*
 * cgroup_modes: what --manage-cgroups=MODE and --cgroup-root do with
 * cgroups that exist at restore or not. The task is in pids and cpu
 * cgroups "a" of its own (pids.max 42, cpu.shares 600) with an empty
 * sub-cgroup "a/e" (pids.max 3). Each variant's desc changes or removes
 * some of them between dump and restore (before_restore) and says with
 * arguments what the restore must have left:
 *
 *   --a=PIDS,SHARES	the properties of a after the restore
 *   --e=PIDS		pids.max of a/e
 *   --moved=NAME	the task is in NAME instead of a (--cgroup-root)
 *
 * The task must be in the same cgroups (or the moved ones) in every
 * hierarchy.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zdtmtst.h"

static const char *const hiers[] = { "pids", "cpu" };

int main(int argc, char **argv)
{
	char a[2][PATH_MAX], e[2][PATH_MAX], before[2][PATH_MAX], after[PATH_MAX], want[PATH_MAX];
	const char *moved = NULL;
	long want_pids = 42, want_shares = 600, want_e = 3;
	int bad = 0;

	test_init(argc, argv);
	for (int i = 1; i < test_argc; i++) {
		if (sscanf(test_argv[i], "--a=%ld,%ld", &want_pids, &want_shares) == 2 ||
		    sscanf(test_argv[i], "--e=%ld", &want_e) == 1)
			continue;
		if (!strncmp(test_argv[i], "--moved=", 8))
			moved = test_argv[i] + 8;
		else
			test_bug("bad argument %s", test_argv[i]);
	}
	for (int i = 0; i < 2; i++) {
		zdtm_cg_mkdir(zdtm_cg(hiers[i]), "a", a[i], PATH_MAX);
		zdtm_cg_mkdir(a[i], "e", e[i], PATH_MAX);
		if (zdtm_cg_enter(a[i], 0, false) || zdtm_cg_of(0, hiers[i], before[i], PATH_MAX))
			test_bug("into %s", a[i]);
	}
	if (zdtm_cg_write(a[0], "pids.max", "42") || zdtm_cg_write(e[0], "pids.max", "3") ||
	    zdtm_cg_write(a[1], "cpu.shares", "600"))
		test_bug("properties");

	test_daemon();
	test_waitsig();

	for (int i = 0; i < 2; i++) {
		char dir[PATH_MAX], edir[PATH_MAX + 8], *v;
		long want_v = i ? want_shares : want_pids;

		snprintf(want, sizeof(want), "%s", before[i]);
		snprintf(dir, sizeof(dir), "%s", a[i]);
		if (moved) {
			/* .../a becomes .../NAME */
			snprintf(strrchr(want, '/') + 1, sizeof(want) - (strrchr(want, '/') + 1 - want), "%s", moved);
			snprintf(strrchr(dir, '/') + 1, sizeof(dir) - (strrchr(dir, '/') + 1 - dir), "%s", moved);
		}
		if (zdtm_cg_of(0, hiers[i], after, sizeof(after)) || strcmp(after, want)) {
			failv("in %s the task is in %s, not %s", hiers[i], after, want);
			bad = 1;
		}
		v = zdtm_cg_read(dir, i ? "cpu.shares" : "pids.max");
		if (!v || atol(v) != want_v) {
			failv("%s/%s reads %s, not %ld", dir, i ? "cpu.shares" : "pids.max", v ? v : "nothing", want_v);
			bad = 1;
		}
		free(v);
		if (i == 0) {
			snprintf(edir, sizeof(edir), "%s/e", dir);
			v = zdtm_cg_read(edir, "pids.max");
			if (!v || atol(v) != want_e) {
				failv("%s/pids.max reads %s, not %ld", edir, v ? v : "nothing", want_e);
				bad = 1;
			}
			free(v);
		}
	}
	if (bad)
		return 1;
	pass();
	return 0;
}
