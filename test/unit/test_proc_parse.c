// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "proc_parse.h"

/* Expected failures log errors; keep the test output readable. */
static void quiet(void)
{
	log_set_level(LOG_MSG);
}

static void loud(void)
{
	log_set_level(DEFAULT_LOGLEVEL);
}

/* A copy of @s with the first @from replaced by @to. */
static char *replace_dup(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out;

	if (!at)
		fail_msg("'%s' not found", from);
	if (asprintf(&out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from)) < 0)
		fail_msg("asprintf failed");
	return out;
}

/* ---------------------------------------------------------------------- */
/* maps lines                                                             */
/* ---------------------------------------------------------------------- */

static void test_maps_anon(void **state)
{
	/* The kernel always prints a blank after the inode. */
	static const char *lines[] = {
		"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0 ",
		"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0 \n",
		"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0",
		"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0\n",
		"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0                          \n",
	};
	struct proc_vma v;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(parse_maps_line(lines[i], &v), 0);
		assert_int_equal(v.start, 0x7f82ede9a000ULL);
		assert_int_equal(v.end, 0x7f82edf5e000ULL);
		assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
		assert_false(v.shared);
		assert_int_equal(v.pgoff, 0);
		assert_int_equal(v.dev_maj, 0);
		assert_int_equal(v.dev_min, 0);
		assert_int_equal(v.ino, 0);
		assert_null(v.name);
		assert_false(v.deleted);
	}
}

static void test_maps_file(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("559a4dda7000-559a4ddac000 r-xp 00002000 fe:01 247134"
					 "                     /usr/bin/cat\n", &v), 0);
	assert_int_equal(v.start, 0x559a4dda7000ULL);
	assert_int_equal(v.end, 0x559a4ddac000ULL);
	assert_int_equal(v.prot, PROT_READ | PROT_EXEC);
	assert_false(v.shared);
	assert_int_equal(v.pgoff, 0x2000);
	assert_int_equal(v.dev_maj, 0xfe);
	assert_int_equal(v.dev_min, 1);
	assert_int_equal(v.ino, 247134);
	assert_string_equal(v.name, "/usr/bin/cat");
	assert_false(v.deleted);
	free(v.name);

	/* Wide device numbers, a large offset, no permissions at all. */
	assert_int_equal(parse_maps_line("1000-3000 ---p 7fff12345000 103:1a5 18446744073709551615 /x", &v), 0);
	assert_int_equal(v.prot, PROT_NONE);
	assert_int_equal(v.pgoff, 0x7fff12345000ULL);
	assert_int_equal(v.dev_maj, 0x103);
	assert_int_equal(v.dev_min, 0x1a5);
	assert_int_equal(v.ino, UINT64_MAX);
	assert_string_equal(v.name, "/x");
	free(v.name);
}

static void test_maps_shared(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("7f82ee1a4000-7f82ee1ab000 r--s 00000000 fe:00 332280"
					 "                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache",
					 &v), 0);
	assert_int_equal(v.prot, PROT_READ);
	assert_true(v.shared);
	assert_string_equal(v.name, "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache");
	free(v.name);

	assert_int_equal(parse_maps_line("7f0000000000-7f0000100000 rwxs 00000000 00:01 1024 /dev/zero (deleted)", &v), 0);
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE | PROT_EXEC);
	assert_true(v.shared);
	assert_int_equal(v.dev_min, 1);
	assert_string_equal(v.name, "/dev/zero");
	assert_true(v.deleted);
	free(v.name);
}

static void test_maps_spaces(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("400000-401000 r--p 00000000 08:01 42"
					 "         /tmp/my file  with   spaces.so\n", &v), 0);
	assert_string_equal(v.name, "/tmp/my file  with   spaces.so");
	assert_false(v.deleted);
	free(v.name);

	/* Trailing blanks belong to the name too. */
	assert_int_equal(parse_maps_line("400000-401000 r--p 00000000 08:01 42 /tmp/t  \n", &v), 0);
	assert_string_equal(v.name, "/tmp/t  ");
	free(v.name);
}

static void test_maps_deleted(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("400000-401000 rw-p 00001000 08:01 77 /tmp/gone (deleted)\n", &v), 0);
	assert_string_equal(v.name, "/tmp/gone");
	assert_true(v.deleted);
	assert_int_equal(v.pgoff, 0x1000);
	free(v.name);

	/* Only a trailing marker counts. */
	assert_int_equal(parse_maps_line("400000-401000 rw-p 00000000 08:01 77 /tmp/x (deleted) y\n", &v), 0);
	assert_string_equal(v.name, "/tmp/x (deleted) y");
	assert_false(v.deleted);
	free(v.name);

	/* A file named "x (deleted)" that was itself deleted. */
	assert_int_equal(parse_maps_line("400000-401000 rw-p 00000000 08:01 77 /tmp/x (deleted) (deleted)", &v), 0);
	assert_string_equal(v.name, "/tmp/x (deleted)");
	assert_true(v.deleted);
	free(v.name);

	/* No space before the marker: part of the name. */
	assert_int_equal(parse_maps_line("400000-401000 rw-p 00000000 08:01 77 /tmp/x(deleted)", &v), 0);
	assert_string_equal(v.name, "/tmp/x(deleted)");
	assert_false(v.deleted);
	free(v.name);
}

static void test_maps_escaped_newline(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("400000-401000 r--p 00000000 08:01 5 /tmp/a\\012b\n", &v), 0);
	assert_string_equal(v.name, "/tmp/a\nb");
	assert_false(v.deleted);
	free(v.name);

	assert_int_equal(parse_maps_line("400000-401000 r--p 00000000 08:01 5 /tmp/\\012\\012x\\012 (deleted)", &v), 0);
	assert_string_equal(v.name, "/tmp/\n\nx\n");
	assert_true(v.deleted);
	free(v.name);

	/* Other backslash sequences are not escapes. */
	assert_int_equal(parse_maps_line("400000-401000 r--p 00000000 08:01 5 /tmp/a\\01\\n\\0123", &v), 0);
	assert_string_equal(v.name, "/tmp/a\\01\\n\n3");
	free(v.name);
}

