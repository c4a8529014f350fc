// SPDX-License-Identifier: GPL-2.0-only
/*
 * unix_diag_parse(), inet_diag_parse(), packet_diag_parse(),
 * netlink_diag_parse(): answers built with libnl the way the kernel sends
 * them; proc_net_parse(): /proc/net/raw and raw6 text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/inet_diag.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

static void test_inet(void **state)
{
	struct inet_diag_msg m = { .idiag_family = AF_INET6, .idiag_state = 1, .idiag_inode = 555,
				   .idiag_rqueue = 10, .idiag_wqueue = 20, .idiag_uid = 65534 };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_info i;

	(void)state;
	m.id.idiag_sport = htons(80);
	m.id.idiag_dport = htons(40000);
	m.id.idiag_src[3] = htonl(1);
	m.id.idiag_if = 1;
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(nla_put_u8(msg, INET_DIAG_SHUTDOWN, 1), 0);
	assert_int_equal(nla_put_u32(msg, INET_DIAG_MARK, 0x42), 0);
	assert_int_equal(inet_diag_parse(nlmsg_hdr(msg), IPPROTO_TCP, &i), 0);
	assert_int_equal(i.ino, 555);
	assert_int_equal(i.family, AF_INET6);
	assert_int_equal(i.protocol, IPPROTO_TCP);
	assert_int_equal(i.sport, 80);
	assert_int_equal(i.dport, 40000);
	assert_int_equal(i.src[3], htonl(1));
	assert_int_equal(i.ifindex, 1);
	assert_int_equal(i.rqueue, 10);
	assert_int_equal(i.wqueue, 20);
	assert_int_equal(i.shutdown, 1);
	assert_true(i.has_mark);
	assert_int_equal(i.mark, 0x42);
	assert_false(i.md5);
	nlmsg_free(msg);
}

static void test_inet_bad(void **state)
{
	struct inet_diag_msg m = { .idiag_family = AF_UNIX };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_info i;

	(void)state;
	/* too short */
	assert_int_equal(nlmsg_append(msg, &m, 8, NLMSG_ALIGNTO), 0);
	assert_int_equal(inet_diag_parse(nlmsg_hdr(msg), IPPROTO_TCP, &i), -1);
	nlmsg_free(msg);
	/* another family */
	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(inet_diag_parse(nlmsg_hdr(msg), IPPROTO_TCP, &i), -1);
	nlmsg_free(msg);
}

static const char raw4[] =
	"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
	"    1: 0100007F:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1111 2 0000000000000000 0\n"
	"  255: 00000000:00FF 0100007F:0000 01 00000000:00000000 00:00000000 00000000  1000        0 2222 2 0000000000000000 0\n";
static const char raw6[] =
	"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
	"   58: 00000000000000000000000001000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3333 2 0000000000000000 0\n";

static void test_proc_net(void **state)
{
	struct proc_net_sk p;
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;

	(void)state;
	assert_int_equal(proc_net_parse(raw4, 0, 1111, &p), 0);
	assert_int_equal(p.src[0], htonl(INADDR_LOOPBACK));
	assert_int_equal(p.sport, 1);
	assert_int_equal(p.state, 7);
	assert_int_equal(proc_net_parse(raw4, 0, 2222, &p), 0);
	assert_int_equal(p.src[0], 0);
	assert_int_equal(p.dst[0], htonl(INADDR_LOOPBACK));
	assert_int_equal(p.sport, 255);
	assert_int_equal(p.state, 1);
	assert_int_equal(proc_net_parse(raw6, 1, 3333, &p), 0);
	assert_memory_equal(p.src, &lo6, 16);
	assert_int_equal(p.sport, 58);
	/* not there; a header only; an address of the wrong size; garbage */
	assert_int_equal(proc_net_parse(raw4, 0, 4444, &p), 1);
	assert_int_equal(proc_net_parse("header only\n", 0, 1, &p), 1);
	assert_int_equal(proc_net_parse(raw6, 0, 3333, &p), -1);
	assert_int_equal(proc_net_parse("h\n  1: garbage\n", 0, 1, &p), -1);
}

