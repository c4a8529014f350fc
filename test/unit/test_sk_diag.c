// SPDX-License-Identifier: GPL-2.0-only
/* unix_diag_parse(): answers built with libnl the way the kernel sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <cmocka.h>

#include "log.h"
#include "sk-diag.h"

static struct nl_msg *answer(uint8_t family, uint32_t ino)
{
	struct unix_diag_msg m = { .udiag_family = family, .udiag_type = SOCK_STREAM, .udiag_state = 10,
				   .udiag_ino = ino };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);

	assert_non_null(msg);
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	return msg;
}

static void test_full(void **state)
{
	struct unix_diag_vfs vfs = { .udiag_vfs_ino = 77, .udiag_vfs_dev = 5 };
	struct unix_diag_rqlen rq = { .udiag_rqueue = 2, .udiag_wqueue = 128 };
	uint32_t icons[3] = { 11, 12, 13 };
	struct nl_msg *msg = answer(AF_UNIX, 4242);
	struct unix_diag_info u;

	assert_int_equal(nla_put(msg, UNIX_DIAG_NAME, 9, "/tmp/sk\0"), 0);
	assert_int_equal(nla_put(msg, UNIX_DIAG_VFS, sizeof(vfs), &vfs), 0);
	assert_int_equal(nla_put_u32(msg, UNIX_DIAG_PEER, 99), 0);
	assert_int_equal(nla_put(msg, UNIX_DIAG_ICONS, sizeof(icons), icons), 0);
	assert_int_equal(nla_put(msg, UNIX_DIAG_RQLEN, sizeof(rq), &rq), 0);
	assert_int_equal(nla_put_u8(msg, UNIX_DIAG_SHUTDOWN, 2), 0);
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), 0);
	assert_int_equal(u.ino, 4242);
	assert_int_equal(u.type, SOCK_STREAM);
	assert_int_equal(u.state, 10);
	assert_int_equal(u.namelen, 9);
	assert_memory_equal(u.name, "/tmp/sk\0", 9);
	assert_true(u.has_vfs);
	assert_int_equal(u.vfs_ino, 77);
	assert_int_equal(u.peer, 99);
	assert_int_equal(u.nr_icons, 3);
	assert_int_equal(u.icons[2], 13);
	assert_int_equal(u.rqlen, 2);
	assert_int_equal(u.wqlen, 128);
	assert_int_equal(u.shutdown, 2);
	free(u.icons);
	nlmsg_free(msg);
}

static void test_bare(void **state)
{
	struct nl_msg *msg = answer(AF_UNIX, 7);
	struct unix_diag_info u;

	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), 0);
	assert_int_equal(u.ino, 7);
	assert_int_equal(u.namelen, 0);
	assert_false(u.has_vfs);
	assert_int_equal(u.peer, 0);
	assert_int_equal(u.nr_icons, 0);
	assert_null(u.icons);
	nlmsg_free(msg);
}

static void test_abstract(void **state)
{
	struct nl_msg *msg = answer(AF_UNIX, 8);
	struct unix_diag_info u;

	assert_int_equal(nla_put(msg, UNIX_DIAG_NAME, 4, "\0abc"), 0);
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), 0);
	assert_int_equal(u.namelen, 4);
	assert_memory_equal(u.name, "\0abc", 4);
	nlmsg_free(msg);
}

static void test_bad(void **state)
{
	char longname[200] = { '/' };
	struct unix_diag_info u;
	struct nl_msg *msg;

	log_set_level(LOG_MSG);
	msg = answer(AF_INET, 1);		/* another family */
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), -1);
	nlmsg_free(msg);
	msg = answer(AF_UNIX, 1);		/* icons not a whole number of inodes */
	assert_int_equal(nla_put(msg, UNIX_DIAG_ICONS, 6, "abcdef"), 0);
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), -1);
	nlmsg_free(msg);
	msg = answer(AF_UNIX, 1);		/* a name longer than sun_path */
	assert_int_equal(nla_put(msg, UNIX_DIAG_NAME, sizeof(longname), longname), 0);
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), -1);
	nlmsg_free(msg);
	msg = answer(AF_UNIX, 1);		/* a short vfs record */
	assert_int_equal(nla_put(msg, UNIX_DIAG_VFS, 4, "abcd"), 0);
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), -1);
	nlmsg_free(msg);
	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);	/* no unix_diag_msg at all */
	assert_int_equal(unix_diag_parse(nlmsg_hdr(msg), &u), -1);
	nlmsg_free(msg);
	log_set_level(DEFAULT_LOGLEVEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