static char *make_long_line(size_t path_len, const char *suffix, char **path_out)
{
	const char *prefix = "7f0000000000-7f0000001000 r--p 00000000 08:01 99    ";
	char *path, *line;
	size_t i;

	path = malloc(path_len + 1);
	assert_non_null(path);
	path[0] = '/';
	for (i = 1; i < path_len; i++)
		path[i] = (i % 64 == 0) ? '/' : 'a' + i % 26;
	path[path_len] = '\0';

	line = malloc(strlen(prefix) + path_len + strlen(suffix) + 2);
	assert_non_null(line);
	sprintf(line, "%s%s%s\n", prefix, path, suffix);

	*path_out = path;
	return line;
}

static void test_maps_long_path(void **state)
{
	static const size_t lens[] = { 4000, PATH_MAX - 1, 3 * PATH_MAX };
	struct proc_vma v;
	char *line, *path;
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		line = make_long_line(lens[i], "", &path);
		assert_int_equal(parse_maps_line(line, &v), 0);
		assert_int_equal(strlen(v.name), lens[i]);
		assert_string_equal(v.name, path);
		assert_false(v.deleted);
		free(v.name);
		free(line);

		free(path);

		line = make_long_line(lens[i], " (deleted)", &path);
		assert_int_equal(parse_maps_line(line, &v), 0);
		assert_int_equal(strlen(v.name), lens[i]);
		assert_true(v.deleted);
		assert_string_equal(v.name, path);
		free(v.name);
		free(line);
		free(path);
	}
}

static void test_maps_special(void **state)
{
	static const struct {
		const char *line;
		const char *name;
		bool deleted;
		unsigned int prot;
		bool shared;
	} cases[] = {
		{ "559a7354c000-559a7356d000 rw-p 00000000 00:00 0                          [heap]",
		  "[heap]", false, PROT_READ | PROT_WRITE, false },
		{ "7ffd5c5a0000-7ffd5c5c1000 rw-p 00000000 00:00 0                          [stack]\n",
		  "[stack]", false, PROT_READ | PROT_WRITE, false },
		{ "7f82ee1ae000-7f82ee1b2000 r--p 00000000 00:00 0                          [vvar]",
		  "[vvar]", false, PROT_READ, false },
		{ "7f82ee1b2000-7f82ee1b4000 r--p 00000000 00:00 0                          [vvar_vclock]\n",
		  "[vvar_vclock]", false, PROT_READ, false },
		{ "7f82ee1b4000-7f82ee1b6000 r-xp 00000000 00:00 0                          [vdso]",
		  "[vdso]", false, PROT_READ | PROT_EXEC, false },
		{ "7f82ee000000-7f82ee001000 rw-p 00000000 00:00 0                          [anon:foo bar]",
		  "[anon:foo bar]", false, PROT_READ | PROT_WRITE, false },
		{ "7f82ee000000-7f82ee001000 rw-s 00000000 00:01 2055                       /memfd:x (deleted)",
		  "/memfd:x", true, PROT_READ | PROT_WRITE, true },
		{ "7f82ee000000-7f82ee001000 rw-s 00000000 00:01 2055                       memfd:x (deleted)",
		  "memfd:x", true, PROT_READ | PROT_WRITE, true },
		{ "7f82ee000000-7f82ee001000 rw-s 00000000 00:01 0                          /SYSV00000000 (deleted)",
		  "/SYSV00000000", true, PROT_READ | PROT_WRITE, true },
	};
	struct proc_vma v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_maps_line(cases[i].line, &v), 0);
		assert_string_equal(v.name, cases[i].name);
		assert_int_equal(v.deleted, cases[i].deleted);
		assert_int_equal(v.prot, cases[i].prot);
		assert_int_equal(v.shared, cases[i].shared);
		free(v.name);
	}
}

static void test_maps_vsyscall(void **state)
{
	struct proc_vma v;

	assert_int_equal(parse_maps_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0"
					 "                  [vsyscall]\n", &v), 0);
	assert_int_equal(v.start, 0xffffffffff600000ULL);
	assert_int_equal(v.end, 0xffffffffff601000ULL);
	assert_int_equal(v.prot, PROT_EXEC);
	assert_false(v.shared);
	assert_string_equal(v.name, "[vsyscall]");
	assert_false(v.deleted);
	free(v.name);

	/* Addresses use all 64 bits; 17 digits overflow. */
	assert_int_equal(parse_maps_line("fffffffffffff000-ffffffffffffffff r--p 0 0:0 0", &v), 0);
	assert_int_equal(v.end, UINT64_MAX);
	quiet();
	assert_int_equal(parse_maps_line("1fffffffffffff000-1ffffffffffffffff r--p 0 0:0 0", &v), -1);
	loud();
}

static void test_maps_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"\n",
		" 400000-401000 r--p 00000000 08:01 5 /x",	/* leading blank */
		"400000",
		"400000-",
		"400000-401000",
		"400000-401000 ",
		"400000-401000 r--p",
		"400000-401000 r--p 00000000",
		"400000-401000 r--p 00000000 08:01",
		"400000-401000 r--p 00000000 08:01 ",		/* no inode */
		"400000-401000 r--p 00000000 08 5 /x",		/* no minor */
		"400000-401000 r--p 00000000 08-01 5 /x",
		"400000-401000 r--p 00000000 :01 5 /x",
		"40000g-401000 r--p 00000000 08:01 5 /x",	/* bad hex */
		"400000-40100z r--p 00000000 08:01 5 /x",
		"0x400000-401000 r--p 00000000 08:01 5 /x",
		"400000-401000 r--p 0000000g 08:01 5 /x",
		"400000-401000 r--p 00000000 0x:01 5 /x",
		"400000-401000 r--p 00000000 08:01 5a /x",	/* inode is decimal */
		"400000-401000 r--p 00000000 08:01 -5 /x",
		"400000-401000 r--p 00000000 08:01 18446744073709551616 /x",
		"400000-401000 r--p 00000000 100000000:01 5 /x",	/* maj > 32 bit */
		"400000 401000 r--p 00000000 08:01 5 /x",
		"400000--401000 r--p 00000000 08:01 5 /x",
		"400000-401000 rw-x 00000000 08:01 5 /x",	/* bad perms */
		"400000-401000 r-- 00000000 08:01 5 /x",
		"400000-401000 r--pp 00000000 08:01 5 /x",
		"400000-401000 R--p 00000000 08:01 5 /x",
		"400000-401000 xwrp 00000000 08:01 5 /x",
		"400000-401000 r",
		"400000-401000  r--p 00000000 08:01 5 /x",	/* double blank */
		"401000-400000 r--p 00000000 08:01 5 /x",	/* end < start */
		"400000-400000 r--p 00000000 08:01 5 /x",	/* empty */
		"400000-401000\tr--p 00000000 08:01 5 /x",
	};
	struct proc_vma v;
	size_t i;

	quiet();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v.name = (char *)0x1;	/* must be reset */
		if (parse_maps_line(bad[i], &v) != -1)
			fail_msg("accepted bad line #%zu: '%s'", i, bad[i]);
		assert_null(v.name);
	}
	loud();
}

