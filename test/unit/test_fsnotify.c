// SPDX-License-Identifier: GPL-2.0-only
/* The fsnotify fdinfo lines and mountinfo lines, as the kernel prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fsnotify.h"

static void test_inotify_wd(void **state)
{
	struct fsn_inotify_wd w;

	assert_int_equal(fsn_parse_inotify_wd("inotify wd:1a ino:3c51a sdev:fe00000 mask:84000100 ignored_mask:0 "
					      "fhandle-bytes:8 fhandle-type:1 f_handle:1ac5030000000000\n", &w), 1);
	assert_int_equal(w.wd, 0x1a);
	assert_int_equal(w.ino, 0x3c51a);
	assert_int_equal(w.sdev, 0xfe00000);
	assert_int_equal(w.mask, 0x84000100);
	assert_int_equal(w.fh.bytes, 8);
	assert_int_equal(w.fh.type, 1);
	assert_memory_equal(w.fh.data, "\x1a\xc5\x03\x00\x00\x00\x00\x00", 8);
	assert_int_equal(major(fsn_kdev(w.sdev)), 254);
	assert_int_equal(minor(fsn_kdev(w.sdev)), 0);

	/* no handle (the kernel could not make one) */
	assert_int_equal(fsn_parse_inotify_wd("inotify wd:2 ino:1 sdev:f mask:2 ignored_mask:0", &w), 1);
	assert_int_equal(w.fh.bytes, 0);
	/* other lines */
	assert_int_equal(fsn_parse_inotify_wd("pos:\t0\n", &w), 0);
	assert_int_equal(fsn_parse_inotify_wd("fanotify flags:0 event-flags:0\n", &w), 0);
}

static void test_inotify_wd_bad(void **state)
{
	struct fsn_inotify_wd w;
	static const char *const bad[] = {
		"inotify wd:0 ino:1 sdev:1 mask:2 ignored_mask:0",
		"inotify wd:1 ino:1 sdev:1 ignored_mask:0",
		"inotify wd:1x ino:1 sdev:1 mask:2 ignored_mask:0",
		"inotify wd:100000000 ino:1 sdev:1 mask:2 ignored_mask:0",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1ac503",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:2 fhandle-type:1 f_handle:1ac5ff",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:2 fhandle-type:1 f_handle:1xc5",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:81 fhandle-type:1 f_handle:00",
		"inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0 fhandle-bytes:1 fhandle-type:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fsn_parse_inotify_wd(bad[i], &w), -1);
}

static void test_fanotify(void **state)
{
	struct fsn_fanotify_mark m;
	unsigned int f, ef;

	assert_int_equal(fsn_parse_fanotify_group("fanotify flags:202 event-flags:8000\n", &f, &ef), 1);
	assert_int_equal(f, 0x202);
	assert_int_equal(ef, 0x8000);
	assert_int_equal(fsn_parse_fanotify_mark("fanotify flags:202 event-flags:8000\n", &m), 0);
	assert_int_equal(fsn_parse_fanotify_group("fanotify sdev:1b mflags:0 mask:8 ignored_mask:0\n", &f, &ef), 0);

	assert_int_equal(fsn_parse_fanotify_mark("fanotify ino:35d sdev:fe00000 mflags:40 mask:0 ignored_mask:8 "
						 "fhandle-bytes:8 fhandle-type:1 f_handle:5d03000000000000\n", &m), 1);
	assert_int_equal(m.type, FSN_MARK_INODE);
	assert_int_equal(m.ino, 0x35d);
	assert_int_equal(m.mflags, 0x40);
	assert_int_equal(m.mask, 0);
	assert_int_equal(m.ignored_mask, 8);
	assert_int_equal(m.fh.bytes, 8);
	assert_int_equal(m.fh.data[0], 0x5d);

	assert_int_equal(fsn_parse_fanotify_mark("fanotify sdev:1b mflags:0 mask:8 ignored_mask:0\n", &m), 1);
	assert_int_equal(m.type, FSN_MARK_SB);
	assert_int_equal(m.sdev, 0x1b);
	assert_int_equal(m.mask, 8);

	assert_int_equal(fsn_parse_fanotify_mark("fanotify mnt_id:1b mflags:0 mask:20 ignored_mask:0\n", &m), 1);
	assert_int_equal(m.type, FSN_MARK_MOUNT);
	assert_int_equal(m.mnt_id, 0x1b);
	assert_int_equal(m.mask, 0x20);

	assert_int_equal(fsn_parse_fanotify_mark("fanotify mflags:0 mask:20 ignored_mask:0\n", &m), -1);
	assert_int_equal(fsn_parse_fanotify_mark("fanotify mnt_id:1b mask:20 ignored_mask:0\n", &m), -1);
	assert_int_equal(fsn_parse_fanotify_mark("inotify wd:1 ino:1 sdev:1 mask:2 ignored_mask:0\n", &m), 0);
}

static void test_mountinfo(void **state)
{
	struct fsn_mount m;

	assert_int_equal(fsn_parse_mountinfo_line("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n", &m), 0);
	assert_int_equal(m.mnt_id, 27);
	assert_int_equal(m.maj, 254);
	assert_int_equal(m.min, 0);
	assert_string_equal(m.root, "/");
	assert_string_equal(m.point, "/");

	assert_int_equal(fsn_parse_mountinfo_line("40 27 0:45 /sub\\040dir /mnt/a\\134b\\012c rw shared:1 - tmpfs x rw",
						  &m), 0);
	assert_string_equal(m.root, "/sub dir");
	assert_string_equal(m.point, "/mnt/a\\b\nc");
	assert_int_equal(m.min, 45);

	assert_int_equal(fsn_parse_mountinfo_line("x 1 0:1 / / rw", &m), -1);
	assert_int_equal(fsn_parse_mountinfo_line("27 1 254 / / rw", &m), -1);
	assert_int_equal(fsn_parse_mountinfo_line("27 1 254:0 /", &m), -1);
	assert_int_equal(fsn_parse_mountinfo_line("", &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inotify_wd),
		cmocka_unit_test(test_inotify_wd_bad),
		cmocka_unit_test(test_fanotify),
		cmocka_unit_test(test_mountinfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
