// SPDX-License-Identifier: GPL-2.0-only
/* The cgroup code's text and path helpers (criu/cgroup/cgroup-parse.c). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgroup.h"

static void test_parse_proc(void **state)
{
	char buf[] = "12:cpu,cpuacct:/a/b\n1:name=systemd:/user.slice\n0::/x:y/z\n";
	struct cg_line l[4];

	(void)state;
	assert_int_equal(cg_parse_proc(buf, l, 4), 3);
	assert_int_equal(l[0].id, 12);
	assert_string_equal(l[0].ctrls, "cpu,cpuacct");
	assert_string_equal(l[0].path, "/a/b");
	assert_string_equal(l[1].ctrls, "name=systemd");
	assert_int_equal(l[2].id, 0);
	assert_string_equal(l[2].ctrls, "");
	/* the path keeps its own colons */
	assert_string_equal(l[2].path, "/x:y/z");
}

static void test_parse_proc_bad(void **state)
{
	const char *bad[] = { "cpu:/a\n", "x:cpu:/a\n", ":cpu:/a\n", "3:cpu:a\n", "3:cpu\n", "3cpu:/a\n" };
	char buf[64];
	struct cg_line l[4];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(buf, bad[i]);
		assert_int_equal(cg_parse_proc(buf, l, 4), -1);
	}
	strcpy(buf, "1:a:/\n2:b:/\n3:c:/\n");
	assert_int_equal(cg_parse_proc(buf, l, 2), -1);
	strcpy(buf, "");
	assert_int_equal(cg_parse_proc(buf, l, 2), 0);
}

static void test_within(void **state)
{
	(void)state;
	assert_true(cg_path_within("/a/b", "/a"));
	assert_true(cg_path_within("/a", "/a"));
	assert_true(cg_path_within("/a", "/"));
	assert_true(cg_path_within("/", "/"));
	assert_false(cg_path_within("/ab", "/a"));
	assert_false(cg_path_within("/a", "/a/b"));
}

static void test_common_ancestor(void **state)
{
	char out[PATH_MAX];

	(void)state;
	cg_common_ancestor("/a/b", "/a/c", out, sizeof(out));
	assert_string_equal(out, "/a");
	cg_common_ancestor("/a", "/a/b", out, sizeof(out));
	assert_string_equal(out, "/a");
	cg_common_ancestor("/a/b", "/a/b", out, sizeof(out));
	assert_string_equal(out, "/a/b");
	cg_common_ancestor("/ab", "/a", out, sizeof(out));
	assert_string_equal(out, "/");
	cg_common_ancestor("/", "/x", out, sizeof(out));
	assert_string_equal(out, "/");
	cg_common_ancestor("/x/yy/z", "/x/yy", out, sizeof(out));
	assert_string_equal(out, "/x/yy");
}

static void test_relocate(void **state)
{
	char out[PATH_MAX];

	(void)state;
	assert_int_equal(cg_relocate("/a/b/c", "/a/b", "/n", out, sizeof(out)), 0);
	assert_string_equal(out, "/n/c");
	assert_int_equal(cg_relocate("/a/b", "/a/b", "/n/m", out, sizeof(out)), 0);
	assert_string_equal(out, "/n/m");
	assert_int_equal(cg_relocate("/x", "/", "/n", out, sizeof(out)), 0);
	assert_string_equal(out, "/n/x");
	assert_int_equal(cg_relocate("/", "/", "/n", out, sizeof(out)), 0);
	assert_string_equal(out, "/n");
	assert_int_equal(cg_relocate("/a/x", "/a", "/", out, sizeof(out)), 0);
	assert_string_equal(out, "/x");
	assert_int_equal(cg_relocate("/a", "/a", "/", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(cg_relocate("/a/long", "/a", "/n", out, 6), -1);
}

static void test_ctrl_matches(void **state)
{
	(void)state;
	assert_true(cg_ctrl_matches("cpu,cpuacct", "cpu"));
	assert_true(cg_ctrl_matches("cpu,cpuacct", "cpuacct"));
	assert_true(cg_ctrl_matches("cpu,cpuacct", "cpu,cpuacct"));
	assert_true(cg_ctrl_matches("cpu", "cpu,cpuacct"));
	assert_false(cg_ctrl_matches("cpuset", "cpu"));
	assert_false(cg_ctrl_matches("cpu", ""));
	assert_true(cg_ctrl_matches("name=systemd", "name=systemd"));
	assert_false(cg_ctrl_matches("name=systemd", "systemd"));
	assert_true(cg_ctrl_matches("", ""));
	assert_true(cg_ctrl_matches("", "unified"));
	assert_false(cg_ctrl_matches("", "cpu"));
}

static void test_modes(void **state)
{
	(void)state;
	assert_int_equal(cg_mode_parse(NULL), CG_MODE_DEFAULT);
	assert_int_equal(cg_mode_parse("default"), CG_MODE_SOFT);
	assert_int_equal(cg_mode_parse("soft"), CG_MODE_SOFT);
	assert_int_equal(cg_mode_parse("strict"), CG_MODE_STRICT);
	assert_int_equal(cg_mode_parse("ignore"), CG_MODE_IGNORE);
	assert_int_equal(cg_mode_parse("Soft"), -1);
	assert_int_equal(cg_mode_parse(""), -1);
	assert_string_equal(cg_mode_name(CG_MODE_DEFAULT), "soft");
	assert_string_equal(cg_mode_name(CG_MODE_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_proc),
		cmocka_unit_test(test_parse_proc_bad),
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_common_ancestor),
		cmocka_unit_test(test_relocate),
		cmocka_unit_test(test_ctrl_matches),
		cmocka_unit_test(test_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