/* ---------------------------------------------------------------------- */
/* whole maps buffers                                                     */
/* ---------------------------------------------------------------------- */

static const char maps_sample[] =
	"559a4dda5000-559a4dda7000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
	"559a4dda7000-559a4ddac000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
	"559a7354c000-559a7356d000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f82ede9a000-7f82edf5e000 rw-p 00000000 00:00 0 \n"
	"7f82ee1a4000-7f82ee1ab000 r--s 00000000 fe:00 332280                     /usr/lib/gconv modules (deleted)\n"
	"7f82ee1b2000-7f82ee1b4000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
	"7ffd5c5a0000-7ffd5c5c1000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void check_maps_sample(struct proc_vma *v, int nr)
{
	assert_int_equal(nr, 8);
	assert_int_equal(v[0].start, 0x559a4dda5000ULL);
	assert_string_equal(v[0].name, "/usr/bin/cat");
	assert_int_equal(v[1].pgoff, 0x2000);
	assert_int_equal(v[1].prot, PROT_READ | PROT_EXEC);
	assert_string_equal(v[2].name, "[heap]");
	assert_null(v[3].name);
	assert_int_equal(v[3].end, 0x7f82edf5e000ULL);
	assert_string_equal(v[4].name, "/usr/lib/gconv modules");
	assert_true(v[4].deleted);
	assert_true(v[4].shared);
	assert_int_equal(v[4].ino, 332280);
	assert_string_equal(v[5].name, "[vvar_vclock]");
	assert_string_equal(v[6].name, "[stack]");
	assert_int_equal(v[7].start, 0xffffffffff600000ULL);
	assert_string_equal(v[7].name, "[vsyscall]");
}

static void test_maps_buf(void **state)
{
	struct proc_vma *v;
	char *nonl;
	int nr;

	assert_int_equal(parse_maps_buf(maps_sample, &v, &nr), 0);
	check_maps_sample(v, nr);
	free_maps(v, nr);

	/* Same without the final newline. */
	nonl = strdup(maps_sample);
	assert_non_null(nonl);
	nonl[strlen(nonl) - 1] = '\0';
	assert_int_equal(parse_maps_buf(nonl, &v, &nr), 0);
	check_maps_sample(v, nr);
	free_maps(v, nr);
	free(nonl);

	/* Empty buffer: no areas. */
	nr = 42;
	assert_int_equal(parse_maps_buf("", &v, &nr), 0);
	assert_int_equal(nr, 0);
	free_maps(v, nr);
	free_maps(NULL, 0);
}

/* smaps: the keys of each area go to the area above them; ProtectionKey is 0 where missing. */
static void test_smaps_buf(void **state)
{
	static const char smaps[] =
		"400000-401000 r--p 00000000 08:01 5 /x\n"
		"Size:                  4 kB\n"
		"KernelPageSize:        4 kB\n"
		"ProtectionKey:         3\n"
		"VmFlags: rd mr mw me\n"
		"7f0000000000-7f0000200000 rw-s 00000000 00:0f 9 /anon_hugepage (deleted)\n"
		"KernelPageSize:     2048 kB\n"
		"VmFlags: rd wr sh mr mw me ms ht\n";
	struct proc_vma *v;
	int nr;

	assert_int_equal(parse_smaps_buf(smaps, &v, &nr), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(v[0].pkey, 3);
	assert_int_equal(v[0].kpage_kb, 4);
	assert_int_equal(strncmp(v[0].vmflags, " rd mr mw me\n", 13), 0);
	assert_int_equal(v[1].pkey, 0);
	assert_int_equal(v[1].kpage_kb, 2048);
	free_maps(v, nr);
}

static void test_maps_buf_bad(void **state)
{
	static const char *bad[] = {
		"400000-401000 r--p 00000000 08:01 5 /x\nGARBAGE\n400000-401000 r--p 00000000 08:01 5 /y\n",
		"400000-401000 r--p 00000000 08:01 5 /x\n\n500000-501000 r--p 00000000 08:01 5 /y\n",
		"400000-401000 r--p 00000000 08:01 5 /x\n500000-501000 r--q 00000000 08:01 5 /y",
	};
	const char *line = "400000-401000 r--p 00000000 08:01 5 /a/named/area\n";
	struct proc_vma *v;
	char *big;
	size_t i, len = strlen(line);
	int nr;

	quiet();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = (void *)0x1;
		nr = 7;
		assert_int_equal(parse_maps_buf(bad[i], &v, &nr), -1);
		assert_null(v);
		assert_int_equal(nr, 0);
	}

	/* Fail after the array has been grown a few times: nothing leaks. */
	big = malloc(len * 300 + 16);
	assert_non_null(big);
	for (i = 0; i < 300; i++)
		memcpy(big + i * len, line, len);
	strcpy(big + 300 * len, "bogus\n");
	assert_int_equal(parse_maps_buf(big, &v, &nr), -1);
	loud();

	/* And the good part alone parses. */
	big[300 * len] = '\0';
	assert_int_equal(parse_maps_buf(big, &v, &nr), 0);
	assert_int_equal(nr, 300);
	assert_string_equal(v[299].name, "/a/named/area");
	free_maps(v, nr);
	free(big);
}

/* ---------------------------------------------------------------------- */
/* stat                                                                   */
/* ---------------------------------------------------------------------- */