/* A packet socket with everything packet_diag shows (its protocol in host order). */
static void test_packet(void **state)
{
	struct packet_diag_msg m = { .pdiag_family = AF_PACKET, .pdiag_type = SOCK_RAW, .pdiag_num = 0x88b5,
				     .pdiag_ino = 31337 };
	struct packet_diag_info info = { .pdi_index = 2, .pdi_version = 2, .pdi_copy_thresh = 1 };
	struct packet_diag_mclist mc[2] = { { .pdmc_index = 1, .pdmc_count = 2, .pdmc_type = 1 },
					    { .pdmc_index = 1, .pdmc_count = 1, .pdmc_type = 0, .pdmc_alen = 6,
					      .pdmc_addr = { 1, 0, 0x5e, 0, 0, 1 } } };
	struct packet_diag_ring rx = { .pdr_block_size = 8192, .pdr_block_nr = 4, .pdr_retire_tmo = 10 };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct packet_diag_sk p;

	(void)state;
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(nla_put(msg, PACKET_DIAG_INFO, sizeof(info), &info), 0);
	assert_int_equal(nla_put(msg, PACKET_DIAG_MCLIST, sizeof(mc), mc), 0);
	assert_int_equal(nla_put(msg, PACKET_DIAG_RX_RING, sizeof(rx), &rx), 0);
	assert_int_equal(nla_put_u32(msg, PACKET_DIAG_FANOUT, 0x10007), 0);
	assert_int_equal(packet_diag_parse(nlmsg_hdr(msg), &p), 0);
	assert_int_equal(p.ino, 31337);
	assert_int_equal(p.type, SOCK_RAW);
	assert_int_equal(p.num, 0x88b5);
	assert_true(p.has_info);
	assert_int_equal(p.info.pdi_index, 2);
	assert_int_equal(p.nr_mc, 2);
	assert_int_equal(p.mc[0].pdmc_count, 2);
	assert_int_equal(p.mc[1].pdmc_addr[2], 0x5e);
	assert_true(p.has_rx);
	assert_false(p.has_tx);
	assert_int_equal(p.rx.pdr_retire_tmo, 10);
	assert_true(p.has_fanout);
	assert_int_equal(p.fanout, 0x10007);
	free(p.mc);
	nlmsg_free(msg);
}

static void test_packet_bad(void **state)
{
	struct packet_diag_msg m = { .pdiag_family = AF_PACKET, .pdiag_ino = 1 };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct packet_diag_sk p;

	(void)state;
	/* a membership list that is not a whole number of entries */
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(nla_put(msg, PACKET_DIAG_MCLIST, 10, "0123456789"), 0);
	assert_int_equal(packet_diag_parse(nlmsg_hdr(msg), &p), -1);
	nlmsg_free(msg);
	/* another family */
	m.pdiag_family = AF_UNIX;
	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(packet_diag_parse(nlmsg_hdr(msg), &p), -1);
	nlmsg_free(msg);
}

static void test_netlink(void **state)
{
	struct netlink_diag_msg m = { .ndiag_family = AF_NETLINK, .ndiag_type = SOCK_RAW, .ndiag_protocol = 0,
				      .ndiag_state = 1, .ndiag_portid = 4242, .ndiag_dst_portid = 7,
				      .ndiag_dst_group = 3, .ndiag_ino = 555 };
	struct nl_msg *msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct netlink_diag_sk n;

	(void)state;
	assert_int_equal(nlmsg_append(msg, &m, sizeof(m), NLMSG_ALIGNTO), 0);
	assert_int_equal(nla_put_u32(msg, NETLINK_DIAG_FLAGS, NDIAG_FLAG_CB_RUNNING | NDIAG_FLAG_PKTINFO), 0);
	assert_int_equal(netlink_diag_parse(nlmsg_hdr(msg), &n), 0);
	assert_int_equal(n.ino, 555);
	assert_int_equal(n.portid, 4242);
	assert_int_equal(n.dst_portid, 7);
	assert_int_equal(n.dst_group, 3);
	assert_int_equal(n.state, 1);
	assert_true(n.has_flags);
	assert_int_equal(n.flags, NDIAG_FLAG_CB_RUNNING | NDIAG_FLAG_PKTINFO);
	nlmsg_free(msg);
	/* too short for the header */
	msg = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	assert_int_equal(nlmsg_append(msg, &m, 8, NLMSG_ALIGNTO), 0);
	assert_int_equal(netlink_diag_parse(nlmsg_hdr(msg), &n), -1);
	nlmsg_free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inet),
		cmocka_unit_test(test_packet),
		cmocka_unit_test(test_packet_bad),
		cmocka_unit_test(test_netlink),
		cmocka_unit_test(test_inet_bad),
		cmocka_unit_test(test_proc_net),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
