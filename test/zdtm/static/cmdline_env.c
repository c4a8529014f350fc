// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command line and environment.  The runner starts the test with extra
 * arguments and an environment variable (see cmdline_env.desc).  After
 * C/R /proc/self/cmdline and /proc/self/environ read the same bytes,
 * the argv/environ pointers still work and the kernel reports the same
 * argument/environment area bounds in /proc/self/stat.
 */
#include <stdlib.h>
#include <string.h>

#include "zdtmtst.h"

#define ENV_NAME	"ZDTM_CMDLINE_ENV"
#define ENV_VALUE	"value with spaces=and=equals"

static const char *const want_args[] = { "a b", "", "--c=d", "\xc3\xbcn\xc3\xaf" };
#define NR_WANT (sizeof(want_args) / sizeof(want_args[0]))

/* arg_start, arg_end, env_start, env_end: fields 48-51 of stat */
static int read_mm_bounds(unsigned long b[4])
{
	char *buf, *p;
	ssize_t len;
	int field, ret = -1;

	len = zdtm_read_file("/proc/self/stat", &buf);
	if (len <= 0)
		return -1;
	buf[len - 1] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		goto out;
	/* p + 2 is field 3 */
	p += 2;
	for (field = 3; field < 48 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p && sscanf(p, "%lu %lu %lu %lu", &b[0], &b[1], &b[2], &b[3]) == 4)
		ret = 0;
out:
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	char *cmdline, *env, *cmdline2, *env2, *value, **saved_environ;
	ssize_t clen, elen, clen2, elen2;
	unsigned long bounds[4], bounds2[4];
	char *copies[64];
	size_t off;
	int i;

	test_init(argc, argv);

	clen = zdtm_read_file("/proc/self/cmdline", &cmdline);
	elen = zdtm_read_file("/proc/self/environ", &env);
	if (clen <= 0 || elen <= 0)
		test_bug("can't read cmdline/environ");
	if (read_mm_bounds(bounds))
		test_bug("can't parse /proc/self/stat");

	if (test_argc != NR_WANT + 1)
		test_bug("%d test arguments, expected %zu (see the .desc)",
			 test_argc - 1, NR_WANT);
	for (i = 0; i < (int)NR_WANT; i++)
		if (strcmp(test_argv[i + 1], want_args[i]))
			test_bug("argument %d is \"%s\", expected \"%s\"",
				 i + 1, test_argv[i + 1], want_args[i]);
	value = getenv(ENV_NAME);
	if (!value || strcmp(value, ENV_VALUE))
		test_bug(ENV_NAME " is \"%s\", expected \"" ENV_VALUE "\"",
			 value ? value : "(unset)");
	if (argc > 64)
		test_bug("too many arguments");
	for (i = 0; i < argc; i++)
		copies[i] = strdup(argv[i]);
	saved_environ = environ;

	test_daemon();
	test_waitsig();

	clen2 = zdtm_read_file("/proc/self/cmdline", &cmdline2);
	elen2 = zdtm_read_file("/proc/self/environ", &env2);
	if (clen2 < 0 || elen2 < 0) {
		fail("can't read cmdline/environ");
	} else {
		if (clen2 != clen || memcmp(cmdline, cmdline2, clen))
			failv("/proc/self/cmdline changed (%zd -> %zd bytes)",
			      clen, clen2);
		if (elen2 != elen || memcmp(env, env2, elen))
			failv("/proc/self/environ changed (%zd -> %zd bytes)",
			      elen, elen2);
	}

	if (read_mm_bounds(bounds2))
		fail("can't parse /proc/self/stat");
	else if (memcmp(bounds, bounds2, sizeof(bounds)))
		failv("arg/env bounds %#lx-%#lx %#lx-%#lx, were %#lx-%#lx %#lx-%#lx",
		      bounds2[0], bounds2[1], bounds2[2], bounds2[3],
		      bounds[0], bounds[1], bounds[2], bounds[3]);

	/* argv[] still points at the strings, laid out as in cmdline. */
	off = 0;
	for (i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (strcmp(argv[i], copies[i]))
			failv("argv[%d] is \"%s\", was \"%s\"", i, argv[i],
			      copies[i]);
		if (off + l > (size_t)clen || memcmp(cmdline + off, argv[i], l))
			failv("argv[%d] does not match cmdline", i);
		if ((unsigned long)argv[i] != bounds[0] + off)
			failv("argv[%d] is not at its place in the arg area", i);
		off += l;
	}
	if (environ != saved_environ)
		failv("environ pointer changed");
	value = getenv(ENV_NAME);
	if (!value || strcmp(value, ENV_VALUE))
		failv(ENV_NAME " is \"%s\" after restore",
		      value ? value : "(unset)");
	if ((unsigned long)value < bounds[2] || (unsigned long)value >= bounds[3])
		failv(ENV_NAME " does not live in the env area any more");

	if (test_failures)
		return 1;
	pass();
	return 0;
}