static void test_stat_real(void **state)
{
	const char *buf = "3794 (cat) R 3789 3789 2413 34816 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 "
			  "37720 3133440 372 18446744073709551615 94290505953280 94290505973161 "
			  "140723705567296 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94290505989168 "
			  "94290505990784 94290571694080 140723705571969 140723705571989 "
			  "140723705571989 140723705573355 0\n";
	struct proc_pid_stat s;

	assert_int_equal(parse_pid_stat_buf(buf, &s), 0);
	assert_int_equal(s.pid, 3794);
	assert_string_equal(s.comm, "cat");
	assert_int_equal(s.state, 'R');
	assert_int_equal(s.ppid, 3789);
	assert_int_equal(s.pgid, 3789);
	assert_int_equal(s.sid, 2413);
	assert_int_equal(s.tty_nr, 34816);
	assert_int_equal(s.tpgid, -1);
	assert_int_equal(s.flags, 4194304);
	assert_int_equal(s.num_threads, 1);
	assert_int_equal(s.start_code, 94290505953280ULL);
	assert_int_equal(s.end_code, 94290505973161ULL);
	assert_int_equal(s.start_stack, 140723705567296ULL);
	assert_int_equal(s.exit_signal, 17);
	assert_int_equal(s.start_data, 94290505989168ULL);
	assert_int_equal(s.end_data, 94290505990784ULL);
	assert_int_equal(s.start_brk, 94290571694080ULL);
	assert_int_equal(s.arg_start, 140723705571969ULL);
	assert_int_equal(s.arg_end, 140723705571989ULL);
	assert_int_equal(s.env_start, 140723705571989ULL);
	assert_int_equal(s.env_end, 140723705573355ULL);
	assert_int_equal(s.exit_code, 0);
}

/* Field N (4..52) holds N * 1000 + 7, except tpgid (8) which is -1. */
static char *numbered_stat(const char *comm, int last_field)
{
	char *buf, *p;
	int i;

	buf = malloc(4096);
	assert_non_null(buf);
	p = buf + sprintf(buf, "4242 (%s) S", comm);
	for (i = 4; i <= last_field; i++) {
		if (i == 8)
			p += sprintf(p, " -1");
		else
			p += sprintf(p, " %d", i * 1000 + 7);
	}
	strcpy(p, "\n");
	return buf;
}

static void test_stat_field_numbers(void **state)
{
	struct proc_pid_stat s;
	char *buf;

	buf = numbered_stat("a) b (c", 52);
	assert_int_equal(parse_pid_stat_buf(buf, &s), 0);
	free(buf);

	assert_int_equal(s.pid, 4242);
	assert_string_equal(s.comm, "a) b (c");
	assert_int_equal(s.state, 'S');
	assert_int_equal(s.ppid, 4007);
	assert_int_equal(s.pgid, 5007);
	assert_int_equal(s.sid, 6007);
	assert_int_equal(s.tty_nr, 7007);
	assert_int_equal(s.tpgid, -1);
	assert_int_equal(s.flags, 9007);
	assert_int_equal(s.num_threads, 20007);
	assert_int_equal(s.start_code, 26007);
	assert_int_equal(s.end_code, 27007);
	assert_int_equal(s.start_stack, 28007);
	assert_int_equal(s.exit_signal, 38007);
	assert_int_equal(s.start_data, 45007);
	assert_int_equal(s.end_data, 46007);
	assert_int_equal(s.start_brk, 47007);
	assert_int_equal(s.arg_start, 48007);
	assert_int_equal(s.arg_end, 49007);
	assert_int_equal(s.env_start, 50007);
	assert_int_equal(s.env_end, 51007);
	assert_int_equal(s.exit_code, 52007);

	/* Fields added by a future kernel are ignored. */
	buf = numbered_stat("x", 60);
	assert_int_equal(parse_pid_stat_buf(buf, &s), 0);
	assert_int_equal(s.exit_code, 52007);
	free(buf);
}

static void test_stat_comm(void **state)
{
	static const struct {
		const char *comm;
		const char *expect;
	} cases[] = {
		{ "a) b (c", "a) b (c" },
		{ ") ) )", ") ) )" },
		{ "(((", "(((" },
		{ "", "" },
		{ "  spaced  out ", "  spaced  out " },
		{ "x) S 1 2 3 (y", "x) S 1 2 3 (y" },
		{ "new\nline", "new\nline" },
		{ "0123456789012345678901234567890123456789012345678901234567890123456789",
		  "012345678901234567890123456789012345678901234567890123456789012" },
	};
	struct proc_pid_stat s;
	char *buf;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = numbered_stat(cases[i].comm, 52);
		assert_int_equal(parse_pid_stat_buf(buf, &s), 0);
		assert_string_equal(s.comm, cases[i].expect);
		assert_int_equal(s.ppid, 4007);
		assert_int_equal(s.exit_code, 52007);
		free(buf);
	}
}

static void test_stat_negative(void **state)
{
	const char *buf = "1 (init) Z 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0 "
			  "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 0 0 0 0 -2";
	struct proc_pid_stat s;

	assert_int_equal(parse_pid_stat_buf(buf, &s), 0);
	assert_int_equal(s.pid, 1);
	assert_int_equal(s.state, 'Z');
	assert_int_equal(s.ppid, 0);
	assert_int_equal(s.exit_signal, -1);
	assert_int_equal(s.exit_code, -2);
}

static void test_stat_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"abc (x) S 1",
		"12 x S 1 2 3",				/* no parentheses */
		"12 (x S 1 2 3",			/* no ')' */
		"12 (x)S 1 2 3",
		"12 (x) S 1 2 3 4 5",			/* far too short */
		"-12 (x) S",
		"0 (x) S",
	};
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ " 30007 ", " 3O007 " },		/* not a number */
		{ " 26007 ", " -26007 " },		/* negative address */
		{ " 9007 ", " -9007 " },		/* negative flags */
		{ " 4007 ", " 9999999999 " },		/* ppid out of int range */
		{ " 20007 ", " 9223372036854775808 " },	/* num_threads > LONG_MAX */
		{ " 27007 ", " 18446744073709551616 " },	/* > 64 bits */
		{ " 38007 ", " -9999999999 " },		/* exit_signal < INT_MIN */
		{ " 10007 ", "  10007 " },		/* double blank */
		{ " 52007\n", " 52007x\n" },		/* trailing junk */
		{ "(x) S", "(x)  S" },
	};
	struct proc_pid_stat s;
	char *buf, *good;
	size_t i;

	quiet();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_pid_stat_buf(bad[i], &s) != -1)
			fail_msg("accepted bad stat #%zu: '%s'", i, bad[i]);
	}

	/* One field short. */
	buf = numbered_stat("x", 51);
	assert_int_equal(parse_pid_stat_buf(buf, &s), -1);
	free(buf);

	/* Bad values in otherwise good lines. */
	good = numbered_stat("x", 52);
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		buf = replace_dup(good, edits[i].from, edits[i].to);
		if (parse_pid_stat_buf(buf, &s) != -1)
			fail_msg("accepted bad stat edit #%zu: '%s'", i, buf);
		free(buf);
	}
	free(good);
	loud();
}

