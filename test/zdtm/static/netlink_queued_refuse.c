// SPDX-License-Identifier: GPL-2.0-only
/*
 * Negative test: a route netlink socket at fd 80 has the kernel's answer
 * to a RTM_GETLINK request queued. Netlink can't read past the first
 * queued message without taking it, nor can anyone send it again as the
 * kernel did, so the dump must fail naming the socket (see the .desc) and
 * leave it untouched: after SIGTERM the answer is still there, whole.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include "zdtmtst.h"

#define SK_FD	80
#define SEQ	4242

int main(int argc, char **argv)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST,
		       .nlmsg_seq = SEQ },
		.i = { .ifi_family = AF_UNSPEC, .ifi_index = 1 },
	};
	struct pollfd p = { .fd = SK_FD, .events = POLLIN };
	struct nlmsghdr *h;
	char buf[16384];
	ssize_t n;

	test_init(argc, argv);
	if (zdtm_fd_at(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), SK_FD) != SK_FD)
		test_bug("socket");
	if (send(SK_FD, &req, sizeof(req), 0) != sizeof(req) || poll(&p, 1, 5000) != 1)
		test_bug("no answer queued");

	test_daemon();
	test_waitsig();

	n = recv(SK_FD, buf, sizeof(buf), MSG_DONTWAIT);
	h = (struct nlmsghdr *)buf;
	if (n < (ssize_t)sizeof(*h) || h->nlmsg_seq != SEQ || h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len != n)
		failv("the queued answer is gone or changed (%zd bytes)", n);
	if (test_failures)
		return 1;
	pass();
	return 0;
}