/* ---------------------------------------------------------------------- */
/* status                                                                 */
/* ---------------------------------------------------------------------- */

static const char status_head[] =
	"Name:\tsome daemon\n"
	"Umask:\t0027\n"
	"State:\tS (sleeping)\n"
	"Tgid:\t1200\n"
	"Ngid:\t0\n"
	"Pid:\t1201\n"
	"PPid:\t1\n"
	"TracerPid:\t77\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t2000\t2001\t2002\t4294967294\n"
	"FDSize:\t64\n";

static const char status_tail[] =
	"NStgid:\t1200\n"
	"NSpid:\t1201\n"
	"VmPeak:\t    3060 kB\n"
	"VmLck:\t     136 kB\n"
	"Threads:\t3\n"
	"SigQ:\t0/96364\n"
	"SigPnd:\t0000000000000100\n"
	"ShdPnd:\t0000000000004000\n"
	"SigBlk:\t0000000000010000\n"
	"SigIgn:\t0000000000001000\n"
	"SigCgt:\t00000001800044eb\n"
	"CapInh:\t0000000000000000\n"
	"CapPrm:\t000001fffeffffff\n"
	"CapEff:\t000001fffeffff00\n"
	"CapBnd:\t000001ffffffffff\n"
	"CapAmb:\t0000000000000400\n"
	"NoNewPrivs:\t1\n"
	"Seccomp:\t2\n"
	"Seccomp_filters:\t1\n"
	"Speculation_Store_Bypass:\tthread vulnerable\n"
	"Cpus_allowed_list:\t0-1\n"
	"voluntary_ctxt_switches:\t10\n";

static char *make_status(const char *groups_line)
{
	char *buf;

	if (asprintf(&buf, "%s%s%s", status_head, groups_line, status_tail) < 0)
		fail_msg("asprintf failed");
	return buf;
}

static void check_status_common(const struct proc_status *st)
{
	assert_int_equal(st->state, 'S');
	assert_int_equal(st->tgid, 1200);
	assert_int_equal(st->pid, 1201);
	assert_int_equal(st->ppid, 1);
	assert_int_equal(st->tracer_pid, 77);
	assert_int_equal(st->uid[0], 1000);
	assert_int_equal(st->uid[1], 1001);
	assert_int_equal(st->uid[2], 1002);
	assert_int_equal(st->uid[3], 1003);
	assert_int_equal(st->gid[0], 2000);
	assert_int_equal(st->gid[3], 4294967294U);
	assert_int_equal(st->sigpnd, 0x100);
	assert_int_equal(st->shdpnd, 0x4000);
	assert_int_equal(st->sigblk, 0x10000);
	assert_int_equal(st->sigign, 0x1000);
	assert_int_equal(st->sigcgt, 0x1800044ebULL);
	assert_int_equal(st->cap_inh, 0);
	assert_int_equal(st->cap_prm, 0x1fffeffffffULL);
	assert_int_equal(st->cap_eff, 0x1fffeffff00ULL);
	assert_int_equal(st->cap_bnd, 0x1ffffffffffULL);
	assert_int_equal(st->cap_amb, 0x400);
	assert_int_equal(st->threads, 3);
	assert_int_equal(st->umask, 027);
	assert_int_equal(st->seccomp, 2);
	assert_int_equal(st->nonewprivs, 1);
	assert_int_equal(st->vm_lck_kb, 136);
}

static void test_status_many_groups(void **state)
{
	struct proc_status st;
	char groups[1024], *p, *buf;
	int i;

	/* The kernel's format: tab, gids separated by blanks, a trailing blank. */
	p = groups + sprintf(groups, "Groups:\t");
	for (i = 0; i < 40; i++)
		p += sprintf(p, "%s%d", i ? " " : "", 100 + i * 3);
	strcpy(p, " \n");

	buf = make_status(groups);
	assert_int_equal(parse_pid_status_buf(buf, &st), 0);
	free(buf);

	check_status_common(&st);
	assert_int_equal(st.ngroups, 40);
	assert_non_null(st.groups);
	assert_int_equal(st.groups[0], 100);
	assert_int_equal(st.groups[17], 151);
	assert_int_equal(st.groups[39], 217);

	free_pid_status(&st);
	assert_null(st.groups);
	assert_int_equal(st.ngroups, 0);
}

static void test_status_no_groups(void **state)
{
	static const char *variants[] = { "Groups:\t \n", "Groups:\n", "" };
	struct proc_status st;
	char *buf;
	size_t i;

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		buf = make_status(variants[i]);
		assert_int_equal(parse_pid_status_buf(buf, &st), 0);
		free(buf);
		check_status_common(&st);
		assert_int_equal(st.ngroups, 0);
		assert_null(st.groups);
		free_pid_status(&st);
	}
}

static void test_status_single_group(void **state)
{
	struct proc_status st;
	char *buf;

	buf = make_status("Groups:\t4294967295\n");
	assert_int_equal(parse_pid_status_buf(buf, &st), 0);
	free(buf);
	assert_int_equal(st.ngroups, 1);
	assert_int_equal(st.groups[0], 4294967295U);
	free_pid_status(&st);
}

static void test_status_group_limit(void **state)
{
	struct proc_status st;
	char *line, *p, *buf;
	int i;

	line = malloc(16 + (PROC_MAX_GROUPS + 1) * 8);
	assert_non_null(line);

	p = line + sprintf(line, "Groups:\t");
	for (i = 0; i < PROC_MAX_GROUPS; i++)
		p += sprintf(p, "%d ", i);
	strcpy(p, "\n");
	buf = make_status(line);
	assert_int_equal(parse_pid_status_buf(buf, &st), 0);
	assert_int_equal(st.ngroups, PROC_MAX_GROUPS);
	assert_int_equal(st.groups[PROC_MAX_GROUPS - 1], PROC_MAX_GROUPS - 1);
	free_pid_status(&st);
	free(buf);

	/* One more is refused and nothing leaks. */
	sprintf(p, "%d\n", PROC_MAX_GROUPS);
	buf = make_status(line);
	quiet();
	assert_int_equal(parse_pid_status_buf(buf, &st), -1);
	loud();
	assert_null(st.groups);
	free(buf);
	free(line);
}

static void test_status_no_umask(void **state)
{
	const char *buf = "Name:\told\nState:\tR (running)\nTgid:\t5\nPid:\t5\nPPid:\t0\n"
			  "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\n";
	struct proc_status st;

	assert_int_equal(parse_pid_status_buf(buf, &st), 0);
	assert_int_equal(st.umask, -1);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.pid, 5);
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.threads, 1);
	assert_true(st.vm_lck_kb == UINT64_MAX);
	assert_int_equal(st.sigcgt, 0);
	assert_int_equal(st.ngroups, 0);
	free_pid_status(&st);
}

static void test_status_malformed(void **state)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{ "Uid:\t1000\t1001\t1002\t1003\n", "Uid:\t1000\t1001\t1002\n" },
		{ "Uid:\t1000\t1001\t1002\t1003\n", "Uid:\t1000\t1001\t1002\t1003\t5\n" },
		{ "Uid:\t1000\t1001\t1002\t1003\n", "Uid:\t1000\t1001\t1002\t-1003\n" },
		{ "Gid:\t2000\t2001\t2002\t4294967294\n", "Gid:\t2000\t2001\t2002\t4294967296\n" },
		{ "Pid:\t1201\n", "" },					/* required */
		{ "Pid:\t1201\n", "Pid:\t1201\nPid:\t1202\n" },		/* duplicate */
		{ "Pid:\t1201\n", "Pid:\tabc\n" },
		{ "Pid:\t1201\n", "Pid:\t12x\n" },
		{ "Pid:\t1201\n", "Pid:\t\n" },
		{ "Tgid:\t1200\n", "Tgid:\t99999999999\n" },
		{ "State:\tS (sleeping)\n", "State:\t\n" },
		{ "SigBlk:\t0000000000010000\n", "SigBlk:\tzz\n" },
		{ "CapEff:\t000001fffeffff00\n", "CapEff:\t10000000000000000\n" },
		{ "Umask:\t0027\n", "Umask:\t0089\n" },
		{ "Umask:\t0027\n", "Umask:\t01777\n" },
		{ "Threads:\t3\n", "Threads:\t3 threads\n" },
		{ "VmLck:\t     136 kB\n", "VmLck:\t     136\n" },
		{ "VmLck:\t     136 kB\n", "VmLck:\t     136 MB\n" },
		{ "VmLck:\t     136 kB\n", "VmLck:\t     x kB\n" },
	};
	struct proc_status st;
	char *buf, *bad;
	size_t i;

	buf = make_status("Groups:\t1 2 3\n");
	quiet();
	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		bad = replace_dup(buf, edits[i].from, edits[i].to);
		if (parse_pid_status_buf(bad, &st) != -1)
			fail_msg("accepted bad status edit #%zu", i);
		assert_null(st.groups);
		free(bad);
	}

	/* Bad groups after a few good ones: the partial array is freed. */
	free(buf);
	buf = make_status("Groups:\t1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x\n");
	assert_int_equal(parse_pid_status_buf(buf, &st), -1);
	assert_null(st.groups);
	free(buf);

	assert_int_equal(parse_pid_status_buf("", &st), -1);
	assert_int_equal(parse_pid_status_buf("garbage\nmore garbage\n", &st), -1);
	loud();
}

/* ---------------------------------------------------------------------- */
/* fdinfo                                                                 */
/* ---------------------------------------------------------------------- */

static void test_fdinfo_regular(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fdinfo_buf("pos:\t1234\nflags:\t0102002\nmnt_id:\t25\nino:\t4242\n", &fi), 0);
	assert_int_equal(fi.pos, 1234);
	assert_int_equal(fi.flags, 0102002);	/* O_RDWR | O_APPEND | O_LARGEFILE */
	assert_int_equal(fi.mnt_id, 25);
	assert_int_equal(fi.ino, 4242);

	/* A 64-bit position; flags with O_CLOEXEC. */
	assert_int_equal(parse_fdinfo_buf("pos:\t18446744073709551615\nflags:\t02100000\n"
					  "mnt_id:\t1\nino:\t1\n", &fi), 0);
	assert_int_equal(fi.pos, UINT64_MAX);
	assert_int_equal(fi.flags, 02100000);
}

static void test_fdinfo_eventfd(void **state)
{
	const char *buf = "pos:\t0\n"
			  "flags:\t02004002\n"
			  "mnt_id:\t15\n"
			  "ino:\t1057\n"
			  "eventfd-count:                5\n"
			  "eventfd-id: 3\n"
			  "eventfd-semaphore: 0\n";
	struct proc_fdinfo fi;

	assert_int_equal(parse_fdinfo_buf(buf, &fi), 0);
	assert_int_equal(fi.pos, 0);
	assert_int_equal(fi.flags, 02004002);
	assert_int_equal(fi.mnt_id, 15);
	assert_int_equal(fi.ino, 1057);
}

static void test_fdinfo_other_extras(void **state)
{
	const char *inotify = "pos:\t0\nflags:\t00\nmnt_id:\t15\nino:\t1057\n"
			      "inotify wd:1 ino:2a sdev:800001 mask:fff ignored_mask:0 fhandle-bytes:8\n";
	const char *epoll = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1058\n"
			    "tfd:        5 events:       19 data:                5  pos:0 ino:3 sdev:f\n";
	const char *timerfd = "pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1059\nclockid: 1\n"
			      "ticks: 0\nsettime flags: 01\nit_value: (0, 0)\nit_interval: (0, 0)\n";
	struct proc_fdinfo fi;

	assert_int_equal(parse_fdinfo_buf(inotify, &fi), 0);
	assert_int_equal(fi.flags, 0);
	assert_int_equal(fi.ino, 1057);

	assert_int_equal(parse_fdinfo_buf(epoll, &fi), 0);
	assert_int_equal(fi.flags, 02);
	assert_int_equal(fi.ino, 1058);

	assert_int_equal(parse_fdinfo_buf(timerfd, &fi), 0);
	assert_int_equal(fi.flags, 02);
	assert_int_equal(fi.ino, 1059);
}

static void test_fdinfo_optional(void **state)
{
	struct proc_fdinfo fi;

	/* Older kernels: no ino, no mnt_id. */
	assert_int_equal(parse_fdinfo_buf("pos:\t7\nflags:\t0100000\nmnt_id:\t21\n", &fi), 0);
	assert_int_equal(fi.pos, 7);
	assert_int_equal(fi.mnt_id, 21);
	assert_int_equal(fi.ino, 0);

	assert_int_equal(parse_fdinfo_buf("pos:\t7\nflags:\t01\n", &fi), 0);
	assert_int_equal(fi.flags, 1);
	assert_int_equal(fi.mnt_id, -1);
	assert_int_equal(fi.ino, 0);
}

/* ---------------------------------------------------------------------- */
/* lock lines                                                             */
/* ---------------------------------------------------------------------- */

static void test_lock_lines(void **state)
{
	struct proc_lock l;

	assert_int_equal(parse_lock_line("lock:\t1: FLOCK  ADVISORY  WRITE 26219 fe:00:10953794 0 EOF", &l), 0);
	assert_false(l.waiter);
	assert_string_equal(l.kind, "FLOCK");
	assert_string_equal(l.mode, "ADVISORY");
	assert_string_equal(l.type, "WRITE");
	assert_int_equal(l.pid, 26219);
	assert_int_equal(l.maj, 0xfe);
	assert_int_equal(l.min, 0);
	assert_int_equal(l.ino, 10953794);
	assert_int_equal(l.start, 0);
	assert_true(l.end == UINT64_MAX);

	assert_int_equal(parse_lock_line("2: POSIX  ADVISORY  READ 17 08:1a:5 40 49\n", &l), 0);
	assert_string_equal(l.kind, "POSIX");
	assert_string_equal(l.type, "READ");
	assert_int_equal(l.maj, 8);
	assert_int_equal(l.min, 0x1a);
	assert_int_equal(l.start, 40);
	assert_int_equal(l.end, 49);

	/* OFD locks have no pid; a waiter follows the lock it waits for */
	assert_int_equal(parse_lock_line("1: -> OFDLCK ADVISORY  WRITE -1 fe:00:10953828 3 9", &l), 0);
	assert_true(l.waiter);
	assert_string_equal(l.kind, "OFDLCK");
	assert_int_equal(l.pid, -1);
	assert_int_equal(l.start, 3);
	assert_int_equal(l.end, 9);

	assert_int_equal(parse_lock_line("lock:\t1: LEASE  ACTIVE    READ 300 00:2a:77 0 EOF\n", &l), 0);
	assert_string_equal(l.kind, "LEASE");
	assert_string_equal(l.mode, "ACTIVE");
}

static void test_lock_lines_malformed(void **state)
{
	struct proc_lock l;

	assert_int_equal(parse_lock_line("", &l), -1);
	assert_int_equal(parse_lock_line("1 FLOCK  ADVISORY  WRITE 1 fe:00:1 0 EOF", &l), -1);
	assert_int_equal(parse_lock_line("1: FLOCK  ADVISORY  WRITE 1 fe:00 0 EOF", &l), -1);
	assert_int_equal(parse_lock_line("1: POSIX  ADVISORY  WRITE 1 fe:00:1 9 3", &l), -1);
	assert_int_equal(parse_lock_line("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF junk", &l), -1);
	assert_int_equal(parse_lock_line("1: POSIX  ADVISORY  WRITE x fe:00:1 0 EOF", &l), -1);
	assert_int_equal(parse_lock_line("1: POSIX  ADVISORY  WRITE 1 <none>:0 0 EOF", &l), -1);
	assert_int_equal(parse_lock_line("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0", &l), -1);
}

static void test_fdinfo_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"pos:\t7\n",					/* no flags */
		"flags:\t02\n",					/* no pos */
		"pos:\t7\nflags:\t0109\n",			/* not octal */
		"pos:\t7\nflags:\t040000000000\n",		/* > 32 bits */
		"pos:\t-7\nflags:\t02\n",
		"pos:\t7x\nflags:\t02\n",
		"pos:\t7\nflags:\t02\nmnt_id:\tx\n",
		"pos:\t7\nflags:\t02\nino:\t0x10\n",
		"pos:\t7\nflags:\t02\npos:\t8\n",
	};
	struct proc_fdinfo fi;
	size_t i;

	quiet();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_fdinfo_buf(bad[i], &fi) != -1)
			fail_msg("accepted bad fdinfo #%zu", i);
	}
	loud();
}

/* ---------------------------------------------------------------------- */
/* live tests against our own /proc entries                               */
/* ---------------------------------------------------------------------- */

static int live_marker(int x)
{
	return x * 3 + 1;
}

static const struct proc_vma *find_vma(const struct proc_vma *v, int nr, uint64_t addr)
{
	int i;

	for (i = 0; i < nr; i++)
		if (addr >= v[i].start && addr < v[i].end)
			return &v[i];
	return NULL;
}

static void test_live_maps(void **state)
{
	const struct proc_vma *code, *data;
	struct proc_vma *v;
	int i, nr, local = live_marker(1);
	bool stack = false, sorted = true;

	assert_int_equal(parse_maps(getpid(), &v, &nr), 0);
	assert_true(nr > 5);

	code = find_vma(v, nr, (uintptr_t)&live_marker);
	assert_non_null(code);
	assert_true(code->prot & PROT_EXEC);
	assert_non_null(code->name);
	assert_non_null(strstr(code->name, "test_proc_parse"));
	assert_false(code->deleted);

	data = find_vma(v, nr, (uintptr_t)&local);
	assert_non_null(data);
	assert_int_equal(data->prot & (PROT_READ | PROT_WRITE), PROT_READ | PROT_WRITE);

	for (i = 0; i < nr; i++) {
		if (v[i].name && !strcmp(v[i].name, "[stack]"))
			stack = true;
		if (i && v[i].start < v[i - 1].end)
			sorted = false;
	}
	assert_true(stack);
	assert_true(sorted);
	free_maps(v, nr);

	/* pid 0 is ourselves too. */
	assert_int_equal(parse_maps(0, &v, &nr), 0);
	assert_non_null(find_vma(v, nr, (uintptr_t)&live_marker));
	free_maps(v, nr);
}

/* A real mapping whose name needs unescaping and carries " (deleted)". */
static void test_live_maps_odd_name(void **state)
{
	char dir[] = "/tmp/pp-test-XXXXXX", path[128];
	const struct proc_vma *m;
	struct proc_vma *v;
	void *addr;
	int fd, nr;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/odd\nname (deleted) x", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * 4096), 0);
	addr = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 4096);
	assert_true(addr != MAP_FAILED);
	close(fd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);

	assert_int_equal(parse_maps(0, &v, &nr), 0);
	m = find_vma(v, nr, (uintptr_t)addr);
	assert_non_null(m);
	assert_int_equal(m->start, (uintptr_t)addr);
	assert_int_equal(m->end, (uintptr_t)addr + 2 * 4096);
	assert_int_equal(m->pgoff, 4096);
	assert_true(m->shared);
	assert_int_equal(m->prot, PROT_READ);
	assert_string_equal(m->name, path);
	assert_true(m->deleted);
	free_maps(v, nr);
	munmap(addr, 2 * 4096);
}

static void test_live_stat(void **state)
{
	struct proc_pid_stat s;
	char *comm;
	size_t len;

	assert_int_equal(parse_pid_stat(getpid(), &s), 0);
	assert_int_equal(s.pid, getpid());
	assert_int_equal(s.ppid, getppid());
	assert_int_equal(s.pgid, getpgrp());
	assert_int_equal(s.sid, getsid(0));
	assert_int_equal(s.state, 'R');
	assert_true(s.num_threads >= 1);
	assert_int_equal(s.exit_signal, 17);	/* SIGCHLD */
	assert_true(s.arg_start < s.arg_end);
	assert_true(s.env_start <= s.env_end);

	comm = read_proc_file(0, "comm", &len);
	assert_non_null(comm);
	assert_true(len > 1);
	comm[len - 1] = '\0';		/* drop '\n' */
	assert_string_equal(s.comm, comm);
	free(comm);
}

static void test_live_status(void **state)
{
	struct proc_status st;
	gid_t groups[256];
	int ngroups, i;
	mode_t mask;

	mask = umask(0026);
	ngroups = getgroups(256, groups);
	assert_true(ngroups >= 0);

	assert_int_equal(parse_pid_status(getpid(), &st), 0);
	umask(mask);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.tgid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.uid[0], getuid());
	assert_int_equal(st.uid[1], geteuid());
	assert_int_equal(st.gid[0], getgid());
	assert_int_equal(st.gid[1], getegid());
	assert_int_equal(st.umask, 0026);
	assert_true(st.threads >= 1);
	assert_int_equal(st.ngroups, ngroups);
	for (i = 0; i < ngroups; i++)
		assert_int_equal(st.groups[i], groups[i]);
	free_pid_status(&st);
}

static void test_live_fdinfo(void **state)
{
	char path[] = "/tmp/pp-fdinfo-XXXXXX";
	struct proc_fdinfo fi;
	struct stat stbuf;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(lseek(fd, 3, SEEK_SET), 3);
	assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
	assert_int_equal(fstat(fd, &stbuf), 0);

	assert_int_equal(parse_fdinfo(getpid(), fd, &fi), 0);
	assert_int_equal(fi.pos, 3);
	assert_true(fi.flags & O_APPEND);
	assert_int_equal(fi.flags & O_ACCMODE, O_RDWR);
	assert_true(fi.mnt_id > 0);
	assert_int_equal(fi.ino, stbuf.st_ino);
	close(fd);
}

static void test_read_proc_file(void **state)
{
	char *buf;
	size_t len;

	/* smaps is way over one read chunk. */
	buf = read_proc_file(0, "smaps", &len);
	assert_non_null(buf);
	assert_true(len > 16384);
	assert_int_equal(strlen(buf), len);
	assert_non_null(strstr(buf, "[stack]"));
	free(buf);

	buf = read_proc_file(getpid(), "cmdline", NULL);
	assert_non_null(buf);
	assert_non_null(strstr(buf, "test_proc_parse"));
	free(buf);

	quiet();
	errno = 0;
	assert_null(read_proc_file(0, "no-such-file", &len));
	assert_int_equal(errno, ENOENT);
	assert_null(read_proc_file(-5, "stat", &len));
	assert_int_equal(errno, EINVAL);
	loud();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_anon),
		cmocka_unit_test(test_maps_file),
		cmocka_unit_test(test_maps_shared),
		cmocka_unit_test(test_maps_spaces),
		cmocka_unit_test(test_maps_deleted),
		cmocka_unit_test(test_maps_escaped_newline),
		cmocka_unit_test(test_maps_long_path),
		cmocka_unit_test(test_maps_special),
		cmocka_unit_test(test_maps_vsyscall),
		cmocka_unit_test(test_maps_malformed),
		cmocka_unit_test(test_maps_buf),
		cmocka_unit_test(test_smaps_buf),
		cmocka_unit_test(test_maps_buf_bad),
		cmocka_unit_test(test_stat_real),
		cmocka_unit_test(test_stat_field_numbers),
		cmocka_unit_test(test_stat_comm),
		cmocka_unit_test(test_stat_negative),
		cmocka_unit_test(test_stat_malformed),
		cmocka_unit_test(test_status_many_groups),
		cmocka_unit_test(test_status_no_groups),
		cmocka_unit_test(test_status_single_group),
		cmocka_unit_test(test_status_group_limit),
		cmocka_unit_test(test_status_no_umask),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_fdinfo_regular),
		cmocka_unit_test(test_fdinfo_eventfd),
		cmocka_unit_test(test_fdinfo_other_extras),
		cmocka_unit_test(test_fdinfo_optional),
		cmocka_unit_test(test_fdinfo_malformed),
		cmocka_unit_test(test_lock_lines),
		cmocka_unit_test(test_lock_lines_malformed),
		cmocka_unit_test(test_live_maps),
		cmocka_unit_test(test_live_maps_odd_name),
		cmocka_unit_test(test_live_stat),
		cmocka_unit_test(test_live_status),
		cmocka_unit_test(test_live_fdinfo),
		cmocka_unit_test(test_read_proc_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
